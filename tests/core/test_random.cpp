#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <vector>

#include <txl/blocks/dropout.hpp>
#include <txl/core/random.hpp>

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
