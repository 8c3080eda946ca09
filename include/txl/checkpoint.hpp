#pragma once
/// @file checkpoint.hpp
/// Moved to `txl/io/checkpoint.hpp`; this path forwards there for one release.
#include "io/checkpoint.hpp"
