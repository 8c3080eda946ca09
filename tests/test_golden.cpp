// The whole model against PyTorch on fixed weights: tests/reference/make_fixtures.py builds
// labml's Transformer-XL in float64, runs three segments with memory (M = 0, M < T, M > T) and
// saves weights, logits, losses, memories and the gradients of the summed loss. Here the same
// weights load through the checkpoint loader and everything must match: 1e-9 in double, 1e-4 in
// float, per tensor as max|difference| / max|reference|. Two sets: a tiny model with segments of
// 2-4 positions, and a wider one with segments of 9-17 positions, so that in float the per-(b, h)
// attention products too (T rows) run through txl's own GEMM kernel (sgemm.hpp), which takes
// products of 8 rows or more, with partial tiles and panels. A third set runs the paper's own
// attention (SinusoidalRelativeAttention) against PaperRelativeAttention in labml_xl.py.
#include <doctest/doctest.h>

#include <txl/txl.hpp>

namespace {
/// One fixture set: its directory and the sizes make_fixtures.py used for it.
struct Set {
    std::string dir;
    std::size_t V, B, mem_len;
    std::array<std::size_t, 3> lengths;
};
const Set tiny{std::string(TXL_FIXTURES_DIR) + "/fixtures", 11, 2, 5, {2, 4, 3}};
const Set longer{std::string(TXL_FIXTURES_DIR) + "/fixtures_long", 11, 3, 20, {9, 17, 10}};
const Set sinusoidal{std::string(TXL_FIXTURES_DIR) + "/fixtures_sinusoidal", 11, 2, 5, {2, 4, 3}};

template <class S, std::size_t D, std::size_t H, std::size_t FF, std::size_t L, std::size_t P>
using ModelOf = txl::TransformerXL<txl::Config<S, D, H, FF, L, P>>;
template <class S, std::size_t D, std::size_t H, std::size_t FF, std::size_t L, std::size_t P>
using PaperModelOf = txl::SinusoidalTransformerXL<txl::Config<S, D, H, FF, L, P>>;

std::string dir;  // the set being compared

template <std::size_t N>
txl::tensor<double, N> load_ref(const std::string& name, const std::array<std::size_t, N>& shape) {
    txl::tensor<double, N> t;
    txl::read_npy(dir + "/" + name, shape, t);
    return t;
}

template <class A, class B>
double rel_error(const A& got, const B& ref) {
    double diff = 0, mx = 0;
    auto g = got.begin();
    for (auto r = ref.begin(); r != ref.end(); ++r, ++g) {
        diff = std::max(diff, std::abs(double(*g) - *r));
        mx = std::max(mx, std::abs(double(*r)));
    }
    return mx > 0 ? diff / mx : diff;
}

template <class Model>
void run_golden(const Set& set, double tol) {
    using S = typename Model::scalar;
    dir = set.dir;
    const std::size_t V = set.V, B = set.B, D = Model::config::d_model, mem_len = set.mem_len;
    const auto& lengths = set.lengths;
    Model model(V, 0);
    txl::load_checkpoint(model, dir + (std::is_same_v<S, float> ? "/weights_f32" : "/weights_f64"));
    model.zero_grad();
    typename Model::Cache cache;
    txl::Memory<S> mem;
    txl::tensor<S, 3> dlogits;
    double worst = 0;
    auto compare = [&](const std::string& what, double e) {
        worst = std::max(worst, e);
        INFO(what << ": relative error " << e << " (tolerance " << tol << ")");
        CHECK(e <= tol);
    };
    for (std::size_t s = 0; s < 3; ++s) {
        const std::size_t T = lengths[s];
        const std::string id = std::to_string(s);
        txl::tensor<std::int64_t, 2> x, y;
        txl::read_npy(dir + "/tokens_" + id + ".npy", std::array<std::size_t, 2>{T, B}, x);
        txl::read_npy(dir + "/targets_" + id + ".npy", std::array<std::size_t, 2>{T, B}, y);
        model.forward(x, mem, cache);
        compare("logits of segment " + id,
                rel_error(cache.logits, load_ref("logits_" + id + ".npy", std::array<std::size_t, 3>{T, B, V})));
        dlogits.resize(cache.logits.shape());
        const auto loss = txl::cross_entropy(cache.logits.data(), y.data(), T * B, V, dlogits.data());
        const auto ref_loss = load_ref("loss_" + id + ".npy", std::array<std::size_t, 1>{1});
        compare("loss of segment " + id, std::abs(loss.loss - ref_loss(0)) / std::abs(ref_loss(0)));
        model.backward(dlogits.data(), cache);
        model.update_memory(mem, cache, mem_len);
        for (std::size_t l = 0; l < Model::config::n_layers; ++l)
            compare("memory of layer " + std::to_string(l) + " after segment " + id,
                    rel_error(mem.states[l], load_ref("mem_" + id + "_" + std::to_string(l) + ".npy",
                                                      std::array<std::size_t, 3>{mem.length(), B, D})));
    }
    double worst_grad = 0;
    model.visit([&](const std::string& name, auto& p) {
        constexpr std::size_t N = std::decay_t<decltype(p.grad)>::rank;
        std::array<std::size_t, N> shape{};
        std::copy(p.grad.shape().begin(), p.grad.shape().end(), shape.begin());
        const double e = rel_error(p.grad, load_ref("grad/" + name + ".npy", shape));
        worst_grad = std::max(worst_grad, e);
        compare("gradient of " + name, e);
    });
    MESSAGE(std::string(std::is_same_v<S, float> ? "float" : "double")
            << " golden test (" << set.dir.substr(set.dir.rfind('/') + 1) << "): worst relative error " << worst
            << " (gradients: " << worst_grad << ")");
}
}  // namespace

TEST_CASE("golden: double matches PyTorch to 1e-9 (logits, losses, memories, every gradient)") {
    run_golden<ModelOf<double, 8, 2, 12, 2, 16>>(tiny, 1e-9);
}
TEST_CASE("golden: float matches PyTorch to 1e-4") { run_golden<ModelOf<float, 8, 2, 12, 2, 16>>(tiny, 1e-4); }
TEST_CASE("golden, segments of 9-17 positions: double matches PyTorch to 1e-9") {
    run_golden<ModelOf<double, 64, 2, 96, 2, 64>>(longer, 1e-9);
}
TEST_CASE("golden, segments of 9-17 positions: float matches PyTorch to 1e-4") {
    run_golden<ModelOf<float, 64, 2, 96, 2, 64>>(longer, 1e-4);
}
TEST_CASE("golden, the paper's attention (sinusoidal, u and v): double matches PyTorch to 1e-9") {
    run_golden<PaperModelOf<double, 8, 2, 12, 2, 16>>(sinusoidal, 1e-9);
}
TEST_CASE("golden, the paper's attention (sinusoidal, u and v): float matches PyTorch to 1e-4") {
    run_golden<PaperModelOf<float, 8, 2, 12, 2, 16>>(sinusoidal, 1e-4);
}
