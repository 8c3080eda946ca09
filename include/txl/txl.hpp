#pragma once
/// @file txl.hpp
/// # txl: Transformer-XL, header-only
///
/// One include for everything. Read the headers in this order to follow the model from the
/// bottom up (the one reading order: the README and the site follow this list): the
/// foundations (`core/`), the blocks (`blocks/`) and their composition (`model/`), then files
/// (`io/`), the optimizer, text (`data/`), evaluation and sampling (`inference/`), and last the
/// training loop with its checkpoint (`training/`). The machinery that makes it fast (txl's
/// GEMM kernel, BLAS dispatch, threads, the attention's head-major copies and SIMD softmax)
/// lives in `detail/`, off this path; each block calls it in one line.
/// `txl/testing/gradcheck.hpp` (not included here) checks a block's backward pass against
/// finite differences.

#include "version.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "core/tensor.hpp"
#include "core/random.hpp"
#include "core/communicator.hpp"
#include "core/precision.hpp"
#include "blocks/dropout.hpp"
#include "blocks/linear.hpp"
#include "blocks/layer_norm.hpp"
#include "blocks/embedding.hpp"
#include "blocks/feed_forward.hpp"
#include "blocks/attention_core.hpp"
#include "blocks/relative_attention.hpp"
#include "blocks/sinusoidal_attention.hpp"
#include "blocks/slots.hpp"
#include "blocks/layer_parts.hpp"
#include "blocks/xl_layer.hpp"
#include "blocks/post_norm_layer.hpp"
#include "model/layer_stack.hpp"
#include "model/memory.hpp"
#include "blocks/generator.hpp"
#include "model/model.hpp"
#include "blocks/loss.hpp"
#include "blocks/adaptive_clusters.hpp"
#include "blocks/adaptive_embedding.hpp"
#include "blocks/adaptive_softmax.hpp"
#include "io/npy.hpp"
#include "io/durable.hpp"
#include "io/checkpoint.hpp"
#include "io/key_values.hpp"
#include "training/optim.hpp"
#include "data/utf8.hpp"
#include "data/char_tokenizer.hpp"
#include "data/token_ids.hpp"
#include "data/text_file.hpp"
#include "data/word_tokenizer.hpp"
#include "data/loader.hpp"
#include "inference/evaluate.hpp"
#include "inference/sampling.hpp"
#include "training/training_checkpoint.hpp"
#include "training/trainer.hpp"
