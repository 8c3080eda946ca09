#pragma once
/// @file txl.hpp
/// # txl: Transformer-XL, header-only
///
/// One include for everything. Read the headers in this order to follow the model from the
/// bottom up: `config`, `tensor`, `sgemm`, `random`, `linear`, `layer_norm`, `embedding`,
/// `feed_forward`, `relative_attention`, `slots` (what a block must provide to fill a slot of
/// the model), `xl_layer`, `layer_stack`, `memory`, `generator`, `model`, `loss`,
/// `checkpoint`; then the training side: `optim`, `data`, `sampling`, `trainer`.
/// `txl/testing/gradcheck.hpp` (not included here) checks a block's backward pass against
/// finite differences.

#include "version.hpp"
#include "config.hpp"
#include "errors.hpp"
#include "tensor.hpp"
#include "sgemm.hpp"
#include "random.hpp"
#include "linear.hpp"
#include "layer_norm.hpp"
#include "embedding.hpp"
#include "feed_forward.hpp"
#include "relative_attention.hpp"
#include "slots.hpp"
#include "xl_layer.hpp"
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
