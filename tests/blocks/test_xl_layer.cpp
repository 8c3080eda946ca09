#include "../gradcheck.hpp"

using namespace txl_test;

using C = txl::Config<double, 8, 2, 12, 1, 8>;
using Layer = txl::TransformerXLLayer<C>;

TEST_CASE("XLLayer: gradients, no memory") { expect_report(txl::testing::check_layer<Layer>(0, 3, 2, 200, 0.0)); }

TEST_CASE("XLLayer: gradients, memory (M > T): LayerNorm gets gradient from memory rows") {
    expect_report(txl::testing::check_layer<Layer>(4, 2, 2, 204, 0.0));
}

TEST_CASE("XLLayer: gradients with dropout everywhere (fixed masks)") {
    expect_report(txl::testing::check_layer<Layer>(2, 3, 2, 202, 0.2));
}

// That no gradient flows into the memory is what the gradient checks with M > 0 prove: their
// finite differences hold the memory fixed (and the backward takes no memory to write to). Here:
// the layer reads the memory, so y moves with it.
TEST_CASE("XLLayer: the memory is an input: changing it moves y") {
    Layer layer;
    randomize(layer, 9);
    Layer::Cache cache;
    const std::size_t M = 2, T = 2, B = 1;
    std::vector<double> x(T * B * 8), mem(M * B * 8), y1(T * B * 8), y2(T * B * 8);
    fill_uniform(x.data(), x.size(), 1);
    fill_uniform(mem.data(), mem.size(), 2);
    layer.forward(x.data(), mem.data(), M, T, B, y1.data(), cache, nullptr);
    mem[3] += 0.5;
    layer.forward(x.data(), mem.data(), M, T, B, y2.data(), cache, nullptr);
    double moved = 0;
    for (std::size_t i = 0; i < y1.size(); ++i) moved = std::max(moved, std::abs(y1[i] - y2[i]));
    CHECK(moved > 1e-6);
}
