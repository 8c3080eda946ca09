#pragma once
/// @file tensor.hpp
/// Moved to `txl/core/tensor.hpp`; this path forwards there for one release.
#include "core/tensor.hpp"
