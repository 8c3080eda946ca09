#pragma once
/// @file relative_attention.hpp
/// # Relative multi-head attention (labml's Transformer-XL attention)
///
/// $T$ queries of the current segment attend over $K = M + T$ keys: the $M$ rows of memory
/// followed by the segment itself. The caller passes the normalised keys/values
/// `kv[K, B, d_model]`; the queries are its last $T$ rows, $z$.
///
/// **Projections** (no bias on query and key, as labml): per head $h$,
/// $q = z W_q^\top$, $k = kv\, W_k^\top$, $v = kv\, W_v^\top + b_v$, split into $H$ heads of
/// $d_k = d_{model}/H$.
///
/// **Scores.** Query $i$ sits at absolute position $M + i$, key $j$ at position $j$; their
/// distance is $M + i - j$. With the learned tables $R$ = `key_pos_embeddings` `[2P, H, d_k]`,
/// $b^{pos}$ = `key_pos_bias` `[2P, H]` and $u$ = `query_pos_bias` `[H, d_k]`:
/// $$A_{ij} = \underbrace{(q_i + u) \cdot k_j}_{\text{content (A+C)}}
///          + \underbrace{q_i \cdot R_{P - (M + i - j)} + b^{pos}_{P - (M + i - j)}}_{\text{position (B+D)}}$$
/// $$a_{ij} = \operatorname{softmax}_j \big(A_{ij} / \sqrt{d_k}\big)
///   \quad\text{over visible keys: } j < M \text{ or } j - M \le i$$
/// $$o_i = \textstyle\sum_j a_{ij} v_j, \qquad \text{out} = \text{concat}_h(o)\, W_o^\top + b_o$$
///
/// **The shift trick.** For every query, the position term reads a *contiguous* run of
/// rows of $R$: row $P - M - i + j$ for the visible keys $j = 0..M+i$. Over all queries these
/// are the $K$ rows $R_{win} = R[P-K+1 \,..\, P]$ (distances $K-1$ down to 0). So one GEMM per
/// head computes $X = q\, R_{win}^\top$ (`[T*B, K]`), and the term for $(i, j)$ is
/// $X_{i,\, T - 1 + j - i}$: row $i$ of $X$ shifted left by $T - 1 - i$. labml slices $K + T$
/// rows, $R[P-K \,..\, P+T)$, and does the shift with `shift_right` (pad, reshape, drop); its
/// extra $T + 1$ rows only ever meet masked keys, so txl skips them (a third of the position
/// term's work when $M = T$). Here the shift is an index, and `position_scores_naive` beside it
/// computes the formula row by row, for the tests.
///
/// **Backward.** With $\delta = \partial L/\partial\,\text{out}$:
/// * output projection: $\partial L/\partial o = \delta W_o$ (and $W_o$, $b_o$ gradients);
/// * per head: $\partial L/\partial a = (\partial L/\partial o)\, V^\top$,
///   $\partial L/\partial V = a^\top (\partial L/\partial o)$;
/// * softmax: $g_{ij} = a_{ij}\big(\partial_{a_{ij}} - \sum_{j'} a_{ij'} \partial_{a_{ij'}}\big)
///   / \sqrt{d_k}$ (zero on masked keys, where $a = 0$);
/// * content term: $\partial L/\partial (q+u) = g K$, $\partial L/\partial K = g^\top (q+u)$,
///   $\partial L/\partial u_h = \sum_{i,b} \partial L/\partial (q+u)_{i,b,h}$;
/// * position term: scatter $g_{ij}$ back to $\bar X_{i,\,T-1+j-i}$; then
///   $\partial L/\partial q \mathrel{+}= \bar X R_{win}$,
///   $\partial L/\partial R_{win} \mathrel{+}= \bar X^\top q$ and
///   $\partial L/\partial b^{pos}_{P-K+1+c} \mathrel{+}= \sum_{i,b} \bar X_{(i,b), c}$;
/// * projections: $\partial L/\partial z$ and $\partial L/\partial kv$ from the three linears.
///
/// FLOPs of a forward (per layer, multiply-add = 2): projections $2\,d^2 (T + 2K) B$ and
/// $2\,d^2 T B$ (output); content scores and $a V$: $2 \cdot 2\, T K d\, B$; position scores:
/// $2\, T K d\, B$. The backward costs about twice that.
///
/// **Layout.** Activations are `[rows*B, d_model]` (row $t B + b$, heads side by side). The
/// per-(b, h) products run on head-major copies `[B, H, rows, d_k]` of $q + u$, $k$, $v$ (and
/// of $\partial L/\partial o$), which `kernels` makes and undoes: see
/// `detail/attention_kernels.hpp` for why (strided small products ran 4-5x slower). Every
/// `float` product of 8 rows or more runs on txl's own GEMM kernel, the rest on BLAS
/// (`detail/gemm.hpp`). With $B = 1$, $k$ and $v$ are used in place.

#include <cmath>
#include <string>

#include "detail/attention_kernels.hpp"
#include "errors.hpp"
#include "linear.hpp"
#include "random.hpp"
#include "tensor.hpp"

namespace txl {

/// @tparam C a `txl::Config` (gives $d_{model}$, $H$, $d_k$, $P$ and the scalar type).
template <class C>
class RelativeMultiHeadAttention {
public:
    using config = C;
    using S = typename C::scalar;
    using scalar = S;
    static constexpr std::size_t d_model = C::d_model, H = C::heads, d_k = C::d_k, P = C::P;
    static std::string name() { return "RelativeMultiHeadAttention"; }
    /// The machinery: per-head products, parallel loops, head-major copies, SIMD softmax.
    using kernels = detail::AttentionKernels<S, H, d_k>;

    struct Cache {
        std::size_t M = 0, T = 0, B = 0;
        tensor<S, 2> q;          ///< `[T*B, d_model]`: $q$ (rows $t B + b$, heads side by side)
        tensor<S, 2> k, v;       ///< `[K*B, d_model]` (also what the inference cache keeps)
        tensor<S, 4> qu_h;       ///< `[B, H, T, d_k]`: $q + u$, head-major
        tensor<S, 4> k_h, v_h;   ///< `[B, H, K, d_k]`: $k$, $v$, head-major (when B > 1)
        tensor<S, 4> o_h;        ///< `[B, H, T, d_k]`: $a V$ per head, before concatenation
        tensor<S, 4> a;          ///< `[B, H, T, K]` attention weights (before dropout)
        tensor<S, 4> a_drop;     ///< `[B, H, T, K]` after dropout (empty without dropout)
        tensor<S, 4> mask;       ///< `[B, H, T, K]` dropout mask
        tensor<S, 2> o;          ///< `[T*B, d_model]` heads concatenated
        tensor<S, 2> pos;        ///< `[T*B, K]` workspace: $X = q R_{win}^\top$, then $\bar X$
        tensor<S, 2> d_o, dq;    ///< `[T*B, d_model]` backward workspace
        tensor<S, 2> dk, dv;     ///< `[K*B, d_model]` backward workspace
        tensor<S, 4> d_oh, dq_h; ///< `[B, H, T, d_k]` backward workspace, head-major
        tensor<S, 4> dk_h, dv_h; ///< `[B, H, K, d_k]` backward workspace, head-major
        tensor<S, 4> g;          ///< `[B, H, T, K]` gradient of the scores
        tensor<S, 1> part;       ///< `[K]` column sums of $\bar X$
        bool dropped = false;
        bool kv_cached = false;  ///< forward reused the memory's keys and values: no backward
        const S* weights() const { return dropped ? a_drop.data() : a.data(); }
        /// With B = 1 a head's rows of k and v are already d_model apart: they are used in
        /// place (no copy: sampling attends over the whole memory for every new character).
        bool head_major = true;
        const S* key_block(std::size_t b, std::size_t h) const {
            return head_major ? &k_h(b, h, 0, 0) : k.data() + h * d_k;
        }
        const S* value_block(std::size_t b, std::size_t h) const {
            return head_major ? &v_h(b, h, 0, 0) : v.data() + h * d_k;
        }
        std::size_t kv_ld() const { return head_major ? d_k : d_model; }
    };

    RelativeMultiHeadAttention()
        : query(d_model, H * d_k, false),
          key(d_model, H * d_k, false),
          value(d_model, H * d_k, true),
          output(H * d_k, d_model, true) {
        key_pos_embeddings.resize(std::array<std::size_t, 3>{2 * P, H, d_k});
        key_pos_bias.resize(std::array<std::size_t, 2>{2 * P, H});
        query_pos_bias.resize(std::array<std::size_t, 2>{H, d_k});
        // A step reads (and so updates) only rows P-K+1 .. P of the tables (see the shift trick).
        key_pos_embeddings.make_sparse();
        key_pos_bias.make_sparse();
    }

    /// PyTorch defaults for the four linears; the relative tables start at zero (labml).
    void init(Rng& rng) {
        query.init(rng);
        key.init(rng);
        value.init(rng);
        output.init(rng);
        key_pos_embeddings.value.fill(S(0));
        key_pos_bias.value.fill(S(0));
        query_pos_bias.value.fill(S(0));
    }

    /// Throws unless $T \ge 1$ and $K = M + T \le P$ (the rows of the relative table).
    static void check_lengths(std::size_t M, std::size_t T) {
        check(T >= 1, "RelativeMultiHeadAttention: segment length T = 0, expected T >= 1");
        check(M + T <= P, "RelativeMultiHeadAttention: M + T = ", M, " + ", T, " = ", M + T,
              " keys, but the relative position table holds at most P = ", P);
    }

    /// ## Forward
    /// `kv[K*B, d_model]` (memory rows first), `out[T*B, d_model]`.
    ///
    /// **Inference with cached keys and values.** `k_mem`, `v_mem` (`[M*B, d_model]`, may be
    /// null) are the keys and values of the memory rows from the previous segments' forward
    /// passes. With fixed weights they equal what the projections would recompute, so only the
    /// `T*B` new rows are projected and the memory rows of `kv` are not read. Such a forward has
    /// no backward (the memory rows' LayerNorm gradient needs `kv`): `backward` throws.
    void forward(const S* kv, std::size_t M, std::size_t T, std::size_t B, S* out, Cache& c,
                 Rng* rng, const S* k_mem = nullptr, const S* v_mem = nullptr) const {
        check_lengths(M, T);
        const std::size_t K = M + T, nq = T * B, nk = K * B;
        c.M = M, c.T = T, c.B = B;
        ensure_shape(c.q, {nq, d_model});
        ensure_shape(c.k, {nk, d_model});
        ensure_shape(c.v, {nk, d_model});
        ensure_shape(c.qu_h, {B, H, T, d_k});
        c.head_major = B > 1;
        if (c.head_major) {
            ensure_shape(c.k_h, {B, H, K, d_k});
            ensure_shape(c.v_h, {B, H, K, d_k});
            ensure_shape(c.o_h, {B, H, T, d_k});
        }
        ensure_shape(c.a, {B, H, T, K});
        ensure_shape(c.o, {nq, d_model});
        ensure_shape(c.pos, {nq, K});

        // Projections, no bias on q and k (labml): the queries are the segment's rows of kv,
        // $z$ = its last `T*B` rows. $q = z W_q^\top$ `[T*B, d]`.
        const S* z = kv + M * B * d_model;
        query.forward(z, nq, c.q.data());
        c.kv_cached = M > 0 && k_mem && v_mem;
        if (c.kv_cached) {
            // Inference: the memory rows' $k$, $v$ are the cached ones; project only the
            // segment's: $k_{M..K} = z W_k^\top$, $v_{M..K} = z W_v^\top + b_v$.
            const std::size_t mb = M * B * d_model;
            std::copy(k_mem, k_mem + mb, c.k.data());
            std::copy(v_mem, v_mem + mb, c.v.data());
            key.forward(z, nq, c.k.data() + mb);
            value.forward(z, nq, c.v.data() + mb);
        } else {
            // $k = kv\, W_k^\top$, $v = kv\, W_v^\top + b_v$, both `[K*B, d]`.
            key.forward(kv, nk, c.k.data());
            value.forward(kv, nk, c.v.data());
        }

        // Head-major copies `[B, H, rows, d_k]` for the per-(b, h) products; the query copy
        // adds $u$ on the way, $(q + u)_{bh}$, with $u$ = `query_pos_bias` broadcast over positions.
        kernels::to_heads(c.q.data(), T, B, c.qu_h.data(), query_pos_bias.value.data());
        if (c.head_major) {
            kernels::to_heads(c.k.data(), K, B, c.k_h.data());
            kernels::to_heads(c.v.data(), K, B, c.v_h.data());
        }

        // Content scores (A+C), per (b, h): $A_{bh} = (q + u)_{bh}\, k_{bh}^\top$, `[T, d_k] x [d_k, K]`.
        kernels::for_each_bh(B, T, K, [&](std::size_t b, std::size_t h) {
            kernels::head_gemm(Trans::No, Trans::Yes, T, K, d_k, &c.qu_h(b, h, 0, 0), d_k, c.key_block(b, h),
                               c.kv_ld(), &c.a(b, h, 0, 0), K);
        });

        // Position scores (B+D), added on: $A_{ij} \mathrel{+}= q_i \cdot R_{P-(M+i-j)} + b^{pos}_{P-(M+i-j)}$.
        add_position_scores(c.q.data(), M, T, B, c.a.data(), c.pos.data());

        // $a_{ij} = \operatorname{softmax}_j(A_{ij} / \sqrt{d_k})$ over the visible keys
        // $j < M + i + 1$; $a_{ij} = 0$ for the masked ones.
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

        // Dropout on the attention weights: $\tilde a = a \odot m / (1 - p)$ (training only).
        c.dropped = dropout.active(rng);
        if (c.dropped) {
            ensure_shape(c.a_drop, c.a.shape());
            ensure_shape(c.mask, c.a.shape());
            std::copy(c.a.begin(), c.a.end(), c.a_drop.begin());
            dropout.forward(c.a_drop.data(), c.a_drop.size(), c.mask.data(), *rng);
        }

        // $o_{bh} = a_{bh} V_{bh}$: `[T, K] x [K, d_k]`; then the heads side by side again,
        // $o = \text{concat}_h(o_{bh})$ `[T*B, d]`.
        const S* a = c.weights();
        kernels::for_each_bh(B, T, K, [&](std::size_t b, std::size_t h) {
            kernels::head_gemm(Trans::No, Trans::No, T, d_k, K, a + ((b * H + h) * T) * K, K, c.value_block(b, h),
                               c.kv_ld(), c.head_major ? &c.o_h(b, h, 0, 0) : c.o.data() + h * d_k,
                               c.head_major ? d_k : d_model);
        });
        if (c.head_major) kernels::from_heads(c.o_h.data(), T, B, c.o.data());

        // $\text{out} = o W_o^\top + b_o$ `[T*B, d]`.
        output.forward(c.o.data(), nq, out);
    }

    /// One row of attention weights by the formula, with `std::exp`:
    /// $a_j = e^{s x_j - \max} / \sum_{j' < \text{visible}} e^{s x_{j'} - \max}$, 0 after `visible`.
    /// `kernels::softmax_row` is the same on SIMD batches; a test checks the two agree.
    static void softmax_row_naive(S* row, std::size_t visible, std::size_t K, S scale) {
        S mx = row[0] * scale;
        for (std::size_t j = 0; j < visible; ++j) mx = std::max(mx, row[j] * scale);
        S sum = 0;
        for (std::size_t j = 0; j < visible; ++j) sum += (row[j] = std::exp(row[j] * scale - mx));
        for (std::size_t j = 0; j < visible; ++j) row[j] /= sum;
        for (std::size_t j = visible; j < K; ++j) row[j] = S(0);
    }

    /// The position term, fast path, `x` a `[T*B, K]` workspace. Per head $h$, with the window
    /// $R_{win} = R[P-K+1 \,..\, P]$ (`first` = $P-K+1$):
    void add_position_scores(const S* q, std::size_t M, std::size_t T, std::size_t B, S* scores,
                             S* x) const {
        const std::size_t K = M + T, W = window(K), first = P - W + 1;
        const S* R = key_pos_embeddings.value.data();
        const S* bpos = key_pos_bias.value.data();
        for (std::size_t h = 0; h < H; ++h) {
            // $X = q_h R_{win,h}^\top$: `[T*B, d_k] x [d_k, K]`, every dot product any query needs.
            gemm(Trans::No, Trans::Yes, T * B, W, d_k, S(1), q + h * d_k, d_model,
                 R + first * d_model + h * d_k, d_model, S(0), x, W);
            // The shift: $A_{bh,ij} \mathrel{+}= X_{(i,b),\, T-1+j-i} + b^{pos}_{first+T-1+j-i,\,h}$ for
            // the visible keys $j \le M + i$ (row $i$ of $X$ read from column $T - 1 - i$ on).
            // With `clamp_len` the window is shorter ($W$ rows, distances $W-1 .. 0$): key $j$ reads
            // column $W - 1 - \min(M + i - j, \text{clamp})$, so the keys beyond the clamp
            // (`j < near`) all read column 0. Without it `near` = 0 and `base` = $T - 1 - i$.
            if (W == K) {  // no clamp: key j reads column T - 1 - i + j
                for_range(B, kernels::parallel_worth_it(B, T, K), [&](std::size_t b) {
                    for (std::size_t i = 0; i < T; ++i) {
                        S* row = scores + ((b * H + h) * T + i) * K;
                        const S* xr = x + (i * B + b) * W + (T - 1 - i);
                        const S* br = bpos + (first + T - 1 - i) * H + h;
                        for (std::size_t j = 0; j < M + i + 1; ++j) row[j] += xr[j] + br[j * H];
                    }
                });
                continue;
            }
            for_range(B, kernels::parallel_worth_it(B, T, K), [&](std::size_t b) {
                for (std::size_t i = 0; i < T; ++i) {
                    S* row = scores + ((b * H + h) * T + i) * K;
                    const std::size_t near = M + i + 1 > W ? M + i + 1 - W : 0, base = W - 1 + near - (M + i);
                    const S* xr = x + (i * B + b) * W + base;
                    const S* br = bpos + (first + base) * H + h;
                    for (std::size_t j = 0; j < near; ++j) row[j] += xr[0] + br[0];
                    for (std::size_t j = near; j < M + i + 1; ++j) row[j] += xr[j - near] + br[(j - near) * H];
                }
            });
        }
    }

    /// The position term by its definition, one dot product per (b, h, i, j), for the tests:
    /// $A_{bh,ij} \mathrel{+}= q_{i,h} \cdot R_{P-(M+i-j),\,h} + b^{pos}_{P-(M+i-j),\,h}$ (visible keys only).
    void position_scores_naive(const S* q, std::size_t M, std::size_t T, std::size_t B,
                               S* scores) const {
        const std::size_t K = M + T;
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t h = 0; h < H; ++h)
                for (std::size_t i = 0; i < T; ++i)
                    for (std::size_t j = 0; j < M + i + 1; ++j) {
                        const std::size_t dist = M + i - j;
                        const std::size_t row = P - (clamp_len ? std::min(dist, clamp_len) : dist);
                        S dot = 0;
                        for (std::size_t d = 0; d < d_k; ++d)
                            dot += q[(i * B + b) * d_model + h * d_k + d] *
                                   key_pos_embeddings.value(row, h, d);
                        scores[((b * H + h) * T + i) * K + j] += dot + key_pos_bias.value(row, h);
                    }
    }

    /// ## Backward
    /// From `dout[T*B, d_model]`: accumulate every parameter gradient and write
    /// `dkv[K*B, d_model]` (the gradient with respect to the normalised keys/values, the
    /// last `T*B` rows of which also carry the query path). `kv` is the forward input.
    void backward(const S* kv, const S* dout, S* dkv, Cache& c) {
        check<error>(!c.kv_cached, "RelativeMultiHeadAttention::backward: the forward reused cached "
                                   "keys and values (inference only); run it without them to train");
        const std::size_t M = c.M, T = c.T, B = c.B, K = M + T, W = window(K), nq = T * B,
                          nk = K * B, first = P - W + 1;  // the window R[first, first + W)
        ensure_shape(c.d_o, {nq, d_model});
        ensure_shape(c.dq, {nq, d_model});
        ensure_shape(c.dk, {nk, d_model});
        ensure_shape(c.dv, {nk, d_model});
        ensure_shape(c.d_oh, {B, H, T, d_k});
        ensure_shape(c.dq_h, {B, H, T, d_k});
        ensure_shape(c.dk_h, {B, H, K, d_k});
        ensure_shape(c.dv_h, {B, H, K, d_k});
        ensure_shape(c.g, {B, H, T, K});
        ensure_shape(c.part, {W});

        // Output projection: $\partial L/\partial o = \delta W_o$ `[T*B, d]` (and
        // $\partial L/\partial W_o \mathrel{+}= \delta^\top o$, $\partial L/\partial b_o \mathrel{+}= \sum_r \delta_r$);
        // then head-major like the forward's products.
        output.backward(c.o.data(), dout, nq, c.d_o.data());
        kernels::to_heads(c.d_o.data(), T, B, c.d_oh.data());

        const S scale = S(1) / std::sqrt(S(d_k));
        const S* a_used = c.weights();
        kernels::for_each_bh(B, T, K, [&](std::size_t b, std::size_t h) {
            S* g = &c.g(b, h, 0, 0);
            // $\partial L/\partial \tilde a_{bh} = (\partial L/\partial o_{bh})\, V_{bh}^\top$ `[T, K]`,
            // $\partial L/\partial V_{bh} = \tilde a_{bh}^\top\, \partial L/\partial o_{bh}$ `[K, d_k]`.
            kernels::head_gemm(Trans::No, Trans::Yes, T, K, d_k, &c.d_oh(b, h, 0, 0), d_k, c.value_block(b, h),
                               c.kv_ld(), g, K);
            kernels::head_gemm(Trans::Yes, Trans::No, K, d_k, T, a_used + ((b * H + h) * T) * K, K,
                               &c.d_oh(b, h, 0, 0), d_k, &c.dv_h(b, h, 0, 0), d_k);
            // Through dropout: $\partial L/\partial a = \partial L/\partial \tilde a \odot m / (1-p)$.
            if (c.dropped) Dropout<S>::backward(g, T * K, &c.mask(b, h, 0, 0));
            // Through the softmax and the scale, row by row:
            // $g_{ij} = a_{ij}\big(\partial_{a_{ij}} - \sum_{j'} a_{ij'} \partial_{a_{ij'}}\big) / \sqrt{d_k}$,
            // 0 on the masked keys.
            for (std::size_t i = 0; i < T; ++i)
                kernels::softmax_backward_row(g + i * K, &c.a(b, h, i, 0), first_visible(M, i), M + i + 1, K, scale);
        });

        // Content term: $\partial L/\partial (q+u)_{bh} = g_{bh} K_{bh}$ `[T, d_k]`,
        // $\partial L/\partial K_{bh} = g_{bh}^\top (q+u)_{bh}$ `[K, d_k]`.
        kernels::for_each_bh(B, T, K, [&](std::size_t b, std::size_t h) {
            const S* g = &c.g(b, h, 0, 0);
            kernels::head_gemm(Trans::No, Trans::No, T, d_k, K, g, K, c.key_block(b, h), c.kv_ld(),
                               &c.dq_h(b, h, 0, 0), d_k);
            kernels::head_gemm(Trans::Yes, Trans::No, K, d_k, T, g, K, &c.qu_h(b, h, 0, 0), d_k,
                               &c.dk_h(b, h, 0, 0), d_k);
        });
        // Back to the `[rows*B, d]` layout the projections' backward reads.
        kernels::from_heads(c.dq_h.data(), T, B, c.dq.data());
        kernels::from_heads(c.dk_h.data(), K, B, c.dk.data());
        kernels::from_heads(c.dv_h.data(), K, B, c.dv.data());
        // $\partial L/\partial u \mathrel{+}= \sum_{i,b} \partial L/\partial (q+u)_{i,b}$ (q and u enter as a sum).
        add_column_sums(c.dq.data(), nq, d_model, query_pos_bias.grad.data());

        // Position term, per head: scatter $g$ back through the shift into $\bar X$, then two GEMMs.
        const S* R = key_pos_embeddings.value.data();
        S* dR = key_pos_embeddings.grad.data();
        S* dbpos = key_pos_bias.grad.data();
        S* x = c.pos.data();
        for (std::size_t h = 0; h < H; ++h) {
            // $\bar X_{(i,b),\, T-1+j-i} = g_{bh,ij}$ for the visible keys; 0 in the columns
            // $< T - 1 - i$, which no key of query $i$ reads.
            // With `clamp_len`, the keys beyond the clamp share column 0: their $g$ add up there.
            for_range(B, kernels::parallel_worth_it(B, T, K), [&](std::size_t b) {
                for (std::size_t i = 0; i < T; ++i) {
                    const S* gr = &c.g(b, h, i, 0);
                    S* row = x + (i * B + b) * W;
                    const std::size_t near = M + i + 1 > W ? M + i + 1 - W : 0, base = W - 1 + near - (M + i);
                    for (std::size_t col = 0; col < base; ++col) row[col] = S(0);
                    std::copy(gr + near, gr + M + i + 1, row + base);
                    for (std::size_t j = 0; j < near; ++j) row[0] += gr[j];
                }
            });
            // $\partial L/\partial b^{pos}_{first+c,\,h} \mathrel{+}= \sum_{(i,b)} \bar X_{(i,b),c}$ (column sums, in row order).
            c.part.fill(S(0));
            add_column_sums(x, nq, W, c.part.data());
            for (std::size_t col = 0; col < W; ++col) dbpos[(first + col) * H + h] += c.part(col);
            // $\partial L/\partial q_h \mathrel{+}= \bar X R_{win,h}$ `[T*B, K] x [K, d_k]`.
            gemm(Trans::No, Trans::No, nq, d_k, W, S(1), x, W, R + first * d_model + h * d_k,
                 d_model, S(1), c.dq.data() + h * d_k, d_model);
            // $\partial L/\partial R_{win,h} \mathrel{+}= \bar X^\top q_h$ `[K, T*B] x [T*B, d_k]`.
            gemm(Trans::Yes, Trans::No, W, d_k, nq, S(1), x, W, c.q.data() + h * d_k, d_model,
                 S(1), dR + first * d_model + h * d_k, d_model);
        }
        // Only the window's rows of $R$ and $b^{pos}$ have gradient (row-sparse parameters).
        key_pos_embeddings.touched.extend(first * d_model, (first + W) * d_model);
        key_pos_bias.touched.extend(first * H, (first + W) * H);

        // Projections back to kv: $\partial L/\partial kv = \partial L/\partial k\, W_k
        // + \partial L/\partial v\, W_v + [\,0;\ \partial L/\partial q\, W_q\,]$ (q reads only the
        // last `T*B` rows), and the three weights' gradients.
        key.backward(kv, c.dk.data(), nk, dkv, S(0));
        value.backward(kv, c.dv.data(), nk, dkv, S(1));
        query.backward(kv + M * B * d_model, c.dq.data(), nq, dkv + M * B * d_model, S(1));
    }

    /// The key/value cache capability (see `slots.hpp`): the keys and values `[K*B, d_model]`
    /// of the K rows the last forward attended over, which the memory keeps for inference.
    const tensor<S, 2>& keys(const Cache& c) const { return c.k; }
    const tensor<S, 2>& values(const Cache& c) const { return c.v; }

    /// Dropout on the attention weights, probability `p`.
    void set_dropout(S p) { dropout.p = p; }

    /// `clamp_len` ($> 0$): distances beyond it use the table rows of `clamp_len` (0: off). A
    /// trained model then never meets a distance its tables did not learn.
    std::size_t clamp_len = 0;
    /// Rows of the window $R_{win}$ a segment of $K$ keys reads: $K$, or `clamp_len` + 1.
    std::size_t window(std::size_t K) const { return clamp_len && K > clamp_len + 1 ? clamp_len + 1 : K; }

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
        query.visit(f, prefix + "query.linear.");
        key.visit(f, prefix + "key.linear.");
        value.visit(f, prefix + "value.linear.");
        output.visit(f, prefix + "output.");
        f(prefix + "key_pos_embeddings", key_pos_embeddings);
        f(prefix + "key_pos_bias", key_pos_bias);
        f(prefix + "query_pos_bias", query_pos_bias);
    }

    Linear<S> query, key, value, output;
    Param<S, 3> key_pos_embeddings;  ///< $R$, `[2P, H, d_k]`
    Param<S, 2> key_pos_bias;        ///< $b^{pos}$, `[2P, H]`
    Param<S, 2> query_pos_bias;      ///< $u$, `[H, d_k]`
    Dropout<S> dropout;              ///< on the attention weights
};

}  // namespace txl
