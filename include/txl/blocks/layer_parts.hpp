#pragma once
/// @file blocks/layer_parts.hpp
/// # What the two layers share
///
/// `XLLayer` (labml's pre-LayerNorm layer) and `PostNormXLLayer` (the paper's post-LayerNorm
/// layer) are made of the same parts: an attention block and a feed-forward block (the
/// layer's two slots, checked at compile time against their contracts, `slots.hpp`), a
/// LayerNorm for each, and dropout on both residual branches. They differ only in where the
/// LayerNorms sit, so `LayerParts` holds the parts, their initialisation, their parameter
/// names and their dropout, and each layer writes only its own `forward` and `backward`.
///
/// Parameter names (labml's): `self_attn.*`, `feed_forward.*`, `norm_self_attn.{weight,bias}`,
/// `norm_ff.{weight,bias}`.

#include <string>

#include "../core/tensor.hpp"
#include "../core/random.hpp"
#include "dropout.hpp"
#include "layer_norm.hpp"
#include "slots.hpp"

namespace txl {

/// @tparam Attn the self-attention block (attention slot, e.g. `RelativeMultiHeadAttention<C>`).
/// @tparam FF   the feed-forward block (feed-forward slot, e.g. `FeedForward<C>`).
template <class Attn, class FF>
class LayerParts {
public:
    using config = detail::config_of_t<Attn, FF>;
    static_assert(slot_checked<check_attention_slot<Attn, config>>);
    static_assert(slot_checked<check_feed_forward_slot<FF, config>>);
    using S = typename config::scalar;
    using scalar = S;
    static constexpr std::size_t d_model = config::d_model;

    /// PyTorch's defaults: each block's own, LayerNorm weight 1 and bias 0.
    void init(Rng& rng) {
        self_attn.init(rng);
        feed_forward.init(rng);
        norm_self_attn = LayerNorm<S, d_model>();
        norm_ff = LayerNorm<S, d_model>();
    }

    /// Throws `shape_error` if the attention cannot take $M$ memory rows and $T$ queries.
    static void check_lengths(std::size_t M, std::size_t T) { check_lengths_if_any<Attn>(M, T); }

    template <class F>
    void visit(F&& f, const std::string& prefix = "") {
        self_attn.visit(f, prefix + "self_attn.");
        feed_forward.visit(f, prefix + "feed_forward.");
        norm_self_attn.visit(f, prefix + "norm_self_attn.");
        norm_ff.visit(f, prefix + "norm_ff.");
    }

    /// Residual dropout `p`, and the same `p` for the blocks that have dropout of their own.
    void set_dropout(S p) { set_dropout(p, p); }
    /// Residual and feed-forward dropout `p`; dropout on the attention weights `p_att` (the
    /// paper's `dropatt`).
    void set_dropout(S p, S p_att) {
        dropout.p = p;
        set_dropout_if_any(self_attn, p_att);
        set_dropout_if_any(feed_forward, p);
    }

    Attn self_attn;
    FF feed_forward;
    LayerNorm<S, d_model> norm_self_attn, norm_ff;
    Dropout<S> dropout;  ///< on both residual branches

protected:
    /// `"<attention>, <feed-forward>"`, for the layers' `name()`.
    static std::string slot_names() { return block_name<Attn>("attention") + ", " + block_name<FF>("feed-forward"); }
};

}  // namespace txl
