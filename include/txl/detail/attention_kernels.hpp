#pragma once
/// @file detail/attention_kernels.hpp
/// Deprecated: renamed `detail/attention_ops.hpp` (`AttentionOps`); kept for one release.
#include "attention_ops.hpp"
