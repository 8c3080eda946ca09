#pragma once
/// @file layer_stack.hpp
/// Moved to `txl/model/layer_stack.hpp`; this path forwards there for one release.
#include "model/layer_stack.hpp"
