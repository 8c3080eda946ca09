#pragma once
/// @file data.hpp
/// Moved to `txl/data/data.hpp`; this path forwards there for one release.
#include "data/data.hpp"
