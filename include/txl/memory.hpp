#pragma once
/// @file memory.hpp
/// # Memory: the hidden states carried from segment to segment
///
/// Before each layer $l$ runs on a segment, its input $x_l$ `[T, B, d_model]` is recorded.
/// After the segment, each layer's memory becomes the last `mem_len` rows of
/// $[\,mem_l;\ x_l\,]$ (time-wise), so the next segment attends over up to `mem_len`
/// earlier positions. The memory is a *constant* to the next segment: no gradient flows into
/// it (labml's `x.detach()`), which is what makes the cost of a step independent of how long
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

#include "config.hpp"
#include "errors.hpp"
#include "tensor.hpp"

namespace txl {

/// @tparam S scalar type.
template <class S>
class Memory {
public:
    /// Per layer `[M, B, d_model]`; empty (no layers) before the first segment.
    std::vector<tensor<S, 3>> layers;

    /// Inference only: also keep each layer's keys and values of the remembered positions
    /// (`[M, B, d_model]`), so a forward projects only the new positions. Valid while the
    /// weights do not change (sampling, evaluation); a forward that used them has no backward.
    bool kv_cache = false;
    std::vector<tensor<S, 3>> keys, values;

    bool empty() const { return layers.empty() || layers[0].shape()[0] == 0; }
    /// $M$, the number of remembered positions (0 when empty).
    std::size_t length() const { return layers.empty() ? 0 : layers[0].shape()[0]; }
    void clear() {
        layers.clear();
        keys.clear();
        values.clear();
    }

    /// Keep the last `length()` rows of this segment's keys and values (`k[l]`, `v[l]` are
    /// `[K*B, d]` for the K = old M + T positions the segment attended over), after `update`.
    template <class Tensor2>
    void update_kv(const Tensor2* const* k, const Tensor2* const* v, std::size_t n_layers) {
        const std::size_t M = length();
        keys.resize(M ? n_layers : 0);
        values.resize(M ? n_layers : 0);
        for (std::size_t l = 0; l < keys.size(); ++l) {
            const std::size_t B = layers[l].shape()[1], rows = k[l]->shape()[0], d = k[l]->shape()[1];
            check(rows >= M * B && v[l]->shape()[0] == rows && v[l]->shape()[1] == d,
                  "Memory::update_kv: layer ", l, " kept ", rows, " key rows for a memory of ", M * B);
            ensure_shape(keys[l], {M, B, d});
            ensure_shape(values[l], {M, B, d});
            std::copy(k[l]->data() + (rows - M * B) * d, k[l]->data() + rows * d, keys[l].data());
            std::copy(v[l]->data() + (rows - M * B) * d, v[l]->data() + rows * d, values[l].data());
        }
    }

    /// Cached keys and values usable for a segment of batch `B` (see `kv_cache`).
    bool has_kv() const {
        return kv_cache && !empty() && keys.size() == layers.size() && values.size() == layers.size() &&
               keys[0].shape()[0] == length() && keys[0].shape()[1] == layers[0].shape()[1];
    }

    /// Append this segment's layer inputs (`states[l]`, `l < n_layers`, is `[T, B, d]`) and keep the last
    /// `mem_len` positions. `mem_len = 0` keeps nothing. Reuses its buffers when the shape
    /// repeats, so a steady run allocates nothing here.
    void update(const tensor<S, 3>* states, std::size_t n_layers, std::size_t mem_len) {
        if (mem_len == 0) {
            clear();
            return;
        }
        const std::size_t M = length();
        if (!layers.empty())
            check(layers.size() == n_layers, "Memory::update: memory has ", layers.size(),
                  " layers, the segment has ", n_layers);
        layers.resize(n_layers);
        scratch_.resize(n_layers);
        for (std::size_t l = 0; l < n_layers; ++l) {
            const auto& x = states[l];
            const std::size_t T = x.shape()[0], B = x.shape()[1], d = x.shape()[2];
            if (M > 0)
                check(layers[l].shape()[1] == B && layers[l].shape()[2] == d,
                      "Memory::update: layer ", l, " memory is [", M, ", ", layers[l].shape()[1],
                      ", ", layers[l].shape()[2], "], the segment is [", T, ", ", B, ", ", d, "]");
            // $mem_l \leftarrow [\,mem_l;\ x_l\,]$, last `keep` $= \min(mem\_len, M + T)$ rows of
            // the `[M + T, B, d]` concatenation: `from_old` from the old memory, the rest from $x_l$.
            const std::size_t keep = std::min(mem_len, M + T);
            const std::size_t from_old = keep > T ? keep - T : 0;  // rows kept from the old memory
            const std::size_t row = B * d;
            auto& out = scratch_[l];
            ensure_shape(out, {keep, B, d});
            if (from_old)
                std::copy(layers[l].data() + (M - from_old) * row, layers[l].data() + M * row,
                          out.data());
            const std::size_t from_new = keep - from_old;
            std::copy(x.data() + (T - from_new) * row, x.data() + T * row,
                      out.data() + from_old * row);
            std::swap(layers[l], out);
        }
    }

private:
    std::vector<tensor<S, 3>> scratch_;
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
    void update(Memory<S>& mem, const tensor<S, 3>* layer_inputs, std::size_t n_layers,
                std::size_t mem_len) const {
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
