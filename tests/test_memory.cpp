#include <doctest/doctest.h>

#include <txl/memory.hpp>

namespace {
txl::tensor<double, 3> segment(std::size_t T, double start) {
    txl::tensor<double, 3> x = txl::tensor<double, 3>::from_shape({T, 2, 3});
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t i = 0; i < 6; ++i) x.data()[t * 6 + i] = start + double(t);
    return x;
}
}  // namespace

TEST_CASE("Memory: merge keeps the last mem_len positions, oldest first") {
    txl::Memory<double> mem;
    CHECK(mem.empty());
    std::vector<txl::tensor<double, 3>> s{segment(3, 0.0)};  // positions 0, 1, 2
    mem.update(s.data(), 1, 4);
    CHECK(mem.length() == 3);
    s[0] = segment(3, 3.0);  // positions 3, 4, 5
    mem.update(s.data(), 1, 4);
    REQUIRE(mem.length() == 4);
    CHECK(mem.layers[0](0, 0, 0) == 2.0);  // 2, 3, 4, 5
    CHECK(mem.layers[0](3, 1, 2) == 5.0);
    s[0] = segment(6, 10.0);  // longer than mem_len: only the new segment's tail remains
    mem.update(s.data(), 1, 4);
    CHECK(mem.layers[0](0, 0, 0) == 12.0);
    mem.update(s.data(), 1, 0);  // mem_len = 0: no memory
    CHECK(mem.empty());
}

TEST_CASE("Memory: a segment of another batch size is rejected") {
    txl::Memory<double> mem;
    std::vector<txl::tensor<double, 3>> s{segment(2, 0.0)};
    mem.update(s.data(), 1, 4);
    std::vector<txl::tensor<double, 3>> other{txl::tensor<double, 3>::from_shape({2, 5, 3})};
    CHECK_THROWS_AS(mem.update(other.data(), 1, 4), txl::shape_error);
}

TEST_CASE("Memory: steady-state updates reuse their buffers") {
    txl::Memory<double> mem;
    std::vector<txl::tensor<double, 3>> s{segment(2, 0.0)};
    mem.update(s.data(), 1, 4);
    mem.update(s.data(), 1, 4);
    mem.update(s.data(), 1, 4);
    const double* a = mem.layers[0].data();
    mem.update(s.data(), 1, 4);
    mem.update(s.data(), 1, 4);
    CHECK(mem.layers[0].data() == a);  // ping-pong between two buffers of the same shape
}
