#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <vector>

#include <txl/blocks/dropout.hpp>
#include <txl/core/random.hpp>

TEST_CASE("Dropout: keeps 1 - p of the values, scaled by 1/(1-p); backward uses the mask") {
    txl::Dropout<double> d;
    d.p = 0.25;
    txl::Rng rng(1);
    CHECK(!d.active(nullptr));
    CHECK(d.active(&rng));
    std::vector<double> x(10000, 1.0), mask(10000);
    d.forward(x.data(), x.size(), mask.data(), rng);
    double kept = 0;
    for (double v : x) {
        CHECK((v == 0.0 || v == doctest::Approx(1.0 / 0.75)));
        kept += v != 0.0;
    }
    CHECK(kept / 10000 == doctest::Approx(0.75).epsilon(0.03));
    std::vector<double> g(10000, 2.0);
    txl::Dropout<double>::backward(g.data(), g.size(), mask.data());
    CHECK(g[0] == 2.0 * mask[0]);
    txl::Dropout<double> off;
    CHECK(!off.active(&rng));  // p = 0: identity
}

TEST_CASE("Dropout masks: the kept fraction, no pattern between neighbours or masks, one draw per mask") {
    const std::size_t n = 1 << 20;
    for (double p : {0.05, 0.1, 0.25, 0.5, 0.9}) {
        CAPTURE(p);
        txl::Dropout<float> d;
        d.p = float(p);
        txl::Rng rng(7);
        std::vector<float> x(n, 1.0f), m1(n), m2(n);
        d.forward(x.data(), n, m1.data(), rng);
        std::vector<float> y(n, 1.0f);
        d.forward(y.data(), n, m2.data(), rng);
        // Kept fraction within 5 standard deviations of 1 - p.
        const double sd = std::sqrt(p * (1 - p) / double(n));
        std::size_t kept = 0, both_next = 0, both_masks = 0, other = 0;
        for (std::size_t i = 0; i < n; ++i) {
            kept += m1[i] != 0;
            both_next += i + 1 < n && m1[i] != 0 && m1[i + 1] != 0;
            both_masks += m1[i] != 0 && m2[i] != 0;
            other += !(m1[i] == 0 || m1[i] == float(1 / (1 - float(p))));
        }
        CHECK(other == 0);
        const double q = 1 - p;
        CHECK(std::abs(double(kept) / n - q) < 5 * sd);
        // Neighbours and the same element of two masks are kept together with probability (1-p)^2.
        const double sd2 = std::sqrt(q * q * (1 - q * q) / double(n));
        CHECK(std::abs(double(both_next) / (n - 1) - q * q) < 5 * sd2);
        CHECK(std::abs(double(both_masks) / n - q * q) < 5 * sd2);
        // One 64-bit draw per mask: a generator advanced by two draws is where `rng` is now.
        txl::Rng ref(7);
        ref(), ref();
        CHECK(ref() == rng());
    }
    // The same generator state gives the same mask; x *= mask.
    txl::Dropout<double> d;
    d.p = 0.3;
    txl::Rng a(3), b(3);
    std::vector<double> x(1000, 2.0), y(1000, 2.0), ma(1000), mb(1000);
    d.forward(x.data(), 1000, ma.data(), a);
    d.forward(y.data(), 1000, mb.data(), b);
    CHECK(ma == mb);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < 1000; ++i) wrong += x[i] != 2.0 * ma[i];
    CHECK(wrong == 0);
    CHECK(txl::Dropout<double>::threshold(0.5) == 2147483648U);
    CHECK(txl::Dropout<double>::threshold(0.0) == 0U);
    CHECK(txl::Dropout<double>::threshold(0.9999999999999) == 4294967295U);
}
