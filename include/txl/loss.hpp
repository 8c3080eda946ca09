#pragma once
/// @file loss.hpp
/// Moved to `txl/blocks/loss.hpp`; this path forwards there for one release.
#include "blocks/loss.hpp"
