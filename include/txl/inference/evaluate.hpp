#pragma once
/// @file inference/evaluate.hpp
/// # Evaluation with memory: the loss over a whole text, segment after segment
///
/// A text is read as `batch` parallel streams of consecutive segments of
/// `seq_len` steps (the sequential loader, `data/loader.hpp`), exactly as training reads it,
/// and each segment attends over the memory the earlier segments of its stream left (up to
/// `mem_len` positions). The figures are means over the $n$ target tokens of the text:
/// $$\begin{aligned} L &= -\frac1n \sum_{t} \log p(x_{t+1} \mid x_{\le t}),
///   \\ \text{acc} &= \frac1n \sum_t [\arg\max_c p(c \mid x_{\le t}) = x_{t+1}], \end{aligned}$$
/// in nats per token ($L / \ln 2$ bits). Dropout is off (the model is `const`), and the memory's
/// keys and values are reused from segment to segment where the model can (`Memory::reuse_keys_values`):
/// the same logits as recomputing them, at a fraction of the projections.
///
/// With a `Communicator` (data parallel) each process evaluates its share of the streams and
/// the sums $\sum_t$ are added across the processes: every process returns the figures of the
/// whole text, as one process would compute them (up to the order of the additions). A stop
/// asked for on any process stops all of them at the same segment.

#include <cstddef>
#include <cstdint>
#include <functional>

#include "../core/tensor.hpp"
#include "../core/communicator.hpp"
#include "../blocks/loss.hpp"
#include "../model/memory.hpp"
#include "../data/loader.hpp"

namespace txl {

struct EvalStats {
    double loss = 0, accuracy = 0;
    std::size_t tokens = 0;
    bool complete = true;  ///< false when `stop` ended the pass early (the figures cover `tokens` only)
};

/// Loss and accuracy over all of `ids`, read sequentially as `batch` streams of `seq_len`
/// steps with a memory of `mem_len` (its own, starting empty). Dropout off. `comm`: this
/// process's share of the streams, the figures summed across all.
template <class Model>
EvalStats evaluate(const Model& model, const TokenIds& ids, std::size_t batch, std::size_t seq_len, std::size_t mem_len,
                   const std::function<bool()>& stop = nullptr, Communicator* comm = nullptr) {
    using S = typename Model::S;
    if (comm && comm->size() == 1) comm = nullptr;
    SequentialLoader loader(ids, batch, seq_len, "validation text", batch_columns(comm, batch));
    typename Model::Cache cache;
    Memory<S> mem;
    mem.reuse_keys_values = true;  // evaluation: the memory's keys and values are reused, not recomputed
    tensor<std::int64_t, 2> x, y;
    EvalStats out;
    double loss_sum = 0, hit_sum = 0;
    do {
        double stopping = stop && stop() ? 1.0 : 0.0;
        if (comm) comm->sum(&stopping, 1);  // any process's stop stops all
        if (stopping > 0) {                 // asked to stop (Ctrl-C): a partial pass, marked as such
            out.complete = false;
            break;
        }
        loader.next(x, y);
        model.forward(x, mem, cache);
        const auto r = model.loss(y.data(), cache);
        loss_sum += r.loss * double(y.size());
        hit_sum += r.accuracy * double(y.size());
        out.tokens += y.size();
        model.update_memory(mem, cache, mem_len);
    } while (!loader.at_epoch_start());
    if (comm) {  // $\sum_t$ over all the processes' streams
        double sums[3] = {loss_sum, hit_sum, double(out.tokens)};
        comm->sum(sums, 3);
        loss_sum = sums[0], hit_sum = sums[1], out.tokens = std::size_t(sums[2]);
    }
    out.loss = out.tokens ? loss_sum / double(out.tokens) : 0.0;
    out.accuracy = out.tokens ? hit_sum / double(out.tokens) : 0.0;
    return out;
}

}  // namespace txl
