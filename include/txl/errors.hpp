#pragma once
/// @file errors.hpp
/// Moved to `txl/core/errors.hpp`; this path forwards there for one release.
#include "core/errors.hpp"
