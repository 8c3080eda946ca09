#pragma once
/// @file layer_parts.hpp
/// Moved to `txl/blocks/layer_parts.hpp`; this path forwards there for one release.
#include "blocks/layer_parts.hpp"
