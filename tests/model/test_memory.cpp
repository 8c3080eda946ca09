#include <doctest/doctest.h>

#include <txl/model/memory.hpp>

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
    CHECK(mem.states[0](0, 0, 0) == 2.0);  // 2, 3, 4, 5
    CHECK(mem.states[0](3, 1, 2) == 5.0);
    s[0] = segment(6, 10.0);  // longer than mem_len: only the new segment's tail remains
    mem.update(s.data(), 1, 4);
    CHECK(mem.states[0](0, 0, 0) == 12.0);
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
    const double* a = mem.states[0].data();
    mem.update(s.data(), 1, 4);
    mem.update(s.data(), 1, 4);
    CHECK(mem.states[0].data() == a);  // ping-pong between two buffers of the same shape
}

// ---------------------------------------------------------------------------------------------
// The key/value cache follows the memory block (issue: a memory keeping other rows than the
// last M must not meet the keys and values of the last M).
// ---------------------------------------------------------------------------------------------
#include "../gradcheck.hpp"
#include "../../examples/custom_blocks/blocks.hpp"

namespace {
using CM = txl::Config<double, 8, 2, 12, 2, 64>;

/// The strided rule, but saying nothing about how it keeps rows: no cache for it.
template <class C>
struct SilentStridedMemory : custom::StridedMemory<C> {
    static constexpr bool keeps_rows = false;
};

/// Five segments (prompt-like T = 3 and sampling-like T = 1) through two memories, one with
/// the key/value cache on; the largest difference of their logits.
template <class Model>
double cache_on_off_difference(std::size_t mem_len, bool expect_cached) {
    Model model(7, 2);
    txl_test::randomize(model, 8);
    typename Model::Cache a, b;
    txl::Memory<double> plain, cached;
    cached.reuse_keys_values = true;
    std::mt19937_64 g(4);
    double worst = 0;
    for (std::size_t seg = 0; seg < 5; ++seg) {
        const std::size_t T = seg % 2 ? 1 : 3;
        auto x = txl::tensor<std::int64_t, 2>::from_shape({T, 2});
        for (auto& v : x) v = std::int64_t(g() % 7);
        model.forward(x, plain, a);
        model.forward(x, cached, b);
        CHECK(b.reused_keys_values == (expect_cached && seg > 0));
        for (std::size_t i = 0; i < a.logits.size(); ++i)
            worst = std::max(worst, std::abs(a.logits.data()[i] - b.logits.data()[i]));
        model.update_memory(plain, a, mem_len);
        model.update_memory(cached, b, mem_len);
        CHECK(cached.length() == plain.length());
        CHECK(cached.has_keys_values() == expect_cached);
    }
    return worst;
}
}  // namespace

TEST_CASE("Memory::reuse_keys_values: a memory block keeping other rows than the last M caches by its own rule") {
    using Strided = txl::AutoregressiveModel<CM, txl::TransformerXLLayer<CM>, custom::StridedMemory<CM>>;
    static_assert(Strided::reuses_keys_values);
    CHECK(cache_on_off_difference<Strided>(4, true) < 1e-12);   // truncating: mem_len 4
    CHECK(cache_on_off_difference<Strided>(40, true) < 1e-12);  // never truncating
    // The same rule unannounced: no cache, so the cache flag changes nothing.
    using Silent = txl::AutoregressiveModel<CM, txl::TransformerXLLayer<CM>, SilentStridedMemory<CM>>;
    static_assert(!Silent::reuses_keys_values);
    CHECK(cache_on_off_difference<Silent>(4, false) == 0.0);
    // labml's rule, as before.
    CHECK(cache_on_off_difference<txl::TransformerXL<CM>>(4, true) < 1e-12);
}

TEST_CASE("StridedMemory: the old memory, then every second row of the segment ending with its last") {
    const custom::StridedMemory<CM> rule;
    txl::Memory<double> mem;
    std::vector<txl::tensor<double, 3>> s{segment(5, 0.0)};  // positions 0..4: keeps 0, 2, 4
    rule.update(mem, s.data(), 1, 10);
    REQUIRE(mem.length() == 3);
    CHECK(mem.states[0](0, 0, 0) == 0.0);
    CHECK(mem.states[0](1, 1, 2) == 2.0);
    CHECK(mem.states[0](2, 0, 1) == 4.0);
    s[0] = segment(4, 5.0);  // positions 5..8: keeps 6, 8; then the last 4 of 0 2 4 6 8
    rule.update(mem, s.data(), 1, 4);
    REQUIRE(mem.length() == 4);
    CHECK(mem.states[0](0, 0, 0) == 2.0);
    CHECK(mem.states[0](2, 0, 0) == 6.0);
    CHECK(mem.states[0](3, 1, 2) == 8.0);
}

TEST_CASE("Memory: columns taken and put back are the memory again; a share holds its streams only") {
    txl::Memory<double> mem;
    for (std::size_t l = 0; l < 2; ++l) {
        auto t = txl::tensor<double, 3>::from_shape({3, 4, 2});  // [M, B, d]
        for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = double(100 * l + i);
        mem.states.push_back(t);
    }
    txl::Memory<double> part, rebuilt;
    for (std::size_t b0 : {0, 2}) {
        mem.take_columns(b0, 2, part);
        REQUIRE(part.states.size() == 2);
        CHECK(part.states[1].shape()[1] == 2);
        // Row 2, column b0 + 1, feature 1 of layer 1, seen from the share at column 1.
        CHECK(part.states[1](2, 1, 1) == mem.states[1](2, b0 + 1, 1));
        rebuilt.put_columns(part, b0, 4);
    }
    for (std::size_t l = 0; l < 2; ++l) CHECK(rebuilt.states[l] == mem.states[l]);
}
