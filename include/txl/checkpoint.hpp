#pragma once
/// @file checkpoint.hpp
/// Moved to `txl/io/checkpoint.hpp` (with the `.npy` format in `txl/io/npy.hpp` and atomic,
/// verified directories in `txl/io/durable.hpp`); this path forwards there for one release.
#include "io/checkpoint.hpp"
#include "io/durable.hpp"
#include "io/npy.hpp"
