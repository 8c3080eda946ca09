#include "../gradcheck.hpp"

using namespace txl_test;

TEST_CASE("cross_entropy: value, accuracy and gradient") {
    const std::size_t n = 4, V = 5;
    std::vector<double> logits(n * V), d(n * V);
    fill_uniform(logits.data(), logits.size(), 3, 2.0);
    const std::int64_t y[n] = {0, 4, 2, 2};
    auto r = txl::cross_entropy(logits.data(), y, n, V, d.data());
    double expect = 0;
    std::size_t hits = 0;
    for (std::size_t i = 0; i < n; ++i) {
        double s = 0;
        std::size_t arg = 0;
        for (std::size_t c = 0; c < V; ++c) {
            s += std::exp(logits[i * V + c]);
            if (logits[i * V + c] > logits[i * V + arg]) arg = c;
        }
        expect += (std::log(s) - logits[i * V + std::size_t(y[i])]) / n;
        hits += arg == std::size_t(y[i]);
    }
    CHECK(r.loss == doctest::Approx(expect).epsilon(1e-13));
    CHECK(r.accuracy == doctest::Approx(double(hits) / n));
    std::vector<Checked> checked{{"logits", logits.data(), d.data(), logits.size()}};
    expect_gradients(checked, [&] { return txl::cross_entropy(logits.data(), y, n, V).loss; });
}

TEST_CASE("cross_entropy: a target outside the vocabulary throws") {
    std::vector<float> logits(2 * 3, 0.f);
    const std::int64_t y[2] = {1, 3};
    CHECK_THROWS_WITH_AS(txl::cross_entropy(logits.data(), y, 2, 3),
                         "cross_entropy: target id 3 at position 1 is outside the vocabulary [0, 3)", txl::shape_error);
}
