#pragma once
/// @file detail/attention_ops.hpp
/// # The attention's machinery (off the reading path)
///
/// What `AttentionCore` and the two attentions call in one line each, so that its header reads as the
/// math: the per-head products on the calling thread, the parallel loops over (b, h), the
/// head-major copies, and the SIMD softmax.
///
/// **Why head-major copies.** Activations are `[rows*B, d_model]` (row $t B + b$, heads side
/// by side), good for the projections, which are one GEMM over all rows. In that layout a
/// head's consecutive rows lie $B\,d_{model}$ apart, and the small per-(b, h) GEMMs on such
/// strided slices ran four to five times slower than on contiguous blocks (`docs/performance.md`
/// has the figures). So $q+u$, $k$, $v$ (and
/// in the backward $\partial L/\partial o$) are copied once into `[B, H, rows, d_k]` blocks and
/// the per-head results copied back: a few percent of the products they speed up. Under bf16
/// every product converts and packs both its operands whatever their layout, so there the
/// copies buy nothing and the blocks are read and written in place (`AttentionCore::prepare`).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "gemm.hpp"
#include "threads.hpp"

namespace txl::detail {

/// @tparam S scalar type. @tparam H heads. @tparam d_k width of a head.
template <class S, std::size_t H, std::size_t d_k>
struct AttentionOps {
    static constexpr std::size_t d_model = H * d_k;

    /// **Head-major or in place.** Head-major copies pay for the fp32 kernel, which reads its
    /// operands in place (see the file comment). A bf16 product converts and packs both operands
    /// anyway, so there (and with $B = 1$, where a head's rows are $d_{model}$ apart) the blocks are
    /// read and written in place: the same sums, without the copies. Except with fewer than 8
    /// queries (labml's $T = 2$): products of a few rows over rows $B\,d_{model}$ apart measured
    /// slower than the copies.
    static bool head_major(std::size_t B, std::size_t T) {
        return B > 1 && (gemm_precision() == Precision::fp32 || T < 8);
    }

    /// **A head's position term at once.** With fewer than 8 queries (labml's $T = 2$, sampling's
    /// 1) a block's position product would be a few rows long; each head's $X$ is then computed
    /// once for all rows before the blocks.
    static bool whole_head_position(std::size_t T) { return T < 8; }

    /// The position scores $X$ of every head, `out[H*T*B, n_win]`, before the blocks when
    /// `whole_head_position(T)` (else nothing): `position(h, r0, rows, step, c0, x)` is the
    /// attention's (see `AttentionCore::attend`).
    template <class Position>
    static void whole_head_positions(Position& position, std::size_t T, std::size_t B, std::size_t n_win,
                                     tensor<S, 2>& out) {
        if (!whole_head_position(T)) return;
        ensure_shape(out, {H * T * B, n_win});
        for (std::size_t h = 0; h < H; ++h) position(h, 0, T * B, 1, 0, &out(h * T * B, 0));
    }
    /// Block $(b, h)$'s position scores for the queries $[i_0, i_1)$: read from `heads` (computed
    /// by `whole_head_positions`), or computed now for these rows over the columns their keys
    /// reach, into this thread's scratch. Returns where query 0's row would start and the
    /// distance between rows.
    template <class Position>
    static std::pair<const S*, std::size_t> position_panel(Position& position, const S* heads, std::size_t b,
                                                           std::size_t h, std::size_t i0, std::size_t i1, std::size_t M,
                                                           std::size_t T, std::size_t B, std::size_t n_win) {
        if (whole_head_position(T)) return {heads + (h * T * B + b) * n_win, B * n_win};
        S* x = thread_scratch(T * n_win);
        position(h, i0 * B + b, i1 - i0, B, n_win - std::min(n_win, M + i1), x + i0 * n_win);
        return {x, n_win};
    }

    /// **Query panels: the masked corner skipped.** Query $i$ sees no key after $M + i$, so the
    /// queries run in panels of `query_panel` rows and panel $[i_0, i_1)$ computes its scores,
    /// position columns and values over the keys $j < M + i_1$ only: an eighth of the three
    /// products when $M = T = 64$, a fifth when $M = T = 128$. Each result is the same sum in
    /// the same order as over all $K$ keys (the skipped weights are zeros), so nothing changes
    /// but the time. A remainder of fewer than 8 rows joins the panel before it (a product of so
    /// few rows would go to BLAS, `detail/gemm.hpp`, and round differently from the rest). With
    /// bf16 products (`core/precision.hpp`) the block is one panel: each such product converts
    /// and packs both operands, and more, smaller ones cost more than the corner saves.
    static constexpr std::size_t query_panel = 32;
    static std::size_t panel_end(std::size_t i0, std::size_t T) {
        if (gemm_precision() != Precision::fp32) return T;
        const std::size_t i1 = std::min(T, i0 + query_panel);
        return T - i1 < 8 ? T : i1;
    }
    /// `f(i0, i1)` for each panel $[i_0, i_1)$ of the $T$ queries, in order.
    template <class F>
    static void for_each_panel(std::size_t T, F&& f) {
        for (std::size_t i0 = 0; i0 < T;) {
            const std::size_t i1 = panel_end(i0, T);
            f(i0, i1);
            i0 = i1;
        }
    }

    /// A per-(b, h) product $C = op(A)\,op(B)$ on the calling thread (the loops around it
    /// are the parallel ones): `gemm`, which sends `float` products of 8 rows or more to
    /// txl's own kernel and the rest (`double`, a sampling step's single query) to BLAS.
    static void head_gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, const S* a, std::size_t lda,
                          const S* b, std::size_t ldb, S* c, std::size_t ldc) {
        gemm(ta, tb, m, n, k, S(1), a, lda, b, ldb, S(0), c, ldc);
    }

    /// Whether a per-head loop has enough work to be worth waking the other threads: at least
    /// $2^{14}$ scores (a sampling step, 1 query over a short memory, runs on one thread).
    static bool parallel_worth_it(std::size_t B, std::size_t T, std::size_t K) {
        return B * H * T * K >= (std::size_t(1) << 14);
    }

    /// `f(b, h)` for every batch row and head, spread over the threads when there is enough
    /// work (one task per (b, h); the outputs are disjoint, so results do not depend on who
    /// runs which).
    template <class F>
    static void for_each_bh(std::size_t B, std::size_t T, std::size_t K, F&& f) {
        if (parallel_worth_it(B, T, K))
            parallel_tasks(B * H, [&](std::size_t bh) { f(bh / H, bh % H); });
        else
            for (std::size_t bh = 0; bh < B * H; ++bh) f(bh / H, bh % H);
    }

    /// This thread's workspace of at least `n` values, for what a per-(b, h) task computes and
    /// uses at once (no other task reads it): grown on demand, kept for the next call, so it
    /// stays in this core's cache and a training step allocates nothing after its first.
    static S* thread_scratch(std::size_t n) {
        thread_local std::vector<S> buffer;
        if (buffer.size() < n) buffer.resize(n);
        return buffer.data();
    }

    /// `src[R*B, d_model]` (row $t B + b$, heads side by side) to head-major
    /// `dst[B, H, R, d_k]`, adding `bias[H, d_k]` (a per-head vector) when given. One batch row $b$
    /// per task: its rows of `src` read whole, each scattered to its $H$ heads (written in order).
    static void to_heads(const S* src, std::size_t R, std::size_t B, S* dst, const S* bias = nullptr) {
        for_range(B, R * B >= 256, [&](std::size_t b) {
            for (std::size_t t = 0; t < R; ++t) {
                const S* in = src + (t * B + b) * d_model;
                for (std::size_t h = 0; h < H; ++h) {
                    S* out = dst + ((b * H + h) * R + t) * d_k;
                    if (bias)
                        for (std::size_t e = 0; e < d_k; ++e) out[e] = in[h * d_k + e] + bias[h * d_k + e];
                    else
                        for (std::size_t e = 0; e < d_k; ++e) out[e] = in[h * d_k + e];
                }
            }
        });
    }
    /// The inverse of `to_heads` (without a bias): head-major `src[B, H, R, d_k]` to `dst[R*B, d_model]`,
    /// in the order of `dst`'s rows: written front to back, each row gathered from its $H$ heads.
    /// (Per (b, h) instead, the writes land $B\,d_{model}$ apart, all in a few of the cache's sets.)
    static void from_heads(const S* src, std::size_t R, std::size_t B, S* dst) {
        for_range(R * B, R * B >= 256, [&](std::size_t row) {
            const std::size_t t = row / B, b = row % B;
            S* out = dst + row * d_model;
            for (std::size_t h = 0; h < H; ++h) {
                const S* in = src + ((b * H + h) * R + t) * d_k;
                for (std::size_t e = 0; e < d_k; ++e) out[h * d_k + e] = in[e];
            }
        });
    }

    /// The softmax's backward for one row, in place: with the weights `a` and the incoming
    /// gradient `g`, $g_j \leftarrow a_j\,(g_j - \sum_{j'} a_{j'} g_{j'})\cdot\text{scale}$ over the visible
    /// keys `[lo, visible)`, 0 on the masked ones (shared by both attention blocks).
    static void softmax_backward_row(S* g, const S* a, std::size_t lo, std::size_t visible, std::size_t K, S scale) {
        vectorized([&] {
            S dot = 0;
            for (std::size_t j = lo; j < visible; ++j) dot += a[j] * g[j];
            for (std::size_t j = lo; j < visible; ++j) g[j] = a[j] * (g[j] - dot) * scale;
            for (std::size_t j = 0; j < lo; ++j) g[j] = S(0);
            for (std::size_t j = visible; j < K; ++j) g[j] = S(0);
        });
    }

    /// $e^x$ in `float` in plain arithmetic a compiler vectorises at any width: $x = n \ln 2 + r$
    /// with $n$ the nearest integer to $x / \ln 2$ ($|r| \le \ln 2 / 2$), $e^r$ by Cephes' degree-6
    /// polynomial (relative error below $2 \cdot 10^{-7}$), $2^n$ written into the exponent bits.
    /// $x$ is clamped to $[-87, 88]$ (a softmax's arguments are $\le 0$; $e^{-87} \approx 10^{-38}$).
    static float exp_float(float x) {
        x = std::min(std::max(x, -87.0f), 88.0f);
        const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
        float r = x - n * 0.693359375f;                                          // ln 2 in two parts, so r is exact
        r = r - n * -2.12194440e-4f;
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r * r + r + 1.0f;
        const std::int32_t bits = (std::int32_t(n) + 127) * (std::int32_t(1) << 23);
        float two_n;
        std::memcpy(&two_n, &bits, sizeof two_n);
        return p * two_n;
    }

    /// One row of attention weights in place: `row[j] = softmax_j(scale * row[j])` over the
    /// first `visible` entries, 0 after them (the mask). The exponentials run on SIMD batches
    /// (about ten times faster than `std::exp` per element): in `float` through `exp_float`
    /// inside `vectorized` (as wide as the CPU allows, whatever the build flags), in `double`
    /// through `xsimd::exp`. The attention's `softmax_row_naive` is the same formula with
    /// `std::exp`, and a test checks the two agree.
    static void softmax_row(S* row, std::size_t visible, std::size_t K, S scale) {
        if constexpr (std::is_same_v<S, float>) {
            vectorized([&] {
                float mx = row[0];
#pragma omp simd reduction(max : mx)
                for (std::size_t j = 1; j < visible; ++j) mx = std::max(mx, row[j]);
                mx *= scale;  // scale > 0: max of the scaled row, exactly
                float sum = 0;
#pragma omp simd reduction(+ : sum)
                for (std::size_t j = 0; j < visible; ++j) {
                    const float e = exp_float(row[j] * scale - mx);
                    row[j] = e;
                    sum += e;
                }
                const float inv = 1.0f / sum;
                for (std::size_t j = 0; j < visible; ++j) row[j] *= inv;
                for (std::size_t j = visible; j < K; ++j) row[j] = 0.0f;
            });
        } else {
            using batch = xsimd::batch<S>;
            constexpr std::size_t L = batch::size;
            S mx = row[0];
            for (std::size_t j = 1; j < visible; ++j) mx = std::max(mx, row[j]);
            mx *= scale;
            const batch vscale(scale), vmx(mx);
            batch vsum(S(0));
            std::size_t j = 0;
            for (; j + L <= visible; j += L) {
                const batch e = xsimd::exp(batch::load_unaligned(row + j) * vscale - vmx);
                e.store_unaligned(row + j);
                vsum += e;
            }
            alignas(64) S lanes[L];  // the lanes' sums, added in order
            vsum.store_aligned(lanes);
            S sum = 0;
            for (std::size_t l = 0; l < L; ++l) sum += lanes[l];
            for (; j < visible; ++j) {
                row[j] = std::exp(row[j] * scale - mx);
                sum += row[j];
            }
            const S inv = S(1) / sum;
            for (j = 0; j < visible; ++j) row[j] *= inv;
            for (j = visible; j < K; ++j) row[j] = S(0);
        }
    }
};

}  // namespace txl::detail
