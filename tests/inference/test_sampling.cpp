#include "../gradcheck.hpp"

namespace {
using C = txl::Config<double, 8, 2, 12, 2, 64>;
using Model = txl::TransformerXL<C>;
}  // namespace

TEST_CASE("sample: with memory, each step's logits equal a full forward over the whole text") {
    Model model(7, 2);
    txl_test::randomize(model, 5);
    const std::vector<std::int64_t> prompt = {1, 4, 2};
    txl::SampleOptions o;
    o.temperature = 0;  // greedy
    o.mem_len = 40;     // remembers everything
    const auto out = txl::sample(model, prompt, 10, o);
    REQUIRE(out.size() == 10);
    // Recompute: the whole text in one segment without memory; greedy must pick the same ids.
    std::vector<std::int64_t> text = prompt;
    text.insert(text.end(), out.begin(), out.end() - 1);
    auto x = txl::tensor<std::int64_t, 2>::from_shape({text.size(), 1});
    std::copy(text.begin(), text.end(), x.begin());
    Model::Cache cache;
    txl::Memory<double> none;
    model.forward(x, none, cache);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const std::size_t row = prompt.size() - 1 + i;
        std::size_t arg = 0;
        for (std::size_t c = 1; c < 7; ++c)
            if (cache.logits(row, 0, c) > cache.logits(row, 0, arg)) arg = c;
        CHECK(std::int64_t(arg) == out[i]);
    }
}

TEST_CASE("sample: seeded, top-k restricts the choice, empty prompt throws") {
    Model model(7, 2);
    txl::SampleOptions o;
    o.temperature = 1.0;
    o.seed = 9;
    CHECK(txl::sample(model, {1, 2}, 20, o) == txl::sample(model, {1, 2}, 20, o));
    o.seed = 10;
    const auto other = txl::sample(model, {1, 2}, 20, o);
    o.seed = 9;
    CHECK(txl::sample(model, {1, 2}, 20, o) != other);
    const double logits[4] = {0.0, 3.0, 2.9, -1.0};
    txl::Rng rng(1);
    txl::SampleOptions hot;
    hot.temperature = HUGE_VAL;  // not finite: refused, as is NaN
    CHECK_THROWS_WITH_AS(txl::pick_token(logits, 4, hot, rng), "sample: temperature inf must be finite and >= 0",
                         txl::shape_error);
    hot.temperature = std::nan("");
    CHECK_THROWS_AS(txl::pick_token(logits, 4, hot, rng), txl::shape_error);
    txl::SampleOptions k2;
    k2.top_k = 2;
    for (int i = 0; i < 50; ++i) {
        const auto id = txl::pick_token(logits, 4, k2, rng);
        CHECK((id == 1 || id == 2));
    }
    CHECK_THROWS_AS(txl::sample(model, {}, 5, o), txl::shape_error);
}

TEST_CASE("Memory::reuse_keys_values: reusing the memory's keys and values gives the same logits; no backward") {
    Model model(7, 2);
    txl_test::randomize(model, 8);
    Model::Cache a, b;
    txl::Memory<double> plain, cached;
    cached.reuse_keys_values = true;
    std::mt19937_64 g(4);
    for (std::size_t seg = 0; seg < 5; ++seg) {
        const std::size_t T = seg % 2 ? 1 : 3;  // prompt-like and sampling-like segments
        auto x = txl::tensor<std::int64_t, 2>::from_shape({T, 2});
        for (auto& v : x) v = std::int64_t(g() % 7);
        model.forward(x, plain, a);
        model.forward(x, cached, b);
        CHECK(b.reused_keys_values == (seg > 0));
        double diff = 0;
        for (std::size_t i = 0; i < a.logits.size(); ++i)
            diff = std::max(diff, std::abs(a.logits.data()[i] - b.logits.data()[i]));
        CAPTURE(seg);
        CHECK(diff < 1e-12);
        model.update_memory(plain, a, 6);
        model.update_memory(cached, b, 6);
        CHECK(cached.has_keys_values());
    }
    txl::tensor<double, 3> d = xt::zeros_like(b.logits);
    CHECK_THROWS_AS(model.backward(d.data(), b), txl::error);
}
