#include "gradcheck.hpp"

using namespace txl_test;

template <class S>
void compare_gemm(txl::Trans ta, txl::Trans tb, S beta, std::size_t m = 5) {
    // Strided slices: A, B and C live inside wider matrices (leading dimension > width).
    // m = 1 takes the matrix-vector path.
    const std::size_t n = 4, k = 3, lda = 9, ldb = 7, ldc = 6;
    std::vector<double> a0(12 * lda), b0(12 * ldb), c0(m * ldc);
    fill_uniform(a0.data(), a0.size(), 1);
    fill_uniform(b0.data(), b0.size(), 2);
    fill_uniform(c0.data(), c0.size(), 3);
    std::vector<S> a(a0.begin(), a0.end()), b(b0.begin(), b0.end()), c1(c0.begin(), c0.end()),
        c2 = c1;
    txl::gemm(ta, tb, m, n, k, S(1.5), a.data() + 1, lda, b.data() + 2, ldb, beta, c1.data(), ldc);
    txl::gemm_naive(ta, tb, m, n, k, S(1.5), a.data() + 1, lda, b.data() + 2, ldb, beta, c2.data(),
                    ldc);
    for (std::size_t i = 0; i < c1.size(); ++i)
        CHECK(double(c1[i]) == doctest::Approx(double(c2[i])).epsilon(std::is_same_v<S, float> ? 1e-5 : 1e-13));
}

TEST_CASE("gemm: BLAS agrees with the naive loop on strided, transposed slices") {
    using txl::Trans;
    for (auto ta : {Trans::No, Trans::Yes})
        for (auto tb : {Trans::No, Trans::Yes})
            for (double beta : {0.0, 1.0}) {
                for (std::size_t m : {1, 5}) {
                    compare_gemm<double>(ta, tb, beta, m);
                    compare_gemm<float>(ta, tb, float(beta), m);
                }
            }
}

TEST_CASE("small_gemm: agrees with the naive loop, every tile and edge, strided and transposed") {
    using txl::Trans;
    // Sizes that hit the 8-, 4- and 1-row tiles and the 2-batch, 1-batch and single columns.
    for (std::size_t m : {1, 3, 4, 7, 8, 13, 64})
        for (std::size_t n : {1, 5, 16, 17, 32, 45, 128})
            for (std::size_t k : {1, 6, 32})
                for (auto ta : {Trans::No, Trans::Yes})
                    for (auto tb : {Trans::No, Trans::Yes}) {
                        CAPTURE(m);
                        CAPTURE(n);
                        CAPTURE(k);
                        const std::size_t lda = (ta == Trans::Yes ? m : k) + 3,
                                          ldb = (tb == Trans::Yes ? k : n) + 2, ldc = n + 5;
                        const std::size_t rows_a = ta == Trans::Yes ? k : m, rows_b = tb == Trans::Yes ? n : k;
                        std::vector<double> a0(rows_a * lda), b0(rows_b * ldb);
                        fill_uniform(a0.data(), a0.size(), 11);
                        fill_uniform(b0.data(), b0.size(), 12);
                        std::vector<float> a(a0.begin(), a0.end()), b(b0.begin(), b0.end()),
                            c1(m * ldc, -7.0f), c2(m * ldc, -7.0f), scratch(n * k);
                        txl::small_gemm(ta, tb, m, n, k, a.data(), lda, b.data(), ldb, c1.data(), ldc,
                                        scratch.data());
                        txl::gemm_naive(ta, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f,
                                        c2.data(), ldc);
                        float worst = 0;
                        for (std::size_t i = 0; i < c1.size(); ++i)
                            worst = std::max(worst, std::abs(c1[i] - c2[i]));
                        CHECK(worst <= 1e-5f * float(k));  // padding columns untouched: both -7
                    }
}

TEST_CASE("ensure_shape: reallocates only when the shape changes") {
    txl::tensor<float, 2> t;
    txl::ensure_shape(t, {3, 4});
    const float* p = t.data();
    txl::ensure_shape(t, {3, 4});
    CHECK(t.data() == p);
    txl::ensure_shape(t, {2, 5});
    CHECK(t.shape()[1] == 5);
}

TEST_CASE("add_column_sums and zero_grad") {
    const double x[6] = {1, 2, 3, 4, 5, 6};
    double y[3] = {1, 0, 0};
    txl::add_column_sums(x, 2, 3, y);
    CHECK(y[0] == 6);
    CHECK(y[2] == 9);
    txl::Linear<double> lin(2, 2, true);
    lin.weight.grad.fill(3);
    txl::zero_grad(lin);
    CHECK(lin.weight.grad(1, 1) == 0);
}
