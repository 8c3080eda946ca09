#pragma once
/// @file generator.hpp
/// Moved to `txl/blocks/generator.hpp`; this path forwards there for one release.
#include "blocks/generator.hpp"
