#pragma once
/// @file testing/gradcheck.hpp
/// # Checking a backward pass against finite differences
///
/// The check txl runs on every one of its blocks, for yours. For each checked tensor $\theta$
/// (a parameter, or the block's input) and a scalar loss $f$, the analytic gradient that
/// `backward` accumulated is compared element by element with the central difference
/// $$\frac{\partial f}{\partial \theta_i} \approx \frac{f(\theta + h e_i) - f(\theta - h e_i)}{2h},$$
/// whose error is $O(h^2)$. In `double` with $h = 10^{-5}$ a correct backward agrees to about
/// $10^{-9}$ relative; a wrong one (a missing term, a transposed product) is off by order 1.
/// The error of a tensor is $\max_i |\text{numeric}_i - \text{analytic}_i| / \max_i |\text{analytic}_i|$,
/// and a tensor passes at $\le 10^{-6}$ *and* with a gradient that is not all zero (an all-zero
/// gradient would pass against anything that does not depend on the tensor, proving nothing).
///
/// Recipe (see `examples/custom_blocks/` for a complete one): build the block on a
/// `Config<double, ...>`, fill every parameter with `randomize` (so zero-initialised tables are
/// exercised too), make a loss $f = \sum_i w_i\, y_i$ with fixed random $w$ (`dot`), run
/// forward, zero the gradients, run backward with $\partial f/\partial y = w$, then
/// `check_gradients(parameters_of(block), f)`. The input is checked the same way: put it in a
/// `Checked` next to the parameters, with the gradient `backward` wrote for it.
///
/// The recipe is written once, below, for each kind of block: `check_attention` (the attention
/// slot, over memory rows and queries), `check_feed_forward`, `check_layer` and `check_model` (a
/// whole model over two segments, the second attending over the first's memory, held fixed).
/// The three block checks also ask whether `visit` lists every parameter (`visit_is_complete`):
/// a gradient check sees only what `visit` lists, so a forgotten parameter would pass it. txl's
/// own tests and the custom-blocks example use these, so a block of yours is checked exactly as
/// txl's are.
///
/// Header only, no test framework: the result is a `GradReport` to print or assert on.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../txl.hpp"

namespace txl::testing {

/// A tensor to check: its values (perturbed in place, then restored) and the analytic
/// gradient of the same length.
struct Checked {
    std::string name;
    double* value;
    const double* grad;
    std::size_t n;
};

/// The default tolerance on the relative error (see [the file comment](#top)).
inline constexpr double kGradTol = 1e-6;

/// The outcome for one tensor.
struct TensorReport {
    std::string name;
    double max_diff = 0;      ///< $\max_i |\text{numeric}_i - \text{analytic}_i|$
    std::size_t at = 0;       ///< the element where it occurs
    double max_analytic = 0;  ///< $\max_i |\text{analytic}_i|$
    double relative = 0;      ///< `max_diff / max_analytic` (or `max_diff` if that is 0)
    bool ok = false;          ///< `relative <= tol` and a gradient that is not all zero
};

/// The outcome for every checked tensor.
struct GradReport {
    std::vector<TensorReport> tensors;
    double tol = kGradTol;
    /// Whether `visit` lists every parameter of the block (see `visit_is_complete`; true where
    /// the check does not run).
    bool visit_complete = true;
    bool ok() const {
        return visit_complete && !tensors.empty() &&
               std::all_of(tensors.begin(), tensors.end(), [](const TensorReport& t) { return t.ok; });
    }
    double worst() const {
        double w = 0;
        for (const auto& t : tensors) w = std::max(w, t.relative);
        return w;
    }
    /// One line per tensor: name, relative error, and what failed.
    std::string str() const {
        std::ostringstream s;
        if (!visit_complete)
            s << "  FAIL  visit: the block holds a parameter `visit` does not list (a copy of every listed "
                 "tensor does not reproduce its output): no checkpoint saves it, no optimizer trains it\n";
        for (const auto& t : tensors) {
            s << (t.ok ? "  ok    " : "  FAIL  ") << t.name << ": relative error " << t.relative
              << " (max|numeric - analytic| " << t.max_diff << " at element " << t.at << ", max|analytic| "
              << t.max_analytic << ")";
            if (t.max_analytic == 0) s << " -- the gradient is all zero: nothing was checked";
            s << "\n";
        }
        return s.str();
    }
};

/// Every parameter of a module (anything with `visit`) as checked tensors, named as `visit`
/// names them.
template <class Module>
std::vector<Checked> parameters_of(Module& m) {
    std::vector<Checked> out;
    m.visit([&](const std::string& name, auto& p) {
        out.push_back({name, p.value.data(), p.grad.data(), p.value.size()});
    });
    return out;
}

/// Check every tensor in `checked` against central differences of `f` (which must recompute
/// the loss from the current values, deterministically). `h` is the step, `tol` the limit on
/// each tensor's relative error.
inline GradReport check_gradients(const std::vector<Checked>& checked, const std::function<double()>& f,
                                  double h = 1e-5, double tol = kGradTol) {
    GradReport report;
    report.tol = tol;
    for (const auto& c : checked) {
        TensorReport t;
        t.name = c.name;
        for (std::size_t i = 0; i < c.n; ++i) {
            const double v = c.value[i];
            c.value[i] = v + h;
            const double fp = f();
            c.value[i] = v - h;
            const double fm = f();
            c.value[i] = v;
            const double numeric = (fp - fm) / (2 * h);
            const double diff = std::abs(numeric - c.grad[i]);
            if (diff > t.max_diff) t.max_diff = diff, t.at = i;
            t.max_analytic = std::max(t.max_analytic, std::abs(c.grad[i]));
        }
        t.relative = t.max_analytic > 0 ? t.max_diff / t.max_analytic : t.max_diff;
        t.ok = t.relative <= tol && t.max_analytic > 0;
        report.tensors.push_back(t);
    }
    return report;
}

/// Random values in $[-a, a]$, seeded.
inline void fill_uniform(double* x, std::size_t n, unsigned seed, double a = 1.0) {
    std::mt19937_64 g(seed);
    std::uniform_real_distribution<double> u(-a, a);
    for (std::size_t i = 0; i < n; ++i) x[i] = u(g);
}

/// Fill every parameter of a module with random values in $[-0.5, 0.5]$, seeded, so that
/// zero-initialised tables are tested too; LayerNorm weights (names with "norm" and "weight")
/// near 1.
template <class Module>
void randomize(Module& m, unsigned seed) {
    for (auto& c : parameters_of(m)) {
        fill_uniform(c.value, c.n, seed++, 0.5);
        if (c.name.find("norm") != std::string::npos && c.name.find("weight") != std::string::npos)
            for (std::size_t i = 0; i < c.n; ++i) c.value[i] += 1.0;
    }
}

/// $\sum_i y_i w_i$: a loss whose gradient with respect to `y` is `w`.
inline double dot(const double* y, const double* w, std::size_t n) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += y[i] * w[i];
    return s;
}

/// Whether `visit` lists every parameter of `block`. A second block of the same type is
/// initialised from another seed (`init`), configured by `prepare` as `block` was, and given a
/// copy of every tensor `visit` lists; `loss(b)` (a deterministic function of a block) must then
/// give exactly the same value for both. A parameter `visit` forgets keeps the second block's own
/// values and changes it: the block would train, check and save without that parameter. (A
/// forgotten parameter that both seeds initialise alike, e.g. to zeros, goes unseen.)
template <class Block, class Prepare, class Loss>
bool visit_is_complete(Block& block, unsigned seed, Prepare&& prepare, Loss&& loss) {
    Block other;
    Rng rng(seed + 1000);
    other.init(rng);
    prepare(other);
    const auto from = parameters_of(block), to = parameters_of(other);
    if (from.size() != to.size()) return false;
    for (std::size_t k = 0; k < from.size(); ++k) std::copy(from[k].value, from[k].value + from[k].n, to[k].value);
    return loss(other) == loss(block);
}

/// ## The attention slot
/// An attention block over `M` memory rows and `T` queries, batch `B`, parameters from
/// `randomize(seed)`; `setup` (optional) configures it first (a mask option, a clamp). With
/// `dropout` > 0 every evaluation of $f$ draws the same masks (a generator seeded the same each
/// time), so $f$ is a fixed function of the parameters and the differences are exact. The input
/// `kv` is checked beside the parameters.
template <class Attn>
GradReport check_attention(std::size_t M, std::size_t T, std::size_t B, unsigned seed = 1,
                           const std::function<void(Attn&)>& setup = {}, double dropout = 0) {
    constexpr std::size_t d = Attn::config::d_model;
    auto prepare = [&](Attn& a) {
        if (setup) setup(a);
        if (dropout > 0) set_dropout_if_any(a, dropout);
    };
    Attn attn;
    randomize(attn, seed);
    prepare(attn);
    const std::size_t nk = (M + T) * B, nq = T * B;
    std::vector<double> kv(nk * d), out(nq * d), w(nq * d), dkv(nk * d);
    fill_uniform(kv.data(), kv.size(), seed + 100);
    fill_uniform(w.data(), w.size(), seed + 200);
    typename Attn::Cache cache;
    auto loss = [&](Attn& a) {
        Rng rng(seed + 300);
        a.forward(kv.data(), M, T, B, out.data(), cache, dropout > 0 ? &rng : nullptr);
        return dot(out.data(), w.data(), out.size());
    };
    auto f = [&] { return loss(attn); };
    f();
    zero_grad(attn);
    attn.backward(kv.data(), w.data(), dkv.data(), cache);
    auto checked = parameters_of(attn);
    checked.push_back({"input kv", kv.data(), dkv.data(), kv.size()});
    GradReport report = check_gradients(checked, f);
    report.visit_complete = visit_is_complete(attn, seed, prepare, loss);
    return report;
}

/// ## The feed-forward slot
/// A feed-forward block over `n` rows; the input `z` is checked beside the parameters.
template <class FF>
GradReport check_feed_forward(std::size_t n, unsigned seed = 1) {
    constexpr std::size_t d = FF::config::d_model;
    FF ff;
    randomize(ff, seed);
    std::vector<double> z(n * d), y(n * d), w(n * d), dz(n * d);
    fill_uniform(z.data(), z.size(), seed + 100);
    fill_uniform(w.data(), w.size(), seed + 200);
    typename FF::Cache cache;
    auto loss = [&](FF& b) {
        b.forward(z.data(), n, y.data(), cache, nullptr);
        return dot(y.data(), w.data(), y.size());
    };
    auto f = [&] { return loss(ff); };
    f();
    zero_grad(ff);
    ff.backward(z.data(), w.data(), n, dz.data(), cache);
    auto checked = parameters_of(ff);
    checked.push_back({"input z", z.data(), dz.data(), z.size()});
    GradReport report = check_gradients(checked, f);
    report.visit_complete = visit_is_complete(
        ff, seed, [](FF&) {}, loss);
    return report;
}

/// ## The layer slot
/// One layer over `T` new rows and `M` memory rows, batch `B`, with `dropout` everywhere the
/// layer has it (fixed masks: the generator restarts from the same seed at every evaluation).
/// The memory is an input that gets no gradient, so only the parameters and the new rows `x`
/// are checked; parameters that see the memory rows (the attention's LayerNorm) get their part
/// of the gradient from them.
template <class Layer>
GradReport check_layer(std::size_t M, std::size_t T, std::size_t B, unsigned seed = 1, double dropout = 0) {
    constexpr std::size_t d = Layer::config::d_model;
    auto prepare = [&](Layer& l) {
        if (dropout > 0) set_dropout_if_any(l, dropout);
    };
    Layer layer;
    prepare(layer);
    randomize(layer, seed);
    std::vector<double> x(T * B * d), mem(M * B * d), y(T * B * d), w(T * B * d), dx(T * B * d);
    fill_uniform(x.data(), x.size(), seed + 100);
    fill_uniform(mem.data(), mem.size(), seed + 150);
    fill_uniform(w.data(), w.size(), seed + 200);
    typename Layer::Cache cache;
    auto loss = [&](Layer& l) {
        Rng rng(seed + 300);
        l.forward(x.data(), M ? mem.data() : nullptr, M, T, B, y.data(), cache, dropout > 0 ? &rng : nullptr);
        return dot(y.data(), w.data(), y.size());
    };
    auto f = [&] { return loss(layer); };
    f();
    zero_grad(layer);
    layer.backward(w.data(), dx.data(), cache);
    auto checked = parameters_of(layer);
    checked.push_back({"input x", x.data(), dx.data(), x.size()});
    GradReport report = check_gradients(checked, f);
    report.visit_complete = visit_is_complete(layer, seed, prepare, loss);
    return report;
}

/// ## A whole model, over memory
/// Two consecutive segments of lengths `T1` and `T2`, batch `B`, the second attending over the
/// memory the first left (`mem_len`). The loss is $L_1(\theta) + L_2(\theta;\ mem)$ with $mem$
/// held fixed: exactly what backward computes, since no gradient flows into the memory. Works
/// for any composition of slots, a memory block of one's own included.
template <class Model>
GradReport check_model(std::size_t T1, std::size_t T2, std::size_t B, std::size_t mem_len, unsigned seed = 400,
                       std::size_t V = 7) {
    Model model(V, 1);
    randomize(model, seed);
    auto tokens = [&](std::size_t T, unsigned s) {
        std::mt19937_64 g(s);
        auto t = tensor<std::int64_t, 2>::from_shape({T, B});
        for (auto& v : t) v = std::int64_t(g() % V);
        return t;
    };
    const auto x1 = tokens(T1, 1), y1 = tokens(T1, 2), x2 = tokens(T2, 3), y2 = tokens(T2, 4);
    typename Model::Cache cache;
    Memory<typename Model::S> empty, mem;
    // $f = L_1 + L_2$: the mean losses of two segments, the second over the first's memory.
    model.zero_grad();
    model.forward(x1, empty, cache);
    model.loss_backward(y1.data(), cache);
    model.update_memory(mem, cache, mem_len);
    model.forward(x2, mem, cache);
    model.loss_backward(y2.data(), cache);
    auto f = [&] {
        model.forward(x1, empty, cache);
        double l = model.loss(y1.data(), cache).loss;
        model.forward(x2, mem, cache);
        return l + model.loss(y2.data(), cache).loss;
    };
    return check_gradients(parameters_of(model), f);
}

}  // namespace txl::testing
