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
/// $S$ = `key_pos_bias` `[2P, H]` and $u$ = `query_pos_bias` `[H, d_k]`:
/// $$A_{ij} = \underbrace{(q_i + u) \cdot k_j}_{\text{content (A+C)}}
///          + \underbrace{q_i \cdot R_{P - (M + i - j)} + S_{P - (M + i - j)}}_{\text{position (B+D)}}$$
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
///   $\partial L/\partial S_{P-K+1+c} \mathrel{+}= \sum_{i,b} \bar X_{(i,b), c}$;
/// * projections: $\partial L/\partial z$ and $\partial L/\partial kv$ from the three linears.
///
/// FLOPs of a forward (per layer, multiply-add = 2): projections $2\,d^2 (T + 2K) B$ and
/// $2\,d^2 T B$ (output); content scores and $a V$: $2 \cdot 2\, T K d\, B$; position scores:
/// $2\, T K d\, B$. The backward costs about twice that.
///
/// **Layouts.** Activations are `[rows*B, d_model]` (row $t B + b$, heads side by side), as
/// labml's `[seq, batch, d_model]`: good for the projections, which are one GEMM over all rows.
/// The per-(b, h) products want the opposite: in that layout a head's consecutive rows lie
/// $B\,d_{model}$ apart, and OpenBLAS runs such small strided GEMMs four to five times slower
/// than on a contiguous block (measured: 33 against 153 GFLOP/s for the content scores of the
/// practical config). So $q+u$, $k$, $v$ (and in the backward $\partial L/\partial o$) are
/// copied once into head-major `[B, H, rows, d_k]` blocks, and the per-head results copied
/// back; the copies cost a few percent of the products they speed up. With $B = 1$ the rows
/// of a head are already $d_{model}$ apart and $k$, $v$ are used in place.

#include <cmath>
#include <string>

#include <xsimd/xsimd.hpp>

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
        tensor<S, 2> x;          ///< `[T*B, K]` workspace: position scores / their gradient
        tensor<S, 2> d_o, dq;    ///< `[T*B, d_model]` backward workspace
        tensor<S, 2> dk, dv;     ///< `[K*B, d_model]` backward workspace
        tensor<S, 4> d_oh, dq_h; ///< `[B, H, T, d_k]` backward workspace, head-major
        tensor<S, 4> dk_h, dv_h; ///< `[B, H, K, d_k]` backward workspace, head-major
        tensor<S, 4> g;          ///< `[B, H, T, K]` gradient of the scores
        tensor<S, 1> part;       ///< `[K]` column sums of X-bar
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
        ensure_shape(c.x, {nq, K});

        // Projections. The queries are the last T rows of kv.
        const S* z = kv + M * B * d_model;
        query.forward(z, nq, c.q.data());
        c.kv_cached = M > 0 && k_mem && v_mem;
        if (c.kv_cached) {
            const std::size_t mb = M * B * d_model;
            std::copy(k_mem, k_mem + mb, c.k.data());
            std::copy(v_mem, v_mem + mb, c.v.data());
            key.forward(z, nq, c.k.data() + mb);
            value.forward(z, nq, c.v.data() + mb);
        } else {
            key.forward(kv, nk, c.k.data());
            value.forward(kv, nk, c.v.data());
        }

        // Head-major copies: per (b, h) the products below then read contiguous [rows, d_k]
        // blocks (in the [rows*B, d_model] layout a head's rows lie B*d_model apart, and the
        // small GEMMs on them run several times slower). The query copy adds u on the way:
        // q + u, with u = query_pos_bias broadcast over positions.
        to_heads(c.q.data(), T, B, c.qu_h.data(), query_pos_bias.value.data());
        if (c.head_major) {
            to_heads(c.k.data(), K, B, c.k_h.data());
            to_heads(c.v.data(), K, B, c.v_h.data());
        }

        // Content scores (A+C): per (b, h), [T, d_k] x [d_k, K].
#pragma omp parallel for collapse(2) schedule(dynamic, 2) if (parallel_worth_it(B, T, K))
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t h = 0; h < H; ++h)
                head_gemm(Trans::No, Trans::Yes, T, K, d_k, &c.qu_h(b, h, 0, 0), d_k,
                     c.key_block(b, h), c.kv_ld(), &c.a(b, h, 0, 0), K);

        // Position scores (B+D), added onto the content scores.
        add_position_scores(c.q.data(), M, T, B, c.a.data(), c.x.data());

        // Scale, mask and softmax over the visible keys j < M + i + 1.
        const S scale = S(1) / std::sqrt(S(d_k));
#pragma omp parallel for collapse(2) schedule(dynamic, 2) if (parallel_worth_it(B, T, K))
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t h = 0; h < H; ++h)
                for (std::size_t i = 0; i < T; ++i) softmax_row(&c.a(b, h, i, 0), M + i + 1, K, scale);

        c.dropped = dropout.active(rng);
        if (c.dropped) {
            ensure_shape(c.a_drop, c.a.shape());
            ensure_shape(c.mask, c.a.shape());
            std::copy(c.a.begin(), c.a.end(), c.a_drop.begin());
            dropout.forward(c.a_drop.data(), c.a_drop.size(), c.mask.data(), *rng);
        }

        // o_bh = a_bh V_bh: [T, K] x [K, d_k]; then the heads side by side again in o.
        const S* a = c.weights();
#pragma omp parallel for collapse(2) schedule(dynamic, 2) if (parallel_worth_it(B, T, K))
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t h = 0; h < H; ++h)
                head_gemm(Trans::No, Trans::No, T, d_k, K, a + ((b * H + h) * T) * K, K,
                     c.value_block(b, h), c.kv_ld(),
                     c.head_major ? &c.o_h(b, h, 0, 0) : c.o.data() + h * d_k,
                     c.head_major ? d_k : d_model);
        if (c.head_major) from_heads(c.o_h.data(), T, B, c.o.data());

        output.forward(c.o.data(), nq, out);
    }

    /// A per-(b, h) product $C = op(A)\,op(B)$ on the calling thread (the loops around it
    /// are the parallel ones): `gemm`, which sends `float` products of 8 rows or more to
    /// txl's own kernel and the rest (`double`, a sampling step's single query) to BLAS.
    static void head_gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, const S* a,
                          std::size_t lda, const S* b, std::size_t ldb, S* c, std::size_t ldc) {
        gemm(ta, tb, m, n, k, S(1), a, lda, b, ldb, S(0), c, ldc);
    }

    /// Whether a per-head loop has enough work to be worth waking the other threads: at least
    /// 2^14 scores (a sampling step, 1 query over a short memory, runs on one thread).
    static bool parallel_worth_it(std::size_t B, std::size_t T, std::size_t K) {
        return B * H * T * K >= (std::size_t(1) << 14);
    }

    /// `src[R*B, d_model]` (row $t B + b$, heads side by side) to head-major
    /// `dst[B, H, R, d_k]`, adding `bias[H, d_k]` (a per-head vector) when given.
    static void to_heads(const S* src, std::size_t R, std::size_t B, S* dst, const S* bias = nullptr) {
        auto one = [&](std::size_t b, std::size_t h) {
            S* out = dst + (b * H + h) * R * d_k;
            for (std::size_t t = 0; t < R; ++t) {
                const S* in = src + (t * B + b) * d_model + h * d_k;
                if (bias)
                    for (std::size_t e = 0; e < d_k; ++e) out[t * d_k + e] = in[e] + bias[h * d_k + e];
                else
                    for (std::size_t e = 0; e < d_k; ++e) out[t * d_k + e] = in[e];
            }
        };
        for_each_head(R * B, B, one);
    }
    /// The inverse of `to_heads` (without a bias): head-major `src[B, H, R, d_k]` to `dst[R*B, d_model]`.
    static void from_heads(const S* src, std::size_t R, std::size_t B, S* dst) {
        auto one = [&](std::size_t b, std::size_t h) {
            const S* in = src + (b * H + h) * R * d_k;
            for (std::size_t t = 0; t < R; ++t) {
                S* out = dst + (t * B + b) * d_model + h * d_k;
                for (std::size_t e = 0; e < d_k; ++e) out[e] = in[t * d_k + e];
            }
        };
        for_each_head(R * B, B, one);
    }
    /// `f(b, h)` for every (b, h): on all threads when there are at least 256 rows to copy
    /// (see `for_range`).
    template <class F>
    static void for_each_head(std::size_t rows, std::size_t B, F&& f) {
        for_range(B * H, rows >= 256, [&](std::size_t bh) { f(bh / H, bh % H); });
    }

    /// One row of attention weights in place: `row[j] = softmax_j(scale * row[j])` over the
    /// first `visible` entries, 0 after them (the mask). The exponentials run on SIMD batches
    /// (`xsimd::exp`, about ten times faster than `std::exp` per element); `softmax_row_naive`
    /// is the same formula with `std::exp`, and a test checks the two agree.
    static void softmax_row(S* row, std::size_t visible, std::size_t K, S scale) {
        using batch = xsimd::batch<S>;
        constexpr std::size_t L = batch::size;
        S mx = row[0];
        for (std::size_t j = 1; j < visible; ++j) mx = std::max(mx, row[j]);
        mx *= scale;  // scale > 0: max of the scaled row, exactly
        const batch vscale(scale), vmx(mx);
        batch vsum(S(0));
        std::size_t j = 0;
        for (; j + L <= visible; j += L) {
            const batch e = xsimd::exp(batch::load_unaligned(row + j) * vscale - vmx);
            e.store_unaligned(row + j);
            vsum += e;
        }
        S sum = xsimd::hadd(vsum);
        for (; j < visible; ++j) {
            row[j] = std::exp(row[j] * scale - mx);
            sum += row[j];
        }
        const S inv = S(1) / sum;
        for (j = 0; j < visible; ++j) row[j] *= inv;
        for (j = visible; j < K; ++j) row[j] = S(0);
    }
    static void softmax_row_naive(S* row, std::size_t visible, std::size_t K, S scale) {
        S mx = row[0] * scale;
        for (std::size_t j = 0; j < visible; ++j) mx = std::max(mx, row[j] * scale);
        S sum = 0;
        for (std::size_t j = 0; j < visible; ++j) sum += (row[j] = std::exp(row[j] * scale - mx));
        for (std::size_t j = 0; j < visible; ++j) row[j] /= sum;
        for (std::size_t j = visible; j < K; ++j) row[j] = S(0);
    }

    /// The position term, fast path: for each head one GEMM $X = q_h R_{win,h}^\top$
    /// (`[T*B, d_k] x [d_k, K]`, window rows from `first` = P-K+1), then
    /// `scores[b,h,i,j] += X[i*B+b, T-1+j-i] + S[first+T-1+j-i, h]` for the visible keys.
    /// `x` is a `[T*B, K]` workspace.
    void add_position_scores(const S* q, std::size_t M, std::size_t T, std::size_t B, S* scores,
                             S* x) const {
        const std::size_t K = M + T, W = K, first = P - K + 1;
        const S* R = key_pos_embeddings.value.data();
        const S* Sb = key_pos_bias.value.data();
        for (std::size_t h = 0; h < H; ++h) {
            gemm(Trans::No, Trans::Yes, T * B, W, d_k, S(1), q + h * d_k, d_model,
                 R + first * d_model + h * d_k, d_model, S(0), x, W);
#pragma omp parallel for schedule(static) if (parallel_worth_it(B, T, K))
            for (std::size_t b = 0; b < B; ++b)
                for (std::size_t i = 0; i < T; ++i) {
                    S* row = scores + ((b * H + h) * T + i) * K;
                    const S* xr = x + (i * B + b) * W + (T - 1 - i);  // the shift
                    const S* sr = Sb + (first + T - 1 - i) * H + h;
                    for (std::size_t j = 0; j < M + i + 1; ++j) row[j] += xr[j] + sr[j * H];
                }
        }
    }

    /// The position term by its definition, one dot product per (b, h, i, j):
    /// `scores[b,h,i,j] += q_i . R[P-(M+i-j), h] + S[P-(M+i-j), h]` (visible keys only).
    void position_scores_naive(const S* q, std::size_t M, std::size_t T, std::size_t B,
                               S* scores) const {
        const std::size_t K = M + T;
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t h = 0; h < H; ++h)
                for (std::size_t i = 0; i < T; ++i)
                    for (std::size_t j = 0; j < M + i + 1; ++j) {
                        const std::size_t row = P - (M + i - j);
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
        const std::size_t M = c.M, T = c.T, B = c.B, K = M + T, W = K, nq = T * B,
                          nk = K * B, first = P - K + 1;  // the window R[first, first + W)
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

        // Output projection: dO = dout W_o, then head-major like the forward's products.
        output.backward(c.o.data(), dout, nq, c.d_o.data());
        to_heads(c.d_o.data(), T, B, c.d_oh.data());

        // Per head: d(a) = dO V^T, dV = a^T dO, then back through dropout and softmax.
        const S scale = S(1) / std::sqrt(S(d_k));
        const S* a_used = c.weights();
#pragma omp parallel for collapse(2) schedule(dynamic, 2) if (parallel_worth_it(B, T, K))
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t h = 0; h < H; ++h) {
                S* g = &c.g(b, h, 0, 0);
                head_gemm(Trans::No, Trans::Yes, T, K, d_k, &c.d_oh(b, h, 0, 0), d_k,
                     c.value_block(b, h), c.kv_ld(), g, K);
                head_gemm(Trans::Yes, Trans::No, K, d_k, T, a_used + ((b * H + h) * T) * K, K,
                     &c.d_oh(b, h, 0, 0), d_k, &c.dv_h(b, h, 0, 0), d_k);
                if (c.dropped) Dropout<S>::backward(g, T * K, &c.mask(b, h, 0, 0));
                for (std::size_t i = 0; i < T; ++i) {
                    S* gr = g + i * K;
                    const S* ar = &c.a(b, h, i, 0);
                    const std::size_t visible = M + i + 1;
                    S dot = 0;
                    for (std::size_t j = 0; j < visible; ++j) dot += ar[j] * gr[j];
                    for (std::size_t j = 0; j < visible; ++j) gr[j] = ar[j] * (gr[j] - dot) * scale;
                    for (std::size_t j = visible; j < K; ++j) gr[j] = S(0);
                }
            }

        // Content term: d(q+u) = g K, dK = g^T (q+u).
#pragma omp parallel for collapse(2) schedule(dynamic, 2) if (parallel_worth_it(B, T, K))
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t h = 0; h < H; ++h) {
                const S* g = &c.g(b, h, 0, 0);
                head_gemm(Trans::No, Trans::No, T, d_k, K, g, K, c.key_block(b, h), c.kv_ld(),
                     &c.dq_h(b, h, 0, 0), d_k);
                head_gemm(Trans::Yes, Trans::No, K, d_k, T, g, K, &c.qu_h(b, h, 0, 0), d_k,
                     &c.dk_h(b, h, 0, 0), d_k);
            }
        // Back to the [rows*B, d_model] layout the projections' backward reads.
        from_heads(c.dq_h.data(), T, B, c.dq.data());
        from_heads(c.dk_h.data(), K, B, c.dk.data());
        from_heads(c.dv_h.data(), K, B, c.dv.data());
        // du = sum over positions of d(q+u).
        add_column_sums(c.dq.data(), nq, d_model, query_pos_bias.grad.data());

        // Position term: scatter g back through the shift into X-bar, then two GEMMs.
        const S* R = key_pos_embeddings.value.data();
        S* dR = key_pos_embeddings.grad.data();
        S* dSb = key_pos_bias.grad.data();
        S* x = c.x.data();
        for (std::size_t h = 0; h < H; ++h) {
#pragma omp parallel for schedule(static) if (parallel_worth_it(B, T, K))
            for (std::size_t b = 0; b < B; ++b)
                for (std::size_t i = 0; i < T; ++i) {
                    const S* gr = &c.g(b, h, i, 0);
                    S* row = x + (i * B + b) * W;
                    const std::size_t lo = T - 1 - i;  // visible keys' columns: lo .. W-1
                    for (std::size_t col = 0; col < lo; ++col) row[col] = S(0);
                    std::copy(gr, gr + (W - lo), row + lo);
                }
            // dS[first+col, h] += sum over rows of X-bar[:, col] (column sums in row order).
            c.part.fill(S(0));
            add_column_sums(x, nq, W, c.part.data());
            for (std::size_t col = 0; col < W; ++col) dSb[(first + col) * H + h] += c.part(col);
            gemm(Trans::No, Trans::No, nq, d_k, W, S(1), x, W, R + first * d_model + h * d_k,
                 d_model, S(1), c.dq.data() + h * d_k, d_model);
            gemm(Trans::Yes, Trans::No, W, d_k, nq, S(1), x, W, c.q.data() + h * d_k, d_model,
                 S(1), dR + first * d_model + h * d_k, d_model);
        }

        key_pos_embeddings.touched.extend(first * d_model, (first + W) * d_model);
        key_pos_bias.touched.extend(first * H, (first + W) * H);

        // Projections back to kv: key and value read all K*B rows, query the last T*B.
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
    Param<S, 2> key_pos_bias;        ///< $S$, `[2P, H]`
    Param<S, 2> query_pos_bias;      ///< $u$, `[H, d_k]`
    Dropout<S> dropout;              ///< on the attention weights
};

}  // namespace txl
