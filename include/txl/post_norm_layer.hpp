#pragma once
/// @file post_norm_layer.hpp
/// Moved to `txl/blocks/post_norm_layer.hpp`; this path forwards there for one release.
#include "blocks/post_norm_layer.hpp"
