#pragma once
/// @file model.hpp
/// Moved to `txl/model/model.hpp`; this path forwards there for one release.
#include "model/model.hpp"
