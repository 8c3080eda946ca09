#include "../gradcheck.hpp"

using namespace txl_test;

using C = txl::Config<double, 6, 2, 10, 1, 8>;

TEST_CASE("FeedForward: gradients match finite differences (layer1, layer2, input)") {
    const std::size_t n = 5;
    txl::FeedForward<C> ff;
    randomize(ff, 31);
    txl::FeedForward<C>::Cache cache;
    std::vector<double> z(n * 6), y(n * 6), w(n * 6), dz(n * 6);
    fill_uniform(z.data(), z.size(), 32, 1.5);
    fill_uniform(w.data(), w.size(), 33);
    auto f = [&] {
        ff.forward(z.data(), n, y.data(), cache, nullptr);
        return dot(y.data(), w.data(), y.size());
    };
    txl::zero_grad(ff);
    f();
    ff.backward(z.data(), w.data(), n, dz.data(), cache);
    auto checked = parameters_of(ff);
    checked.push_back({"input", z.data(), dz.data(), z.size()});
    expect_gradients(checked, f);
}

TEST_CASE("FeedForward: with dropout, gradients match finite differences for a fixed mask") {
    const std::size_t n = 5;
    txl::FeedForward<C> ff;
    ff.dropout.p = 0.3;
    randomize(ff, 41);
    txl::FeedForward<C>::Cache cache;
    std::vector<double> z(n * 6), y(n * 6), w(n * 6), dz(n * 6);
    fill_uniform(z.data(), z.size(), 42, 1.5);
    fill_uniform(w.data(), w.size(), 43);
    auto f = [&] {
        txl::Rng rng(7);  // the same mask on every evaluation
        ff.forward(z.data(), n, y.data(), cache, &rng);
        return dot(y.data(), w.data(), y.size());
    };
    txl::zero_grad(ff);
    f();
    CHECK(cache.dropped);
    ff.backward(z.data(), w.data(), n, dz.data(), cache);
    auto checked = parameters_of(ff);
    checked.push_back({"input", z.data(), dz.data(), z.size()});
    expect_gradients(checked, f);
}
