#pragma once
/// @file blocks/attention_core.hpp
/// # What the two relative attentions share
///
/// labml writes its relative attention as a subclass of the plain multi-head attention that
/// overrides only `get_scores`. txl does the same: `RelativeMultiHeadAttention` (learned
/// tables, labml) and `SinusoidalRelativeAttention` (the paper's sinusoids with $u$ and $v$)
/// both derive from `AttentionCore`, which holds everything that is the same in both, so a
/// reader of either header sees only what makes it different: its projections and its
/// position term.
///
/// Per batch row $b$ and head $h$, with the $T$ queries $i = 0 .. T-1$ at positions $M + i$
/// and the $K = M + T$ keys $j = 0 .. K-1$ at positions $j$ (the [notation](../../docs/overview.md#notation)):
/// 1. **content scores** $A_{bh} = (q + u)_{bh}\, k_{bh}^\top$ `[T, K]` (terms (a) and (c) of
///    the paper's eq. (4));
/// 2. the subclass adds its **position scores** (terms (b) and (d)) through the **shift**:
///    it computes $X_{bh} = q'_{bh} R_{win,h}^\top$ `[T, n_win]` for a window of $n_{win}$
///    table rows (distances $n_{win} - 1$ down to 0; row $i$ of $X_{bh}$ is row $(i, b)$ of
///    $X$) and `add_shifted` adds $X_{(i,b),\,c(i,j)}$ to $A_{bh,ij}$, where column
///    $c(i,j) = n_{win} - 1 - \min(M + i - j,\ n_{win} - 1)$ holds distance $M + i - j$
///    (distances past the window read column 0: the clamp);
/// 3. **weights** $a_{ij} = \operatorname{softmax}_j(A_{ij} / \sqrt{d_k})$ over the visible
///    keys $j \in [\,\text{first\_visible}(M, i),\ M + i\,]$, 0 elsewhere (`first_visible` is 0
///    but under the [same_length](#same_length) mask); then dropout on the weights,
///    $\tilde a = a \odot m / (1 - p)$ with a 0/1 mask $m$ (training only);
/// 4. **values** $o_{bh} = \tilde a_{bh}\, V_{bh}$ `[T, d_k]`, heads concatenated into
///    $o$ `[T*B, d_{model}]` for the subclass's output projection.
///
/// `attend` runs the four steps for one $(b, h)$ at a time, so that a block's scores stay in
/// cache from the first product to the last.
///
/// ## Backward {#backward}
/// `backward_core` starts from $\partial L/\partial o$, which the subclass's output projection
/// writes, and undoes steps 4, 3 and 1 one at a time; each line is the chain rule through one
/// forward equation, for one $(b, h)$.
/// * Step 4, $o = \tilde a\, V$ (a matrix product `[T, K] x [K, d_k]`):
///   $\partial L/\partial \tilde a = (\partial L/\partial o)\, V^\top$ and
///   $\partial L/\partial V = \tilde a^\top\, \partial L/\partial o$.
/// * Step 3's dropout, $\tilde a = a \odot m/(1-p)$, elementwise:
///   $\partial L/\partial a = \partial L/\partial \tilde a \odot m / (1 - p)$.
/// * Step 3's softmax, one query's row at a time. Write $s_j = A_{ij}/\sqrt{d_k}$ for its
///   scaled scores, $a = \operatorname{softmax}(s)$, and $\partial_{a_j} = \partial L/\partial a_j$
///   for the gradient just computed. From $a_j = e^{s_j} / \sum_{j'} e^{s_{j'}}$,
///   $$\frac{\partial a_j}{\partial s_k} = a_j\,[j = k] - a_j a_k$$
///   (the bracket is 1 if $j = k$, else 0), so
///   $$\begin{aligned} \frac{\partial L}{\partial s_k} &= \sum_j \partial_{a_j}\,\frac{\partial a_j}{\partial s_k}
///     = a_k \partial_{a_k} - a_k \sum_j a_j \partial_{a_j}
///     \\ &= a_k\Big(\partial_{a_k} - \sum_j a_j \partial_{a_j}\Big). \end{aligned}$$
///   With $s = A/\sqrt{d_k}$, the score gradient of query $i$, key $j$ is
///   $g_{ij} = \partial L/\partial A_{ij} = a_{ij}\big(\partial_{a_{ij}} - \sum_{j'} a_{ij'}\partial_{a_{ij'}}\big)/\sqrt{d_k}$,
///   zero on masked keys (where $a = 0$): the mask needs no backward of its own.
/// * Step 1, $A = (q + u)\, k^\top$: $\partial L/\partial (q+u) = g\, k$ and
///   $\partial L/\partial k = g^\top (q + u)$; since $q$ and $u$ enter as a sum, $q$ gets
///   $\partial L/\partial (q+u)$ and $u_h$ its sum over the rows:
///   $\partial L/\partial u_h = \sum_{i,b} \partial L/\partial (q+u)_{i,b,h}$.
/// * Step 2, the position term, adds $X_{(i,b),\,c(i,j)}$ to $A_{ij}$, so its gradient is $g_{ij}$
///   again, sent back through the same index by `shift_back`:
///   $\bar X_{(i,b),\,c(i,j)} \mathrel{+}= g_{bh,ij}$ (the subclass then does its two GEMMs).
///
/// **Layout.** Activations are `[rows*B, d_model]` (row $t B + b$, heads side by side). The
/// per-(b, h) products run on head-major copies `[B, H, rows, d_k]` (`detail/attention_ops.hpp`
/// says why); with $B = 1$ a head's rows are already `d_model` apart and $k$, $V$ are used in
/// place (sampling attends over the whole memory for every new character).
///
/// **The key/value cache** (inference): `keys(cache)` and `values(cache)` give the `[K*B, d]`
/// keys and values a forward attended over; the memory keeps those of its rows, and a later
/// forward given them projects only its new rows. Such a forward has no backward.

#include <algorithm>
#include <cmath>
#include <string>

#include "../core/errors.hpp"
#include "../core/tensor.hpp"
#include "../detail/attention_ops.hpp"
#include "dropout.hpp"

namespace txl {

/// @tparam S   scalar type.
/// @tparam H   heads.
/// @tparam d_k width of a head ($d_{model} = H d_k$).
template <class S, std::size_t H, std::size_t d_k>
class AttentionCore {
public:
    using scalar = S;
    static constexpr std::size_t d_model = H * d_k;
    /// The machinery: per-head products, parallel loops, head-major copies, SIMD softmax.
    using ops = detail::AttentionOps<S, H, d_k>;

    /// What a forward keeps for its backward (each attention's own `Cache` adds its part).
    struct Cache {
        std::size_t M = 0, T = 0, B = 0;
        tensor<S, 2> k, v;                ///< `[K*B, d_model]` (also what the key/value cache keeps)
        tensor<S, 4> qu_h;                ///< `[B, H, T, d_k]`: $q + u$, head-major
        tensor<S, 4> k_h, v_h;            ///< `[B, H, K, d_k]`: $k$, $V$, head-major (when `head_major`)
        tensor<S, 4> o_h;                 ///< `[B, H, T, d_k]`: $\tilde a V$ per head (when `head_major`)
        tensor<S, 4> a, a_drop, mask;     ///< `[B, H, T, K]`: weights, after dropout, dropout mask
        tensor<S, 2> o;                   ///< `[T*B, d_model]` heads concatenated
        tensor<S, 2> pos;                 ///< `[T*B, n_win]` backward workspace: $\bar X$
        tensor<S, 2> pos_heads;           ///< `[H*T*B, n_win]`: $X$ of every head (forward, $T$ < 8)
        tensor<S, 2> d_o, dq;             ///< `[T*B, d_model]` backward workspace
        tensor<S, 2> dk, dv;              ///< `[K*B, d_model]` backward workspace
        tensor<S, 4> d_oh, dq_h;          ///< `[B, H, T, d_k]` backward workspace (when `head_major`)
        tensor<S, 4> dk_h, dv_h;          ///< `[B, H, K, d_k]` backward workspace (when `head_major`)
        tensor<S, 4> g;                   ///< `[B, H, T, K]` gradient of the scores
        bool dropped = false;             ///< dropout ran on the weights
        bool reused_keys_values = false;  ///< forward reused the memory's keys and values: no backward
        bool head_major = true;           ///< per-head blocks copied head-major, or used in place (`prepare`)

        const S* weights() const { return dropped ? a_drop.data() : a.data(); }
        /// Where head $h$ of batch row $b$ starts in a `[rows*B, d_model]` tensor (its rows `head_ld()` apart).
        static std::size_t head_offset(std::size_t b, std::size_t h) { return b * d_model + h * d_k; }
        /// The distance between consecutive rows of a per-head block: $d_k$ head-major, $B\,d_{model}$ in place.
        std::size_t head_ld() const { return head_major ? d_k : B * d_model; }
        const S* key_block(std::size_t b, std::size_t h) const {
            return head_major ? &k_h(b, h, 0, 0) : k.data() + head_offset(b, h);
        }
        const S* value_block(std::size_t b, std::size_t h) const {
            return head_major ? &v_h(b, h, 0, 0) : v.data() + head_offset(b, h);
        }
    };

    /// The key/value cache capability (see `slots.hpp`): the keys and values `[K*B, d_model]`
    /// of the K rows the last forward attended over.
    const tensor<S, 2>& keys(const Cache& c) const { return c.k; }
    const tensor<S, 2>& values(const Cache& c) const { return c.v; }

    /// Dropout on the attention weights, probability `p` (the paper's `dropatt`).
    void set_dropout(S p) { dropout.p = p; }

    /// ## same_length {#same_length}
    /// The paper's evaluation mask `same_length`, with its span $K_s$ (the number of keys each
    /// query sees; 0, the default, is the plain causal mask): query $i$ sees only the keys at
    /// distance $0 .. K_s - 1$, $j \ge M + i + 1 - K_s$, so that every query attends to the same
    /// number of keys once the memory is full. The paper's flag `same_length=True` is
    /// $K_s$ = `mem_len`.
    std::size_t same_length_span = 0;
    /// The first key query $i$ sees: $\max(0,\ M + i + 1 - K_s)$ with `same_length_span` $= K_s$, else 0.
    std::size_t first_visible(std::size_t M, std::size_t i) const {
        const std::size_t K_s = same_length_span;
        return K_s && M + i + 1 > K_s ? M + i + 1 - K_s : 0;
    }

    /// One row of attention weights by the formula, with `std::exp`:
    /// $a_j = e^{s x_j - \max} / \sum_{j' < \text{visible}} e^{s x_{j'} - \max}$, 0 after `visible`.
    /// `ops::softmax_row` is the same on SIMD batches; a test checks the two agree.
    static void softmax_row_naive(S* row, std::size_t visible, std::size_t K, S scale) {
        S mx = row[0] * scale;
        for (std::size_t j = 0; j < visible; ++j) mx = std::max(mx, row[j] * scale);
        S sum = 0;
        for (std::size_t j = 0; j < visible; ++j) sum += (row[j] = std::exp(row[j] * scale - mx));
        for (std::size_t j = 0; j < visible; ++j) row[j] /= sum;
        for (std::size_t j = visible; j < K; ++j) row[j] = S(0);
    }

    Dropout<S> dropout;  ///< on the attention weights

protected:
    /// Throws unless $T \ge 1$ and $K = M + T \le P$ (what the position term can index).
    /// `limit` says what bounds $K$ by $P$ in the block (its table, or the Config's bound).
    static void check_keys(const char* who, std::size_t M, std::size_t T, std::size_t P, const char* limit) {
        check(T >= 1, who, ": segment length T = 0, expected T >= 1");
        check(M + T <= P, who, ": M + T = ", M, " + ", T, " = ", M + T, " keys, but ", limit, " P = ", P);
    }
    static void check_trainable(const char* who, const Cache& c) {
        check<error>(!c.reused_keys_values, who,
                     "::backward: the forward reused cached keys and values "
                     "(inference only); run it without them to train");
    }

    /// Sizes the shared part of the cache for $M$ memory rows, $T$ queries, batch $B$.
    static void prepare(std::size_t M, std::size_t T, std::size_t B, Cache& c) {
        const std::size_t K = M + T;
        c.M = M, c.T = T, c.B = B;
        c.head_major = ops::head_major(B, T);  // per-head blocks copied, or read in place
        ensure_shape(c.k, {K * B, d_model});
        ensure_shape(c.v, {K * B, d_model});
        ensure_shape(c.qu_h, {B, H, T, d_k});
        if (c.head_major) {
            ensure_shape(c.k_h, {B, H, K, d_k});
            ensure_shape(c.v_h, {B, H, K, d_k});
            ensure_shape(c.o_h, {B, H, T, d_k});
        }
        ensure_shape(c.a, {B, H, T, K});
        ensure_shape(c.o, {T * B, d_model});
    }

    /// Steps 1 to 4, one $(b, h)$ block at a time: the block's scores, its position term and its
    /// weights (`[T, K]` each) are written, shifted, softmaxed, dropped and multiplied by $V_{bh}$
    /// while they are in cache, and written to memory once (`c.a`, `c.a_drop`, `c.mask`, which the
    /// backward reads). `q[T*B, d]` and `u[H, d_k]` give the content term; the subclass's
    /// `position(h, r0, rows, step, c0, x)` writes rows $r_0 + s \cdot \text{step}$ ($s$ < `rows`)
    /// of its $X$ `[T*B, n_win]` for head $h$, columns $c_0 .. n_{win} - 1$, into `x` (`rows` rows,
    /// `n_win` apart): a block's rows $(i, b)$ are $r_0 = i_0 B + b$, step $B$. `pos_bias`
    /// (`[n_win rows, H]`, may be null) is its per-distance scalar; `c.k`, `c.v` hold $k$ and $V$.
    template <class Position>
    void attend(const S* q, const S* u, std::size_t n_win, const S* pos_bias, Cache& c, Rng* rng,
                Position&& position) const {
        const std::size_t M = c.M, T = c.T, B = c.B, K = M + T;
        ops::to_heads(q, T, B, c.qu_h.data(), u);  // $q + u$, a block per head
        if (c.head_major) {
            ops::to_heads(c.k.data(), K, B, c.k_h.data());
            ops::to_heads(c.v.data(), K, B, c.v_h.data());
        }
        const auto key = draw_dropout(c, rng);
        ops::whole_head_positions(position, T, B, n_win, c.pos_heads);  // with few queries, once per head
        ops::for_each_bh(B, T, K, [&](std::size_t b, std::size_t h) {
            scores_block(b, h, n_win, pos_bias, c, position);  // steps 1 and 2
            weights_block(b, h, c, key);                       // step 3
            values_block(b, h, c);                             // step 4
        });
        // The heads side by side again: $o$ `[T*B, d_model]`.
        if (c.head_major) ops::from_heads(c.o_h.data(), T, B, c.o.data());
    }

    /// Whether dropout runs on the weights this forward (training), and its mask's key.
    typename Dropout<S>::Keyed draw_dropout(Cache& c, Rng* rng) const {
        c.dropped = dropout.active(rng);
        if (!c.dropped) return {};
        ensure_shape(c.a_drop, c.a.shape());
        ensure_shape(c.mask, c.a.shape());
        return dropout.draw(c.B, H * c.T * (c.M + c.T), *rng);  // `[1, B, H*T*K]`: one mask over the whole tensor
    }

    /// Steps 1 and 2 for block $(b, h)$, a panel of queries at a time over the keys it can see.
    template <class Position>
    void scores_block(std::size_t b, std::size_t h, std::size_t n_win, const S* pos_bias, Cache& c,
                Position& position) const {
        const std::size_t M = c.M, T = c.T, B = c.B, K = M + T;
        S* a = &c.a(b, h, 0, 0);
        ops::for_each_panel(T, [&](std::size_t i0, std::size_t i1) {
            // Step 1: $A_{bh} = (q + u)_{bh}\, k_{bh}^\top$ `[T, d_k] x [d_k, K]`, this panel's rows and keys.
            ops::head_gemm(Trans::No, Trans::Yes, i1 - i0, M + i1, d_k, &c.qu_h(b, h, i0, 0), d_k, c.key_block(b, h),
                           c.head_ld(), a + i0 * K, K);
            // Step 2: these queries' position scores $X$, added through the shift.
            const auto [x, ldx] = ops::position_panel(position, c.pos_heads.data(), b, h, i0, i1, M, T, B, n_win);
            add_shifted(x, ldx, n_win, pos_bias, h, M, T, a, i0, i1);
        });
    }

    /// Step 3 for block $(b, h)$: $a_{ij} = \operatorname{softmax}_j(A_{ij} / \sqrt{d_k})$ over
    /// $j \in [\text{lo}, M + i]$, 0 for the masked keys; then $\tilde a = a \odot m / (1 - p)$
    /// (training only).
    void weights_block(std::size_t b, std::size_t h, Cache& c, const typename Dropout<S>::Keyed& key) const {
        const std::size_t M = c.M, T = c.T, K = M + T;
        const S scale = S(1) / std::sqrt(S(d_k));
        S* a = &c.a(b, h, 0, 0);
        for (std::size_t i = 0; i < T; ++i) {
            S* row = a + i * K;
            const std::size_t lo = first_visible(M, i);
            ops::softmax_row(row + lo, M + i + 1 - lo, K - lo, scale);
            std::fill(row, row + lo, S(0));
        }
        if (!c.dropped) return;
        S* dropped = &c.a_drop(b, h, 0, 0);
        std::copy(a, a + T * K, dropped);
        key.apply(dropped, &c.mask(b, h, 0, 0), 0, b, h * T * K, T * K);
    }

    /// Step 4 for block $(b, h)$: $o_{bh} = \tilde a_{bh} V_{bh}$ `[T, K] x [K, d_k]`, each panel
    /// of queries over its keys.
    void values_block(std::size_t b, std::size_t h, Cache& c) const {
        const std::size_t M = c.M, T = c.T, K = M + T;
        const S* a = c.weights() + ((b * H + h) * T) * K;
        S* o = c.head_major ? &c.o_h(b, h, 0, 0) : c.o.data() + c.head_offset(b, h);
        const std::size_t ld = c.head_ld();
        ops::for_each_panel(T, [&](std::size_t i0, std::size_t i1) {
            ops::head_gemm(Trans::No, Trans::No, i1 - i0, d_k, M + i1, a + i0 * K, K, c.value_block(b, h), ld,
                           o + i0 * ld, ld);
        });
    }

    /// Step 2, the shift, for one $(b, h)$ block: $A_{ij} \mathrel{+}= X_{i,c} + \text{bias}_{c,h}$ for the
    /// visible keys $j \le M + i$, with `x` = $X_{bh}$ `[T, n_win]` (rows `ldx` apart) and
    /// $c = n_{win} - 1 - \min(M + i - j,\ n_{win} - 1)$. Row $i$ of $X$ is read from column
    /// `base` $= n_{win} - 1 - (M + i) + \text{near}$ on, where the first `near` keys (farther than the
    /// window reaches) all read column 0. Without a clamp $n_{win} = K$, `near` $= 0$ and
    /// `base` $= T - 1 - i$: row $i$ shifted left by $T - 1 - i$. `bias` (`[n_win rows, H]`, may be
    /// null) is a per-distance scalar read the same way. `a` is $A_{bh}$ `[T, K]`; rows $i_0 .. i_1 - 1$.
    static void add_shifted(const S* x, std::size_t ldx, std::size_t n_win, const S* bias, std::size_t h, std::size_t M,
                            std::size_t T, S* a, std::size_t i0, std::size_t i1) {
        const std::size_t K = M + T;
        vectorized([&] {
            for (std::size_t i = i0; i < i1; ++i) {
                S* row = a + i * K;
                const std::size_t near = M + i + 1 > n_win ? M + i + 1 - n_win : 0, base = n_win - 1 + near - (M + i);
                const S* xr = x + i * ldx + base;
                if (bias) {
                    const S* br = bias + base * H + h;
                    for (std::size_t j = 0; j < near; ++j) row[j] += xr[0] + br[0];
                    for (std::size_t j = near; j < M + i + 1; ++j) row[j] += xr[j - near] + br[(j - near) * H];
                } else {
                    for (std::size_t j = 0; j < near; ++j) row[j] += xr[0];
                    for (std::size_t j = near; j < M + i + 1; ++j) row[j] += xr[j - near];
                }
            }
        });
    }

    /// The backward of steps 4, 3 and 1, from `c.d_o` $= \partial L/\partial o$ `[T*B, d]`: the
    /// scores' gradient $g$ into `c.g` (for the subclass's position term), $\partial L/\partial (q+u)$
    /// into `c.dq`, $\partial L/\partial k$ and $\partial L/\partial V$ into `c.dk`, `c.dv`, and
    /// $\partial L/\partial u$ added to `du[H, d_k]`.
    void backward_core(Cache& c, S* du) const {
        const std::size_t M = c.M, T = c.T, B = c.B, K = M + T;
        prepare_backward(c);
        const S scale = S(1) / std::sqrt(S(d_k));
        ops::for_each_bh(B, T, K, [&](std::size_t b, std::size_t h) {
            S* g = &c.g(b, h, 0, 0);
            backward_values_block(b, h, c);  // $\partial L/\partial \tilde a$ into g, and $\partial L/\partial V$
            // Through dropout: $\partial L/\partial a = \partial L/\partial \tilde a \odot m / (1-p)$.
            if (c.dropped) Dropout<S>::backward(g, T * K, &c.mask(b, h, 0, 0));
            // Through the softmax and the scale, row by row:
            // $g_{ij} = a_{ij}\big(\partial_{a_{ij}} - \sum_{j'} a_{ij'} \partial_{a_{ij'}}\big) / \sqrt{d_k}$.
            for (std::size_t i = 0; i < T; ++i)
                ops::softmax_backward_row(g + i * K, &c.a(b, h, i, 0), first_visible(M, i), M + i + 1, K, scale);
            backward_content_block(b, h, c);  // $\partial L/\partial (q+u)$ and $\partial L/\partial k$
        });
        // Back to the `[rows*B, d]` layout the projections' backward reads.
        if (c.head_major) {
            ops::from_heads(c.dq_h.data(), T, B, c.dq.data());
            ops::from_heads(c.dk_h.data(), K, B, c.dk.data());
            ops::from_heads(c.dv_h.data(), K, B, c.dv.data());
        }
        // $\partial L/\partial u \mathrel{+}= \sum_{i,b} \partial L/\partial (q+u)_{i,b}$.
        add_column_sums(c.dq.data(), T * B, d_model, du);
    }

    /// The backward's workspace, and $\partial L/\partial o$ a block per head when head-major.
    static void prepare_backward(Cache& c) {
        const std::size_t T = c.T, B = c.B, K = c.M + c.T;
        ensure_shape(c.dq, {T * B, d_model});
        ensure_shape(c.dk, {K * B, d_model});
        ensure_shape(c.dv, {K * B, d_model});
        ensure_shape(c.g, {B, H, T, K});
        if (!c.head_major) return;
        ensure_shape(c.d_oh, {B, H, T, d_k});
        ensure_shape(c.dq_h, {B, H, T, d_k});
        ensure_shape(c.dk_h, {B, H, K, d_k});
        ensure_shape(c.dv_h, {B, H, K, d_k});
        ops::to_heads(c.d_o.data(), T, B, c.d_oh.data());
    }

    /// A per-head block of a `[rows*B, d_model]` tensor `x`, or of its head-major copy `x_h`.
    static S* block(const Cache& c, tensor<S, 2>& x, tensor<S, 4>& x_h, std::size_t b, std::size_t h) {
        return c.head_major ? &x_h(b, h, 0, 0) : x.data() + c.head_offset(b, h);
    }

    /// Step 4 backward for block $(b, h)$:
    /// $\partial L/\partial \tilde a_{bh} = (\partial L/\partial o_{bh})\, V_{bh}^\top$ `[T, K]` into `c.g`,
    /// $\partial L/\partial V_{bh} = \tilde a_{bh}^\top\, \partial L/\partial o_{bh}$ `[K, d_k]`. Panel
    /// $[i_0, i_1)$ of the queries sees the keys $j < M + i_1$, and the keys $[M + i_0, M + i_1)$
    /// (all $j < M + i_1$ in the first panel) are seen by the queries $i \ge i_0$ only: each
    /// product skips the masked corner, as the forward's do.
    void backward_values_block(std::size_t b, std::size_t h, Cache& c) const {
        const std::size_t M = c.M, T = c.T, K = M + T, ld = c.head_ld();
        S* g = &c.g(b, h, 0, 0);
        const S* a = c.weights() + ((b * H + h) * T) * K;
        const S* d_o = block(c, c.d_o, c.d_oh, b, h);
        S* dv = block(c, c.dv, c.dv_h, b, h);
        ops::for_each_panel(T, [&](std::size_t i0, std::size_t i1) {
            const std::size_t j0 = i0 == 0 ? 0 : M + i0, j1 = M + i1;
            ops::head_gemm(Trans::No, Trans::Yes, i1 - i0, j1, d_k, d_o + i0 * ld, ld, c.value_block(b, h), ld,
                           g + i0 * K, K);
            ops::head_gemm(Trans::Yes, Trans::No, j1 - j0, d_k, T - i0, a + i0 * K + j0, K, d_o + i0 * ld, ld,
                           dv + j0 * ld, ld);
        });
    }

    /// Step 1 backward for block $(b, h)$, from the scores' gradient $g_{bh}$:
    /// $\partial L/\partial (q+u)_{bh} = g_{bh}\, k_{bh}$ `[T, d_k]`,
    /// $\partial L/\partial k_{bh} = g_{bh}^\top (q+u)_{bh}$ `[K, d_k]`, panel by panel.
    void backward_content_block(std::size_t b, std::size_t h, Cache& c) const {
        const std::size_t M = c.M, T = c.T, K = M + T, ld = c.head_ld();
        const S* g = &c.g(b, h, 0, 0);
        S* dq = block(c, c.dq, c.dq_h, b, h);
        S* dk = block(c, c.dk, c.dk_h, b, h);
        ops::for_each_panel(T, [&](std::size_t i0, std::size_t i1) {
            const std::size_t j0 = i0 == 0 ? 0 : M + i0, j1 = M + i1;
            ops::head_gemm(Trans::No, Trans::No, i1 - i0, d_k, j1, g + i0 * K, K, c.key_block(b, h), ld, dq + i0 * ld,
                           ld);
            ops::head_gemm(Trans::Yes, Trans::No, j1 - j0, d_k, T - i0, g + i0 * K + j0, K, &c.qu_h(b, h, i0, 0), d_k,
                           dk + j0 * ld, ld);
        });
    }

    /// The backward of the shift for head $h$: $\bar X_{(i,b),\,c} = \sum g_{bh,ij}$ over the keys
    /// $j$ that read column $c$ (one key per column inside the window; the `near` keys past it
    /// add up in column 0), 0 in the columns $< $ `base` that no key of query $i$ reads.
    /// `x` is $\bar X$ `[T*B, n_win]`.
    void shift_back(std::size_t n_win, std::size_t h, S* x, const Cache& c) const {
        const std::size_t M = c.M, T = c.T, B = c.B, K = M + T;
        for_range(B, ops::parallel_worth_it(B, T, K), [&](std::size_t b) {
            for (std::size_t i = 0; i < T; ++i) {
                const S* gr = &c.g(b, h, i, 0);
                S* row = x + (i * B + b) * n_win;
                const std::size_t near = M + i + 1 > n_win ? M + i + 1 - n_win : 0, base = n_win - 1 + near - (M + i);
                for (std::size_t col = 0; col < base; ++col) row[col] = S(0);
                std::copy(gr + near, gr + M + i + 1, row + base);
                for (std::size_t j = 0; j < near; ++j) row[0] += gr[j];
            }
        });
    }
};

}  // namespace txl
