#pragma once
/// @file tensor.hpp
/// # Tensors, parameters and the GEMM every block runs on
///
/// xtensor holds the data (contiguous, row-major) and gives shapes, views and `.npy` I/O.
/// Every product goes through one wrapper, `txl::gemm`, which takes leading dimensions (a
/// head's slice $Q_{b,h}$ of an activation stored as `[T, B, d_model]` is the matrix that starts
/// at `q + b * d_model + h * d_k` with rows `B * d_model` apart) and sends the product to txl's
/// own `float` kernel (sgemm.hpp) or to BLAS: see `gemm_one_thread` below.
///
/// Activations are stored in labml's order `[time, batch, feature]`; for a GEMM they are
/// read as a matrix of `T * B` rows (row `t * B + b`).

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>
// xtensor-blas brings the cblas declarations in; including <cblas.h> beside it collides.
#include <xtensor-blas/xblas.hpp>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "sgemm.hpp"

// OpenBLAS's own declaration (its cblas.h collides with xtensor-blas's, see DESIGN.md).
extern "C" void openblas_set_num_threads(int num_threads);

namespace txl {

template <class S, std::size_t N>
using tensor = xt::xtensor<S, N>;

/// Where a gradient may be non-zero: the elements `[begin, end)` of the flat tensor.
struct Span {
    std::size_t begin = 0, end = 0;
    bool empty() const { return begin >= end; }
    /// Grow to cover `[b, e)` too.
    void extend(std::size_t b, std::size_t e) {
        if (b >= e) return;
        if (empty()) {
            begin = b, end = e;
        } else {
            begin = std::min(begin, b), end = std::max(end, e);
        }
    }
};

/// A learnable tensor and the gradient of the loss with respect to it (same shape).
/// Gradients accumulate (`+=`) in `backward`; `zero_grad` clears them.
///
/// `touched` says where the gradient may be non-zero. For a dense parameter that is all of it,
/// always. A *row-sparse* parameter (the relative position tables, of which a step reads only
/// a window of rows) starts with an empty span; its block's backward extends it over the rows
/// it writes and `zero_grad` clears only those and empties it again. Optimizers and clipping
/// skip what lies outside: there the gradient is exactly zero.
template <class S, std::size_t N>
struct Param {
    tensor<S, N> value;
    tensor<S, N> grad;
    bool sparse = false;
    Span touched;

    template <class Shape>
    void resize(const Shape& shape) {
        value = tensor<S, N>::from_shape(shape);
        grad = tensor<S, N>::from_shape(shape);
        value.fill(S(0));
        grad.fill(S(0));
        touched = {0, value.size()};
    }
    /// Declare the parameter row-sparse (see above). Its gradient is all zero at this point.
    void make_sparse() {
        sparse = true;
        touched = {};
    }
};

/// Resize a workspace only if its shape changes, so a step with the same lengths as the
/// last one allocates nothing.
template <class S, std::size_t N, class Shape>
inline void ensure_shape(tensor<S, N>& t, const Shape& shape) {
    bool same = t.dimension() == N;
    for (std::size_t i = 0; same && i < N; ++i) same = t.shape()[i] == shape[i];
    if (!same) t.resize(shape);
}
template <class S, std::size_t N>
inline void ensure_shape(tensor<S, N>& t, std::initializer_list<std::size_t> shape) {
    std::array<std::size_t, N> s{};
    std::copy(shape.begin(), shape.end(), s.begin());
    ensure_shape(t, s);
}

/// A parameter seen as flat memory: what optimizers, clipping and zeroing need, without
/// names or shapes. Valid while the parameter's storage lives (txl never reallocates it:
/// loading a checkpoint copies into place).
template <class S>
struct ParamRef {
    S* value;
    S* grad;
    std::size_t size;
    Span* touched;  ///< where `grad` may be non-zero (see `Param`)
    bool sparse;
};

/// The flat view of every parameter of a module (anything with `visit`), in visiting order.
/// Building it walks the names once; hot loops keep the vector and skip the walk.
template <class S, class Module>
inline std::vector<ParamRef<S>> parameter_refs(Module& m) {
    std::vector<ParamRef<S>> out;
    m.visit([&](const auto&, auto& p) {
        out.push_back({p.value.data(), p.grad.data(), p.value.size(), &p.touched, p.sparse});
    });
    return out;
}

/// Set every gradient to zero (only where it may be non-zero; sparse spans are emptied).
template <class S>
inline void zero_grad(std::vector<ParamRef<S>>& refs) {
    for (const auto& r : refs) {
        std::fill(r.grad + r.touched->begin, r.grad + std::max(r.touched->begin, r.touched->end), S(0));
        if (r.sparse) *r.touched = {};
    }
}
template <class Module>
inline void zero_grad(Module& m) {
    m.visit([](const auto&, auto& p) {
        p.grad.fill(0);
        if (p.sparse) p.touched = {};
    });
}

/// ## Threads
/// txl runs its own threads (OpenMP) and calls BLAS from inside them, one thread per call:
/// many of a model's products are small (the position term runs one per head, sampling one
/// per layer and token), and OpenBLAS's own threads spend more time waking and waiting than
/// computing on them. So the first GEMM sets
/// OpenBLAS to one thread (`openblas_set_num_threads(1)`, process-wide), and `gemm` splits a
/// large product by rows of $C$ over the OpenMP threads itself. Inside a parallel region (the
/// per-head loops) every call runs on the calling thread. Set `OMP_NUM_THREADS` to choose how
/// many threads txl uses.
inline int max_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
/// This thread's number inside a parallel region (0 outside one).
inline std::size_t thread_id() {
#ifdef _OPENMP
    return std::size_t(omp_get_thread_num());
#else
    return 0;
#endif
}
inline bool in_parallel() {
#ifdef _OPENMP
    return omp_in_parallel();
#else
    return false;
#endif
}
/// `f(i)` for `i < n`: split over the threads when `parallel` (and not already inside a
/// parallel region), else a plain loop on this thread that does not even enter an OpenMP
/// region (an `if(false)` region still sets up a team: ~15% of a sampling step, measured).
template <class F>
inline void for_range(std::size_t n, bool parallel, F&& f) {
    if (parallel && !in_parallel()) {
#pragma omp parallel for schedule(static)
        for (std::size_t i = 0; i < n; ++i) f(i);
    } else {
        for (std::size_t i = 0; i < n; ++i) f(i);
    }
}

/// $\sum_{i<n} f(i)$ with 16 running partial sums, added up at the end: the loop vectorises
/// without `-ffast-math`, and the order of the additions depends on `n` alone.
template <class S, class F>
inline S partial_sums16(std::size_t n, F&& f) {
    constexpr std::size_t L = 16;
    const std::size_t full = n / L * L;
    S part[L] = {};
    for (std::size_t i = 0; i < full; i += L)
        for (std::size_t l = 0; l < L; ++l) part[l] += f(i + l);
    for (std::size_t i = full; i < n; ++i) part[0] += f(i);
    S sum = 0;
    for (std::size_t l = 0; l < L; ++l) sum += part[l];
    return sum;
}

namespace detail {
/// Whether `float` products of at least 8 rows go to txl's own kernel (`sgemm`, sgemm.hpp)
/// rather than to BLAS: yes when compiled for AVX-512 (its tiles need the 32 vector registers
/// AVX-512 has; built for AVX2 or less, BLAS does every product), unless the environment says
/// `TXL_GEMM=blas`. Read once; the choice holds for the whole run.
inline bool own_sgemm() {
#if defined(__AVX512F__)
    static const bool own = [] {
        const char* v = std::getenv("TXL_GEMM");
        return !(v && std::string(v) == "blas");
    }();
    return own;
#else
    return false;
#endif
}

inline void blas_one_thread() {
    static const bool once = [] {
        openblas_set_num_threads(1);
        return true;
    }();
    (void)once;
}
// One product on the calling thread: `float` with at least 8 rows and alpha = 1 on txl's own
// kernel (when built for AVX-512, see `own_sgemm`); otherwise BLAS, where a single row of C
// (sampling: one position, batch 1) is a matrix-vector product, since BLAS's gemv skips
// gemm's packing and costs a fraction of its fixed overhead.
template <class S>
inline void gemm_one_thread(Trans ta, Trans tb, int m, int n, int k, S alpha, const S* a, int lda,
                            const S* b, int ldb, S beta, S* c, int ldc, const S* bias = nullptr) {
    constexpr bool f32 = std::is_same_v<S, float>;
    if constexpr (f32)
        if (m >= 8 && alpha == 1.0f && own_sgemm())
            return sgemm(ta, tb, std::size_t(m), std::size_t(n), std::size_t(k), a, std::size_t(lda), b,
                         std::size_t(ldb), beta, c, std::size_t(ldc), bias);
    if (bias) {  // BLAS has no bias: C = beta C + bias first, then C += op(A) op(B)
        for (int i = 0; i < m; ++i)
            for (int j = 0; j < n; ++j) {
                S& cij = c[std::size_t(i) * std::size_t(ldc) + std::size_t(j)];
                cij = (beta == S(0) ? S(0) : beta * cij) + bias[j];
            }
        beta = S(1);
    }
    if (m == 1) {
        const int inc_a = ta == Trans::Yes ? lda : 1;
        const auto op = tb == Trans::Yes ? CblasNoTrans : CblasTrans;
        const int rows = tb == Trans::Yes ? n : k, cols = tb == Trans::Yes ? k : n;
        if constexpr (f32) cblas_sgemv(CblasRowMajor, op, rows, cols, alpha, b, ldb, a, inc_a, beta, c, 1);
        else cblas_dgemv(CblasRowMajor, op, rows, cols, alpha, b, ldb, a, inc_a, beta, c, 1);
        return;
    }
    const auto opa = ta == Trans::Yes ? CblasTrans : CblasNoTrans;
    const auto opb = tb == Trans::Yes ? CblasTrans : CblasNoTrans;
    if constexpr (f32) cblas_sgemm(CblasRowMajor, opa, opb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else cblas_dgemm(CblasRowMajor, opa, opb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
}  // namespace detail

/// Row-major GEMM: $C \leftarrow \alpha\, op(A)\, op(B) + \beta C$ with
/// $op(A)$ of shape `[m, k]`, $op(B)$ of shape `[k, n]`, $C$ of shape `[m, n]`.
/// `lda`, `ldb`, `ldc` are the distances between consecutive rows *as stored*.
/// Outside a parallel region a product of at least $2^{18}$ multiply-adds is cut into one band
/// of rows of $C$ per thread (row $i$ of $op(A)$ starts at `a + i*lda`, or at `a + i` when
/// transposed); each band is one call on one thread. The bands are fixed by the sizes, so
/// results do not depend on timing. With `bias` (`n` values, e.g. a linear layer's $b$) every
/// row of $C$ also gets $b$ added: $C \leftarrow \alpha\, op(A)\, op(B) + \mathbf 1 b^\top + \beta C$.
template <class S>
inline void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, S alpha,
                 const S* a, std::size_t lda, const S* b, std::size_t ldb, S beta, S* c,
                 std::size_t ldc, const S* bias = nullptr) {
    static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>, "gemm: float or double");
    if (m == 0 || n == 0) return;
    detail::blas_one_thread();
    const int threads = max_threads();
    if (threads > 1 && !in_parallel() && m >= 32 && double(m) * double(n) * double(k) >= double(1 << 18)) {
        const std::size_t band = (m + std::size_t(threads) - 1) / std::size_t(threads);
#pragma omp parallel for schedule(static, 1) num_threads(threads)
        for (int t = 0; t < threads; ++t) {
            const std::size_t i0 = std::size_t(t) * band, i1 = std::min(m, i0 + band);
            if (i0 >= i1) continue;
            detail::gemm_one_thread(ta, tb, int(i1 - i0), int(n), int(k), alpha,
                                    ta == Trans::Yes ? a + i0 : a + i0 * lda, int(lda), b, int(ldb),
                                    beta, c + i0 * ldc, int(ldc), bias);
        }
        return;
    }
    detail::gemm_one_thread(ta, tb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb), beta, c,
                            int(ldc), bias);
}

/// The plain triple loop `gemm` stands for; the tests check the two agree on strided,
/// transposed slices.
template <class S>
inline void gemm_naive(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, S alpha,
                       const S* a, std::size_t lda, const S* b, std::size_t ldb, S beta, S* c,
                       std::size_t ldc) {
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
/// (the gradient of a bias broadcast over rows). Threads own blocks of 16 columns and walk the
/// rows in order, so each sum runs in row order whatever the thread count.
template <class S>
inline void add_column_sums(const S* x, std::size_t n, std::size_t d, S* y) {
    constexpr std::size_t CB = 16;
    const std::size_t blocks = (d + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (n * d >= (std::size_t(1) << 16) && blocks > 1 && !in_parallel())
    for (std::size_t blk = 0; blk < blocks; ++blk) {
        const std::size_t c0 = blk * CB, w = std::min(CB, d - c0);
        S acc[CB] = {};
        for (std::size_t r = 0; r < n; ++r) {
            const S* row = x + r * d + c0;
            for (std::size_t c = 0; c < w; ++c) acc[c] += row[c];
        }
        for (std::size_t c = 0; c < w; ++c) y[c0 + c] += acc[c];
    }
}

}  // namespace txl
