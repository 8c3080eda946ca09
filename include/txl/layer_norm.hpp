#pragma once
/// @file layer_norm.hpp
/// Moved to `txl/blocks/layer_norm.hpp`; this path forwards there for one release.
#include "blocks/layer_norm.hpp"
