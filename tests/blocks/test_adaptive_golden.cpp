// AdaptiveEmbedding and AdaptiveSoftmax against PyTorch on fixed weights:
// tests/reference/make_adaptive_fixtures.py restates the paper's code (kimiyoung/transformer-xl)
// in float64 and saves, per case, the weights, the rows' scores, the whole distribution and the
// gradients of sum(nll) + sum(embedding * w). Here the same weights load by name and everything
// must match: 1e-9 in double, 1e-4 in float, per tensor as max|difference| / max|reference|.
// The cases: div_val 1 and 4, tied and untied, one to three tails, a cluster no target falls in.
#include <doctest/doctest.h>

#include <txl/txl.hpp>

namespace {

constexpr std::size_t kRows = 14;

template <class S, std::size_t N>
txl::tensor<double, N> load(const std::string& path, const std::array<std::size_t, N>& shape) {
    txl::tensor<double, N> t;
    txl::read_npy(path, shape, t);
    return t;
}

template <class A>
double rel_error(const A& got, const txl::tensor<double, 1>& ref) {
    double diff = 0, mx = 0;
    auto g = std::begin(got);  // row-major over every element, whatever the rank
    for (std::size_t i = 0; i < ref.size(); ++i, ++g) {
        diff = std::max(diff, std::abs(double(*g) - ref[i]));
        mx = std::max(mx, std::abs(ref[i]));
    }
    return mx > 0 ? diff / mx : diff;
}

/// A tensor of any shape read flat.
txl::tensor<double, 1> load_flat(const std::string& path, std::size_t n) {
    return load<double, 1>(path, std::array<std::size_t, 1>{n});
}

/// Every parameter of `block` read from `<dir>/<prefix><name>.npy` (shape as the block has it).
template <class Block>
void load_params(Block& block, const std::string& dir, const std::string& prefix) {
    block.visit([&](const std::string& name, auto& p) {
        using P = std::decay_t<decltype(p.value)>;
        typename txl::tensor<double, P::rank> t;
        std::array<std::size_t, P::rank> shape;
        std::copy(p.value.shape().begin(), p.value.shape().end(), shape.begin());
        txl::read_npy(dir + "/" + prefix + name + ".npy", shape, t);
        std::copy(t.begin(), t.end(), p.value.begin());
    });
}

template <class S, std::size_t D, class Clusters, bool TieW, bool TieP>
void run_case(const std::string& name, std::size_t V, double tol) {
    CAPTURE(name);
    using C = txl::Config<S, D, 2, 8, 1, 16>;
    const std::string dir = std::string(TXL_FIXTURES_DIR) + "/fixtures_adaptive/" + name;
    txl::AdaptiveEmbedding<C, Clusters> emb(V);
    txl::AdaptiveSoftmax<C, Clusters, TieW, TieP> gen(V);
    if constexpr (TieW || TieP) gen.tie(emb);
    load_params(emb, dir, "emb.");
    load_params(gen, dir, "gen.");
    txl::zero_grad(emb);
    txl::zero_grad(gen);

    txl::tensor<std::int64_t, 1> tokens, targets;
    txl::read_npy(dir + "/tokens.npy", std::array<std::size_t, 1>{kRows}, tokens);
    txl::read_npy(dir + "/targets.npy", std::array<std::size_t, 1>{kRows}, targets);
    const auto hidden_d = load_flat(dir + "/hidden.npy", kRows * D), w_d = load_flat(dir + "/emb_w.npy", kRows * D);
    std::vector<S> hidden(hidden_d.begin(), hidden_d.end()), w(w_d.begin(), w_d.end());
    std::vector<S> out(kRows * D), dhidden(kRows * D), logp(kRows * V);

    double worst = 0;
    auto compare = [&](const std::string& what, double e) {
        worst = std::max(worst, e);
        INFO(what << ": relative error " << e << " (tolerance " << tol << ")");
        CHECK(e <= tol);
    };
    emb.forward(tokens.data(), kRows, 1, out.data());
    compare("embedding output", rel_error(out, load_flat(dir + "/emb_out.npy", kRows * D)));
    emb.backward(tokens.data(), w.data(), kRows, 1);
    const double sum = gen.nll_backward(hidden.data(), targets.data(), kRows, S(1), dhidden.data());
    const auto nll = load_flat(dir + "/nll.npy", kRows);
    compare("sum of nll", std::abs(sum - xt::sum(nll)()) / std::abs(xt::sum(nll)()));
    gen.log_probs(hidden.data(), kRows, logp.data());
    compare("log-probabilities", rel_error(logp, load_flat(dir + "/logp.npy", kRows * V)));
    compare("d/d hidden", rel_error(dhidden, load_flat(dir + "/grad/hidden.npy", kRows * D)));
    auto grads = [&](auto& block, const std::string& prefix) {
        block.visit([&](const std::string& n, auto& p) {
            compare("gradient of " + prefix + n,
                    rel_error(p.grad, load_flat(dir + "/grad/" + prefix + n + ".npy", p.grad.size())));
        });
    };
    grads(emb, "emb.");
    grads(gen, "gen.");
    MESSAGE(name << (std::is_same_v<S, float> ? std::string(" (float)") : std::string(" (double)"))
                 << ": worst relative error " << worst);
}

template <class S>
void run_all(double tol) {
    run_case<S, 16, txl::AdaptiveClusters<1, 5, 12>, false, false>("div1_untied", 20, tol);
    run_case<S, 16, txl::AdaptiveClusters<1, 4, 9, 15>, true, false>("div1_tied", 20, tol);
    run_case<S, 16, txl::AdaptiveClusters<4, 6, 14>, true, true>("div4_tied", 24, tol);
    run_case<S, 16, txl::AdaptiveClusters<4, 8>, false, false>("div4_untied", 20, tol);
}

}  // namespace

TEST_CASE("golden: adaptive input and softmax against PyTorch (the paper's formulas), double") {
    run_all<double>(1e-9);
}

TEST_CASE("golden: adaptive input and softmax against PyTorch (the paper's formulas), float") { run_all<float>(1e-4); }
