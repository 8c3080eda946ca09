#pragma once
/// @file blocks/xl_layer.hpp
/// # One Transformer-XL layer
///
/// Pre-norm: both sublayers read a normalised copy of the residual stream and add their output
/// back. The memory `mem[M, B, d_model]` (this layer's input from earlier segments) is
/// normalised with the *same* LayerNorm and put in front of the segment:
/// $$\begin{aligned} z &= \text{LN}_{att}(x), \quad kv = [\,\text{LN}_{att}(mem);\ z\,],
///   \\ x' &= x + \text{dropout}(\text{Attn}(z, kv)),
///   \\ y &= x' + \text{dropout}(f), \quad f = \text{FFN}(n), \quad n = \text{LN}_{ff}(x'). \end{aligned}$$
///
/// ## Backward {#backward}
/// Notation: for a block $f$ with output gradient $\delta$, $f'^\top \delta$ is what its
/// backward returns, the gradient with respect to its input (the transposed Jacobian applied to
/// $\delta$); for LayerNorm it is [derived on its page](layer_norm.hpp#backward), which also
/// defines the $\hat x$ (normalised row) and $r$ ($1/\sqrt{\sigma^2 + \epsilon}$) the forward
/// keeps. $m/(1-p)$ is a dropout mask. One step per forward equation, last first, from
/// $\delta = \partial L/\partial y$:
/// 1. $y = x' + \text{dropout}(f)$ with $f = \text{FFN}(n)$: the sum passes $\delta$ to both,
///    so $\partial L/\partial f = \delta \odot m_{ff}/(1-p)$, and $x'$ gets $\delta$ directly;
/// 2. $f = \text{FFN}(n)$: $\partial L/\partial n = \text{FFN}'^\top\, \partial L/\partial f$;
/// 3. $n = \text{LN}_{ff}(x')$: $\partial L/\partial x' = \delta + \text{LN}_{ff}'^\top\, \partial L/\partial n$
///    (and the gradients of $\gamma_{ff}$, $\beta_{ff}$);
/// 4. $x' = x + \text{dropout}(\text{Attn}(z, kv))$: the same split,
///    $\partial L/\partial\,\text{Attn} = \partial L/\partial x' \odot m_{att}/(1-p)$;
/// 5. the attention's backward gives $\partial L/\partial kv$ for all $K$ rows (the queries
///    $z$ are the segment's rows of $kv$, so their gradient is in there too);
/// 6. $kv = [\,\text{LN}_{att}(mem);\ \text{LN}_{att}(x)\,]$: the segment rows go back through
///    the LayerNorm, $\partial L/\partial x = \partial L/\partial x' + \text{LN}_{att}'^\top
///    [\partial L/\partial kv]_{\text{segment rows}}$;
/// 7. the memory rows reach only $\gamma_{att}$ and $\beta_{att}$: the memory is a constant
///    (stop-gradient, the $\text{SG}$ of [the overview](../../docs/overview.md#segment-level-recurrence)),
///    and [the line that does it](#memory-stop-gradient) passes no input gradient.
///
/// `XLLayer` is the model's layer slot, and has two slots of its own, the attention and the
/// feed-forward; their contracts are checked at compile time (`slots.hpp`, `docs/slots.md`).
/// What a block can do beyond the contract (dropout, a limit on lengths, a key/value cache for
/// inference) is detected and passed on, never assumed. The parts, their initialisation,
/// parameter names and dropout are `LayerParts`' (`layer_parts.hpp`), shared with
/// `PostNormXLLayer`: what is written here is the pre-LayerNorm forward and its backward.

#include <string>

#include "../core/tensor.hpp"
#include "../core/random.hpp"
#include "layer_norm.hpp"
#include "slots.hpp"
#include "layer_parts.hpp"

namespace txl {

/// @tparam Attn the self-attention block (e.g. `RelativeMultiHeadAttention<C>`).
/// @tparam FF   the feed-forward block (e.g. `FeedForward<C>`).
template <class Attn, class FF>
class XLLayer : public LayerParts<Attn, FF> {
    using Parts = LayerParts<Attn, FF>;

public:
    /// Whether the attention can reuse the memory's keys and values at inference.
    static constexpr bool reuses_keys_values = attention_reuses_keys_values_v<Attn>;
    using S = typename Parts::S;
    static constexpr std::size_t d_model = Parts::d_model;
    using Parts::self_attn, Parts::feed_forward, Parts::norm_self_attn, Parts::norm_ff, Parts::dropout;

    static std::string name() { return "XLLayer<" + Parts::slot_names() + ">"; }

    struct Cache {
        std::size_t M = 0, T = 0, B = 0;
        tensor<S, 2> kv, xhat_att;  ///< `[K*B, d_model]`
        tensor<S, 1> rstd_att;      ///< `[K*B]`
        typename Attn::Cache attn;
        tensor<S, 2> z_ff, xhat_ff, sub;  ///< `[T*B, d_model]`; `sub`: a sublayer's output
        tensor<S, 1> rstd_ff;             ///< `[T*B]`
        typename FF::Cache ff;
        tensor<S, 2> mask_att, mask_ff;  ///< residual dropout masks
        tensor<S, 2> dkv;                ///< `[K*B, d_model]` backward workspace
        tensor<S, 2> d_sub, dx_mid;      ///< `[T*B, d_model]` backward workspace
        bool dropped = false;
    };

    /// `x[T*B, d_model]`, `mem[M*B, d_model]` (may be null when M = 0) into `y[T*B, d_model]`.
    /// `k_mem`, `v_mem` (`[M*B, ...]`, inference only, and only if the attention has a
    /// key/value cache): the keys and values the attention kept for the memory rows. By the
    /// cache's contract the attention then reads none of the memory rows of `kv`, so they are
    /// not normalised.
    void forward(const S* x, const S* mem, std::size_t M, std::size_t T, std::size_t B, S* y, Cache& c, Rng* rng,
                 const S* k_mem = nullptr, const S* v_mem = nullptr) const {
        const bool reused = reuses_keys_values && M > 0 && k_mem && v_mem;
        const std::size_t K = M + T, nq = T * B, nk = K * B, n = nq * d_model;
        c.M = M, c.T = T, c.B = B;
        ensure_shape(c.kv, {nk, d_model});
        ensure_shape(c.xhat_att, {nk, d_model});
        ensure_shape(c.rstd_att, {nk});
        ensure_shape(c.z_ff, {nq, d_model});
        ensure_shape(c.xhat_ff, {nq, d_model});
        ensure_shape(c.rstd_ff, {nq});
        ensure_shape(c.sub, {nq, d_model});

        // $kv = [\,\text{LN}_{att}(mem);\ z\,]$, $z = \text{LN}_{att}(x)$: one LayerNorm (same $\gamma$,
        // $\beta$), memory rows first, `[K*B, d]`; $\hat x$ and $r$ kept for the backward.
        const std::size_t mb = M * B;
        if (!reused) norm_self_attn.forward(mem, mb, c.kv.data(), c.xhat_att.data(), c.rstd_att.data());
        norm_self_attn.forward(x, nq, c.kv.data() + mb * d_model, c.xhat_att.data() + mb * d_model,
                               c.rstd_att.data() + mb);

        Rng* drop = dropout.active(rng) ? rng : nullptr;  // residual dropout's generator, or none
        c.dropped = drop != nullptr;
        if (drop) {
            ensure_shape(c.mask_att, {nq, d_model});
            ensure_shape(c.mask_ff, {nq, d_model});
        }

        // $x' = x + \text{dropout}(\text{Attn}(z, kv))$ `[T*B, d]`, written into `y`.
        S* sub = c.sub.data();
        if constexpr (reuses_keys_values)
            self_attn.forward(c.kv.data(), M, T, B, sub, c.attn, rng, reused ? k_mem : nullptr,
                              reused ? v_mem : nullptr);
        else
            self_attn.forward(c.kv.data(), M, T, B, sub, c.attn, rng);
        if (drop) dropout.forward(sub, T, B, d_model, c.mask_att.data(), *drop);
        for_range(n, n >= (std::size_t(1) << 16), [&](std::size_t i) { y[i] = x[i] + sub[i]; });

        // $y = x' + \text{dropout}(\text{FFN}(\text{LN}_{ff}(x')))$ `[T*B, d]`.
        norm_ff.forward(y, nq, c.z_ff.data(), c.xhat_ff.data(), c.rstd_ff.data());
        feed_forward.forward(c.z_ff.data(), nq, sub, c.ff, rng);
        if (drop) dropout.forward(sub, T, B, d_model, c.mask_ff.data(), *drop);
        for_range(n, n >= (std::size_t(1) << 16), [&](std::size_t i) { y[i] += sub[i]; });
    }

    /// From `dy[T*B, d_model]` write `dx[T*B, d_model]` and accumulate parameter gradients.
    void backward(const S* dy, S* dx, Cache& c) {
        const std::size_t M = c.M, T = c.T, B = c.B, nq = T * B, nk = (M + T) * B, n = nq * d_model, mb = M * B;
        ensure_shape(c.dkv, {nk, d_model});
        ensure_shape(c.d_sub, {nq, d_model});
        ensure_shape(c.dx_mid, {nq, d_model});
        S* d_sub = c.d_sub.data();
        S* dmid = c.dx_mid.data();

        // Steps 1-3, the feed-forward sublayer: $\partial L/\partial f = \delta \odot m_{ff}/(1-p)$,
        // $\partial L/\partial n = \text{FFN}'^\top \partial L/\partial f$, then
        // $\partial L/\partial x' = \delta + \text{LN}_{ff}'^\top \partial L/\partial n$ (the residual adds $\delta$).
        const S* g_ff = dy;
        if (c.dropped) {
            std::copy(dy, dy + n, d_sub);
            Dropout<S>::backward(d_sub, n, c.mask_ff.data());
            g_ff = d_sub;
        }
        feed_forward.backward(c.z_ff.data(), g_ff, nq, c.sub.data(), c.ff);  // sub := dz_ff
        norm_ff.backward(c.sub.data(), c.xhat_ff.data(), c.rstd_ff.data(), nq, dmid, dy);

        // Steps 4-6, the attention sublayer the same way: dropout, then $\text{Attn}'^\top$ writes
        // $\partial L/\partial kv$ for all $K B$ rows, then
        // $\partial L/\partial x = \partial L/\partial x' + \text{LN}_{att}'^\top [\partial L/\partial kv]_{\text{segment rows}}$.
        const S* g_att = dmid;
        if (c.dropped) {
            std::copy(dmid, dmid + n, d_sub);
            Dropout<S>::backward(d_sub, n, c.mask_att.data());
            g_att = d_sub;
        }
        self_attn.backward(c.kv.data(), g_att, c.dkv.data(), c.attn);
        norm_self_attn.backward(c.dkv.data() + mb * d_model, c.xhat_att.data() + mb * d_model, c.rstd_att.data() + mb,
                                nq, dx, dmid);
        // Step 7, the memory rows: $\partial L/\partial \gamma_{att}$, $\partial L/\partial \beta_{att}$
        // only; the memory itself is a constant: no input gradient (`dx = nullptr`).
        norm_self_attn.backward(c.dkv.data(), c.xhat_att.data(), c.rstd_att.data(), mb,
                                nullptr);  // stop-gradient {#memory-stop-gradient}
    }

    /// The key/value cache, passed on from the attention (present only if it has one).
    template <class A = Attn, std::enable_if_t<attention_reuses_keys_values_v<A>, int> = 0>
    const auto& keys(const Cache& c) const {
        return self_attn.keys(c.attn);
    }
    template <class A = Attn, std::enable_if_t<attention_reuses_keys_values_v<A>, int> = 0>
    const auto& values(const Cache& c) const {
        return self_attn.values(c.attn);
    }
};

}  // namespace txl
