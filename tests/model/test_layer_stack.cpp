#include "../gradcheck.hpp"

using namespace txl_test;

using C = txl::Config<double, 8, 2, 12, 3, 8>;
using Layer = txl::TransformerXLLayer<C>;
using Stack = txl::LayerStack<Layer, C::n_layers>;

TEST_CASE("LayerStack: gradients through three layers and the final norm, with memory") {
    const std::size_t M = 3, T = 2, B = 2, D = 8;
    Stack stack;
    randomize(stack, 300);
    Stack::Cache cache;
    std::vector<double> x0(T * B * D), w(T * B * D);
    std::array<std::vector<double>, 3> mem;
    std::array<const double*, 3> mem_ptr{};
    for (std::size_t l = 0; l < 3; ++l) {
        mem[l].resize(M * B * D);
        fill_uniform(mem[l].data(), mem[l].size(), 70 + unsigned(l));
        mem_ptr[l] = mem[l].data();
    }
    fill_uniform(x0.data(), x0.size(), 80);
    fill_uniform(w.data(), w.size(), 81);
    cache.x.resize(4);
    cache.x[0] = txl::tensor<double, 3>::from_shape({T, B, D});
    auto f = [&] {
        std::copy(x0.begin(), x0.end(), cache.x[0].begin());
        stack.forward(mem_ptr, M, cache, nullptr);
        return dot(cache.out.data(), w.data(), w.size());
    };
    txl::zero_grad(stack);
    f();
    const auto& dx0 = stack.backward(w.data(), cache);
    std::vector<double> dx(dx0.begin(), dx0.end());
    auto checked = parameters_of(stack);
    checked.push_back({"input x0", x0.data(), dx.data(), x0.size()});
    expect_gradients(checked, f);
    // Each layer's input is what it records as memory.
    CHECK(cache.x.size() == 4);
}
