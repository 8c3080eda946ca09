#pragma once
/// @file optim.hpp
/// Moved to `txl/training/optim.hpp`; this path forwards there for one release.
#include "training/optim.hpp"
