// Adaptive input and adaptive softmax: finite differences in double over every parameter and
// the input, the distribution's sum, the scores against log_probs, the exact argmax, tying.
#include "../gradcheck.hpp"

using namespace txl_test;

namespace {

using C = txl::Config<double, 8, 2, 12, 2, 32>;
using C16 = txl::Config<double, 16, 2, 12, 2, 32>;  // wide enough for three clusters at div_val 4

/// Targets that put rows in every cluster but the last of `bounds` (a cluster no target is in).
std::vector<std::int64_t> targets_in(std::size_t n, std::size_t V, unsigned seed, std::size_t skip_from = 0) {
    std::mt19937_64 g(seed);
    std::vector<std::int64_t> y(n);
    for (auto& v : y) {
        do v = std::int64_t(g() % V);
        while (skip_from && std::size_t(v) >= skip_from);
    }
    return y;
}

/// f = sum_r w_r * nll_r (so every row's gradient differs), checked against nll_backward.
template <class G>
void check_softmax(std::size_t V, std::size_t n, std::size_t skip_from = 0) {
    CAPTURE(G::name());
    CAPTURE(V);
    G gen(V);
    randomize(gen, 7);
    std::vector<double> x(n * G::D), dx(n * G::D);
    fill_uniform(x.data(), x.size(), 3);
    for (auto& v : x) v *= 4;  // spread the probabilities
    const auto y = targets_in(n, V, 11, skip_from);
    const double s = 0.7;
    txl::zero_grad(gen);
    std::size_t hits = 0;
    const double sum = gen.nll_backward(x.data(), y.data(), n, s, dx.data(), &hits);
    CHECK(sum == doctest::Approx(gen.nll(x.data(), y.data(), n)).epsilon(1e-14));
    auto checked = parameters_of(gen);
    checked.push_back({"x", x.data(), dx.data(), x.size()});
    auto f = [&] { return s * gen.nll(x.data(), y.data(), n); };
    if (!skip_from) {
        expect_gradients(checked, f);
    } else {  // the last cluster has no target: its tensors get exactly no gradient, and need none
        const auto report = txl::testing::check_gradients(checked, f);
        const std::string last = std::to_string(G::K);
        for (const auto& t : report.tensors) {
            CAPTURE(t.name);
            const bool unused = t.name == "out_layers." + last + ".weight" ||
                                t.name == "out_layers." + last + ".bias" || t.name == "out_projs." + last;
            CHECK(t.relative <= kGradTol);
            CHECK((unused ? t.max_analytic == 0 && t.max_diff == 0 : t.max_analytic > 0));
        }
    }

    // The whole distribution: sums to 1, its entries are the scores, its argmax gives the hits.
    std::vector<double> logp(n * V);
    gen.log_probs(x.data(), n, logp.data());
    std::size_t argmax_hits = 0;
    double nll = 0;
    for (std::size_t r = 0; r < n; ++r) {
        double total = 0;
        std::size_t a = 0;
        for (std::size_t v = 0; v < V; ++v) {
            total += std::exp(logp[r * V + v]);
            if (logp[r * V + v] > logp[r * V + a]) a = v;
        }
        CHECK(total == doctest::Approx(1.0).epsilon(1e-13));
        argmax_hits += a == std::size_t(y[r]);
        nll -= logp[r * V + std::size_t(y[r])];
        std::size_t one = 0;
        gen.nll(x.data() + r * G::D, y.data() + r, 1, &one);
        CHECK(one == (a == std::size_t(y[r])));
    }
    CHECK(nll == doctest::Approx(sum).epsilon(1e-13));
    CHECK(hits == argmax_hits);
    // Tail rows scored a few at a time (as at a large vocabulary): the same sums and hits.
    gen.chunk_values = 2 * V;
    std::size_t chunked_hits = 0;
    CHECK(gen.nll(x.data(), y.data(), n, &chunked_hits) == doctest::Approx(sum).epsilon(1e-14));
    CHECK(chunked_hits == hits);
}

}  // namespace

TEST_CASE("AdaptiveSoftmax: gradients, distribution and argmax, several cutoff sets") {
    SUBCASE("div_val 1, one tail") { check_softmax<txl::AdaptiveSoftmax<C, txl::AdaptiveClusters<1, 5>>>(13, 9); }
    SUBCASE("div_val 1, three tails") {
        check_softmax<txl::AdaptiveSoftmax<C, txl::AdaptiveClusters<1, 3, 6, 10>>>(17, 12);
    }
    SUBCASE("div_val 2, two tails (projections)") {
        check_softmax<txl::AdaptiveSoftmax<C, txl::AdaptiveClusters<2, 4, 9>>>(15, 12);
    }
    SUBCASE("div_val 4, two tails, a cluster no target falls in") {
        check_softmax<txl::AdaptiveSoftmax<C16, txl::AdaptiveClusters<4, 4, 9>>>(15, 12, /*targets below*/ 9);
    }
}

TEST_CASE("AdaptiveEmbedding: x = sqrt(d) E_i[v - c_i] P_i^T, gradients of tables and projections") {
    auto check_embedding = [](auto tag, std::size_t V) {
        using E = typename decltype(tag)::type;
        CAPTURE(E::name());
        E emb(V);
        randomize(emb, 5);
        const auto ids = targets_in(10, V, 3);
        std::vector<double> x(10 * C::d_model), w(x.size());
        fill_uniform(w.data(), w.size(), 2);
        emb.forward(ids.data(), 5, 2, x.data());
        // Row 0 by the formula.
        const std::size_t i = emb.cluster_of(ids[0]), d = E::width(i);
        for (std::size_t c = 0; c < C::d_model; ++c) {
            double v = 0;
            const double* e = emb.emb_layers[E::projected ? i : 0].value.data() +
                              (E::projected ? std::size_t(ids[0]) - emb.first(i) : std::size_t(ids[0])) * d;
            if (E::projected)
                for (std::size_t k = 0; k < d; ++k) v += e[k] * emb.emb_projs[i].value(c, k);
            else
                v = e[c];
            CHECK(x[c] == doctest::Approx(std::sqrt(double(C::d_model)) * v).epsilon(1e-13));
        }
        txl::zero_grad(emb);
        emb.backward(ids.data(), w.data(), 5, 2);
        expect_gradients(parameters_of(emb), [&] {
            emb.forward(ids.data(), 5, 2, x.data());
            return dot(x.data(), w.data(), x.size());
        });
    };
    check_embedding(txl::type_tag<txl::AdaptiveEmbedding<C, txl::AdaptiveClusters<1, 4, 9>>>{}, 15);
    check_embedding(txl::type_tag<txl::AdaptiveEmbedding<C, txl::AdaptiveClusters<2, 4, 9>>>{}, 15);
    check_embedding(txl::type_tag<txl::AdaptiveEmbedding<C, txl::AdaptiveClusters<4, 4>>>{}, 9);
}

TEST_CASE("AdaptiveSoftmax: cutoffs beyond the vocabulary and untied weights used tied are clear errors") {
    using G = txl::AdaptiveSoftmax<C, txl::AdaptiveClusters<1, 5, 9>>;
    CHECK_THROWS_WITH_AS(G(9),
                         "AdaptiveSoftmax: the last cutoff 9 must be below the vocabulary's size 9 (every cluster "
                         "needs a word)",
                         txl::shape_error);
    txl::AdaptiveSoftmax<C, txl::AdaptiveClusters<1, 5>, true> tied(9);
    std::vector<double> x(C::d_model, 0.1);
    const std::int64_t y = 1;
    CHECK_THROWS_WITH_AS(tied.nll(x.data(), &y, 1), doctest::Contains("tie(embedding) was never called"), txl::error);
    const std::int64_t bad = 13;
    G g(13);
    CHECK_THROWS_AS(g.nll(x.data(), &bad, 1), txl::shape_error);
}

namespace {
template <class Clusters, bool TieW, bool TieP>
using AdaptiveXL =
    txl::AutoregressiveModel<C, txl::TransformerXLLayer<C>, txl::XLMemory<C>, txl::AdaptiveEmbedding<C, Clusters>,
                             txl::AdaptiveSoftmax<C, Clusters, TieW, TieP>>;
}  // namespace

TEST_CASE("Adaptive input and softmax in a model: gradients over two segments with memory, tied and untied") {
    SUBCASE("div_val 1, tied weights") {
        check_model_gradients<AdaptiveXL<txl::AdaptiveClusters<1, 3, 6>, true, false>>(3, 2, 2, 3, 11);
    }
    SUBCASE("div_val 2, tied weights and projections") {
        check_model_gradients<AdaptiveXL<txl::AdaptiveClusters<2, 3, 6>, true, true>>(3, 2, 2, 3, 11);
    }
    SUBCASE("div_val 2, untied") {
        check_model_gradients<AdaptiveXL<txl::AdaptiveClusters<2, 4>, false, false>>(2, 3, 2, 2, 9);
    }
}

TEST_CASE("Tied weights are one tensor: visited once, updated by both blocks, kept by a copy") {
    using M = AdaptiveXL<txl::AdaptiveClusters<2, 3, 6>, true, true>;
    M model(11, 1);
    std::vector<std::string> names;
    model.visit([&](const std::string& n, auto&) { names.push_back(n); });
    CHECK(std::count(names.begin(), names.end(), "src_embed.emb_layers.1.weight") == 1);
    CHECK(std::find(names.begin(), names.end(), "generator.out_layers.1.weight") == names.end());
    CHECK(std::find(names.begin(), names.end(), "generator.out_projs.0") != names.end());  // the head's: its own
    CHECK(std::find(names.begin(), names.end(), "generator.out_projs.1") == names.end());
    // The copy's generator scores with the copy's embedding: change the copy's table, not the original's.
    M copy = model;
    const auto x = random_tokens(3, 2, 11, 1), y = random_tokens(3, 2, 11, 2);
    M::Cache c1, c2;
    txl::Memory<double> mem;
    model.forward(x, mem, c1);
    copy.forward(x, mem, c2);
    CHECK(model.loss(y.data(), c1).loss == copy.loss(y.data(), c2).loss);
    for (auto& v : copy.src_embed.emb_layers[0].value) v *= 2;
    for (auto& v : copy.src_embed.emb_layers[1].value) v *= 2;
    model.forward(x, mem, c1);
    copy.forward(x, mem, c2);
    CHECK(model.loss(y.data(), c1).loss != copy.loss(y.data(), c2).loss);
    M fresh(11, 1);
    fresh.forward(x, mem, c2);
    CHECK(model.loss(y.data(), c1).loss == fresh.loss(y.data(), c2).loss);
}
