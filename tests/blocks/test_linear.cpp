#include "../gradcheck.hpp"

using namespace txl_test;

TEST_CASE("Linear: forward is x W^T + b, row by row") {
    txl::Linear<double> lin(4, 3, true);
    txl::Rng rng(1);
    lin.init(rng);
    std::vector<double> x(5 * 4), y(5 * 3);
    fill_uniform(x.data(), x.size(), 2);
    lin.forward(x.data(), 5, y.data());
    for (std::size_t r = 0; r < 5; ++r)
        for (std::size_t o = 0; o < 3; ++o) {
            double e = lin.bias.value(o);
            for (std::size_t i = 0; i < 4; ++i) e += x[r * 4 + i] * lin.weight.value(o, i);
            CHECK(y[r * 3 + o] == doctest::Approx(e).epsilon(1e-14));
        }
}

TEST_CASE("Linear: init is PyTorch's U(-1/sqrt(in), 1/sqrt(in))") {
    txl::Linear<double> lin(16, 200, true);
    txl::Rng rng(3);
    lin.init(rng);
    const double bound = 0.25;
    CHECK(xt::amax(xt::abs(lin.weight.value))() <= bound);
    CHECK(xt::amax(xt::abs(lin.weight.value))() > 0.95 * bound);
    CHECK(std::abs(xt::mean(lin.weight.value)()) < 0.02);
}

TEST_CASE("Linear: gradients match finite differences (weight, bias, input)") {
    for (bool bias : {true, false}) {
        CAPTURE(bias);
        const std::size_t n = 5, in = 4, out = 3;
        txl::Linear<double> lin(in, out, bias);
        randomize(lin, 11);
        std::vector<double> x(n * in), y(n * out), w(n * out), dx(n * in);
        fill_uniform(x.data(), x.size(), 12);
        fill_uniform(w.data(), w.size(), 13);
        auto f = [&] {
            lin.forward(x.data(), n, y.data());
            return dot(y.data(), w.data(), y.size());
        };
        txl::zero_grad(lin);
        f();
        lin.backward(x.data(), w.data(), n, dx.data());
        auto checked = parameters_of(lin);
        checked.push_back({"input", x.data(), dx.data(), x.size()});
        expect_gradients(checked, f);
    }
}
