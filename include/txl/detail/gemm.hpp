#pragma once
/// @file detail/gemm.hpp
/// # How a product runs (machinery, off the reading path)
///
/// `gemm` computes $C \leftarrow \alpha\, op(A)\, op(B) + \beta C$ (+ an optional bias row)
/// for every block. Large products are cut into one band of rows per thread; each band runs
/// on txl's own `float` kernel (`detail/sgemm.hpp`: AVX-512 or AVX2, whichever the CPU has,
/// chosen at run time) or on BLAS (`double`, other CPUs, single-row products, or
/// `TXL_GEMM=blas`); under `Precision::bf16` (core/precision.hpp) a `float` product runs on
/// the bf16 kernel of the run instead (`detail/bf16gemm.hpp`). `gemm_naive` is the
/// triple loop all of this stands for, and the tests hold the two to each other.

#include <algorithm>
#include <cstddef>
#include <type_traits>
// xtensor-blas brings the cblas declarations in (when its config says HAVE_CBLAS: 0.23 reads
// the config only after its BLAS declarations, hence the config first); including <cblas.h>
// beside it collides.
#include <xtensor-blas/xblas_config.hpp>
#include <xtensor-blas/xblas.hpp>

#include "../core/precision.hpp"
#include "bf16gemm.hpp"
#include "sgemm.hpp"
#include "threads.hpp"

// OpenBLAS's own declaration: its cblas.h and the cblas declarations xtensor-blas brings in
// collide (`multiple definition of enum CBLAS_ORDER`) in one translation unit.
extern "C" void openblas_set_num_threads(int num_threads);

namespace txl {

namespace detail {
inline void blas_one_thread() {
    static const bool once = [] {
        openblas_set_num_threads(1);
        return true;
    }();
    (void)once;
}
// One product on the calling thread: `float` with at least 8 rows and alpha = 1 on txl's own
// kernel (the one `gemm_kernel()` chose for this CPU, see isa.hpp) unless that is BLAS;
// otherwise BLAS, where a single row of C
// (sampling: one position, batch 1) is a matrix-vector product, since BLAS's gemv skips
// gemm's packing and costs a fraction of its fixed overhead.
template <class S>
inline void gemm_one_thread_own_precision(Trans ta, Trans tb, int m, int n, int k, S alpha, const S* a, int lda,
                                          const S* b, int ldb, S beta, S* c, int ldc, const S* bias = nullptr) {
    constexpr bool f32 = std::is_same_v<S, float>;
    if constexpr (f32)
        if (m >= 8 && alpha == 1.0f && gemm_kernel() != GemmKernel::blas)
            return sgemm(gemm_kernel(), ta, tb, std::size_t(m), std::size_t(n), std::size_t(k), a, std::size_t(lda), b,
                         std::size_t(ldb), beta, c, std::size_t(ldc), bias);
    if (bias) {  // BLAS has no bias: C = beta C + bias first, then C += op(A) op(B)
        scale_add_bias(std::size_t(m), std::size_t(n), beta, c, std::size_t(ldc), bias);
        beta = S(1);
    }
    if (m == 1) {
        const int inc_a = ta == Trans::Yes ? lda : 1;
        const auto op = tb == Trans::Yes ? CblasNoTrans : CblasTrans;
        const int rows = tb == Trans::Yes ? n : k, cols = tb == Trans::Yes ? k : n;
        if constexpr (f32)
            cblas_sgemv(CblasRowMajor, op, rows, cols, alpha, b, ldb, a, inc_a, beta, c, 1);
        else
            cblas_dgemv(CblasRowMajor, op, rows, cols, alpha, b, ldb, a, inc_a, beta, c, 1);
        return;
    }
    const auto opa = ta == Trans::Yes ? CblasTrans : CblasNoTrans;
    const auto opb = tb == Trans::Yes ? CblasTrans : CblasNoTrans;
    if constexpr (f32)
        cblas_sgemm(CblasRowMajor, opa, opb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        cblas_dgemm(CblasRowMajor, opa, opb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// One product on the calling thread at this thread's precision (core/precision.hpp): under
// bf16 a `float` product runs on the bf16 kernel of this run (detail/bf16gemm.hpp), whose
// portable kernel runs the fp32 product above on rounded copies.
template <class S>
inline void gemm_one_thread(Trans ta, Trans tb, int m, int n, int k, S alpha, const S* a, int lda, const S* b, int ldb,
                            S beta, S* c, int ldc, const S* bias = nullptr) {
    if constexpr (std::is_same_v<S, float>)
        if (gemm_precision() == Precision::bf16) {
            auto fp32 = [](std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a, std::size_t lda,
                           const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc, const float* bias) {
                gemm_one_thread_own_precision(Trans::No, Trans::No, int(m), int(n), int(k), alpha, a, int(lda), b,
                                              int(ldb), beta, c, int(ldc), bias);
            };
            return bf16_gemm(bf16_kernel(), ta, tb, std::size_t(m), std::size_t(n), std::size_t(k), alpha, a,
                             std::size_t(lda), b, std::size_t(ldb), beta, c, std::size_t(ldc), bias, fp32);
        }
    gemm_one_thread_own_precision(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias);
}
}  // namespace detail

/// Row-major GEMM: $C \leftarrow \alpha\, op(A)\, op(B) + \beta C$ with
/// $op(A)$ of shape `[m, k]`, $op(B)$ of shape `[k, n]`, $C$ of shape `[m, n]`.
/// `lda`, `ldb`, `ldc` are the distances between consecutive rows *as stored*.
/// Outside a parallel task a product of at least $2^{18}$ multiply-adds is cut into bands of
/// rows of $C$ (one per thread, at least 32 rows each: each band packs $B$ again, so thinner
/// bands cost more than they gain; row $i$ of $op(A)$ starts at
/// `a + i*lda`, or at `a + i` when transposed); each band is one call on one thread. A row's
/// result does not depend on the band it falls in, so results do not depend on the thread
/// count or on timing. With `bias` (`n` values, e.g. a linear layer's $b$) every row of $C$
/// also gets $b$ added: $C \leftarrow \alpha\, op(A)\, op(B) + \mathbf 1 b^\top + \beta C$.
template <class S>
inline void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, S alpha, const S* a, std::size_t lda,
                 const S* b, std::size_t ldb, S beta, S* c, std::size_t ldc, const S* bias = nullptr) {
    static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>, "gemm: float or double");
    if (m == 0 || n == 0) return;
    detail::blas_one_thread();
    const std::size_t threads = std::size_t(max_threads());
    if (threads > 1 && !in_parallel() && m >= 64 && double(m) * double(n) * double(k) >= double(1 << 18)) {
        const std::size_t band = std::max<std::size_t>(32, (m + threads - 1) / threads + 7) / 8 * 8;
        parallel_tasks((m + band - 1) / band, [&](std::size_t t) {
            const std::size_t i0 = t * band, i1 = std::min(m, i0 + band);
            detail::gemm_one_thread(ta, tb, int(i1 - i0), int(n), int(k), alpha,
                                    ta == Trans::Yes ? a + i0 : a + i0 * lda, int(lda), b, int(ldb), beta, c + i0 * ldc,
                                    int(ldc), bias);
        });
        return;
    }
    detail::gemm_one_thread(ta, tb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c, int(ldc), bias);
}

/// The plain triple loop `gemm` stands for; the tests check the two agree on strided,
/// transposed slices.
template <class S>
inline void gemm_naive(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, S alpha, const S* a,
                       std::size_t lda, const S* b, std::size_t ldb, S beta, S* c, std::size_t ldc) {
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            S acc = 0;
            for (std::size_t p = 0; p < k; ++p) {
                const S aip = ta == Trans::Yes ? a[p * lda + i] : a[i * lda + p];
                const S bpj = tb == Trans::Yes ? b[j * ldb + p] : b[p * ldb + j];
                acc += aip * bpj;
            }
            c[i * ldc + j] = alpha * acc + (beta == S(0) ? S(0) : beta * c[i * ldc + j]);
        }
}

/// $y \mathrel{+}= \sum_{r} x_{r,:}$: the column sums of an `[n, d]` matrix, added to `y`
/// (the gradient of a bias broadcast over rows); its rows `ld` apart (0: packed, `ld = d`).
/// Threads own blocks of 16 columns and walk the rows in order, so each sum runs in row order
/// whatever the thread count.
template <class S>
inline void add_column_sums(const S* x, std::size_t n, std::size_t d, S* y, std::size_t ld = 0) {
    if (ld == 0) ld = d;
    constexpr std::size_t CB = 16;
    const std::size_t blocks = (d + CB - 1) / CB;
    auto block = [&](std::size_t blk) {
        const std::size_t c0 = blk * CB, w = std::min(CB, d - c0);
        S acc[CB] = {};
        for (std::size_t r = 0; r < n; ++r) {
            const S* row = x + r * ld + c0;
            for (std::size_t c = 0; c < w; ++c) acc[c] += row[c];
        }
        for (std::size_t c = 0; c < w; ++c) y[c0 + c] += acc[c];
    };
    for_range(blocks, n * d >= (std::size_t(1) << 16) && blocks > 1, block);
}

}  // namespace txl
