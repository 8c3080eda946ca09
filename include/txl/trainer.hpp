#pragma once
/// @file trainer.hpp
/// Moved to `txl/training/trainer.hpp` (the loop), `txl/training/training_checkpoint.hpp` (its
/// checkpoint) and `txl/inference/evaluate.hpp` (`evaluate`); this path forwards there for one release.
#include "inference/evaluate.hpp"
#include "training/trainer.hpp"
#include "training/training_checkpoint.hpp"
