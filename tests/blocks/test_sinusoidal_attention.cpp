// The paper's relative attention (sinusoidal distances, biases u and v): its backward against
// finite differences, the shift against the formula, clamp_len, and the whole model.
#include "../gradcheck.hpp"

using namespace txl_test;

namespace {
using D = txl::Config<double, 8, 2, 12, 2, 16>;
using Attn = txl::SinusoidalRelativeAttention<D>;
}  // namespace

TEST_CASE("SinusoidalRelativeAttention: gradients (M > T, M < T, M = 0, B = 1)") {
    for (auto r : {txl::testing::check_attention<Attn>(5, 3, 2), txl::testing::check_attention<Attn>(2, 4, 2),
                   txl::testing::check_attention<Attn>(0, 3, 2), txl::testing::check_attention<Attn>(3, 2, 1)}) {
        INFO(r.str());
        CHECK(r.ok());
    }
}

TEST_CASE("SinusoidalRelativeAttention: scores equal the formula (q_i + u).k_j + (q_i + v).r_{M+i-j}") {
    Attn attn;
    randomize(attn, 3);
    const std::size_t M = 3, T = 2, B = 2, K = M + T, d = 8, dk = 4;
    std::vector<double> kv(K * B * d), out(T * B * d);
    fill_uniform(kv.data(), kv.size(), 4);
    Attn::Cache c;
    attn.forward(kv.data(), M, T, B, out.data(), c, nullptr);
    // Recompute the softmax input for every visible (b, h, i, j) from the definitions.
    std::vector<double> pe(K * d);
    attn.encodings(K, pe.data());
    auto dotrow = [](const double* a, const double* b, std::size_t n) {
        double s = 0;
        for (std::size_t e = 0; e < n; ++e) s += a[e] * b[e];
        return s;
    };
    const double* Wq = attn.qkv_net.weight.value.data();  // rows 0..d-1: q, d..2d-1: k
    const double* Wr = attn.r_net.weight.value.data();
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t h = 0; h < 2; ++h)
            for (std::size_t i = 0; i < T; ++i) {
                std::vector<double> s(K, 0.0);
                double mx = -1e300;
                for (std::size_t j = 0; j <= M + i; ++j) {
                    const double* zq = &kv[((M + i) * B + b) * d];
                    const double* zk = &kv[(j * B + b) * d];
                    const std::size_t dist = M + i - j, row = K - 1 - dist;  // PE row of that distance
                    double acc = 0;
                    for (std::size_t e = 0; e < dk; ++e) {
                        const std::size_t f = h * dk + e;
                        const double q = dotrow(Wq + f * d, zq, d), k = dotrow(Wq + (d + f) * d, zk, d);
                        const double r = dotrow(Wr + f * d, &pe[row * d], d);
                        acc += (q + attn.r_w_bias.value(h, e)) * k + (q + attn.r_r_bias.value(h, e)) * r;
                    }
                    s[j] = acc / 2.0;  // / sqrt(d_k)
                    mx = std::max(mx, s[j]);
                }
                double sum = 0;
                for (std::size_t j = 0; j <= M + i; ++j) sum += std::exp(s[j] - mx);
                for (std::size_t j = 0; j < K; ++j) {
                    const double want = j <= M + i ? std::exp(s[j] - mx) / sum : 0.0;
                    CHECK(c.a(b, h, i, j) == doctest::Approx(want).epsilon(1e-12));
                }
            }
}

TEST_CASE("SinusoidalRelativeAttention: PE rows are sin then cos of the distance; clamp_len") {
    Attn attn;
    std::vector<double> pe(6 * 8);
    attn.encodings(6, pe.data());
    // Row 0 is distance 5, the last row distance 0: sin 0 = 0, cos 0 = 1.
    CHECK(pe[5 * 8 + 0] == 0.0);
    CHECK(pe[5 * 8 + 4] == 1.0);
    CHECK(pe[0 * 8 + 1] == doctest::Approx(std::sin(5.0 * std::pow(10000.0, -2.0 / 8.0))));
    attn.clamp_len = 2;
    attn.encodings(6, pe.data());
    // Distances 5, 4, 3 all use the encoding of 2 (row 3).
    for (std::size_t row = 0; row < 3; ++row)
        for (std::size_t e = 0; e < 8; ++e) CHECK(pe[row * 8 + e] == pe[3 * 8 + e]);
}

TEST_CASE("SinusoidalTransformerXL: gradients over two segments (M < T, M > T)") {
    check_model_gradients<txl::SinusoidalTransformerXL<D>>(2, 4, 2, 2);
    check_model_gradients<txl::SinusoidalTransformerXL<D>>(5, 2, 2, 5);
}

TEST_CASE("SinusoidalTransformerXL: the key/value cache gives the same logits; names follow the paper's code") {
    using Model = txl::SinusoidalTransformerXL<txl::Config<double, 8, 2, 12, 2, 16>>;
    static_assert(Model::reuses_keys_values);
    {
        Model model(7, 2);
        randomize(model, 5);
        Model::Cache a, b;
        txl::Memory<double> plain, cached;
        cached.reuse_keys_values = true;
        for (std::size_t seg = 0; seg < 4; ++seg) {
            const auto x = random_tokens(seg % 2 ? 3 : 2, 2, 7, unsigned(10 + seg));
            model.forward(x, plain, a);
            model.forward(x, cached, b);
            CHECK(b.reused_keys_values == (seg > 0));
            double diff = 0;
            for (std::size_t i = 0; i < a.logits.size(); ++i)
                diff = std::max(diff, std::abs(a.logits.data()[i] - b.logits.data()[i]));
            CHECK(diff < 1e-12);
            model.update_memory(plain, a, 4);
            model.update_memory(cached, b, 4);
        }
        txl::tensor<double, 3> dl = xt::zeros_like(b.logits);
        CHECK_THROWS_AS(model.backward(dl.data(), b), txl::error);
    }
    Model model(7, 1);
    const std::string d = model.describe();
    CHECK(d.find("transformer.layers.1.self_attn.qkv_net.weight [24, 8]") != std::string::npos);
    CHECK(d.find("transformer.layers.0.self_attn.r_net.weight [8, 8]") != std::string::npos);
    CHECK(d.find("transformer.layers.0.self_attn.r_w_bias [2, 4]") != std::string::npos);
    CHECK(d.find("transformer.layers.0.self_attn.r_r_bias [2, 4]") != std::string::npos);
    std::vector<std::int64_t> ids(200);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = std::int64_t((i * 7 + i / 3) % 7);
    const auto r = txl::evaluate(model, ids, 2, 4, 6);
    CHECK(std::isfinite(r.loss));
}

TEST_CASE(
    "same_length: every query sees the last K_s keys (same_length_span = K_s); gradients; K_s >= K changes nothing") {
    using Rel = txl::RelativeMultiHeadAttention<D>;
    auto span3 = [](auto& a) { a.same_length_span = 3; };
    for (auto r : {txl::testing::check_attention<Attn>(4, 3, 2, 1, std::function<void(Attn&)>(span3)),
                   txl::testing::check_attention<Rel>(4, 3, 2, 1, std::function<void(Rel&)>(span3))}) {
        INFO(r.str());
        CHECK(r.ok());
    }
    Attn attn;
    randomize(attn, 7);
    const std::size_t M = 4, T = 3, B = 2, K = M + T;
    std::vector<double> kv(K * B * 8), out1(T * B * 8), out2(T * B * 8);
    fill_uniform(kv.data(), kv.size(), 8);
    Attn::Cache c;
    attn.same_length_span = 3;
    attn.forward(kv.data(), M, T, B, out1.data(), c, nullptr);
    for (std::size_t i = 0; i < T; ++i) {
        double sum = 0;
        for (std::size_t j = 0; j < K; ++j) {
            const bool visible = j + 3 > M + i && j <= M + i;  // distance M + i - j in 0..2
            if (!visible) CHECK(c.a(1, 1, i, j) == 0.0);
            sum += c.a(1, 1, i, j);
        }
        CHECK(sum == doctest::Approx(1.0));
    }
    attn.same_length_span = K;  // a span as long as the keys: the causal mask itself
    attn.forward(kv.data(), M, T, B, out1.data(), c, nullptr);
    attn.same_length_span = 0;
    attn.forward(kv.data(), M, T, B, out2.data(), c, nullptr);
    CHECK(out1 == out2);
}

TEST_CASE("SinusoidalRelativeAttention: T = 0 and M + T > P throw with the numbers (no table: the Config's bound)") {
    CHECK_THROWS_WITH_AS(Attn::check_lengths(3, 0),
                         "SinusoidalRelativeAttention: segment length T = 0, expected T >= 1", txl::shape_error);
    CHECK_THROWS_WITH_AS(Attn::check_lengths(12, 5),
                         "SinusoidalRelativeAttention: M + T = 12 + 5 = 17 keys, but the Config's bound on the keys "
                         "is P = 16",
                         txl::shape_error);
    CHECK_NOTHROW(Attn::check_lengths(11, 5));
}

TEST_CASE("SinusoidalRelativeAttention: gradients in one panel and in several (T = 12, 72)") {
    using Attn = txl::SinusoidalRelativeAttention<txl::Config<double, 8, 2, 12, 1, 96>>;
    for (auto [M, T, B] : {std::array<std::size_t, 3>{3, 12, 2}, {9, 72, 2}}) {
        CAPTURE(M);
        CAPTURE(T);
        expect_report(txl::testing::check_attention<Attn>(M, T, B, 300 + unsigned(T)));
    }
}
