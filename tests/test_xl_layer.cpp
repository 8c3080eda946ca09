#include "gradcheck.hpp"

using namespace txl_test;

using C = txl::Config<double, 8, 2, 12, 1, 8>;
using Layer = txl::TransformerXLLayer<C>;

template <class Layer = ::Layer>
void check_layer(std::size_t M, std::size_t T, std::size_t B, double dropout) {
    CAPTURE(M);
    CAPTURE(T);
    CAPTURE(B);
    CAPTURE(dropout);
    Layer layer;
    layer.set_dropout(dropout);
    randomize(layer, 200 + unsigned(M));
    typename Layer::Cache cache;
    std::vector<double> x(T * B * 8), mem(M * B * 8), y(T * B * 8), w(T * B * 8), dx(T * B * 8);
    fill_uniform(x.data(), x.size(), 61, 1.0);
    fill_uniform(mem.data(), mem.size(), 62, 1.0);
    fill_uniform(w.data(), w.size(), 63);
    auto f = [&] {
        txl::Rng rng(5);
        layer.forward(x.data(), M ? mem.data() : nullptr, M, T, B, y.data(), cache, dropout > 0 ? &rng : nullptr);
        return dot(y.data(), w.data(), y.size());
    };
    txl::zero_grad(layer);
    f();
    layer.backward(w.data(), dx.data(), cache);
    auto checked = parameters_of(layer);
    checked.push_back({"input x", x.data(), dx.data(), x.size()});
    expect_gradients(checked, f);
}

TEST_CASE("XLLayer: gradients, no memory") { check_layer(0, 3, 2, 0.0); }

using PostNorm = txl::PostNormXLLayer<txl::RelativeMultiHeadAttention<C>, txl::FeedForward<C>>;
using PostNormSin = txl::PostNormXLLayer<txl::SinusoidalRelativeAttention<C>, txl::FeedForward<C>>;
TEST_CASE("PostNormXLLayer: gradients (M = 0, M > T, dropout with fixed masks), both attentions") {
    check_layer<PostNorm>(0, 3, 2, 0.0);
    check_layer<PostNorm>(4, 2, 2, 0.0);
    check_layer<PostNorm>(2, 3, 2, 0.2);
    check_layer<PostNormSin>(4, 2, 2, 0.0);
}
TEST_CASE("PostNormXLLayer in a model: gradients over two segments") {
    using D = txl::Config<double, 8, 2, 12, 2, 16>;
    check_model_gradients<
        txl::AutoregressiveModel<D, txl::PostNormXLLayer<txl::SinusoidalRelativeAttention<D>, txl::FeedForward<D>>>>(
        3, 2, 2, 4);
}
TEST_CASE("XLLayer: gradients, memory (M > T): LayerNorm gets gradient from memory rows") { check_layer(4, 2, 2, 0.0); }
TEST_CASE("XLLayer: gradients with dropout everywhere (fixed masks)") { check_layer(2, 3, 2, 0.2); }

// That no gradient flows into the memory is what the gradient checks with M > 0 prove: their
// finite differences hold the memory fixed. Here: the layer reads the memory (y moves with it)
// and its backward leaves the memory untouched.
TEST_CASE("XLLayer: the memory is an input: changing it moves y; backward leaves it as it was") {
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
    const std::vector<double> before = mem;
    std::vector<double> dx(x.size());
    layer.backward(y1.data(), dx.data(), cache);
    CHECK(mem == before);
}
