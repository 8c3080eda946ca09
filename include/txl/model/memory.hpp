#pragma once
/// @file model/memory.hpp
/// # Memory: the hidden states carried from segment to segment
///
/// Before each layer $l$ runs on a segment, its input $x_l$ `[T, B, d_model]` is recorded.
/// After the segment, each layer's memory becomes the last `mem_len` rows of
/// $[\,mem_l;\ x_l\,]$ (time-wise), so the next segment attends over up to `mem_len`
/// earlier positions. The memory is a *constant* to the next segment:
/// [no gradient flows into it](../blocks/xl_layer.hpp#memory-stop-gradient) (labml's
/// `x.detach()`), which is what makes the cost of a step independent of how long
/// the text has been running.
///
/// Two parts: `Memory<S>`, the *state* (what is remembered, per stream of segments, owned by
/// the caller like a cache), and the model's *memory slot*, a block that says what a segment
/// leaves in it: `XLMemory` (labml's: the layer inputs, merged and truncated) or `NoMemory`
/// (nothing, which makes the same layer stack a plain causal Transformer over each segment,
/// the baseline the paper compares against).

#include <algorithm>
#include <string>
#include <vector>

#include "../core/config.hpp"
#include "../core/errors.hpp"
#include "../core/tensor.hpp"
#include "../core/communicator.hpp"

namespace txl {

/// @tparam S scalar type.
template <class S>
class Memory {
public:
    /// The remembered hidden states $mem_l$, one `[M, B, d_model]` tensor per layer $l$; empty
    /// (no layers) before the first segment.
    std::vector<tensor<S, 3>> states;

    /// Inference only: also keep each layer's keys and values of the remembered positions
    /// (`[M, B, d]`), so a forward projects only the new positions. Valid while the weights
    /// do not change (sampling, evaluation); a forward that used them has no backward. They
    /// are kept only where the memory block keeps rows by position (`keeps_rows`), by the
    /// block's own rule (`carry_keys_values`); elsewhere they stay empty and every forward recomputes.
    bool reuse_keys_values = false;
    std::vector<tensor<S, 3>> keys, values;

    bool empty() const { return states.empty() || states[0].shape()[0] == 0; }
    /// $M$, the number of remembered positions (0 when empty).
    std::size_t length() const { return states.empty() ? 0 : states[0].shape()[0]; }
    void clear() {
        states.clear();
        keys.clear();
        values.clear();
    }

    /// Cached keys and values usable for a segment of batch `B` (see `reuse_keys_values`).
    bool has_keys_values() const {
        return reuse_keys_values && !empty() && keys.size() == states.size() && values.size() == states.size() &&
               keys[0].shape()[0] == length() && keys[0].shape()[1] == states[0].shape()[1];
    }

    /// The keys and values follow the states. A segment attended over $K = M + T$ positions:
    /// the $M$ remembered ones and its own $T$; `k[l]`, `v[l]` (`[K*B, d]`) are their keys and
    /// values, in that order, exactly as the states' concatenation $[\,mem_l;\ x_l\,]$ is. A
    /// memory block that keeps rows of that concatenation by position alone (`keeps_rows`) so
    /// keeps the right keys and values when its own `update` is applied to them: the old keys
    /// (the first $M B$ rows) as the memory, the segment's (the last $T B$) as the new rows.
    /// `reused`: the forward took its memory keys from `keys`/`values`, which then already
    /// hold the first $M B$ rows.
    template <class Block, class Tensor2>
    void carry_keys_values(const Block& block, const Tensor2* const* k, const Tensor2* const* v, std::size_t n_layers,
                           std::size_t M, std::size_t T, std::size_t B, std::size_t mem_len, bool reused) {
        carry_one(block, k, keys, n_layers, M, T, B, mem_len, reused);
        carry_one(block, v, values, n_layers, M, T, B, mem_len, reused);
    }

    /// ## Columns: a share of the batch's streams
    /// Stream $b$'s memory is column $b$ of every layer's `[M, B, d]` state. A data-parallel
    /// process keeps the columns of its streams, and gradient accumulation runs one micro-batch's
    /// columns at a time.

    /// The states of columns $[b_0, b_0 + b)$, into `part` (`[M, b, d]` per layer; its buffers reused).
    void take_columns(std::size_t b0, std::size_t b, Memory& part) const {
        part.states.resize(states.size());
        for (std::size_t l = 0; l < states.size(); ++l) {
            const auto& from = states[l];
            const std::size_t rows = from.shape()[0], B = from.shape()[1], d = from.shape()[2];
            auto& to = part.states[l];
            ensure_shape(to, {rows, b, d});
            for (std::size_t i = 0; i < rows; ++i)
                std::copy(from.data() + (i * B + b0) * d, from.data() + (i * B + b0 + b) * d, to.data() + i * b * d);
        }
    }

    /// `part`'s states (`[M, b, d]` per layer) into columns $[b_0, b_0 + b)$ of this memory of
    /// `B` columns.
    void put_columns(const Memory& part, std::size_t b0, std::size_t B) {
        states.resize(part.states.size());
        for (std::size_t l = 0; l < part.states.size(); ++l) {
            const auto& from = part.states[l];
            const std::size_t rows = from.shape()[0], b = from.shape()[1], d = from.shape()[2];
            auto& to = states[l];
            ensure_shape(to, {rows, B, d});
            for (std::size_t i = 0; i < rows; ++i)
                std::copy(from.data() + i * b * d, from.data() + (i + 1) * b * d, to.data() + (i * B + b0) * d);
        }
    }

    /// The memory of the whole batch: every process's columns side by side, rank $r$'s `[M, b, d]`
    /// in columns $[r b, (r+1) b)$ (every process holds the same number $b$ of streams).
    Memory gathered(Communicator& comm) const {
        Memory all;
        const std::size_t W = comm.size();
        for (const auto& mine : states) {
            const std::size_t M = mine.shape()[0], b = mine.shape()[1], d = mine.shape()[2];
            std::vector<S> side_by_side(W * mine.size());
            comm.allgather(mine.data(), mine.size() * sizeof(S), side_by_side.data());
            tensor<S, 3> t = tensor<S, 3>::from_shape({M, W * b, d});
            for (std::size_t r = 0; r < W; ++r)
                for (std::size_t m = 0; m < M; ++m)
                    std::copy_n(side_by_side.data() + (r * M + m) * b * d, b * d, t.data() + (m * W + r) * b * d);
            all.states.push_back(std::move(t));
        }
        return all;
    }

    /// Append this segment's layer inputs (`inputs[l]`, `l < n_layers`, is $x_l$ `[T, B, d]`) and keep the last
    /// `mem_len` positions. `mem_len = 0` keeps nothing. Reuses its buffers when the shape
    /// repeats, so a steady run allocates nothing here.
    void update(const tensor<S, 3>* inputs, std::size_t n_layers, std::size_t mem_len) {
        if (mem_len == 0) {
            clear();
            return;
        }
        const std::size_t M = length();
        if (!states.empty())
            check(states.size() == n_layers, "Memory::update: memory has ", states.size(), " layers, the segment has ",
                  n_layers);
        states.resize(n_layers);
        scratch_.resize(n_layers);
        for (std::size_t l = 0; l < n_layers; ++l) {
            const auto& x = inputs[l];
            const std::size_t T = x.shape()[0], B = x.shape()[1], d = x.shape()[2];
            if (M > 0)
                check(states[l].shape()[1] == B && states[l].shape()[2] == d, "Memory::update: layer ", l,
                      " memory is [", M, ", ", states[l].shape()[1], ", ", states[l].shape()[2], "], the segment is [",
                      T, ", ", B, ", ", d, "]");
            // $mem_l \leftarrow [\,mem_l;\ x_l\,]$, last `keep` $= \min(mem\_len, M + T)$ rows of
            // the `[M + T, B, d]` concatenation: `from_old` from the old memory, the rest from $x_l$.
            const std::size_t keep = std::min(mem_len, M + T);
            const std::size_t from_old = keep > T ? keep - T : 0;  // rows kept from the old memory
            const std::size_t row = B * d;
            auto& out = scratch_[l];
            ensure_shape(out, {keep, B, d});
            if (from_old) std::copy(states[l].data() + (M - from_old) * row, states[l].data() + M * row, out.data());
            const std::size_t from_new = keep - from_old;
            std::copy(x.data() + (T - from_new) * row, x.data() + T * row, out.data() + from_old * row);
            std::swap(states[l], out);
        }
    }

private:
    std::vector<tensor<S, 3>> scratch_;
    std::vector<tensor<S, 3>> kv_segment_;  ///< a segment's keys or values, `[T, B, d]` per layer
    std::vector<tensor<S, 3>> kv_scratch_;  ///< the buffers of the keys' (or values') own memory

    template <class Block, class Tensor2>
    void carry_one(const Block& block, const Tensor2* const* k, std::vector<tensor<S, 3>>& kept, std::size_t n_layers,
                   std::size_t M, std::size_t T, std::size_t B, std::size_t mem_len, bool reused) {
        Memory side;  // the keys (or values) as a memory of their own, on reused buffers
        std::swap(side.scratch_, kv_scratch_);
        side.states.resize(M ? n_layers : 0);
        kv_segment_.resize(n_layers);
        for (std::size_t l = 0; l < n_layers; ++l) {
            const std::size_t rows = k[l]->shape()[0], d = k[l]->shape()[1];
            check(rows == (M + T) * B, "Memory::carry_keys_values: layer ", l, " has ", rows,
                  " key rows, expected (M + T) B = ", (M + T) * B);
            if (M) {  // the old keys: the ones the forward reused, or its first M*B rows
                if (reused)
                    std::swap(side.states[l], kept[l]);
                else {
                    ensure_shape(side.states[l], {M, B, d});
                    std::copy(k[l]->data(), k[l]->data() + M * B * d, side.states[l].data());
                }
            }
            ensure_shape(kv_segment_[l], {T, B, d});
            std::copy(k[l]->data() + M * B * d, k[l]->data() + rows * d, kv_segment_[l].data());
        }
        block.update(side, kv_segment_.data(), n_layers, mem_len);
        kept.resize(side.states.size());
        for (std::size_t l = 0; l < side.states.size(); ++l) std::swap(kept[l], side.states[l]);
        std::swap(side.scratch_, kv_scratch_);
    }
};

/// labml's memory slot: after each segment, layer $l$ remembers
/// $mem_l \leftarrow [\,mem_l;\ x_l\,]_{\text{last } mem\_len \text{ rows}}$, a constant
/// to the next segment.
/// @tparam C a `txl::Config`.
template <class C>
struct XLMemory {
    using config = C;
    using S = typename C::scalar;
    static std::string name() { return "XLMemory"; }
    static constexpr bool remembers = true;
    /// Every remembered row is a row of $[\,mem_l;\ x_l\,]$ chosen by position alone, so the
    /// key/value cache can follow it (`Memory::carry_keys_values`).
    static constexpr bool keeps_rows = true;
    void update(Memory<S>& mem, const tensor<S, 3>* layer_inputs, std::size_t n_layers, std::size_t mem_len) const {
        mem.update(layer_inputs, n_layers, mem_len);
    }
};

/// No memory: every segment starts from nothing ($M = 0$), whatever `mem_len` says. The same
/// layers then form a plain causal Transformer over each segment.
/// @tparam C a `txl::Config`.
template <class C>
struct NoMemory {
    using config = C;
    using S = typename C::scalar;
    static std::string name() { return "NoMemory"; }
    static constexpr bool remembers = false;
    void update(Memory<S>& mem, const tensor<S, 3>*, std::size_t, std::size_t) const { mem.clear(); }
};

}  // namespace txl
