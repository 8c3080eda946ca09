#pragma once
/// @file small_gemm.hpp
/// # Small products without BLAS's fixed costs
///
/// The attention's per-(b, h) products are small: $[T, d_k] \times [d_k, K]$ and the like,
/// $64 \times 128 \times 32$ in the practical config. A BLAS call on such a product spends
/// much of its time outside the arithmetic: it packs both operands into its own layout,
/// dispatches, and (with OpenBLAS's AVX2 kernel, which some environments force) runs at half
/// the vector width the CPU has. Here the operands are already in cache and contiguous, so a
/// plain register-blocked loop does as well or better (measured: 0.8-1.1x OpenBLAS's AVX-512
/// small-matrix kernel, 1.3-2.4x its AVX2 kernel, on the practical and large shapes):
///
/// $$C_{[i_0..i_0+8),\,[j_0..j_0+2L)} = \sum_{p=0}^{k-1} A_{[i_0..i_0+8),\,p}\; B_{p,\,[j_0..j_0+2L)}$$
///
/// one tile of 8 rows by two SIMD batches ($L$ = 16 floats with AVX-512) at a time: per $p$,
/// two loads of a row of $B$, eight broadcasts of $A$, sixteen fused multiply-adds into sixteen
/// accumulators that stay in registers for the whole sum (eight would leave the two FMA units
/// waiting on each other's latency; 4-row tiles measured at half the speed). Leftover rows take
/// 4- and 1-row tiles, leftover columns one batch, then single columns. Each element of $C$ is
/// summed over $p$ in order, so the result does not depend on the tiling (a test checks it
/// against `gemm_naive`). $B$ transposed (the $Q K^\top$ products) is first copied into a
/// `[k, n]` scratch, which costs $k n$ moves against $m n k$ multiply-adds.
///
/// `small_gemm` computes $C = op(A)\, op(B)$ (no $\alpha$, no $\beta$: $C$ is overwritten) for
/// `float`; `double` (the gradient checks) goes to BLAS through `gemm`.

#include <cstddef>

#include <xsimd/xsimd.hpp>

#include "tensor.hpp"

namespace txl {

namespace detail {

/// One MR x (NB batches) tile of C from row-major B (`[k, n]`, rows `ldb` apart);
/// A's element (r, p) is at `a[r * sa_r + p * sa_p]`.
template <std::size_t MR, std::size_t NB>
inline void small_tile(const float* a, std::size_t sa_r, std::size_t sa_p, const float* b,
                       std::size_t ldb, float* c, std::size_t ldc, std::size_t k) {
    using batch = xsimd::batch<float>;
    constexpr std::size_t L = batch::size;
    batch acc[MR][NB];
#pragma GCC unroll 16
    for (std::size_t r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (std::size_t q = 0; q < NB; ++q) acc[r][q] = batch(0.0f);
    for (std::size_t p = 0; p < k; ++p) {
        batch bv[NB];
#pragma GCC unroll 4
        for (std::size_t q = 0; q < NB; ++q) bv[q] = batch::load_unaligned(b + p * ldb + q * L);
#pragma GCC unroll 16
        for (std::size_t r = 0; r < MR; ++r) {
            const batch av(a[r * sa_r + p * sa_p]);
#pragma GCC unroll 4
            for (std::size_t q = 0; q < NB; ++q) acc[r][q] = xsimd::fma(av, bv[q], acc[r][q]);
        }
    }
#pragma GCC unroll 16
    for (std::size_t r = 0; r < MR; ++r)
#pragma GCC unroll 4
        for (std::size_t q = 0; q < NB; ++q) acc[r][q].store_unaligned(c + r * ldc + q * L);
}

/// Rows [i0, i0 + MR) of C: full tiles of two batches, then one batch, then single columns.
template <std::size_t MR>
inline void small_rows(const float* a, std::size_t sa_r, std::size_t sa_p, const float* b,
                       std::size_t ldb, float* c, std::size_t ldc, std::size_t n, std::size_t k) {
    constexpr std::size_t L = xsimd::batch<float>::size;
    std::size_t j = 0;
    for (; j + 2 * L <= n; j += 2 * L) small_tile<MR, 2>(a, sa_r, sa_p, b + j, ldb, c + j, ldc, k);
    for (; j + L <= n; j += L) small_tile<MR, 1>(a, sa_r, sa_p, b + j, ldb, c + j, ldc, k);
    for (; j < n; ++j)
        for (std::size_t r = 0; r < MR; ++r) {
            float s = 0;
            for (std::size_t p = 0; p < k; ++p) s += a[r * sa_r + p * sa_p] * b[p * ldb + j];
            c[r * ldc + j] = s;
        }
}

}  // namespace detail

/// $C = op(A)\, op(B)$, row-major, `float`. `scratch` holds at least `k * n` floats when
/// `tb == Trans::Yes` (unused otherwise).
inline void small_gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k,
                       const float* a, std::size_t lda, const float* b, std::size_t ldb, float* c,
                       std::size_t ldc, float* scratch) {
    if (tb == Trans::Yes) {  // B is [n, k]: lay B^T out as [k, n]
        for (std::size_t j = 0; j < n; ++j)
            for (std::size_t p = 0; p < k; ++p) scratch[p * n + j] = b[j * ldb + p];
        b = scratch;
        ldb = n;
    }
    // A's element (i, p): a[i*lda + p], or a[p*lda + i] when transposed.
    const std::size_t sa_r = ta == Trans::Yes ? 1 : lda, sa_p = ta == Trans::Yes ? lda : 1;
    std::size_t i = 0;
    for (; i + 8 <= m; i += 8) detail::small_rows<8>(a + i * sa_r, sa_r, sa_p, b, ldb, c + i * ldc, ldc, n, k);
    for (; i + 4 <= m; i += 4) detail::small_rows<4>(a + i * sa_r, sa_r, sa_p, b, ldb, c + i * ldc, ldc, n, k);
    for (; i < m; ++i) detail::small_rows<1>(a + i * sa_r, sa_r, sa_p, b, ldb, c + i * ldc, ldc, n, k);
}

}  // namespace txl
