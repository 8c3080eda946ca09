#pragma once
/// @file memory.hpp
/// Moved to `txl/model/memory.hpp`; this path forwards there for one release.
#include "model/memory.hpp"
