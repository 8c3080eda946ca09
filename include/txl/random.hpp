#pragma once
/// @file random.hpp
/// Moved to `txl/core/random.hpp`; this path forwards there for one release.
#include "core/random.hpp"
#include "blocks/dropout.hpp"
