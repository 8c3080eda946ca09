#pragma once
/// @file relative_attention.hpp
/// Moved to `txl/blocks/relative_attention.hpp`; this path forwards there for one release.
#include "blocks/relative_attention.hpp"
