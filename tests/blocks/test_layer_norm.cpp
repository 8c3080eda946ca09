#include "../gradcheck.hpp"

using namespace txl_test;

TEST_CASE("LayerNorm: rows have mean beta and spread gamma (weight 1, bias 0 by default)") {
    txl::LayerNorm<double, 6> ln;
    CHECK(ln.weight.value(0) == 1.0);
    CHECK(ln.bias.value(0) == 0.0);
    std::vector<double> x(3 * 6), y(3 * 6), xhat(3 * 6), rstd(3);
    fill_uniform(x.data(), x.size(), 5, 3.0);
    ln.forward(x.data(), 3, y.data(), xhat.data(), rstd.data());
    for (std::size_t r = 0; r < 3; ++r) {
        double m = 0, v = 0;
        for (std::size_t c = 0; c < 6; ++c) m += y[r * 6 + c] / 6;
        for (std::size_t c = 0; c < 6; ++c) v += (y[r * 6 + c] - m) * (y[r * 6 + c] - m) / 6;
        CHECK(m == doctest::Approx(0).epsilon(1e-12));
        CHECK(v == doctest::Approx(1.0).epsilon(1e-4));  // eps = 1e-5 in the denominator
    }
}

TEST_CASE("LayerNorm: gradients match finite differences (weight, bias, input)") {
    const std::size_t n = 4, d = 6;
    txl::LayerNorm<double, d> ln;
    randomize(ln, 21);
    std::vector<double> x(n * d), y(n * d), xhat(n * d), rstd(n), w(n * d), dx(n * d, 0.0);
    fill_uniform(x.data(), x.size(), 22, 2.0);
    fill_uniform(w.data(), w.size(), 23);
    auto f = [&] {
        ln.forward(x.data(), n, y.data(), xhat.data(), rstd.data());
        return dot(y.data(), w.data(), y.size());
    };
    txl::zero_grad(ln);
    f();
    ln.backward(w.data(), xhat.data(), rstd.data(), n, dx.data());
    auto checked = parameters_of(ln);
    checked.push_back({"input", x.data(), dx.data(), x.size()});
    expect_gradients(checked, f);
}

TEST_CASE("LayerNorm: backward without dx (memory rows) still accumulates gamma and beta") {
    txl::LayerNorm<double, 4> ln;
    std::vector<double> x(8), y(8), xhat(8), rstd(2), g(8, 1.0);
    fill_uniform(x.data(), 8, 3);
    ln.forward(x.data(), 2, y.data(), xhat.data(), rstd.data());
    ln.backward(g.data(), xhat.data(), rstd.data(), 2, nullptr);
    CHECK(ln.bias.grad(0) == 2.0);
}
