#pragma once
/// @file config.hpp
/// Moved to `txl/core/config.hpp`; this path forwards there for one release.
#include "core/config.hpp"
