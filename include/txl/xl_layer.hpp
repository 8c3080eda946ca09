#pragma once
/// @file xl_layer.hpp
/// Moved to `txl/blocks/xl_layer.hpp`; this path forwards there for one release.
#include "blocks/xl_layer.hpp"
