#include "../gradcheck.hpp"

using namespace txl_test;

TEST_CASE("Embedding: rows of E, N(0,1) init, scatter-add gradient") {
    txl::Embedding<txl::Config<double, 4, 1, 4, 1>> emb(7);
    txl::Rng rng(1);
    emb.init(rng);
    const std::int64_t tok[5] = {3, 0, 3, 6, 1};
    std::vector<double> x(5 * 4), w(5 * 4);
    emb.forward(tok, 5, 1, x.data());
    CHECK(x[2 * 4 + 1] == emb.weight.value(3, 1));
    fill_uniform(w.data(), w.size(), 2);
    auto f = [&] {
        emb.forward(tok, 5, 1, x.data());
        return dot(x.data(), w.data(), x.size());
    };
    txl::zero_grad(emb);
    emb.backward(tok, w.data(), 5, 1);
    CHECK(emb.weight.grad(3, 0) == doctest::Approx(w[0] + w[8]));
    // Rows of tokens that never occur have zero gradient; check the whole table anyway.
    auto checked = parameters_of(emb);
    expect_gradients(checked, f);
}

TEST_CASE("Embedding: a token id outside the vocabulary throws, naming id and position") {
    txl::Embedding<txl::Config<double, 4, 1, 4, 1>> emb(7);
    const std::int64_t bad[3] = {1, 7, 2};
    CHECK_THROWS_WITH_AS(emb.check_tokens(bad, 3),
                         "Embedding: token id 7 at position 1 is outside the vocabulary [0, 7)", txl::shape_error);
    const std::int64_t neg[1] = {-1};
    CHECK_THROWS_AS(emb.check_tokens(neg, 1), txl::shape_error);
}
