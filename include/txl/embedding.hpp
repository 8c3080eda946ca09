#pragma once
/// @file embedding.hpp
/// Moved to `txl/blocks/embedding.hpp`; this path forwards there for one release.
#include "blocks/embedding.hpp"
