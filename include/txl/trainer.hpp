#pragma once
/// @file trainer.hpp
/// Moved to `txl/training/trainer.hpp`; this path forwards there for one release.
#include "training/trainer.hpp"
