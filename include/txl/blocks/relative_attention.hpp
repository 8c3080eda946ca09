#pragma once
/// @file blocks/relative_attention.hpp
/// # Relative multi-head attention (labml's Transformer-XL attention)
///
/// $T$ queries of the current segment attend over $K = M + T$ keys: the $M$ rows of memory
/// followed by the segment itself. The caller passes the normalised keys/values
/// `kv[K, B, d_model]`; the queries are its last $T$ rows, $z$.
///
/// **Projections** (no bias on query and key, as labml): per head $h$,
/// $q = z W_q^\top$, $k = kv\, W_k^\top$, $V = kv\, W_v^\top + b_v$, split into $H$ heads of
/// $d_k = d_{model}/H$.
///
/// **Scores.** Query $i$ sits at absolute position $M + i$, key $j$ at position $j$; their
/// distance is $M + i - j$. The overview derives the score from the absolute one's
/// [four terms](../../docs/overview.md#relative-positions); labml keeps (a) and (b), turns
/// (c) into a learned vector $u$ added to the query, and (d) into a learned scalar per
/// distance and head. With the learned tables $R$ = `key_pos_embeddings` `[2P, H, d_k]`,
/// $b^{pos}$ = `key_pos_bias` `[2P, H]` and $u$ = `query_pos_bias` `[H, d_k]`, and
/// $R_{M+i-j}$ for *the row of distance* $M + i - j$ (stored at row $P - (M + i - j)$):
/// $$\begin{aligned} A_{ij} &= \underbrace{(q_i + u) \cdot k_j}_{\text{content: (a), (c)}}
///          + \underbrace{q_i \cdot R_{M+i-j} + b^{pos}_{M+i-j}}_{\text{position: (b), (d)}} \end{aligned}$$
/// $$a_{ij} = \operatorname{softmax}_j \big(A_{ij} / \sqrt{d_k}\big)
///   \quad\text{over the visible keys } j \le M + i$$
/// $$o_i = \textstyle\sum_j a_{ij} v_j, \qquad \text{out} = \text{concat}_h(o)\, W_o^\top + b_o$$
///
/// **Names.** labml's comments write `query_pos_bias` as $v$; it is the bias of the content
/// term (c), which the paper writes with $u$ (the paper's $v$ belongs to term (d)), so txl
/// writes $u$. The tables have $2P$ rows as labml's do (distances
/// $P$ down to $-P+1$); a causal model only reads rows $P - K + 1 .. P$, the distances
/// $K - 1 .. 0$, and a step updates only those.
///
/// ### The shift trick
/// For every query, the position term reads a *contiguous* run of stored rows: row $P - M - i + j$ for the visible keys $j = 0..M+i$. Over all queries these
/// are the $K$ rows $R_{win} = R[P-K+1 \,..\, P]$ (brackets: stored rows; distances $K-1$ down
/// to 0). So one GEMM per head computes $X = q\, R_{win}^\top$ (`[T*B, K]`), and the term for
/// $(i, j)$ is $X_{i,\, T - 1 + j - i}$: row $i$ of $X$ shifted left by $T - 1 - i$
/// ([worked out in numbers](../../docs/overview.md#the-shift-trick-in-numbers)). labml slices
/// $K + T$ rows, $R[P-K \,..\, P+T)$, and does the shift with `shift_right` (pad, reshape,
/// drop); its extra $T$ rows only ever meet masked keys, so txl skips them (a third of the
/// position term's work when $M = T$). Here the shift is an index, and
/// `position_scores_naive` beside it computes the formula row by row, for the tests.
///
/// **What is shared.** The content scores, the masked softmax, the dropout on the weights,
/// the value product and their backward are `AttentionCore`'s (`attention_core.hpp`), which
/// this block derives from; what is written here is what makes labml's attention what it is:
/// its four linears and the learned position term.
///
/// ## Backward {#backward}
/// The chain rule through the forward, last step first. $\delta = \partial L/\partial\,\text{out}$:
/// * $\text{out} = o W_o^\top + b_o$ (a [linear](linear.hpp)): $\partial L/\partial o = \delta W_o$,
///   $\partial L/\partial W_o \mathrel{+}= \delta^\top o$, $\partial L/\partial b_o \mathrel{+}= \sum_r \delta_r$;
/// * the core, from $\partial L/\partial o$ ([derived there](attention_core.hpp#backward)):
///   the score gradient $g = \partial L/\partial A$, then $\partial L/\partial (q+u)$,
///   $\partial L/\partial k$, $\partial L/\partial V$ and $\partial L/\partial u$;
/// * the position term $A_{ij} \mathrel{+}= X_{i,\,T-1+j-i} + b^{pos}_{M+i-j}$: each $g_{ij}$ goes
///   back to the entry it read, $\bar X_{i,\,T-1+j-i} \mathrel{+}= g_{ij}$ (0 where no key reads;
///   under `clamp_len` the far keys all read column 0 and add up there), and to its bias row:
///   column $c$ holds distance $n_{win} - 1 - c$, so
///   $\partial L/\partial b^{pos}_{n_{win}-1-c} \mathrel{+}= \sum_{i,b} \bar X_{(i,b), c}$;
///   then $X = q R_{win}^\top$ gives $\partial L/\partial q \mathrel{+}= \bar X R_{win}$ and
///   $\partial L/\partial R_{win} \mathrel{+}= \bar X^\top q$;
/// * $q$ also reached the content term: its gradient is $\partial L/\partial (q+u)$ plus the line
///   above; $q = z W_q^\top$, $k = kv\,W_k^\top$, $V = kv\,W_v^\top + b_v$ are linears, so
///   $\partial L/\partial kv = \partial L/\partial k\; W_k + \partial L/\partial V\; W_v$ and, on the
///   segment's rows (the queries' $z$), $+\ \partial L/\partial q\; W_q$; the weights' gradients
///   as in any linear.
///
/// FLOPs of a forward (per layer, multiply-add = 2): projections $2\,d^2 (T + 2K) B$ and
/// $2\,d^2 T B$ (output); content scores and $a V$: $2 \cdot 2\, T K d\, B$; position scores:
/// $2\, T K d\, B$. The backward costs about twice that.
///
/// **Layout.** As `AttentionCore`'s: activations `[rows*B, d_model]`, head-major copies for
/// the per-(b, h) products. Every `float` product of 8 rows or more runs on txl's own GEMM
/// kernel, the rest on BLAS (`detail/gemm.hpp`).

#include <cmath>
#include <string>

#include "../core/errors.hpp"
#include "../core/tensor.hpp"
#include "../core/random.hpp"
#include "linear.hpp"
#include "attention_core.hpp"

namespace txl {

/// @tparam C a `txl::Config` (gives $d_{model}$, $H$, $d_k$, $P$ and the scalar type).
template <class C>
class RelativeMultiHeadAttention : public AttentionCore<typename C::scalar, C::heads, C::d_k> {
    using Core = AttentionCore<typename C::scalar, C::heads, C::d_k>;

public:
    using config = C;
    using S = typename C::scalar;
    static constexpr std::size_t d_model = C::d_model, H = C::heads, d_k = C::d_k, P = C::P;
    static std::string name() { return "RelativeMultiHeadAttention"; }

    /// The core's cache, plus $q$ (the position term's query).
    struct Cache : Core::Cache {
        tensor<S, 2> q;     ///< `[T*B, d_model]`: $q$ (rows $t B + b$, heads side by side)
        tensor<S, 1> part;  ///< `[n_win]` column sums of $\bar X$
    };

    RelativeMultiHeadAttention()
        : query(d_model, H * d_k, false),
          key(d_model, H * d_k, false),
          value(d_model, H * d_k, true),
          output(H * d_k, d_model, true) {
        key_pos_embeddings.resize(std::array<std::size_t, 3>{2 * P, H, d_k});
        key_pos_bias.resize(std::array<std::size_t, 2>{2 * P, H});
        query_pos_bias.resize(std::array<std::size_t, 2>{H, d_k});
        // A step reads (and so updates) only rows $P-K+1 .. P$ of the tables (see [the shift trick](#the-shift-trick)).
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
        Core::check_keys("RelativeMultiHeadAttention", M, T, P, "the relative position table holds at most");
    }

    /// ## Forward
    /// `kv[K*B, d_model]` (memory rows first), `out[T*B, d_model]`.
    ///
    /// **Inference with cached keys and values.** `k_mem`, `v_mem` (`[M*B, d_model]`, may be
    /// null) are the keys and values of the memory rows from the previous segments' forward
    /// passes. With fixed weights they equal what the projections would recompute, so only the
    /// `T*B` new rows are projected and the memory rows of `kv` are not read. Such a forward has
    /// no backward (the memory rows' LayerNorm gradient needs `kv`): `backward` throws.
    void forward(const S* kv, std::size_t M, std::size_t T, std::size_t B, S* out, Cache& c, Rng* rng,
                 const S* k_mem = nullptr, const S* v_mem = nullptr) const {
        check_lengths(M, T);
        const std::size_t K = M + T, nq = T * B, nk = K * B;
        Core::prepare(M, T, B, c);
        ensure_shape(c.q, {nq, d_model});

        // Projections, no bias on q and k (labml): the queries are the segment's rows of kv,
        // $z$ = its last `T*B` rows. $q = z W_q^\top$ `[T*B, d]`.
        const S* z = kv + M * B * d_model;
        query.forward(z, nq, c.q.data());
        c.reused_keys_values = M > 0 && k_mem && v_mem;
        if (c.reused_keys_values) {
            // Inference: the memory rows' $k$, $V$ are the cached ones; project only the
            // segment's: $k_{M..K} = z W_k^\top$, $V_{M..K} = z W_v^\top + b_v$.
            const std::size_t mb = M * B * d_model;
            std::copy(k_mem, k_mem + mb, c.k.data());
            std::copy(v_mem, v_mem + mb, c.v.data());
            key.forward(z, nq, c.k.data() + mb);
            value.forward(z, nq, c.v.data() + mb);
        } else {
            // $k = kv\, W_k^\top$, $V = kv\, W_v^\top + b_v$, both `[K*B, d]`.
            key.forward(kv, nk, c.k.data());
            value.forward(kv, nk, c.v.data());
        }

        // Scores: content (a), (c) $(q + u)_{bh}\, k_{bh}^\top$ with $u$ = `query_pos_bias`, plus position
        // (b), (d) $q_i \cdot R_{M+i-j} + b^{pos}_{M+i-j}$; softmax over the visible keys, dropout,
        // $o = \text{concat}_h(\tilde a_{bh} V_{bh})$, one $(b, h)$ at a time.
        const std::size_t n_win = window(K), first = P - n_win + 1;
        Core::attend(c.q.data(), query_pos_bias.value.data(), n_win, key_pos_bias.value.data() + first * H, c, rng,
                     [&](std::size_t h, std::size_t r0, std::size_t rows, std::size_t step, std::size_t c0, S* x) {
                         position_rows(c.q.data(), M, T, h, r0, rows, step, c0, x);
                     });
        // $\text{out} = o W_o^\top + b_o$ `[T*B, d]`.
        output.forward(c.o.data(), nq, out);
    }

    /// The position term's dot products for head $h$: with the window
    /// $R_{win} = R[P-n_{win}+1 \,..\, P]$ of $n_{win}$ rows ($n_{win} = K$ without a clamp),
    /// $X = q_h R_{win,h}^\top$ `[T*B, d_k] x [d_k, n_win]`: every dot product any query needs, as
    /// GEMMs (the shift, `add_shifted`, then picks each key's). Rows $r_0 + s \cdot \text{step}$
    /// ($s$ < `rows`), columns $c_0 .. n_{win} - 1$ of it into `x` (`rows` rows, `n_win` apart);
    /// `q[T*B, d]`.
    void position_rows(const S* q, std::size_t M, std::size_t T, std::size_t h, std::size_t r0, std::size_t rows,
                       std::size_t step, std::size_t c0, S* x) const {
        const std::size_t n_win = window(M + T), first = P - n_win + 1;
        Core::ops::head_gemm(Trans::No, Trans::Yes, rows, n_win - c0, d_k, q + r0 * d_model + h * d_k, step * d_model,
                             key_pos_embeddings.value.data() + (first + c0) * d_model + h * d_k, d_model, x + c0,
                             n_win);
    }

    /// The position term alone, as the forward adds it (`position_rows`, then the shift), for
    /// the tests: $A_{bh,ij} \mathrel{+}= X_{(i,b),\,c} + b^{pos}_{first + c,\,h}$ for the visible keys.
    /// `q[T*B, d]`, `scores` $A$ `[B, H, T, K]`, `x` a `[T, n_win]` workspace.
    void add_position_scores(const S* q, std::size_t M, std::size_t T, std::size_t B, S* scores, S* x) const {
        const std::size_t K = M + T, n_win = window(K), first = P - n_win + 1;
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t h = 0; h < H; ++h) {
                position_rows(q, M, T, h, b, T, B, 0, x);
                Core::add_shifted(x, n_win, n_win, key_pos_bias.value.data() + first * H, h, M, T,
                                  scores + (b * H + h) * T * K, 0, T);
            }
    }

    /// The position term by its definition, one dot product per (b, h, i, j), for the tests:
    /// $A_{bh,ij} \mathrel{+}= q_{i,h} \cdot R_{M+i-j,\,h} + b^{pos}_{M+i-j,\,h}$, stored at rows $P - (M+i-j)$ (visible keys only).
    void position_scores_naive(const S* q, std::size_t M, std::size_t T, std::size_t B, S* scores) const {
        const std::size_t K = M + T;
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t h = 0; h < H; ++h)
                for (std::size_t i = 0; i < T; ++i)
                    for (std::size_t j = 0; j < M + i + 1; ++j) {
                        const std::size_t dist = M + i - j;
                        const std::size_t row = P - (clamp_len ? std::min(dist, clamp_len) : dist);
                        S dot = 0;
                        for (std::size_t d = 0; d < d_k; ++d)
                            dot += q[(i * B + b) * d_model + h * d_k + d] * key_pos_embeddings.value(row, h, d);
                        scores[((b * H + h) * T + i) * K + j] += dot + key_pos_bias.value(row, h);
                    }
    }

    /// ## Backward
    /// From `dout[T*B, d_model]`: accumulate every parameter gradient and write
    /// `dkv[K*B, d_model]` (the gradient with respect to the normalised keys/values, the
    /// last `T*B` rows of which also carry the query path). `kv` is the forward input.
    void backward(const S* kv, const S* dout, S* dkv, Cache& c) {
        Core::check_trainable("RelativeMultiHeadAttention", c);
        const std::size_t M = c.M, T = c.T, B = c.B, K = M + T, n_win = window(K), nq = T * B, nk = K * B,
                          first = P - n_win + 1;  // the window R[first, first + n_win)
        ensure_shape(c.d_o, {nq, d_model});
        ensure_shape(c.pos, {nq, n_win});
        ensure_shape(c.part, {n_win});

        // Output projection: $\partial L/\partial o = \delta W_o$ `[T*B, d]` (and
        // $\partial L/\partial W_o \mathrel{+}= \delta^\top o$, $\partial L/\partial b_o \mathrel{+}= \sum_r \delta_r$).
        output.backward(c.o.data(), dout, nq, c.d_o.data());
        // The core: $g$, $\partial L/\partial (q+u)$ (into `dq`), $\partial L/\partial k$, $\partial L/\partial V$, $\partial L/\partial u$.
        Core::backward_core(c, query_pos_bias.grad.data());

        // Position term, per head: $g$ back through the shift into $\bar X$, then two GEMMs.
        const S* R = key_pos_embeddings.value.data();
        S* dR = key_pos_embeddings.grad.data();
        S* dbpos = key_pos_bias.grad.data();
        S* x = c.pos.data();
        for (std::size_t h = 0; h < H; ++h) {
            Core::shift_back(n_win, h, x, c);
            // $\partial L/\partial b^{pos}_{first+c,\,h} \mathrel{+}= \sum_{(i,b)} \bar X_{(i,b),c}$ (column sums, in row order).
            c.part.fill(S(0));
            add_column_sums(x, nq, n_win, c.part.data());
            for (std::size_t col = 0; col < n_win; ++col) dbpos[(first + col) * H + h] += c.part(col);
            // $\partial L/\partial q_h \mathrel{+}= \bar X R_{win,h}$ `[T*B, n_win] x [n_win, d_k]`.
            gemm(Trans::No, Trans::No, nq, d_k, n_win, S(1), x, n_win, R + first * d_model + h * d_k, d_model, S(1),
                 c.dq.data() + h * d_k, d_model);
            // $\partial L/\partial R_{win,h} \mathrel{+}= \bar X^\top q_h$ `[n_win, T*B] x [T*B, d_k]`.
            gemm(Trans::Yes, Trans::No, n_win, d_k, nq, S(1), x, n_win, c.q.data() + h * d_k, d_model, S(1),
                 dR + first * d_model + h * d_k, d_model);
        }
        // Only the window's rows of $R$ and $b^{pos}$ have gradient (row-sparse parameters).
        key_pos_embeddings.touched.extend(first * d_model, (first + n_win) * d_model);
        key_pos_bias.touched.extend(first * H, (first + n_win) * H);

        // Projections back to kv: $\partial L/\partial kv = \partial L/\partial k\, W_k
        // + \partial L/\partial v\, W_v + [\,0;\ \partial L/\partial q\, W_q\,]$ (q reads only the
        // last `T*B` rows), and the three weights' gradients.
        key.backward(kv, c.dk.data(), nk, dkv, S(0));
        value.backward(kv, c.dv.data(), nk, dkv, S(1));
        query.backward(kv + M * B * d_model, c.dq.data(), nq, dkv + M * B * d_model, S(1));
    }

    /// `clamp_len` ($> 0$): distances beyond it use the table rows of `clamp_len` (0: off). A
    /// trained model then never meets a distance its tables did not learn.
    std::size_t clamp_len = 0;
    /// Rows of the window $R_{win}$ a segment of $K$ keys reads: $K$, or `clamp_len` + 1.
    std::size_t window(std::size_t K) const { return clamp_len && K > clamp_len + 1 ? clamp_len + 1 : K; }

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
};

}  // namespace txl
