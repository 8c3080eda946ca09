#include "../gradcheck.hpp"

using namespace txl_test;

namespace {

template <class C>
using ModelOf = txl::TransformerXL<C>;
template <class C>
void check_model(std::size_t T1, std::size_t T2, std::size_t B, std::size_t mem_len) {
    CAPTURE(C::heads);
    CAPTURE(C::P);
    check_model_gradients<ModelOf<C>>(T1, T2, B, mem_len);
}

using C2 = txl::Config<double, 8, 2, 12, 2, 8>;

/// Tokens [T, B], all 1, and a memory of `layers` tensors of shape [M, B, d].
txl::tensor<std::int64_t, 2> ones(std::size_t T, std::size_t B) {
    auto x = txl::tensor<std::int64_t, 2>::from_shape({T, B});
    x.fill(1);
    return x;
}
txl::Memory<float> memory_of(std::size_t layers, std::size_t M, std::size_t B, std::size_t d) {
    txl::Memory<float> mem;
    for (std::size_t i = 0; i < layers; ++i) mem.states.push_back(txl::tensor<float, 3>::from_shape({M, B, d}));
    return mem;
}
using C1 = txl::Config<double, 8, 1, 12, 2, 8>;

}  // namespace

TEST_CASE("Model: gradients over two segments, M = 0") { check_model<C2>(3, 3, 2, 0); }

TEST_CASE("Model: gradients over two segments, M < T") { check_model<C2>(2, 4, 2, 2); }

TEST_CASE("Model: gradients over two segments, M > T") { check_model<C2>(5, 2, 2, 5); }

TEST_CASE("Model: gradients over two segments, B = 1") { check_model<C2>(3, 3, 1, 3); }

TEST_CASE("Model: gradients over two segments, T = 1") { check_model<C2>(1, 1, 2, 4); }

TEST_CASE("Model: gradients over two segments, H = 1") { check_model<C1>(3, 2, 2, 3); }

TEST_CASE("Model: gradients over two segments, M + T = P") { check_model<C2>(5, 3, 2, 5); }

TEST_CASE("Model: same seed, same weights; describe lists labml's names") {
    using Model = ModelOf<txl::Config<float, 8, 2, 12, 2, 8>>;
    Model a(5, 42), b(5, 42), c(5, 43);
    CHECK(a.src_embed.weight.value == b.src_embed.weight.value);
    CHECK(a.generator.linear.weight.value == b.generator.linear.weight.value);
    CHECK(a.src_embed.weight.value != c.src_embed.weight.value);
    const std::string d = a.describe();
    CHECK(d.find("transformer.layers.1.self_attn.key_pos_embeddings [16, 2, 4]") != std::string::npos);
    CHECK(d.find("generator.bias [5]") != std::string::npos);
}

TEST_CASE("Model: bad inputs throw shape_error naming value, expectation and place") {
    using Model = ModelOf<txl::Config<float, 8, 2, 12, 2, 8>>;
    Model model(5, 1);
    Model::Cache cache;
    txl::Memory<float> none;

    SUBCASE("token id outside the vocabulary") {
        txl::tensor<std::int64_t, 2> x = {{1, 2}, {5, 0}};
        CHECK_THROWS_WITH_AS(model.forward(x, none, cache),
                             "Embedding: token id 5 at position 2 is outside the vocabulary [0, 5)", txl::shape_error);
    }
    SUBCASE("T = 0") {
        auto x = txl::tensor<std::int64_t, 2>::from_shape({0, 2});
        CHECK_THROWS_WITH_AS(model.forward(x, none, cache),
                             "AutoregressiveModel::forward: segment length T = 0, expected T >= 1", txl::shape_error);
    }
    SUBCASE("M + T beyond the relative table") {
        const auto x = ones(3, 2);
        const auto mem = memory_of(2, 6, 2, 8);
        CHECK_THROWS_WITH_AS(model.forward(x, mem, cache),
                             "RelativeMultiHeadAttention: M + T = 6 + 3 = 9 keys, but the relative "
                             "position table holds at most P = 8",
                             txl::shape_error);
    }
    SUBCASE("memory of another batch size") {
        const auto x = ones(2, 2);
        const auto mem = memory_of(2, 3, 4, 8);
        CHECK_THROWS_WITH_AS(model.forward(x, mem, cache),
                             "AutoregressiveModel::forward: layer 0 memory is [3, 4, 8], expected "
                             "[3, 2, 8] (memory length, batch of the tokens, d_model)",
                             txl::shape_error);
    }
    SUBCASE("memory of another width") {
        const auto x = ones(2, 2);
        const auto mem = memory_of(2, 3, 2, 6);
        CHECK_THROWS_AS(model.forward(x, mem, cache), txl::shape_error);
    }
    SUBCASE("memory with the wrong number of layers") {
        const auto x = ones(2, 2);
        const auto mem = memory_of(1, 3, 2, 8);
        CHECK_THROWS_WITH_AS(model.forward(x, mem, cache),
                             "AutoregressiveModel::forward: memory has 1 layers, expected 2", txl::shape_error);
    }
    SUBCASE("dropout outside [0, 1)") { CHECK_THROWS_AS(model.set_dropout(1.0f), txl::shape_error); }
}

TEST_CASE("Model: set_evaluation gives every layer's attention clamp_len and the same_length span") {
    txl::TransformerXL<C2> learned(11, 3);
    learned.set_evaluation(2, 3);
    for (const auto& l : learned.transformer.layers) {
        CHECK(l.self_attn.clamp_len == 2);
        CHECK(l.self_attn.same_length_span == 3);
    }
    using Sin = txl::XLLayer<txl::SinusoidalRelativeAttention<C2>, txl::FeedForward<C2>>;
    txl::AutoregressiveModel<C2, Sin> sinusoidal(11, 3);
    sinusoidal.set_evaluation(4, 0);
    for (const auto& l : sinusoidal.transformer.layers) {
        CHECK(l.self_attn.clamp_len == 4);
        CHECK(l.self_attn.same_length_span == 0);
    }
    static_assert(txl::has_evaluation_settings_v<Sin>);
}
