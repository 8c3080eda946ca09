#pragma once
/// @file txl.hpp
/// # txl: Transformer-XL, header-only
///
/// One include for everything. Read the headers in this order to follow the model from the
/// bottom up, the order below (the one reading order: the README and the site follow this
/// list): first the model, then the training side from `optim` on. The machinery that makes
/// it fast (txl's GEMM kernel, BLAS dispatch, threads, the attention's head-major copies and
/// SIMD softmax) lives in `detail/`, off this path; each block calls it in one line.
/// `txl/testing/gradcheck.hpp` (not included here) checks a block's backward pass against
/// finite differences.

#include "version.hpp"
#include "config.hpp"
#include "errors.hpp"
#include "tensor.hpp"
#include "random.hpp"
#include "dropout.hpp"
#include "linear.hpp"
#include "layer_norm.hpp"
#include "embedding.hpp"
#include "feed_forward.hpp"
#include "attention_core.hpp"
#include "relative_attention.hpp"
#include "sinusoidal_attention.hpp"
#include "slots.hpp"
#include "layer_parts.hpp"
#include "xl_layer.hpp"
#include "post_norm_layer.hpp"
#include "layer_stack.hpp"
#include "memory.hpp"
#include "generator.hpp"
#include "model.hpp"
#include "loss.hpp"
#include "checkpoint.hpp"
#include "optim.hpp"
#include "data.hpp"
#include "sampling.hpp"
#include "trainer.hpp"
