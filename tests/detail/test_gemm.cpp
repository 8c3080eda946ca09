#include "../fixtures.hpp"
#include "../gradcheck.hpp"

using namespace txl_test;

template <class S>
void compare_gemm(txl::Trans ta, txl::Trans tb, S beta, std::size_t m = 5, bool with_bias = false) {
    // Strided slices: A, B and C live inside wider matrices (leading dimension > width).
    // m = 1 takes the matrix-vector path.
    const std::size_t n = 4, k = 3, lda = 9, ldb = 7, ldc = 6;
    std::vector<double> a0(12 * lda), b0(12 * ldb), c0(m * ldc);
    fill_uniform(a0.data(), a0.size(), 1);
    fill_uniform(b0.data(), b0.size(), 2);
    fill_uniform(c0.data(), c0.size(), 3);
    std::vector<S> a(a0.begin(), a0.end()), b(b0.begin(), b0.end()), c1(c0.begin(), c0.end()), c2 = c1;
    const S bias[4] = {S(0.25), S(-1), S(0.5), S(2)};
    txl::gemm(ta, tb, m, n, k, S(1.5), a.data() + 1, lda, b.data() + 2, ldb, beta, c1.data(), ldc,
              with_bias ? bias : nullptr);
    txl::gemm_naive(ta, tb, m, n, k, S(1.5), a.data() + 1, lda, b.data() + 2, ldb, beta, c2.data(), ldc);
    if (with_bias)
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) c2[i * ldc + j] += bias[j];
    for (std::size_t i = 0; i < c1.size(); ++i)
        CHECK(double(c1[i]) == doctest::Approx(double(c2[i])).epsilon(std::is_same_v<S, float> ? 1e-5 : 1e-13));
}

TEST_CASE("gemm: BLAS agrees with the naive loop on strided, transposed slices, with and without a bias") {
    using txl::Trans;
    for (auto ta : {Trans::No, Trans::Yes})
        for (auto tb : {Trans::No, Trans::Yes})
            for (double beta : {0.0, 1.0}) {
                for (std::size_t m : {1, 5})
                    for (bool with_bias : {false, true}) {
                        compare_gemm<double>(ta, tb, beta, m, with_bias);
                        compare_gemm<float>(ta, tb, float(beta), m, with_bias);
                    }
            }
}

/// txl::sgemm on `kernel` against the naive loop in double: C (strided) prefilled, then
/// C = op(A) op(B) + beta C. beta = 0 must ignore what C held (NaN here), as BLAS does.
static void check_sgemm(txl::GemmKernel kernel, txl::Trans ta, txl::Trans tb, std::size_t m, std::size_t n,
                        std::size_t k, float beta, bool with_bias = false, std::size_t b_pad = 2) {
    using txl::Trans;
    CAPTURE(m);
    CAPTURE(n);
    CAPTURE(k);
    CAPTURE(beta);
    CAPTURE(int(ta));
    CAPTURE(int(tb));
    const std::size_t lda = (ta == Trans::Yes ? m : k) + 3, ldb = (tb == Trans::Yes ? k : n) + b_pad, ldc = n + 5;
    const std::size_t rows_a = ta == Trans::Yes ? k : m, rows_b = tb == Trans::Yes ? n : k;
    std::vector<double> a0(rows_a * lda), b0(rows_b * ldb), c0(m * ldc);
    fill_uniform(a0.data(), a0.size(), 11);
    fill_uniform(b0.data(), b0.size(), 12);
    fill_uniform(c0.data(), c0.size(), 13);
    std::vector<float> a(a0.begin(), a0.end()), b(b0.begin(), b0.end()), c(c0.begin(), c0.end());
    if (beta == 0.0f)
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) c[i * ldc + j] = std::nanf("");
    const std::vector<float> before = c;
    // The reference: the same float inputs, summed in double.
    std::vector<double> af(a.begin(), a.end()), bf(b.begin(), b.end()), ref(c.begin(), c.end());
    txl::gemm_naive(ta, tb, m, n, k, 1.0, af.data(), lda, bf.data(), ldb, double(beta), ref.data(), ldc);
    std::vector<double> bias0(n);
    fill_uniform(bias0.data(), n, 14);
    const std::vector<float> bias(bias0.begin(), bias0.end());
    if (with_bias)
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) ref[i * ldc + j] += double(bias[j]);
    txl::sgemm(kernel, ta, tb, m, n, k, a.data(), lda, b.data(), ldb, beta, c.data(), ldc,
               with_bias ? bias.data() : nullptr);
    bool padding_untouched = true;
    const double worst = worst_product_error(c, before, ref, m, n, ldc, padding_untouched);
    CHECK(padding_untouched);
    CHECK(worst <= 2e-7 * double(k + 2));  // |a|, |b| <= 1: rounding of k float sums
}

/// txl's own kernels: each one this CPU runs is tested; the others are reported as skipped, with
/// the reason (ctest's `kernel.*` entries also run the whole suite's float paths on each).
static std::vector<txl::GemmKernel> kernels_to_test() {
    std::vector<txl::GemmKernel> run;
    for (auto k : {txl::GemmKernel::avx512, txl::GemmKernel::avx2}) {
        if (txl::cpu_supports(k))
            run.push_back(k);
        else
            MESSAGE("skipped: txl's ", txl::kernel_name(k), " kernel: ", txl::kernel_unsupported_reason(k));
    }
    return run;
}

TEST_CASE("sgemm: each kernel agrees with the naive loop, every tile, edge, block, transpose, beta and bias") {
    using txl::Trans;
    // m hits the 8-, 6-, 4- and 1-row tiles and the row block boundaries (128 on AVX-512, 120
    // on AVX2); n partial panels and both panel widths (16, 32) and a column block boundary
    // (256); k a k-block boundary (256).
    for (auto kernel : kernels_to_test()) {
        CAPTURE(txl::kernel_name(kernel));
        for (auto ta : {Trans::No, Trans::Yes})
            for (auto tb : {Trans::No, Trans::Yes}) {
                for (std::size_t m : {1, 3, 4, 5, 6, 7, 8, 11, 13, 64, 121, 141})
                    for (std::size_t n : {1, 5, 8, 16, 17, 32, 45})
                        for (std::size_t k : {1, 6, 32})
                            for (float beta : {0.0f, 1.0f, 0.5f}) {
                                check_sgemm(kernel, ta, tb, m, n, k, beta);
                                check_sgemm(kernel, ta, tb, m, n, k, beta, true);  // sums start from a bias
                            }
                for (float beta : {0.0f, 1.0f, 0.5f})
                    for (bool with_bias : {false, true}) {
                        check_sgemm(kernel, ta, tb, 21, 300, 40, beta, with_bias);
                        check_sgemm(kernel, ta, tb, 19, 40, 600, beta, with_bias);
                        check_sgemm(kernel, ta, tb, 137, 290, 257, beta, with_bias);
                    }
                // B one panel wide (32 columns on AVX-512, 16 on AVX2) and stored densely: read
                // in place, not packed.
                for (std::size_t n : {16, 32})
                    for (std::size_t m : {3, 8, 29})
                        for (std::size_t k : {1, 32, 300}) check_sgemm(kernel, ta, tb, m, n, k, 0.5f, false, 0);
                check_sgemm(kernel, ta, tb, 5, 7, 0, 0.5f);        // k = 0: C = beta C
                check_sgemm(kernel, ta, tb, 5, 7, 0, 0.5f, true);  // k = 0: C = beta C + bias
            }
    }
}

TEST_CASE("sgemm: a row band gives bit-for-bit the rows of the whole product, on each kernel") {
    // What makes results independent of how gemm splits rows over threads.
    using txl::Trans;
    const std::size_t m = 50, n = 70, k = 300;
    std::vector<double> a0(m * k), b0(k * n);
    fill_uniform(a0.data(), a0.size(), 21);
    fill_uniform(b0.data(), b0.size(), 22);
    std::vector<float> a(a0.begin(), a0.end()), b(b0.begin(), b0.end()), whole(m * n), band(m * n);
    for (auto kernel : kernels_to_test()) {
        CAPTURE(txl::kernel_name(kernel));
        txl::sgemm(kernel, Trans::No, Trans::No, m, n, k, a.data(), k, b.data(), n, 0.0f, whole.data(), n);
        for (std::size_t i0 : {0, 9, 17, 40}) {
            const std::size_t rows = std::min<std::size_t>(9, m - i0);
            txl::sgemm(kernel, Trans::No, Trans::No, rows, n, k, a.data() + i0 * k, k, b.data(), n, 0.0f,
                       band.data() + i0 * n, n);
            for (std::size_t i = i0 * n; i < (i0 + rows) * n; ++i) CHECK(band[i] == whole[i]);
        }
    }
}

TEST_CASE("gemm_kernel: TXL_GEMM names a kernel; an unknown name or a kernel the CPU lacks is an error") {
    using txl::GemmKernel;
    CHECK(txl::gemm_kernel_named(nullptr) == txl::best_gemm_kernel());
    CHECK(txl::gemm_kernel_named("auto") == txl::best_gemm_kernel());
    CHECK(txl::gemm_kernel_named("blas") == GemmKernel::blas);
    CHECK_THROWS_WITH_AS(txl::gemm_kernel_named("avx9"), "TXL_GEMM=avx9: expected blas, avx2, avx512 or auto",
                         txl::error);
    for (auto k : {GemmKernel::avx512, GemmKernel::avx2}) {
        if (txl::cpu_supports(k)) {
            CHECK(txl::gemm_kernel_named(txl::kernel_name(k)) == k);
        } else {
            CHECK_THROWS_AS(txl::gemm_kernel_named(txl::kernel_name(k)), txl::error);
            CHECK_THROWS_AS(
                txl::sgemm(k, txl::Trans::No, txl::Trans::No, 1, 1, 1, nullptr, 1, nullptr, 1, 0.0f, nullptr, 1),
                txl::error);
        }
    }
    CHECK_THROWS_AS(
        txl::sgemm(GemmKernel::blas, txl::Trans::No, txl::Trans::No, 1, 1, 1, nullptr, 1, nullptr, 1, 0.0f, nullptr, 1),
        txl::error);
    // AVX-512 implies AVX2 here: the best kernel is one the CPU runs.
    CHECK(txl::cpu_supports(txl::best_gemm_kernel()));
}
