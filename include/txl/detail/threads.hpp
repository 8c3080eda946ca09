#pragma once
/// @file detail/threads.hpp
/// # Threads (machinery, off the reading path)
///
/// txl runs its own threads (OpenMP): large products are split by rows of $C$ (`gemm`), the
/// attention's per-(b, h) loops run in parallel, and element-wise loops over many rows use
/// `for_range`. `OMP_NUM_THREADS` sets how many threads txl uses.

#include <algorithm>
#include <cstddef>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace txl {

/// ## Threads and BLAS
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

/// `f(k, lo, hi)` over the spans `spans[k]` (`begin`, `end`, `empty()`) laid end to end
/// (`total` elements in all) and cut into one equal share per thread, in one parallel region
/// when `parallel`: for elementwise updates over many tensors, most too small to be worth a
/// region of their own (Adam: one region per step instead of one per tensor, 7x faster).
/// Each piece `[lo, hi)` lies inside one span; the pieces cover every span exactly once.
template <class Spans, class F>
inline void for_joined_spans(const Spans& spans, std::size_t total, bool parallel, F&& f) {
#pragma omp parallel if (parallel)
    {
#ifdef _OPENMP
        const std::size_t th_id = std::size_t(omp_get_thread_num()), nt = std::size_t(omp_get_num_threads());
#else
        const std::size_t th_id = 0, nt = 1;
#endif
        const std::size_t mine_lo = th_id * total / nt, mine_hi = (th_id + 1) * total / nt;
        std::size_t at = 0;  // where span k starts in the joined order
        for (std::size_t k = 0; k < spans.size() && at < mine_hi; ++k) {
            const std::size_t n = spans[k].empty() ? 0 : spans[k].end - spans[k].begin;
            const std::size_t from = std::max(at, mine_lo), to = std::min(at + n, mine_hi);
            if (from < to) f(k, spans[k].begin + (from - at), spans[k].begin + (to - at));
            at += n;
        }
    }
}

}  // namespace txl
