// txl_bench_ceiling: the machine's fp32 ceiling, measured in the same run as the benchmarks:
// (1) a register-resident FMA loop on every thread (the widest vectors -march=native allows),
// (2) OpenBLAS sgemm on 2048 x 2048 x 2048, split across the threads as txl splits its GEMMs.
// Last line: fma_gflops <float>
#include <chrono>
#include <iostream>
#include <vector>

#include <txl/tensor.hpp>

namespace {
#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float vec __attribute__((vector_size(kLanes * sizeof(float))));

/// 12 independent FMA chains per thread, so the pipelines stay full.
double fma_loop(std::size_t iters) {
    vec acc[12];
    for (int i = 0; i < 12; ++i) acc[i] = vec{} + float(i) * 1e-3f;
    const vec a = vec{} + 0.999999f, b = vec{} + 1e-7f;
    for (std::size_t it = 0; it < iters; ++it)
        for (int i = 0; i < 12; ++i) acc[i] = acc[i] * a + b;
    double s = 0;
    for (int i = 0; i < 12; ++i)
        for (int l = 0; l < kLanes; ++l) s += acc[i][l];
    return s;
}
}  // namespace

int main() {
    using clock = std::chrono::steady_clock;
    const int threads = txl::max_threads();
    const std::size_t iters = 100'000'000 / std::size_t(kLanes);
    double sink = 0;
    auto t0 = clock::now();
#pragma omp parallel for reduction(+ : sink) num_threads(threads)
    for (int t = 0; t < threads; ++t) sink += fma_loop(iters);
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    const double fma = 2.0 * 12 * kLanes * double(iters) * threads / s / 1e9;

    const std::size_t n = 2048;
    std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
    txl::gemm(txl::Trans::No, txl::Trans::No, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    t0 = clock::now();
    const int reps = 5;
    for (int r = 0; r < reps; ++r)
        txl::gemm(txl::Trans::No, txl::Trans::No, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    const double g = std::chrono::duration<double>(clock::now() - t0).count();
    std::cout << "threads " << threads << ", vector lanes " << kLanes << " (checksum " << (sink > 0) << ")\n"
              << "sgemm_gflops " << 2.0 * double(n * n * n) * reps / g / 1e9 << "\n"
              << "fma_gflops " << fma << "\n";
}
