#pragma once
/// @file blocks/sinusoidal_attention.hpp
/// # The paper's relative attention (sinusoidal distances, biases $u$ and $v$)
///
/// The attention of Dai et al. (2019), eq. (4), as their code has it
/// (`RelPartialLearnableMultiHeadAttn` in kimiyoung/transformer-xl; Hugging Face's
/// `TransfoXL`). The second attention block of txl: it fills the same slot as labml's
/// `RelativeMultiHeadAttention` (`XLLayer<SinusoidalRelativeAttention<C>, FeedForward<C>>`).
///
/// Where labml learns a vector and a bias per distance, the paper encodes the distance
/// $\Delta$ with *fixed* sinusoids and learns only a projection of them, so a distance never
/// seen in training still has an encoding: this is what lets the model attend further at
/// evaluation than it was trained for.
///
/// **Projections** (no biases, as in the paper's code), with $kv$ `[K*B, d_model]` the
/// normalised memory and segment rows and $z$ its last `T*B` rows:
/// $[\,q;\ k;\ V\,] = kv\, W_{qkv}^\top$ (`qkv_net`, `[3 d, d]`; $q$ kept for the segment's
/// rows only), $r_\Delta = \text{PE}(\Delta)\, W_r^\top$ (`r_net`, `[d, d]`) for the distances
/// $\Delta = K-1, \dots, 0$, where
/// $\text{PE}(\Delta) = [\,\sin(\Delta\,\omega_0), \dots, \sin(\Delta\,\omega_{d/2-1}),
/// \cos(\Delta\,\omega_0), \dots, \cos(\Delta\,\omega_{d/2-1})\,]$,
/// $\omega_c = 10000^{-2c/d}$ (sines first, then cosines, as the paper's code).
///
/// **Scores**, per head, query $i$ (position $M + i$), key $j$, $\Delta = M + i - j$:
/// $$A_{ij} = \underbrace{(q_i + u) \cdot k_j}_{\text{(a) + (c)}}
///          + \underbrace{(q_i + v) \cdot r_{\Delta}}_{\text{(b) + (d)}}$$
/// with $u$ = `r_w_bias`, $v$ = `r_r_bias` (`[H, d_k]`, per layer). Then, as in labml's block,
/// $a = \operatorname{softmax}(A / \sqrt{d_k})$ over the visible keys ($j \le M + i$),
/// $o_i = \sum_j a_{ij} V_j$ (the values are $V$, capital: $v$ is the bias), $\text{out} = o\, W_o^\top$ (`o_net`, no bias).
///
/// **The shift trick** is the one of `relative_attention.hpp`: the $K$ rows $r_{K-1}, \dots, r_0$
/// form the window $R_{win}$ (`[K, d]`), $X = (q + v) R_{win}^\top$ is one GEMM per head, and the
/// term for $(i, j)$ is $X_{i,\, T - 1 + j - i}$.
///
/// **`clamp_len`** ($\ge 0$; 0 = off): distances beyond it use the encoding of `clamp_len`
/// (the paper's code, for evaluating with memories longer than any distance seen in training).
///
/// **What is shared.** The content scores, the masked softmax, the dropout on the weights,
/// the value product and their backward are `AttentionCore`'s (`attention_core.hpp`), as for
/// labml's block; this header holds the paper's projections and its position term.
///
/// **Backward.** The core gives $g = \partial L/\partial A$, $\partial L/\partial (q+u)$,
/// $\partial L/\partial k$, $\partial L/\partial V$ and $\partial L/\partial u$; then:
/// * position term: scatter $g$ back through the shift into $\bar X$; per head
///   $\partial L/\partial (q+v) = \bar X R_{win}$ and $\partial L/\partial R_{win} = \bar X^\top (q+v)$;
///   $\partial L/\partial v = \sum_{i,b} \partial L/\partial (q+v)_{i,b}$, and
///   $\partial L/\partial q = \partial L/\partial (q+u) + \partial L/\partial (q+v)$;
/// * $\partial L/\partial W_r \mathrel{+}= (\partial L/\partial R_{win})^\top \text{PE}$ (the encodings are constants);
/// * $\partial L/\partial [q; k; V]$ assembled row by row (zero $q$ part on the memory rows),
///   then `qkv_net`'s backward gives $\partial L/\partial W_{qkv}$ and $\partial L/\partial kv$.
///
/// **Inference with cached keys and values** (the key/value cache capability of `slots.hpp`):
/// given the memory rows' keys and values from earlier segments, only the segment's rows are
/// projected. Exact while the weights are fixed; such a forward has no backward.

#include <algorithm>
#include <cmath>
#include <string>

#include "../core/errors.hpp"
#include "../core/tensor.hpp"
#include "../core/random.hpp"
#include "linear.hpp"
#include "attention_core.hpp"

namespace txl {

/// @tparam C a `txl::Config` (gives $d_{model}$, $H$, $d_k$ and the scalar type; $P$ bounds
///           $K = M + T$ as for labml's block, so both blocks take the same lengths).
template <class C>
class SinusoidalRelativeAttention : public AttentionCore<typename C::scalar, C::heads, C::d_k> {
    using Core = AttentionCore<typename C::scalar, C::heads, C::d_k>;

public:
    using config = C;
    using S = typename C::scalar;
    static constexpr std::size_t d_model = C::d_model, H = C::heads, d_k = C::d_k, P = C::P;
    static_assert(d_model % 2 == 0, "SinusoidalRelativeAttention: d_model must be even (sines and cosines)");
    static std::string name() { return "SinusoidalRelativeAttention"; }

    /// The core's cache, plus the paper's projections and encodings.
    struct Cache : Core::Cache {
        tensor<S, 2> w;      ///< `[K*B, 3d]`: $kv\, W_{qkv}^\top$ (then its gradient)
        tensor<S, 2> q, qv;  ///< `[T*B, d]`: $q$, and $q + v$ (heads side by side)
        tensor<S, 2> pe, r;  ///< `[K, d]`: $\text{PE}(K-1 \dots 0)$ and $R_{win} = \text{PE}\, W_r^\top$
        tensor<S, 2> dqv;    ///< `[T*B, d]` backward workspace
        tensor<S, 2> dr;     ///< `[K, d]`: $\partial L/\partial R_{win}$
    };

    SinusoidalRelativeAttention()
        : qkv_net(d_model, 3 * d_model, false), r_net(d_model, d_model, false), o_net(d_model, d_model, false) {
        r_w_bias.resize(std::array<std::size_t, 2>{H, d_k});
        r_r_bias.resize(std::array<std::size_t, 2>{H, d_k});
    }

    /// PyTorch's default for the three linears; $u$ and $v$ start at zero here (the paper's
    /// code draws them from its own initialiser; any start is a valid model).
    void init(Rng& rng) {
        qkv_net.init(rng);
        r_net.init(rng);
        o_net.init(rng);
        r_w_bias.value.fill(S(0));
        r_r_bias.value.fill(S(0));
    }

    /// Throws unless $T \ge 1$ and $K = M + T \le P$.
    static void check_lengths(std::size_t M, std::size_t T) {
        Core::check_keys("SinusoidalRelativeAttention", M, T, P, "the Config's bound on the keys is");
    }

    /// $\text{PE}(\Delta)$ for $\Delta = K - 1, \dots, 0$ (clamped at `clamp_len` when it is set)
    /// into `pe[K, d]`.
    void encodings(std::size_t K, S* pe) const {
        constexpr std::size_t half = d_model / 2;
        for (std::size_t row = 0; row < K; ++row) {
            std::size_t dist = K - 1 - row;
            if (clamp_len > 0) dist = std::min(dist, clamp_len);
            for (std::size_t c = 0; c < half; ++c) {
                const double w = std::pow(10000.0, -double(2 * c) / double(d_model));
                pe[row * d_model + c] = S(std::sin(double(dist) * w));
                pe[row * d_model + half + c] = S(std::cos(double(dist) * w));
            }
        }
    }

    /// ## Forward
    /// `kv[K*B, d_model]` (memory rows first), `out[T*B, d_model]`.
    /// `k_mem`, `v_mem` (`[M*B, d]`, inference only): the memory rows' cached keys and values;
    /// with them the memory rows of `kv` are not read.
    void forward(const S* kv, std::size_t M, std::size_t T, std::size_t B, S* out, Cache& c, Rng* rng,
                 const S* k_mem = nullptr, const S* v_mem = nullptr) const {
        check_lengths(M, T);
        const std::size_t K = M + T, nq = T * B, nk = K * B, d = d_model;
        Core::prepare(M, T, B, c);
        ensure_shape(c.w, {nk, 3 * d});
        ensure_shape(c.q, {nq, d});
        ensure_shape(c.qv, {nq, d});
        ensure_shape(c.pe, {K, d});
        ensure_shape(c.r, {K, d});

        // $[\,q;\ k;\ V\,] = kv\, W_{qkv}^\top$ `[K*B, 3d]`; $q$ from the segment's rows only,
        // and $q + v$ (the position term's query) beside it. With cached keys and values, only
        // the segment's rows are projected and the memory's $k$, $V$ are the cached ones.
        const bool reuse = M > 0 && k_mem && v_mem;
        c.reused_keys_values = reuse;
        const std::size_t first_row = reuse ? M * B : 0;
        qkv_net.forward(kv + first_row * d, nk - first_row, c.w.data() + first_row * 3 * d);
        if (reuse) {
            std::copy(k_mem, k_mem + M * B * d, c.k.data());
            std::copy(v_mem, v_mem + M * B * d, c.v.data());
        }
        const S* vb = r_r_bias.value.data();
        for (std::size_t row = first_row; row < nk; ++row) {
            const S* wr = c.w.data() + row * 3 * d;
            std::copy(wr + d, wr + 2 * d, c.k.data() + row * d);
            std::copy(wr + 2 * d, wr + 3 * d, c.v.data() + row * d);
            if (row >= M * B) {
                const std::size_t qr = row - M * B;
                std::copy(wr, wr + d, c.q.data() + qr * d);
                for (std::size_t e = 0; e < d; ++e) c.qv(qr, e) = wr[e] + vb[e];
            }
        }
        // $R_{win} = \text{PE}(K-1 \dots 0)\, W_r^\top$ `[K, d]`.
        encodings(K, c.pe.data());
        r_net.forward(c.pe.data(), K, c.r.data());

        // (a) + (c): $A_{bh} = (q + u)_{bh}\, k_{bh}^\top$ `[T, K]`, $u$ = `r_w_bias`; (b) + (d):
        // $X_{bh} = (q + v)_{bh} R_{win,h}^\top$ `[T, K]`, then the shift adds
        // $X_{bh,\, i,\, T-1+j-i}$ for the visible keys. Softmax over them, dropout (the paper's
        // `dropatt`), $o = \text{concat}_h(\tilde a_{bh} V_{bh})$, one $(b, h)$ at a time; then
        // $\text{out} = o\, W_o^\top$.
        Core::attend(c.q.data(), r_w_bias.value.data(), K, nullptr, c, rng,
                     [&](std::size_t h, std::size_t r0, std::size_t rows, std::size_t step, std::size_t c0, S* x) {
                         Core::ops::head_gemm(Trans::No, Trans::Yes, rows, K - c0, d_k, c.qv.data() + r0 * d + h * d_k,
                                              step * d, c.r.data() + c0 * d + h * d_k, d, x + c0, K);
                     });
        o_net.forward(c.o.data(), nq, out);
    }

    /// ## Backward
    /// From `dout[T*B, d]`: accumulate every parameter gradient, write `dkv[K*B, d]`.
    void backward(const S* kv, const S* dout, S* dkv, Cache& c) {
        Core::check_trainable("SinusoidalRelativeAttention", c);
        const std::size_t M = c.M, T = c.T, B = c.B, K = M + T, nq = T * B, nk = K * B, d = d_model;
        ensure_shape(c.d_o, {nq, d});
        ensure_shape(c.dqv, {nq, d});
        ensure_shape(c.dr, {K, d});
        ensure_shape(c.pos, {nq, K});

        // $\partial L/\partial o = \delta W_o$ (and $\partial L/\partial W_o$).
        o_net.backward(c.o.data(), dout, nq, c.d_o.data());
        // The core: $g$, $\partial L/\partial (q+u)$ (into `dq`), $\partial L/\partial k$, $\partial L/\partial V$, $\partial L/\partial u$.
        Core::backward_core(c, r_w_bias.grad.data());

        // Position term, per head: $\bar X$ from $g$ through the shift, then
        // $\partial L/\partial (q+v)_h = \bar X R_{win,h}$ and $\partial L/\partial R_{win,h} = \bar X^\top (q+v)_h$.
        S* x = c.pos.data();
        for (std::size_t h = 0; h < H; ++h) {
            Core::shift_back(K, h, x, c);
            gemm(Trans::No, Trans::No, nq, d_k, K, S(1), x, K, c.r.data() + h * d_k, d, S(0), c.dqv.data() + h * d_k,
                 d);
            gemm(Trans::Yes, Trans::No, K, d_k, nq, S(1), x, K, c.qv.data() + h * d_k, d, S(0), c.dr.data() + h * d_k,
                 d);
        }
        // $\partial L/\partial v = \sum_{i,b} \partial L/\partial (q+v)_{i,b}$; $\partial L/\partial q$ gets both paths.
        add_column_sums(c.dqv.data(), nq, d, r_r_bias.grad.data());
        for (std::size_t i = 0; i < nq * d; ++i) c.dq.data()[i] += c.dqv.data()[i];
        // $\partial L/\partial W_r \mathrel{+}= (\partial L/\partial R_{win})^\top \text{PE}$ (PE is a constant: no input gradient).
        r_net.backward(c.pe.data(), c.dr.data(), K, nullptr);

        // $\partial L/\partial [q; k; V]$ `[K*B, 3d]` (no $q$ on the memory rows), then
        // $\partial L/\partial kv = \partial L/\partial [q;k;V]\; W_{qkv}$ and $\partial L/\partial W_{qkv}$.
        for (std::size_t row = 0; row < nk; ++row) {
            S* wr = c.w.data() + row * 3 * d;
            if (row >= M * B)
                std::copy(c.dq.data() + (row - M * B) * d, c.dq.data() + (row - M * B + 1) * d, wr);
            else
                std::fill(wr, wr + d, S(0));
            std::copy(c.dk.data() + row * d, c.dk.data() + (row + 1) * d, wr + d);
            std::copy(c.dv.data() + row * d, c.dv.data() + (row + 1) * d, wr + 2 * d);
        }
        qkv_net.backward(kv, c.w.data(), nk, dkv);
    }

    /// kimiyoung/transformer-xl's names: `qkv_net`, `r_net`, `o_net`, `r_w_bias`, `r_r_bias`.
    template <class F>
    void visit(F&& f, const std::string& prefix = "") {
        qkv_net.visit(f, prefix + "qkv_net.");
        r_net.visit(f, prefix + "r_net.");
        o_net.visit(f, prefix + "o_net.");
        f(prefix + "r_w_bias", r_w_bias);
        f(prefix + "r_r_bias", r_r_bias);
    }

    Linear<S> qkv_net, r_net, o_net;
    Param<S, 2> r_w_bias;       ///< $u$, `[H, d_k]`
    Param<S, 2> r_r_bias;       ///< $v$, `[H, d_k]`
    std::size_t clamp_len = 0;  ///< 0: off; else distances beyond it use its encoding
};

}  // namespace txl
