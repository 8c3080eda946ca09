#pragma once
/// @file sampling.hpp
/// Moved to `txl/inference/sampling.hpp`; this path forwards there for one release.
#include "inference/sampling.hpp"
