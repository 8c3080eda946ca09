// bf16 products (detail/bf16gemm.hpp): the rounding, each kernel against the exact sum of the
// rounded operands, bands, the kernel choice, and the precision a scope sets.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "../fixtures.hpp"
#include "../gradcheck.hpp"

using namespace txl_test;
using txl::Bf16Kernel;
using txl::Trans;

/// The bf16 kernels this CPU runs (portable always); the others are reported as skipped.
static std::vector<Bf16Kernel> bf16_kernels_to_test() {
    std::vector<Bf16Kernel> run{Bf16Kernel::portable};
    for (auto k : {Bf16Kernel::avx512_bf16, Bf16Kernel::amx}) {
        if (txl::cpu_supports(k))
            run.push_back(k);
        else
            MESSAGE("skipped: bf16 kernel ", txl::kernel_name(k), ": ", txl::kernel_unsupported_reason(k));
    }
    return run;
}

static std::uint32_t bits(float x) {
    std::uint32_t u;
    std::memcpy(&u, &x, 4);
    return u;
}
static float from_bits(std::uint32_t u) {
    float x;
    std::memcpy(&x, &u, 4);
    return x;
}

/// The fp32 product of the portable kernel: txl's fp32 product on the calling thread.
static void fp32_product(std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a, std::size_t lda,
                         const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc, const float* bias) {
    txl::detail::gemm_one_thread_own_precision(Trans::No, Trans::No, int(m), int(n), int(k), alpha, a, int(lda), b,
                                               int(ldb), beta, c, int(ldc), bias);
}

TEST_CASE("bf16: rounding to nearest, ties to even; NaN stays NaN, subnormals become zero") {
    CHECK(txl::to_bf16(1.0f) == 0x3f80);
    CHECK(txl::to_bf16(-2.0f) == 0xc000);
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even one (1).
    CHECK(txl::round_bf16(1.0f + std::ldexp(1.0f, -8)) == 1.0f);
    // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
    CHECK(txl::round_bf16(1.0f + 3 * std::ldexp(1.0f, -8)) == 1.0f + std::ldexp(1.0f, -6));
    CHECK(txl::round_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)) == 1.0f + std::ldexp(1.0f, -7));
    CHECK(txl::round_bf16(std::numeric_limits<float>::infinity()) == std::numeric_limits<float>::infinity());
    CHECK(std::isnan(txl::round_bf16(std::nanf(""))));
    CHECK(std::isnan(txl::round_bf16(from_bits(0x7f800001u))));  // a NaN whose payload would round to inf
    CHECK(bits(txl::round_bf16(std::numeric_limits<float>::denorm_min())) == 0u);
    CHECK(bits(txl::round_bf16(-std::numeric_limits<float>::denorm_min())) == 0x80000000u);
    // The largest float rounds up to infinity, as it does in hardware.
    CHECK(txl::round_bf16(std::numeric_limits<float>::max()) == std::numeric_limits<float>::infinity());
    // Every representable bf16 value comes back unchanged.
    for (std::uint32_t h = 0; h < 0x10000u; h += 7)
        if ((h & 0x7f80u) != 0 && (h & 0x7f80u) != 0x7f80u) CHECK(txl::to_bf16(txl::from_bf16(std::uint16_t(h))) == h);
}

TEST_CASE("bf16: A times the identity is bf16(A) bit for bit on each kernel (the operands are rounded alike)") {
    // Values that probe the rounding: ties, subnormals, large and small magnitudes.
    const std::size_t m = 37, k = 45;
    std::vector<float> a(m * k), eye(k * k, 0.0f), c(m * k);
    std::uint32_t state = 12345;
    for (auto& x : a) {
        state = state * 1664525u + 1013904223u;
        x = from_bits((state & 0x80ffffffu) | ((0x60u + (state >> 24) % 0x40u) << 23));
    }
    a[3] = 1.0f + std::ldexp(1.0f, -8);
    a[4] = std::numeric_limits<float>::denorm_min();
    a[5] = -0.0f;
    for (std::size_t i = 0; i < k; ++i) eye[i * k + i] = 1.0f;
    for (auto kernel : bf16_kernels_to_test()) {
        CAPTURE(txl::kernel_name(kernel));
        for (auto ta : {Trans::No, Trans::Yes}) {
            std::vector<float> at(a);
            if (ta == Trans::Yes)
                for (std::size_t i = 0; i < m; ++i)
                    for (std::size_t p = 0; p < k; ++p) at[p * m + i] = a[i * k + p];
            txl::bf16_gemm(kernel, ta, Trans::No, m, k, k, 1.0f, at.data(), ta == Trans::Yes ? m : k, eye.data(), k,
                           0.0f, c.data(), k, nullptr, fp32_product);
            std::size_t same = 0;
            for (std::size_t i = 0; i < m * k; ++i) same += bits(c[i]) == bits(txl::round_bf16(a[i])) || c[i] == 0.0f;
            CHECK(same == m * k);
        }
    }
}

/// `bf16_gemm` on `kernel` against the exact sum (double) of the rounded operands:
/// C = alpha op(A) op(B) + bias + beta C, C strided; beta = 0 ignores what C held (NaN here).
static void check_bf16(Bf16Kernel kernel, Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, float beta,
                       bool with_bias, float alpha = 1.0f) {
    CAPTURE(m);
    CAPTURE(n);
    CAPTURE(k);
    CAPTURE(beta);
    CAPTURE(alpha);
    CAPTURE(int(ta));
    CAPTURE(int(tb));
    const std::size_t lda = (ta == Trans::Yes ? m : k) + 3, ldb = (tb == Trans::Yes ? k : n) + 2, ldc = n + 5;
    const std::size_t rows_a = ta == Trans::Yes ? k : m, rows_b = tb == Trans::Yes ? n : k;
    std::vector<double> a0(rows_a * lda), b0(rows_b * ldb), c0(m * ldc), bias0(n);
    fill_uniform(a0.data(), a0.size(), 31);
    fill_uniform(b0.data(), b0.size(), 32);
    fill_uniform(c0.data(), c0.size(), 33);
    fill_uniform(bias0.data(), n, 34);
    std::vector<float> a(a0.begin(), a0.end()), b(b0.begin(), b0.end()), c(c0.begin(), c0.end());
    const std::vector<float> bias(bias0.begin(), bias0.end());
    if (beta == 0.0f)
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) c[i * ldc + j] = std::nanf("");
    const std::vector<float> before = c;
    std::vector<double> ar(a.size()), br(b.size()), ref(c.begin(), c.end());
    for (std::size_t i = 0; i < a.size(); ++i) ar[i] = txl::round_bf16(a[i]);
    for (std::size_t i = 0; i < b.size(); ++i) br[i] = txl::round_bf16(b[i]);
    txl::gemm_naive(ta, tb, m, n, k, double(alpha), ar.data(), lda, br.data(), ldb, double(beta), ref.data(), ldc);
    if (with_bias)
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) ref[i * ldc + j] += double(bias[j]);
    txl::bf16_gemm(kernel, ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc,
                   with_bias ? bias.data() : nullptr, fp32_product);
    bool padding_untouched = true;
    const double worst = worst_product_error(c, before, ref, m, n, ldc, padding_untouched);
    CHECK(padding_untouched);
    // |a|, |b| <= 1 and the products of bf16 values exact in fp32: only fp32's k additions round.
    CHECK(worst <= 2e-7 * double(k + 3));
}

TEST_CASE("bf16_gemm: each kernel equals the fp32 sum of the rounded operands, every tile, edge, block and transpose") {
    // m around the 8- and 32-row tiles and the 128-row block; n around the 16-column AMX tile,
    // the 32-column panel and the 256-column block; k odd (a last pair half zero), around a
    // 16-pair AMX step and the 256 k-block.
    for (auto kernel : bf16_kernels_to_test()) {
        CAPTURE(txl::kernel_name(kernel));
        for (auto ta : {Trans::No, Trans::Yes})
            for (auto tb : {Trans::No, Trans::Yes}) {
                for (std::size_t m : {1, 7, 8, 9, 31, 33, 64})
                    for (std::size_t n : {1, 15, 17, 32, 45})
                        for (std::size_t k : {1, 2, 31, 32, 33, 64})
                            for (float beta : {0.0f, 1.0f, 0.5f})
                                check_bf16(kernel, ta, tb, m, n, k, beta, beta != 1.0f);
                for (float beta : {0.0f, 0.5f})
                    for (bool with_bias : {false, true}) {
                        check_bf16(kernel, ta, tb, 21, 300, 40, beta, with_bias);
                        check_bf16(kernel, ta, tb, 19, 40, 600, beta, with_bias, 1.5f);
                        check_bf16(kernel, ta, tb, 137, 290, 257, beta, with_bias);
                    }
                check_bf16(kernel, ta, tb, 5, 7, 0, 0.5f, true);  // k = 0: C = beta C + bias
            }
    }
}

TEST_CASE("bf16_gemm: the native kernels agree with the portable one; a row band gives the rows of the whole") {
    const std::size_t m = 70, n = 90, k = 300;
    std::vector<double> a0(m * k), b0(k * n);
    fill_uniform(a0.data(), a0.size(), 41);
    fill_uniform(b0.data(), b0.size(), 42);
    std::vector<float> a(a0.begin(), a0.end()), b(b0.begin(), b0.end()), portable(m * n), whole(m * n), band(m * n);
    txl::bf16_gemm(Bf16Kernel::portable, Trans::No, Trans::Yes, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f,
                   portable.data(), n, nullptr, fp32_product);
    for (auto kernel : bf16_kernels_to_test()) {
        CAPTURE(txl::kernel_name(kernel));
        txl::bf16_gemm(kernel, Trans::No, Trans::Yes, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, whole.data(), n,
                       nullptr, fp32_product);
        double worst = 0;
        for (std::size_t i = 0; i < m * n; ++i) worst = std::max(worst, double(std::abs(whole[i] - portable[i])));
        CHECK(worst <= 2e-7 * double(k));  // the same exact products, added in another order
        for (std::size_t i0 : {0, 9, 17, 40, 61}) {
            const std::size_t rows = std::min<std::size_t>(9, m - i0);
            txl::bf16_gemm(kernel, Trans::No, Trans::Yes, rows, n, k, 1.0f, a.data() + i0 * k, k, b.data(), k, 0.0f,
                           band.data() + i0 * n, n, nullptr, fp32_product);
            for (std::size_t i = i0 * n; i < (i0 + rows) * n; ++i) CHECK(band[i] == whole[i]);
        }
    }
}

TEST_CASE("bf16 precision: a scope sends gemm's float products to bf16, in parallel tasks too, and ends") {
    const std::size_t m = 300, n = 200, k = 150;  // large enough to be cut into bands over threads
    std::vector<double> a0(m * k), b0(k * n);
    fill_uniform(a0.data(), a0.size(), 51);
    fill_uniform(b0.data(), b0.size(), 52);
    std::vector<float> a(a0.begin(), a0.end()), b(b0.begin(), b0.end()), fp32(m * n), bf16(m * n), ref(m * n),
        in_task(m * n);
    const Bf16Kernel kernel = txl::bf16_kernel();
    txl::bf16_gemm(kernel, Trans::No, Trans::No, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, ref.data(), n, nullptr,
                   fp32_product);
    txl::gemm(Trans::No, Trans::No, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, fp32.data(), n);
    {
        txl::PrecisionScope scope(txl::Precision::bf16);
        CHECK(txl::gemm_precision() == txl::Precision::bf16);
        txl::gemm(Trans::No, Trans::No, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, bf16.data(), n);
        // A product inside a task (the attention's per-head products) runs at the caller's precision.
        txl::parallel_tasks(3, [&](std::size_t t) {
            const std::size_t i0 = t * 100;
            txl::gemm(Trans::No, Trans::No, 100, n, k, 1.0f, a.data() + i0 * k, k, b.data(), n, 0.0f,
                      in_task.data() + i0 * n, n);
        });
        // double products keep their precision.
        std::vector<double> d(4);
        const double x[2] = {1.0 + 1e-9, 1.0};
        txl::gemm(Trans::No, Trans::No, 2, 2, 1, 1.0, x, 1, x, 2, 0.0, d.data(), 2);
        CHECK(d[0] == (1.0 + 1e-9) * (1.0 + 1e-9));
    }
    CHECK(txl::gemm_precision() == txl::Precision::fp32);
    CHECK(bf16 == ref);
    CHECK(in_task == ref);
    // bf16's bound against fp32: each operand within 2^-8 relative, |a|, |b| <= 1.
    double worst = 0;
    for (std::size_t i = 0; i < m * n; ++i) worst = std::max(worst, double(std::abs(bf16[i] - fp32[i])));
    CHECK(worst <= (std::ldexp(1.0, -7) + std::ldexp(1.0, -16)) * double(k) + 1e-5);
    CHECK(worst > 0);  // the rounding shows
}

TEST_CASE("bf16_kernel: TXL_GEMM_BF16 names a kernel; an unknown name or a kernel the CPU lacks is an error") {
    CHECK(txl::bf16_kernel_named("portable") == Bf16Kernel::portable);
    CHECK_THROWS_WITH_AS(txl::bf16_kernel_named("avx9"),
                         "TXL_GEMM_BF16=avx9: expected amx, avx512_bf16, portable or auto", txl::error);
    const bool native = txl::cpu_supports(Bf16Kernel::amx) || txl::cpu_supports(Bf16Kernel::avx512_bf16);
    if (native)
        CHECK(txl::bf16_kernel_named("auto") ==
              (txl::cpu_supports(Bf16Kernel::amx) ? Bf16Kernel::amx : Bf16Kernel::avx512_bf16));
    else
        CHECK_THROWS_AS(txl::bf16_kernel_named(nullptr), txl::error);
    for (auto k : {Bf16Kernel::avx512_bf16, Bf16Kernel::amx}) {
        if (txl::cpu_supports(k)) {
            CHECK(txl::bf16_kernel_named(txl::kernel_name(k)) == k);
        } else {
            CHECK_THROWS_AS(txl::bf16_kernel_named(txl::kernel_name(k)), txl::error);
            float x = 0;
            CHECK_THROWS_AS(txl::bf16_gemm(k, Trans::No, Trans::No, 1, 1, 1, 1.0f, &x, 1, &x, 1, 0.0f, &x, 1, nullptr,
                                           fp32_product),
                            txl::error);
        }
    }
}
