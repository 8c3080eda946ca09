#pragma once
/// @file sinusoidal_attention.hpp
/// Moved to `txl/blocks/sinusoidal_attention.hpp`; this path forwards there for one release.
#include "blocks/sinusoidal_attention.hpp"
