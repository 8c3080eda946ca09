// txl_bench_ceiling: the machine's fp32 ceiling, measured in the same run as the benchmarks:
// (1) a register-resident FMA loop on every thread (the widest vectors -march=native allows),
//     the best of 7 runs of ~0.1 s: a ceiling is a maximum, and on a shared machine a single
//     short run measures the neighbours as much as the CPU;
// (2) sgemm on 2048 x 2048 x 2048, split across the threads as txl splits its GEMMs, both with
//     OpenBLAS (`sgemm_gflops`) and with txl::gemm (`txl_gemm_gflops`: txl's own kernel, the
//     best the CPU has or the one TXL_GEMM names; OpenBLAS again with TXL_GEMM=blas);
// (3) where the CPU multiplies bf16 natively, the same product under Precision::bf16
//     (`txl_gemm_bf16_gflops`, on the bf16 kernel txl chose: the ceiling of bf16 training).
// Last line: fma_gflops <float>
#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include <txl/core/precision.hpp>
#include <txl/core/tensor.hpp>

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
    const std::size_t iters = 400'000'000 / std::size_t(kLanes);
    double sink = 0, fma = 0;
    for (int rep = 0; rep < 7; ++rep) {
        const auto t0 = clock::now();
#pragma omp parallel for reduction(+ : sink) num_threads(threads)
        for (int t = 0; t < threads; ++t) sink += fma_loop(iters);
        const double s = std::chrono::duration<double>(clock::now() - t0).count();
        fma = std::max(fma, 2.0 * 12 * kLanes * double(iters) * threads / s / 1e9);
    }

    const std::size_t n = 2048;
    std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
    auto time_gemm = [&](auto&& product) {  // GFLOP/s, best of 5 after a warm-up
        product();
        double best = 0;
        for (int r = 0; r < 5; ++r) {
            const auto t0 = clock::now();
            product();
            const double g = std::chrono::duration<double>(clock::now() - t0).count();
            best = std::max(best, 2.0 * double(n * n * n) / g / 1e9);
        }
        return best;
    };
    const double blas = time_gemm([&] {  // OpenBLAS, one band of rows per thread
        txl::detail::blas_one_thread();
        const std::size_t band = (n + std::size_t(threads) - 1) / std::size_t(threads);
#pragma omp parallel for num_threads(threads)
        for (int t = 0; t < threads; ++t) {
            const std::size_t rows = std::min(band, n - std::min(n, std::size_t(t) * band));
            if (rows == 0) continue;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(n), int(n), 1.0f,
                        a.data() + std::size_t(t) * band * n, int(n), b.data(), int(n), 0.0f,
                        c.data() + std::size_t(t) * band * n, int(n));
        }
    });
    const double own = time_gemm(
        [&] { txl::gemm(txl::Trans::No, txl::Trans::No, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n); });
    double own_bf16 = 0;
    std::string bf16_kernel = "none";
    try {
        bf16_kernel = txl::kernel_name(txl::bf16_kernel());
        own_bf16 = time_gemm([&] {
            txl::PrecisionScope bf16(txl::Precision::bf16);
            txl::gemm(txl::Trans::No, txl::Trans::No, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
        });
    } catch (const txl::error&) {  // no bf16 kernel on this CPU: reported as 0
    }
    std::cout << "bf16 kernel " << bf16_kernel << "\n"
              << "txl_gemm_bf16_gflops " << own_bf16 << "\n";
    std::cout << "threads " << threads << ", vector lanes " << kLanes << " (checksum " << (sink > 0) << ")\n"
              << "sgemm_gflops " << blas << "\n"
              << "txl_gemm_gflops " << own << "\n"
              << "fma_gflops " << fma << "\n";
}
