#pragma once
/// @file linear.hpp
/// Moved to `txl/blocks/linear.hpp`; this path forwards there for one release.
#include "blocks/linear.hpp"
