#pragma once
/// @file blocks/post_norm_layer.hpp
/// # A Transformer-XL layer with post-LayerNorm (the paper's default)
///
/// The paper's code normalises *after* each residual sum (`pre_lnorm=False`, its default),
/// where labml's `XLLayer` normalises before each sublayer. The memory is the layer's input
/// of earlier segments, as in `XLLayer`, and goes into the attention as it is:
/// $$kv = [\,mem;\ x\,], \qquad x' = \text{LN}_{att}\big(x + \text{dropout}(\text{Attn}(x, kv))\big)$$
/// $$y = \text{LN}_{ff}\big(x' + \text{dropout}(\text{FFN}(x'))\big)$$
/// Same slots (any attention, any feed-forward), same parameter names as `XLLayer`, chosen at
/// compile time: `AutoregressiveModel<C, PostNormXLLayer<Attn, FF>>`; the parts are
/// `LayerParts`' (`layer_parts.hpp`), so only the forward and backward are written here.
///
/// **Backward.** With $\delta = \partial L/\partial y$, and $f'^\top$ and the mask $m$ as in [XLLayer's backward](xl_layer.hpp#backward):
/// $g_{ff} = \text{LN}_{ff}'^\top \delta$ is the gradient of the sum $x' + \text{dropout}(\text{FFN}(x'))$,
/// so $\partial L/\partial x' = g_{ff} + \text{FFN}'^\top (m \odot g_{ff})$; then
/// $g_{att} = \text{LN}_{att}'^\top\, \partial L/\partial x'$ and
/// $\partial L/\partial x = g_{att} + [\,\text{Attn}'^\top (m \odot g_{att})\,]_{\text{segment rows}}$: the
/// queries and the segment's keys and values are $x$ itself. The memory rows' part is dropped
/// (the memory is a constant; unlike `XLLayer` no LayerNorm sits on its path).

#include <string>

#include "../core/tensor.hpp"
#include "../core/random.hpp"
#include "layer_norm.hpp"
#include "slots.hpp"
#include "layer_parts.hpp"

namespace txl {

/// @tparam Attn the attention block (attention slot). @tparam FF the feed-forward block.
template <class Attn, class FF>
class PostNormXLLayer : public LayerParts<Attn, FF> {
    using Parts = LayerParts<Attn, FF>;

public:
    using S = typename Parts::S;
    static constexpr std::size_t d_model = Parts::d_model;
    using Parts::self_attn, Parts::feed_forward, Parts::norm_self_attn, Parts::norm_ff, Parts::dropout;

    static std::string name() { return "PostNormXLLayer<" + Parts::slot_names() + ">"; }

    struct Cache {
        std::size_t M = 0, T = 0, B = 0;
        tensor<S, 2> kv;  ///< `[K*B, d]`: $[\,mem;\ x\,]$
        typename Attn::Cache attn;
        typename FF::Cache ff;
        tensor<S, 2> x1, xhat_att, xhat_ff;  ///< `[T*B, d]`: $x'$, and the two LayerNorms' $\hat x$
        tensor<S, 1> rstd_att, rstd_ff;      ///< `[T*B]`
        tensor<S, 2> sub, sum;               ///< `[T*B, d]`: a sublayer's output, a residual sum
        tensor<S, 2> mask_att, mask_ff;      ///< residual dropout masks
        tensor<S, 2> dkv;                    ///< `[K*B, d]` backward workspace
        tensor<S, 2> g, dx1;                 ///< `[T*B, d]` backward workspace
        bool dropped = false;
    };

    /// `x[T*B, d]`, `mem[M*B, d]` (null when M = 0) into `y[T*B, d]`.
    void forward(const S* x, const S* mem, std::size_t M, std::size_t T, std::size_t B, S* y, Cache& c,
                 Rng* rng) const {
        const std::size_t nq = T * B, nk = (M + T) * B, n = nq * d_model, mb = M * B * d_model;
        c.M = M, c.T = T, c.B = B;
        ensure_shape(c.kv, {nk, d_model});
        for (auto* t : {&c.x1, &c.xhat_att, &c.xhat_ff, &c.sub, &c.sum}) ensure_shape(*t, {nq, d_model});
        ensure_shape(c.rstd_att, {nq});
        ensure_shape(c.rstd_ff, {nq});
        Rng* drop = dropout.active(rng) ? rng : nullptr;
        c.dropped = drop != nullptr;
        if (drop) {
            ensure_shape(c.mask_att, {nq, d_model});
            ensure_shape(c.mask_ff, {nq, d_model});
        }
        // $kv = [\,mem;\ x\,]$ `[K*B, d]`: the memory rows as they are, then the segment.
        if (M) std::copy(mem, mem + mb, c.kv.data());
        std::copy(x, x + n, c.kv.data() + mb);

        // $x' = \text{LN}_{att}(x + \text{dropout}(\text{Attn}(x, kv)))$.
        self_attn.forward(c.kv.data(), M, T, B, c.sub.data(), c.attn, rng);
        if (drop) dropout.forward(c.sub.data(), T, B, d_model, c.mask_att.data(), *drop);
        for (std::size_t i = 0; i < n; ++i) c.sum.data()[i] = x[i] + c.sub.data()[i];
        norm_self_attn.forward(c.sum.data(), nq, c.x1.data(), c.xhat_att.data(), c.rstd_att.data());

        // $y = \text{LN}_{ff}(x' + \text{dropout}(\text{FFN}(x')))$.
        feed_forward.forward(c.x1.data(), nq, c.sub.data(), c.ff, rng);
        if (drop) dropout.forward(c.sub.data(), T, B, d_model, c.mask_ff.data(), *drop);
        for (std::size_t i = 0; i < n; ++i) c.sum.data()[i] = c.x1.data()[i] + c.sub.data()[i];
        norm_ff.forward(c.sum.data(), nq, y, c.xhat_ff.data(), c.rstd_ff.data());
    }

    /// From `dy[T*B, d]`: accumulate parameter gradients and write `dx[T*B, d]`.
    void backward(const S* dy, S* dx, Cache& c) {
        const std::size_t nq = c.T * c.B, nk = (c.M + c.T) * c.B, n = nq * d_model, mb = c.M * c.B * d_model;
        ensure_shape(c.dkv, {nk, d_model});
        ensure_shape(c.g, {nq, d_model});
        ensure_shape(c.dx1, {nq, d_model});
        S* g = c.g.data();
        S* dx1 = c.dx1.data();

        // $g_{ff} = \text{LN}_{ff}'^\top \delta$ (and $\gamma_{ff}$, $\beta_{ff}$ gradients).
        std::fill(g, g + n, S(0));
        norm_ff.backward(dy, c.xhat_ff.data(), c.rstd_ff.data(), nq, g);
        // $\partial L/\partial x' = g_{ff} + \text{FFN}'^\top (m \odot g_{ff})$.
        std::copy(g, g + n, c.sub.data());
        if (c.dropped) Dropout<S>::backward(c.sub.data(), n, c.mask_ff.data());
        feed_forward.backward(c.x1.data(), c.sub.data(), nq, dx1, c.ff);
        for (std::size_t i = 0; i < n; ++i) dx1[i] += g[i];

        // $g_{att} = \text{LN}_{att}'^\top\, \partial L/\partial x'$.
        std::fill(g, g + n, S(0));
        norm_self_attn.backward(dx1, c.xhat_att.data(), c.rstd_att.data(), nq, g);
        // $\partial L/\partial x = g_{att} + [\,\text{Attn}'^\top (m \odot g_{att})\,]_{\text{segment rows}}$.
        std::copy(g, g + n, c.sub.data());
        if (c.dropped) Dropout<S>::backward(c.sub.data(), n, c.mask_att.data());
        self_attn.backward(c.kv.data(), c.sub.data(), c.dkv.data(), c.attn);
        for (std::size_t i = 0; i < n; ++i) dx[i] = g[i] + c.dkv.data()[mb + i];
    }
};

}  // namespace txl
