// The model's slots: blocks of one's own (examples/custom_blocks) in them, memory blocks,
// and the capabilities the model detects (key/value cache, dropout, length limits).
#include "../fixtures.hpp"
#include "../gradcheck.hpp"

#include "../../examples/custom_blocks/blocks.hpp"

using namespace txl_test;

namespace {

using C = txl::Config<double, 8, 2, 12, 2, 16>;
using GeluXL =
    txl::AutoregressiveModel<C, txl::XLLayer<txl::RelativeMultiHeadAttention<C>, custom::GeluFeedForward<C>>>;
using AbsoluteXL = txl::AutoregressiveModel<C, txl::XLLayer<custom::CausalSelfAttention<C>, txl::FeedForward<C>>>;

// What the slot checks and the capability detection say about txl's own blocks and these.
static_assert(txl::check_attention_slot<txl::RelativeMultiHeadAttention<C>, C>::value);
static_assert(txl::check_attention_slot<custom::CausalSelfAttention<C>, C>::value);
static_assert(txl::check_feed_forward_slot<custom::GeluFeedForward<C>, C>::value);
static_assert(txl::attention_reuses_keys_values_v<txl::RelativeMultiHeadAttention<C>>);
static_assert(!txl::attention_reuses_keys_values_v<custom::CausalSelfAttention<C>>);
static_assert(txl::TransformerXL<C>::reuses_keys_values && !AbsoluteXL::reuses_keys_values);
static_assert(txl::has_set_dropout_v<txl::FeedForward<C>> && !txl::has_set_dropout_v<custom::GeluFeedForward<C>>);
static_assert(txl::TransformerXL<C>::has_memory && !txl::TransformerXLNoMemory<C>::has_memory);

}  // namespace

TEST_CASE("custom blocks: backward passes against finite differences (M > T, M = 0, B = 1)") {
    using D = txl::Config<double, 8, 2, 12, 1, 16>;
    for (auto r : {txl::testing::check_attention<custom::CausalSelfAttention<D>>(4, 3, 2),
                   txl::testing::check_attention<custom::CausalSelfAttention<D>>(0, 3, 2),
                   txl::testing::check_attention<custom::CausalSelfAttention<D>>(2, 2, 1),
                   txl::testing::check_feed_forward<custom::GeluFeedForward<D>>(5)}) {
        INFO(r.str());
        CHECK(r.ok());
        CHECK(r.worst() < 1e-6);
    }
}

TEST_CASE("gradcheck: a tensor with an all-zero gradient fails the check (it proves nothing)") {
    double x = 1.0, g = 0.0;
    const auto r = txl::testing::check_gradients({{"unused", &x, &g, 1}}, [] { return 3.0; });
    CHECK(!r.ok());
    CHECK(r.str().find("all zero") != std::string::npos);
    double y = 2.0, wrong = 1.0;  // f = y^2: the gradient is 4, not 1
    CHECK(!txl::testing::check_gradients({{"y", &y, &wrong, 1}}, [&] { return y * y; }).ok());
}

namespace {
/// labml's feed-forward with a second bias that its `visit` forgets (the mistake the check is for).
template <class Cfg>
struct ForgetfulFeedForward : txl::FeedForward<Cfg> {
    using Base = txl::FeedForward<Cfg>;
    using typename Base::Cache;
    using typename Base::S;
    txl::Param<S, 1> extra_bias;  // added to y, never visited
    ForgetfulFeedForward() { extra_bias.resize(std::array<std::size_t, 1>{Cfg::d_model}); }
    void init(txl::Rng& rng) {
        Base::init(rng);
        txl::init_uniform(extra_bias.value.data(), extra_bias.value.size(), 1.0, rng);
    }
    void forward(const S* z, std::size_t n, S* y, Cache& c, txl::Rng* rng) const {
        Base::forward(z, n, y, c, rng);
        for (std::size_t r = 0; r < n; ++r)
            for (std::size_t j = 0; j < Cfg::d_model; ++j) y[r * Cfg::d_model + j] += extra_bias.value(j);
    }
};
}  // namespace

TEST_CASE("gradcheck: a parameter that visit forgets fails the check (every listed gradient is right)") {
    const auto r = txl::testing::check_feed_forward<ForgetfulFeedForward<C>>(5);
    CHECK(!r.visit_complete);
    CHECK(!r.ok());
    CHECK(r.str().find("does not list") != std::string::npos);
    for (const auto& t : r.tensors) CHECK(t.ok);  // the gradients of what it lists are right
    CHECK(txl::testing::check_feed_forward<txl::FeedForward<C>>(5).visit_complete);
}

TEST_CASE("composed models: gradients over two segments (custom feed-forward, custom attention, no memory)") {
    SUBCASE("GELU feed-forward") { check_model_gradients<GeluXL>(3, 2, 2, 4); }
    SUBCASE("causal attention with absolute positions") { check_model_gradients<AbsoluteXL>(3, 2, 2, 4); }
    SUBCASE("NoMemory") { check_model_gradients<txl::TransformerXLNoMemory<C>>(3, 2, 2, 4); }
}

TEST_CASE("NoMemory: the same layers as Transformer-XL with every segment starting from nothing") {
    txl::TransformerXL<C> xl(7, 3);
    txl::TransformerXLNoMemory<C> plain(7, 3);  // same seed: same weights
    const auto x1 = random_tokens(4, 2, 7, 1), x2 = random_tokens(3, 2, 7, 2);
    decltype(xl)::Cache cx, c0;
    decltype(plain)::Cache cp;
    txl::Memory<double> mx, mp, none;
    xl.forward(x1, mx, cx);
    plain.forward(x1, mp, cp);
    CHECK(identical(cx.logits, cp.logits));
    xl.update_memory(mx, cx, 8);
    plain.update_memory(mp, cp, 8);
    CHECK(mx.length() == 4);
    CHECK(mp.length() == 0);  // nothing remembered, whatever mem_len says
    plain.forward(x2, mp, cp);
    xl.forward(x2, none, c0);
    CHECK(identical(cp.logits, c0.logits));  // = Transformer-XL without its memory
    xl.forward(x2, mx, cx);
    CHECK(!identical(cx.logits, c0.logits));  // while the memory does change Transformer-XL's output
    const std::string d = plain.describe();
    CHECK(d.find("memory NoMemory") != std::string::npos);
    CHECK(d.find("layer XLLayer<RelativeMultiHeadAttention, FeedForward(ReLU)> x 2") != std::string::npos);
}

TEST_CASE("an attention without a key/value cache evaluates and samples (recomputing the memory)") {
    AbsoluteXL model(7, 5);
    std::vector<std::int64_t> ids(300);
    std::mt19937_64 g(3);
    for (auto& v : ids) v = std::int64_t(g() % 7);
    // evaluate() asks for the key/value cache; this model has none and recomputes. Its result
    // must equal a plain loop over the same segments with the same memory.
    const auto r = txl::evaluate(model, ids, 2, 5, 6);
    txl::SequentialLoader loader(ids, 2, 5, "ids");
    AbsoluteXL::Cache cache;
    txl::Memory<double> mem;
    txl::tensor<std::int64_t, 2> x, y;
    double loss = 0;
    std::size_t n = 0;
    do {
        loader.next(x, y);
        model.forward(x, mem, cache);
        loss += txl::cross_entropy(cache.logits.data(), y.data(), y.size(), 7).loss * double(y.size());
        n += y.size();
        model.update_memory(mem, cache, 6);
    } while (!loader.at_epoch_start());
    CHECK(r.tokens == n);
    CHECK(r.loss == doctest::Approx(loss / double(n)).epsilon(1e-12));
    txl::SampleOptions so;
    so.mem_len = 6, so.temperature = 0;
    const auto out = txl::sample(model, {1, 2, 3}, 10, so);
    CHECK(out.size() == 10);
}

TEST_CASE("sampling without memory re-reads a window of the last mem_len + 1 tokens") {
    txl::TransformerXLNoMemory<C> model(7, 4);
    txl::SampleOptions so;
    so.mem_len = 3, so.temperature = 0;  // greedy, a window of 4 tokens
    const std::vector<std::int64_t> prompt = {1, 2, 3, 4, 5};
    const auto out = txl::sample(model, prompt, 6, so);
    // The same by hand: greedy on the last 4 tokens, one forward each.
    std::vector<std::int64_t> ctx = prompt;
    decltype(model)::Cache cache;
    txl::Memory<double> none;
    for (std::size_t n = 0; n < 6; ++n) {
        auto x = txl::tensor<std::int64_t, 2>::from_shape({std::size_t(4), std::size_t(1)});
        std::copy(ctx.end() - 4, ctx.end(), x.begin());
        model.forward(x, none, cache);
        const double* row = cache.logits.data() + 3 * 7;
        ctx.push_back(std::int64_t(std::max_element(row, row + 7) - row));
        CHECK(out[n] == ctx.back());
    }
}

TEST_CASE("set_dropout reaches the blocks that have dropout and skips those that have none") {
    GeluXL model(7, 1, 0.25);
    CHECK(model.transformer.layers[0].dropout.p == 0.25);
    CHECK(model.transformer.layers[1].self_attn.dropout.p == 0.25);
    txl::TransformerXL<C> xl(7, 1, 0.5);
    CHECK(xl.transformer.layers[0].feed_forward.dropout.p == 0.5);
    // Attention-weight dropout apart (the paper's dropatt).
    xl.set_dropout(0.1, 0.3);
    CHECK(xl.transformer.layers[1].dropout.p == 0.1);
    CHECK(xl.transformer.layers[1].feed_forward.dropout.p == 0.1);
    CHECK(xl.transformer.layers[1].self_attn.dropout.p == 0.3);
    CHECK_THROWS_AS(xl.set_dropout(0.1, 1.0), txl::shape_error);
}
