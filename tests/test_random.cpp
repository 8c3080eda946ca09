#include <doctest/doctest.h>

#include <sstream>

#include <txl/random.hpp>

TEST_CASE("Rng: a seed repeats, and its state round-trips through a stream") {
    txl::Rng a(5), b(5);
    std::vector<double> x(10), y(10);
    txl::init_uniform(x.data(), 10, 1.0, a);
    txl::init_uniform(y.data(), 10, 1.0, b);
    CHECK(x == y);
    std::stringstream s;
    s << a;
    txl::Rng c;
    s >> c;
    CHECK(a() == c());
}

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
