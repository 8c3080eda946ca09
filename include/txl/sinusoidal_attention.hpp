#pragma once
/// @file sinusoidal_attention.hpp
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
/// $[\,q;\ k;\ v\,] = kv\, W_{qkv}^\top$ (`qkv_net`, `[3 d, d]`; $q$ kept for the segment's
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
/// $o_i = \sum_j a_{ij} v_j$ (here $v_j$ the values), $\text{out} = o\, W_o^\top$ (`o_net`, no bias).
///
/// **The shift trick** is the one of `relative_attention.hpp`: the $K$ rows $r_{K-1}, \dots, r_0$
/// form the window $R_{win}$ (`[K, d]`), $X = (q + v) R_{win}^\top$ is one GEMM per head, and the
/// term for $(i, j)$ is $X_{i,\, T - 1 + j - i}$.
///
/// **`clamp_len`** ($\ge 0$; 0 = off): distances beyond it use the encoding of `clamp_len`
/// (the paper's code, for evaluating with memories longer than any distance seen in training).
///
/// **Backward.** As labml's block for the output projection, the softmax, the values and the
/// content term; then:
/// * $\partial L/\partial u = \sum_{i,b} \partial L/\partial (q+u)_{i,b}$;
/// * position term: scatter $g$ back through the shift into $\bar X$; per head
///   $\partial L/\partial (q+v) = \bar X R_{win}$ and $\partial L/\partial R_{win} = \bar X^\top (q+v)$;
///   $\partial L/\partial v = \sum_{i,b} \partial L/\partial (q+v)_{i,b}$, and
///   $\partial L/\partial q = \partial L/\partial (q+u) + \partial L/\partial (q+v)$;
/// * $\partial L/\partial W_r \mathrel{+}= (\partial L/\partial R_{win})^\top \text{PE}$ (the encodings are constants);
/// * $\partial L/\partial [q; k; v]$ assembled row by row (zero $q$ part on the memory rows),
///   then `qkv_net`'s backward gives $\partial L/\partial W_{qkv}$ and $\partial L/\partial kv$.
///
/// **Inference with cached keys and values** (the key/value cache capability of `slots.hpp`):
/// given the memory rows' keys and values from earlier segments, only the segment's rows are
/// projected. Exact while the weights are fixed; such a forward has no backward.

#include <algorithm>
#include <cmath>
#include <string>

#include "detail/attention_kernels.hpp"
#include "errors.hpp"
#include "linear.hpp"
#include "random.hpp"
#include "tensor.hpp"

namespace txl {

/// @tparam C a `txl::Config` (gives $d_{model}$, $H$, $d_k$ and the scalar type; $P$ bounds
///           $K = M + T$ as for labml's block, so both blocks take the same lengths).
template <class C>
class SinusoidalRelativeAttention {
public:
    using config = C;
    using S = typename C::scalar;
    using scalar = S;
    static constexpr std::size_t d_model = C::d_model, H = C::heads, d_k = C::d_k, P = C::P;
    static_assert(d_model % 2 == 0, "SinusoidalRelativeAttention: d_model must be even (sines and cosines)");
    static std::string name() { return "SinusoidalRelativeAttention"; }
    using kernels = detail::AttentionKernels<S, H, d_k>;

    struct Cache {
        std::size_t M = 0, T = 0, B = 0;
        tensor<S, 2> w;              ///< `[K*B, 3d]`: $kv\, W_{qkv}^\top$ (then its gradient)
        tensor<S, 2> q, qv;          ///< `[T*B, d]`: $q$, and $q + v$ (heads side by side)
        tensor<S, 2> k, v;           ///< `[K*B, d]`
        tensor<S, 2> pe, r;          ///< `[K, d]`: $\text{PE}(K-1 \dots 0)$ and $R_{win} = \text{PE}\, W_r^\top$
        tensor<S, 4> qu_h, o_h;      ///< `[B, H, T, d_k]`: $q + u$ and $a V$, head-major
        tensor<S, 4> k_h, v_h;       ///< `[B, H, K, d_k]`
        tensor<S, 4> a, a_drop, mask;///< `[B, H, T, K]` weights, after dropout, dropout mask
        tensor<S, 2> o;              ///< `[T*B, d]` heads concatenated
        tensor<S, 2> pos;            ///< `[T*B, K]`: $X$, then $\bar X$
        tensor<S, 2> d_o, dq, dqv;   ///< `[T*B, d]` backward workspace
        tensor<S, 2> dk, dv;         ///< `[K*B, d]`
        tensor<S, 2> dr;             ///< `[K, d]`: $\partial L/\partial R_{win}$
        tensor<S, 4> d_oh, dq_h, dk_h, dv_h, g;
        bool dropped = false;
        bool kv_cached = false;      ///< forward reused the memory's keys and values: no backward
        const S* weights() const { return dropped ? a_drop.data() : a.data(); }
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
        check(T >= 1, "SinusoidalRelativeAttention: segment length T = 0, expected T >= 1");
        check(M + T <= P, "SinusoidalRelativeAttention: M + T = ", M, " + ", T, " = ", M + T,
              " keys, more than P = ", P);
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
        c.M = M, c.T = T, c.B = B;
        ensure_shape(c.w, {nk, 3 * d});
        ensure_shape(c.q, {nq, d});
        ensure_shape(c.qv, {nq, d});
        ensure_shape(c.k, {nk, d});
        ensure_shape(c.v, {nk, d});
        ensure_shape(c.pe, {K, d});
        ensure_shape(c.r, {K, d});
        ensure_shape(c.qu_h, {B, H, T, d_k});
        ensure_shape(c.o_h, {B, H, T, d_k});
        ensure_shape(c.k_h, {B, H, K, d_k});
        ensure_shape(c.v_h, {B, H, K, d_k});
        ensure_shape(c.a, {B, H, T, K});
        ensure_shape(c.o, {nq, d});
        ensure_shape(c.pos, {nq, K});

        // $[\,q;\ k;\ v\,] = kv\, W_{qkv}^\top$ `[K*B, 3d]`; $q$ from the segment's rows only,
        // and $q + v$ (the position term's query) beside it. With cached keys and values, only
        // the segment's rows are projected and the memory's $k$, $v$ are the cached ones.
        c.kv_cached = M > 0 && k_mem && v_mem;
        const std::size_t first_row = c.kv_cached ? M * B : 0;
        qkv_net.forward(kv + first_row * d, nk - first_row, c.w.data() + first_row * 3 * d);
        if (c.kv_cached) {
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

        // Head-major $(q + u)$, $k$, $v$ for the per-(b, h) products.
        kernels::to_heads(c.q.data(), T, B, c.qu_h.data(), r_w_bias.value.data());
        kernels::to_heads(c.k.data(), K, B, c.k_h.data());
        kernels::to_heads(c.v.data(), K, B, c.v_h.data());

        // (a) + (c), per (b, h): $A_{bh} = (q + u)_{bh}\, k_{bh}^\top$ `[T, K]`.
        kernels::for_each_bh(B, T, K, [&](std::size_t b, std::size_t h) {
            kernels::head_gemm(Trans::No, Trans::Yes, T, K, d_k, &c.qu_h(b, h, 0, 0), d_k, &c.k_h(b, h, 0, 0), d_k,
                               &c.a(b, h, 0, 0), K);
        });

        // (b) + (d), per head: $X = (q + v)_h R_{win,h}^\top$ `[T*B, K]`, then the shift:
        // $A_{bh,ij} \mathrel{+}= X_{(i,b),\, T-1+j-i}$ for the visible keys.
        for (std::size_t h = 0; h < H; ++h) {
            gemm(Trans::No, Trans::Yes, nq, K, d_k, S(1), c.qv.data() + h * d_k, d, c.r.data() + h * d_k, d, S(0),
                 c.pos.data(), K);
            for_range(B, kernels::parallel_worth_it(B, T, K), [&](std::size_t b) {
                for (std::size_t i = 0; i < T; ++i) {
                    S* row = &c.a(b, h, i, 0);
                    const S* xr = c.pos.data() + (i * B + b) * K + (T - 1 - i);
                    for (std::size_t j = 0; j < M + i + 1; ++j) row[j] += xr[j];
                }
            });
        }

        // $a = \operatorname{softmax}(A / \sqrt{d_k})$ over $j \le M + i$, 0 beyond.
        const S scale = S(1) / std::sqrt(S(d_k));
        kernels::for_each_bh(B, T, K, [&](std::size_t b, std::size_t h) {
            if (!same_length) {
                for (std::size_t i = 0; i < T; ++i) kernels::softmax_row(&c.a(b, h, i, 0), M + i + 1, K, scale);
                return;
            }
            for (std::size_t i = 0; i < T; ++i) {  // `same_length`: keys before `lo` are masked too
                S* row = &c.a(b, h, i, 0);
                const std::size_t lo = first_visible(M, i);
                kernels::softmax_row(row + lo, M + i + 1 - lo, K - lo, scale);
                std::fill(row, row + lo, S(0));
            }
        });

        // Dropout on the attention weights (the paper's `dropatt`).
        c.dropped = dropout.active(rng);
        if (c.dropped) {
            ensure_shape(c.a_drop, c.a.shape());
            ensure_shape(c.mask, c.a.shape());
            std::copy(c.a.begin(), c.a.end(), c.a_drop.begin());
            dropout.forward(c.a_drop.data(), c.a_drop.size(), c.mask.data(), *rng);
        }

        // $o_{bh} = a_{bh} V_{bh}$, heads side by side again; $\text{out} = o\, W_o^\top$.
        const S* a = c.weights();
        kernels::for_each_bh(B, T, K, [&](std::size_t b, std::size_t h) {
            kernels::head_gemm(Trans::No, Trans::No, T, d_k, K, a + ((b * H + h) * T) * K, K, &c.v_h(b, h, 0, 0), d_k,
                               &c.o_h(b, h, 0, 0), d_k);
        });
        kernels::from_heads(c.o_h.data(), T, B, c.o.data());
        o_net.forward(c.o.data(), nq, out);
    }

    /// ## Backward
    /// From `dout[T*B, d]`: accumulate every parameter gradient, write `dkv[K*B, d]`.
    void backward(const S* kv, const S* dout, S* dkv, Cache& c) {
        check<error>(!c.kv_cached, "SinusoidalRelativeAttention::backward: the forward reused cached "
                                   "keys and values (inference only); run it without them to train");
        const std::size_t M = c.M, T = c.T, B = c.B, K = M + T, nq = T * B, nk = K * B, d = d_model;
        ensure_shape(c.d_o, {nq, d});
        ensure_shape(c.dq, {nq, d});
        ensure_shape(c.dqv, {nq, d});
        ensure_shape(c.dk, {nk, d});
        ensure_shape(c.dv, {nk, d});
        ensure_shape(c.dr, {K, d});
        ensure_shape(c.d_oh, {B, H, T, d_k});
        ensure_shape(c.dq_h, {B, H, T, d_k});
        ensure_shape(c.dk_h, {B, H, K, d_k});
        ensure_shape(c.dv_h, {B, H, K, d_k});
        ensure_shape(c.g, {B, H, T, K});

        // $\partial L/\partial o = \delta W_o$ (and $\partial L/\partial W_o$), head-major.
        o_net.backward(c.o.data(), dout, nq, c.d_o.data());
        kernels::to_heads(c.d_o.data(), T, B, c.d_oh.data());

        const S scale = S(1) / std::sqrt(S(d_k));
        const S* a_used = c.weights();
        kernels::for_each_bh(B, T, K, [&](std::size_t b, std::size_t h) {
            S* g = &c.g(b, h, 0, 0);
            // $\partial L/\partial \tilde a = (\partial L/\partial o) V^\top$, $\partial L/\partial V = \tilde a^\top \partial L/\partial o$.
            kernels::head_gemm(Trans::No, Trans::Yes, T, K, d_k, &c.d_oh(b, h, 0, 0), d_k, &c.v_h(b, h, 0, 0), d_k, g, K);
            kernels::head_gemm(Trans::Yes, Trans::No, K, d_k, T, a_used + ((b * H + h) * T) * K, K,
                               &c.d_oh(b, h, 0, 0), d_k, &c.dv_h(b, h, 0, 0), d_k);
            if (c.dropped) Dropout<S>::backward(g, T * K, &c.mask(b, h, 0, 0));
            // Softmax and scale: $g_{ij} = a_{ij}(\partial_{a_{ij}} - \sum_{j'} a_{ij'} \partial_{a_{ij'}}) / \sqrt{d_k}$.
            for (std::size_t i = 0; i < T; ++i)
                kernels::softmax_backward_row(g + i * K, &c.a(b, h, i, 0), first_visible(M, i), M + i + 1, K, scale);
            // Content: $\partial L/\partial (q+u) = g K$, $\partial L/\partial K = g^\top (q+u)$.
            kernels::head_gemm(Trans::No, Trans::No, T, d_k, K, g, K, &c.k_h(b, h, 0, 0), d_k, &c.dq_h(b, h, 0, 0), d_k);
            kernels::head_gemm(Trans::Yes, Trans::No, K, d_k, T, g, K, &c.qu_h(b, h, 0, 0), d_k, &c.dk_h(b, h, 0, 0), d_k);
        });
        kernels::from_heads(c.dq_h.data(), T, B, c.dq.data());
        kernels::from_heads(c.dk_h.data(), K, B, c.dk.data());
        kernels::from_heads(c.dv_h.data(), K, B, c.dv.data());
        // $\partial L/\partial u = \sum_{i,b} \partial L/\partial (q+u)_{i,b}$.
        add_column_sums(c.dq.data(), nq, d, r_w_bias.grad.data());

        // Position term, per head: $\bar X$ from $g$ through the shift, then
        // $\partial L/\partial (q+v)_h = \bar X R_{win,h}$ and $\partial L/\partial R_{win,h} = \bar X^\top (q+v)_h$.
        S* x = c.pos.data();
        for (std::size_t h = 0; h < H; ++h) {
            for_range(B, kernels::parallel_worth_it(B, T, K), [&](std::size_t b) {
                for (std::size_t i = 0; i < T; ++i) {
                    const S* gr = &c.g(b, h, i, 0);
                    S* row = x + (i * B + b) * K;
                    const std::size_t lo = T - 1 - i;
                    for (std::size_t col = 0; col < lo; ++col) row[col] = S(0);
                    std::copy(gr, gr + (K - lo), row + lo);
                }
            });
            gemm(Trans::No, Trans::No, nq, d_k, K, S(1), x, K, c.r.data() + h * d_k, d, S(0), c.dqv.data() + h * d_k, d);
            gemm(Trans::Yes, Trans::No, K, d_k, nq, S(1), x, K, c.qv.data() + h * d_k, d, S(0), c.dr.data() + h * d_k, d);
        }
        // $\partial L/\partial v = \sum_{i,b} \partial L/\partial (q+v)_{i,b}$; $\partial L/\partial q$ gets both paths.
        add_column_sums(c.dqv.data(), nq, d, r_r_bias.grad.data());
        for (std::size_t i = 0; i < nq * d; ++i) c.dq.data()[i] += c.dqv.data()[i];
        // $\partial L/\partial W_r \mathrel{+}= (\partial L/\partial R_{win})^\top \text{PE}$ (PE is a constant: no input gradient).
        r_net.backward(c.pe.data(), c.dr.data(), K, nullptr);

        // $\partial L/\partial [q; k; v]$ `[K*B, 3d]` (no $q$ on the memory rows), then
        // $\partial L/\partial kv = \partial L/\partial [q;k;v]\; W_{qkv}$ and $\partial L/\partial W_{qkv}$.
        for (std::size_t row = 0; row < nk; ++row) {
            S* wr = c.w.data() + row * 3 * d;
            if (row >= M * B) std::copy(c.dq.data() + (row - M * B) * d, c.dq.data() + (row - M * B + 1) * d, wr);
            else std::fill(wr, wr + d, S(0));
            std::copy(c.dk.data() + row * d, c.dk.data() + (row + 1) * d, wr + d);
            std::copy(c.dv.data() + row * d, c.dv.data() + (row + 1) * d, wr + 2 * d);
        }
        qkv_net.backward(kv, c.w.data(), nk, dkv);
    }

    /// The key/value cache: keys and values `[K*B, d]` of the rows the last forward attended over.
    const tensor<S, 2>& keys(const Cache& c) const { return c.k; }
    const tensor<S, 2>& values(const Cache& c) const { return c.v; }

    /// Dropout on the attention weights, probability `p` (the paper's `dropatt`).
    void set_dropout(S p) { dropout.p = p; }

    /// kimiyoung/transformer-xl's names: `qkv_net`, `r_net`, `o_net`, `r_w_bias`, `r_r_bias`.
    /// The paper's evaluation mask `same_length`: with a window $W > 0$, query $i$ sees only the
    /// keys at distance $0 .. W - 1$, $j \ge M + i + 1 - W$, so that every query attends to the
    /// same number of keys ($W$, once the memory is full). 0 (the default) is the causal mask.
    std::size_t same_length = 0;
    /// The first key query $i$ sees: $\max(0,\ M + i + 1 - W)$ with `same_length` $= W$, else 0.
    std::size_t first_visible(std::size_t M, std::size_t i) const {
        return same_length && M + i + 1 > same_length ? M + i + 1 - same_length : 0;
    }

    template <class F>
    void visit(F&& f, const std::string& prefix = "") {
        qkv_net.visit(f, prefix + "qkv_net.");
        r_net.visit(f, prefix + "r_net.");
        o_net.visit(f, prefix + "o_net.");
        f(prefix + "r_w_bias", r_w_bias);
        f(prefix + "r_r_bias", r_r_bias);
    }

    Linear<S> qkv_net, r_net, o_net;
    Param<S, 2> r_w_bias;  ///< $u$, `[H, d_k]`
    Param<S, 2> r_r_bias;  ///< $v$, `[H, d_k]`
    Dropout<S> dropout;    ///< on the attention weights
    std::size_t clamp_len = 0;  ///< 0: off; else distances beyond it use its encoding
};

}  // namespace txl
