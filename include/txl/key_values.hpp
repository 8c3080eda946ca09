#pragma once
/// @file key_values.hpp
/// Moved to `txl/io/key_values.hpp`; this path forwards there for one release.
#include "io/key_values.hpp"
