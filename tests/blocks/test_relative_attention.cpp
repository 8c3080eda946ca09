#include "../gradcheck.hpp"

using namespace txl_test;

/// `txl::testing::check_attention` on labml's block, asserted per tensor.
template <class C>
void check_attention_gradients(std::size_t M, std::size_t T, std::size_t B, double dropout = 0) {
    CAPTURE(M);
    CAPTURE(T);
    CAPTURE(B);
    CAPTURE(C::heads);
    using Attn = txl::RelativeMultiHeadAttention<C>;
    expect_report(txl::testing::check_attention<Attn>(M, T, B, 100 + unsigned(M * 7 + T), {}, dropout));
}

using C2 = txl::Config<double, 8, 2, 12, 1, 8>;
using C1 = txl::Config<double, 4, 1, 6, 1, 8>;

TEST_CASE("RelativeMultiHeadAttention: gradients, M = 0") { check_attention_gradients<C2>(0, 4, 2); }

TEST_CASE("RelativeMultiHeadAttention: gradients, M < T") { check_attention_gradients<C2>(2, 4, 2); }

TEST_CASE("RelativeMultiHeadAttention: gradients, M > T") { check_attention_gradients<C2>(5, 2, 2); }

TEST_CASE("RelativeMultiHeadAttention: gradients, B = 1, T = 1") { check_attention_gradients<C2>(3, 1, 1); }

TEST_CASE("RelativeMultiHeadAttention: gradients, H = 1") { check_attention_gradients<C1>(2, 3, 2); }

TEST_CASE("RelativeMultiHeadAttention: gradients, M + T = P (the table's limit)") {
    check_attention_gradients<C2>(5, 3, 2);
}

TEST_CASE("RelativeMultiHeadAttention: gradients with dropout on the weights (fixed mask)") {
    check_attention_gradients<C2>(2, 3, 2, 0.25);
}

TEST_CASE("RelativeMultiHeadAttention: the shift trick equals the index formula") {
    using Attn = txl::RelativeMultiHeadAttention<C2>;
    Attn attn;
    randomize(attn, 7);
    for (auto [M, T, B] : {std::array<std::size_t, 3>{0, 4, 2}, {3, 2, 3}, {5, 3, 1}, {0, 1, 1}}) {
        CAPTURE(M);
        CAPTURE(T);
        const std::size_t K = M + T;
        std::vector<double> q(T * B * 8), fast(B * 2 * T * K, 0.0), naive(B * 2 * T * K, 0.0), x(T * B * (K + T));
        fill_uniform(q.data(), q.size(), 8);
        attn.add_position_scores(q.data(), M, T, B, fast.data(), x.data());
        attn.position_scores_naive(q.data(), M, T, B, naive.data());
        double diff = 0;
        for (std::size_t i = 0; i < fast.size(); ++i) diff = std::max(diff, std::abs(fast[i] - naive[i]));
        CHECK(diff < 1e-13);
    }
}

TEST_CASE("RelativeMultiHeadAttention: masked keys get zero weight, rows sum to one") {
    using Attn = txl::RelativeMultiHeadAttention<C2>;
    Attn attn;
    randomize(attn, 3);
    Attn::Cache c;
    const std::size_t M = 2, T = 3, B = 2;
    std::vector<double> kv((M + T) * B * 8), out(T * B * 8);
    fill_uniform(kv.data(), kv.size(), 4);
    attn.forward(kv.data(), M, T, B, out.data(), c, nullptr);
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t h = 0; h < 2; ++h)
            for (std::size_t i = 0; i < T; ++i) {
                double s = 0;
                for (std::size_t j = 0; j < M + T; ++j) {
                    if (j > M + i)
                        CHECK(c.a(b, h, i, j) == 0.0);
                    else
                        CHECK(c.a(b, h, i, j) > 0.0);
                    s += c.a(b, h, i, j);
                }
                CHECK(s == doctest::Approx(1.0).epsilon(1e-14));
            }
}

TEST_CASE("RelativeMultiHeadAttention: T = 0 and M + T > P throw with the numbers") {
    using Attn = txl::RelativeMultiHeadAttention<C2>;
    CHECK_THROWS_WITH_AS(Attn::check_lengths(3, 0), "RelativeMultiHeadAttention: segment length T = 0, expected T >= 1",
                         txl::shape_error);
    CHECK_THROWS_WITH_AS(Attn::check_lengths(6, 3),
                         "RelativeMultiHeadAttention: M + T = 6 + 3 = 9 keys, but the relative "
                         "position table holds at most P = 8",
                         txl::shape_error);
    CHECK_NOTHROW(Attn::check_lengths(5, 3));
}

TEST_CASE("RelativeMultiHeadAttention: SIMD softmax row equals the plain loop") {
    using A2 = txl::RelativeMultiHeadAttention<C2>;
    using AF = txl::RelativeMultiHeadAttention<txl::Config<float, 8, 2, 12, 1, 8>>;
    for (std::size_t visible : {1, 3, 8, 17, 40}) {
        CAPTURE(visible);
        std::vector<double> a(45), b;
        fill_uniform(a.data(), a.size(), unsigned(visible), 5.0);
        b = a;
        A2::ops::softmax_row(a.data(), visible, 45, 0.7);
        A2::softmax_row_naive(b.data(), visible, 45, 0.7);
        for (std::size_t j = 0; j < 45; ++j) CHECK(a[j] == doctest::Approx(b[j]).epsilon(1e-14));
        std::vector<float> fa(a.begin(), a.end()), fb;
        fill_uniform(a.data(), a.size(), unsigned(visible) + 100, 5.0);
        fa.assign(a.begin(), a.end());
        fb = fa;
        AF::ops::softmax_row(fa.data(), visible, 45, 0.7f);
        AF::softmax_row_naive(fb.data(), visible, 45, 0.7f);
        for (std::size_t j = 0; j < 45; ++j) CHECK(fa[j] == doctest::Approx(fb[j]).epsilon(1e-6));
    }
}

TEST_CASE("RelativeMultiHeadAttention: clamp_len (fast path = formula, gradients, off when >= K - 1)") {
    using Attn = txl::RelativeMultiHeadAttention<C2>;
    Attn attn;
    randomize(attn, 12);
    const std::size_t M = 5, T = 3, B = 2, K = M + T;
    std::vector<double> q(T * B * 8), fast(B * 2 * T * K, 0.0), naive(B * 2 * T * K, 0.0), x(T * B * K);
    fill_uniform(q.data(), q.size(), 9);
    attn.clamp_len = 2;
    attn.add_position_scores(q.data(), M, T, B, fast.data(), x.data());
    attn.position_scores_naive(q.data(), M, T, B, naive.data());
    double diff = 0;
    for (std::size_t i = 0; i < fast.size(); ++i) diff = std::max(diff, std::abs(fast[i] - naive[i]));
    CHECK(diff < 1e-13);
    // Distances 2 and beyond all score the same position term.
    std::vector<double> only(B * 2 * T * K, 0.0);
    attn.position_scores_naive(q.data(), M, T, B, only.data());
    CHECK(only[0] == only[1]);  // query 0 at position 5: keys 0 and 1 at distances 5 and 4
    for (auto r :
         {txl::testing::check_attention<Attn>(5, 3, 2, 1, std::function<void(Attn&)>([](Attn& a) { a.clamp_len = 2; })),
          txl::testing::check_attention<Attn>(5, 3, 2, 1,
                                              std::function<void(Attn&)>([](Attn& a) { a.clamp_len = 1; }))}) {
        INFO(r.str());
        CHECK(r.ok());
    }
    std::vector<double> kv(K * B * 8), out1(T * B * 8), out2(T * B * 8);
    fill_uniform(kv.data(), kv.size(), 10);
    Attn::Cache c;
    attn.clamp_len = K - 1;  // the largest distance: nothing is clamped
    attn.forward(kv.data(), M, T, B, out1.data(), c, nullptr);
    attn.clamp_len = 0;
    attn.forward(kv.data(), M, T, B, out2.data(), c, nullptr);
    CHECK(out1 == out2);
}

// Blocks of 8 or more queries take the per-block path, and 40 or more run in several panels of
// 32 whose products skip the masked corner (`AttentionCore::attend`); the cases above are all
// shorter. P = 96 admits M + T = 81.
using CLong = txl::Config<double, 8, 2, 12, 1, 96>;

TEST_CASE("RelativeMultiHeadAttention: forward equals the formula in one panel and in several (T = 12, 45, 72)") {
    using Attn = txl::RelativeMultiHeadAttention<CLong>;
    constexpr std::size_t d = 8, H = 2, dk = 4;
    Attn attn;
    randomize(attn, 11);
    for (auto [M, T, B] : {std::array<std::size_t, 3>{3, 12, 2}, {0, 45, 1}, {9, 72, 2}}) {
        CAPTURE(M);
        CAPTURE(T);
        const std::size_t K = M + T;
        std::vector<double> kv(K * B * d), out(T * B * d);
        fill_uniform(kv.data(), kv.size(), 12);
        Attn::Cache c;
        attn.forward(kv.data(), M, T, B, out.data(), c, nullptr);

        // The formula, one query at a time: $s_j = ((q_i + u) \cdot k_j + q_i \cdot R_{M+i-j} +
        // b^{pos}_{M+i-j}) / \sqrt{d_k}$ for $j \le M + i$, $a = \operatorname{softmax}(s)$,
        // $o_i = \sum_j a_j v_j$, out $= o W_o^\top + b_o$.
        std::vector<double> q(T * B * d), k(K * B * d), v(K * B * d), pos(B * H * T * K, 0.0), o(T * B * d, 0.0);
        attn.query.forward(kv.data() + M * B * d, T * B, q.data());
        attn.key.forward(kv.data(), K * B, k.data());
        attn.value.forward(kv.data(), K * B, v.data());
        attn.position_scores_naive(q.data(), M, T, B, pos.data());
        const double* u = attn.query_pos_bias.value.data();
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t h = 0; h < H; ++h)
                for (std::size_t i = 0; i < T; ++i) {
                    std::vector<double> s(M + i + 1);
                    double mx = -1e300, sum = 0;
                    for (std::size_t j = 0; j <= M + i; ++j) {
                        double dot = pos[((b * H + h) * T + i) * K + j];
                        for (std::size_t e = 0; e < dk; ++e)
                            dot += (q[(i * B + b) * d + h * dk + e] + u[h * dk + e]) * k[(j * B + b) * d + h * dk + e];
                        s[j] = dot / std::sqrt(double(dk));
                        mx = std::max(mx, s[j]);
                    }
                    for (double& x : s) sum += (x = std::exp(x - mx));
                    for (std::size_t j = 0; j <= M + i; ++j)
                        for (std::size_t e = 0; e < dk; ++e)
                            o[(i * B + b) * d + h * dk + e] += s[j] / sum * v[(j * B + b) * d + h * dk + e];
                }
        std::vector<double> expected(T * B * d);
        attn.output.forward(o.data(), T * B, expected.data());
        double diff = 0;
        for (std::size_t r = 0; r < out.size(); ++r) diff = std::max(diff, std::abs(out[r] - expected[r]));
        CHECK(diff < 1e-12);
    }
}

TEST_CASE("RelativeMultiHeadAttention: gradients in one panel and in several (T = 12, 72), with dropout") {
    check_attention_gradients<CLong>(3, 12, 2);
    check_attention_gradients<CLong>(9, 72, 2);
    check_attention_gradients<CLong>(0, 45, 1, 0.25);
}
