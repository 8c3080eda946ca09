#pragma once
/// @file training/optim.hpp
/// # Optimisation: Adam, learning-rate schedules, gradient clipping
///
/// **Adam** as labml implements it (its "optimized update"): for each parameter $\theta$ with
/// gradient $g$ at step $t = 1, 2, \dots$
/// $$m \leftarrow \beta_1 m + (1-\beta_1) g, \qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2$$
/// $$\theta \leftarrow \theta - \eta_t \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}
///   \cdot \frac{m}{\sqrt v + \epsilon}$$
/// with $\beta = (0.9, 0.999)$, $\epsilon = 10^{-8}$ and no weight decay.
///
/// **AdamW** (Loshchilov and Hutter, "Decoupled weight decay regularization"), an option:
/// with $\lambda > 0$ each decayed parameter first shrinks by the step's own rate,
/// $\theta \leftarrow \theta (1 - \eta_t \lambda)$, then takes the Adam step above. The decay is
/// *decoupled*: it does not pass through $m$ and $v$, so every weight shrinks at the same
/// relative rate whatever its gradient's scale. Decayed are the weight matrices and tables;
/// biases (names ending in `bias`) and LayerNorm gains and biases (names containing `norm`)
/// are not, as in nanoGPT and most GPT recipes.
///
/// **Noam** (labml, from "Attention is all you need"):
/// $\eta_t = \eta \cdot d_{model}^{-1/2} \cdot \min(t^{-1/2},\ t \cdot w^{-3/2})$: linear warm-up
/// for $w$ steps, then $1/\sqrt t$ decay. Also a constant rate and a cosine decay (after the same
/// linear warm-up) to $\eta_{min}$ at step `total`:
/// $\eta_t = \eta_{min} + \tfrac12 (\eta - \eta_{min}) \bigl(1 + \cos(\pi \frac{t - w}{total - w})\bigr)$.
/// A cosine schedule whose `total` is still 0 holds the peak $\eta$ after the warm-up, until a
/// caller fixes `total`: `TimeBudget` does so from the measured speed, so that a run given
/// minutes instead of steps ends its decay where its time does.
///
/// **Clipping** by the global norm: if $\|g\|_2 = \sqrt{\sum_{\text{all tensors}} \sum g^2}$
/// exceeds $c$, every gradient is scaled by $c / \|g\|_2$ (PyTorch's `clip_grad_norm_`, whose
/// scale is $c / (\|g\| + 10^{-6})$, clamped at 1).

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "../core/errors.hpp"
#include "../core/tensor.hpp"
#include "../io/npy.hpp"

namespace txl {

/// The learning rate $\eta_t$ for step $t \ge 1$.
struct Schedule {
    enum class Kind { noam, constant, cosine };
    Kind kind = Kind::noam;
    double lr = 1.0;            ///< $\eta$ (Noam: the factor in front, labml uses 1.0)
    std::size_t warmup = 2000;  ///< $w$
    std::size_t d_model = 128;  ///< Noam's $d_{model}^{-1/2}$
    std::size_t total = 0;      ///< cosine: the step at which the rate reaches `min_lr`
    double min_lr = 0;          ///< cosine's floor

    double operator()(std::size_t t) const {
        const double s = double(t == 0 ? 1 : t);
        switch (kind) {
            case Kind::noam:
                return lr / std::sqrt(double(d_model)) *
                       std::min(1.0 / std::sqrt(s), s * std::pow(double(std::max<std::size_t>(warmup, 1)), -1.5));
            case Kind::constant:
                return warmup && s < double(warmup) ? lr * s / double(warmup) : lr;
            case Kind::cosine: {
                if (warmup && s < double(warmup)) return lr * s / double(warmup);
                if (total == 0) return lr;  // the end not fixed yet (a time budget measures it): the peak
                const double span = double(std::max(total, warmup + 1) - warmup);
                const double p = std::min(1.0, (s - double(warmup)) / span);
                return min_lr + 0.5 * (lr - min_lr) * (1 + std::cos(3.14159265358979323846 * p));
            }
        }
        return lr;
    }

    static Kind parse(const std::string& name) {
        if (name == "noam") return Kind::noam;
        if (name == "constant") return Kind::constant;
        if (name == "cosine") return Kind::cosine;
        throw error("unknown schedule '" + name + "', expected noam, constant or cosine");
    }
    static std::string name(Kind k) { return k == Kind::noam ? "noam" : k == Kind::constant ? "constant" : "cosine"; }
};

/// ## A cosine schedule fitted to a time budget
/// A run given a budget of $t_{budget}$ seconds, not a step count, does not know where its cosine
/// should end. Once warm-up is over and the run has taken enough steps to time them (20, or 2
/// when they already took a tenth of the budget: slow steps, a short budget), it validates once
/// and fixes the end so that the steps and validations left fill the time left, with 2% spare:
/// $$\text{total} = s + \max\Big(1,\ \Big\lfloor \frac{0.98\, t_{left}}{t_{step} + t_{valid} / n_{valid}} \Big\rfloor\Big)$$
/// at step $s$, with $t_{step}$ the mean time of this run's steps so far, $t_{valid}$ the time of
/// that validation, $n_{valid}$ the steps between validations and $t_{left}$ the budget left
/// after it. The caller saves `total` with its checkpoint, so a resumed run decays to the same step.
struct TimeBudget {
    double seconds = 0;  ///< $t_{budget}$ (0: no budget)

    /// Whether to fit now: a cosine whose end is not fixed, warm-up over, enough steps timed.
    /// `steps_run` counts this run's steps (a resumed run times only its own), `elapsed` its seconds.
    bool ready(const Schedule& s, std::size_t step, std::size_t steps_run, double elapsed) const {
        return seconds > 0 && s.kind == Schedule::Kind::cosine && s.total == 0 &&
               step >= std::max<std::size_t>(s.warmup, 1) &&
               (steps_run >= 20 || (steps_run >= 2 && elapsed >= 0.1 * seconds));
    }

    /// The step where the decay ends (the formula above). `train_seconds`: the run's time before
    /// the validation, over `steps_run` steps; `valid_seconds`: the validation's; `elapsed`: after it.
    std::size_t fit(std::size_t step, std::size_t steps_run, double train_seconds, double valid_seconds,
                    std::size_t valid_every, double elapsed) const {
        const double per_step = train_seconds / double(std::max<std::size_t>(steps_run, 1));
        const double left = seconds - elapsed;
        const double more =
            std::max(0.0, 0.98 * left / (per_step + valid_seconds / double(std::max<std::size_t>(valid_every, 1))));
        return step + std::max<std::size_t>(std::size_t(more), 1);
    }
};

/// Global gradient norm; scales the gradients down to `max_norm` if above it. Returns the
/// norm before clipping. (Squares are summed in `S` per tensor, then in double across tensors.)
template <class S>
inline double clip_grad_norm(std::vector<ParamRef<S>>& refs, double max_norm) {
    // $\lVert g \rVert = \sqrt{\sum_{\text{tensors}} \sum_i g_i^2}$
    double sq = 0;
    for (const auto& r : refs) {
        // Only where the gradient may be non-zero.
        const S* g = r.grad + r.touched->begin;
        const std::size_t n = r.touched->empty() ? 0 : r.touched->end - r.touched->begin;
        sq += double(partial_sums16<S>(n, [&](std::size_t i) { return g[i] * g[i]; }));
    }
    const double norm = std::sqrt(sq);
    // $g \leftarrow g \cdot \frac{\text{max\_norm}}{\lVert g \rVert + 10^{-6}}$ when that factor is below 1 (PyTorch's rule).
    const double scale = max_norm / (norm + 1e-6);
    if (scale < 1)
        for (const auto& r : refs)
            for (std::size_t i = r.touched->begin; i < r.touched->end; ++i) r.grad[i] *= S(scale);
    return norm;
}
template <class Module>
inline double clip_grad_norm(Module& m, double max_norm) {
    auto refs = parameter_refs<typename Module::scalar>(m);
    return clip_grad_norm(refs, max_norm);
}

/// Adam over every parameter of a module. The moments live here, one pair of flat vectors per
/// parameter tensor in visiting order, and are saved with a training checkpoint.
/// @tparam S scalar type.
template <class S>
class Adam {
public:
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    double weight_decay = 0;  ///< AdamW's $\lambda$ (0: labml's Adam)

    /// Whether AdamW's decay applies to the parameter `name` (see [the file comment](#top)).
    static bool decays(const std::string& name) {
        const bool bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
        return !bias && name.find("norm") == std::string::npos;
    }

    /// Allocate zero moments for every parameter of `m`, and keep its flat view.
    template <class Module>
    void attach(Module& m) {
        moments.clear();
        names.clear();
        decayed.clear();
        m.visit([&](const std::string& name, auto& p) {
            names.push_back(name);
            decayed.push_back(decays(name));
            moments.push_back({std::vector<S>(p.value.size(), S(0)), std::vector<S>(p.value.size(), S(0))});
        });
        refs = parameter_refs<S>(m);
        active.assign(refs.size(), Span{});
        for (std::size_t k = 0; k < refs.size(); ++k)
            if (!refs[k].sparse) active[k] = {0, refs[k].size};
        t = 0;
    }

    /// After moments were loaded: the active span of each tensor is where $m$ or $v$ is
    /// non-zero (for sparse parameters), which is exactly where an update can change anything.
    void recompute_active() {
        for (std::size_t k = 0; k < refs.size(); ++k) {
            if (!refs[k].sparse) continue;
            const auto& mm = moments[k].first;
            const auto& vv = moments[k].second;
            Span s;
            for (std::size_t i = 0; i < mm.size(); ++i)
                if (mm[i] != S(0) || vv[i] != S(0)) s.extend(i, i + 1);
            active[k] = s;
        }
    }

    /// ## Its state in a checkpoint
    /// The moments $m$, $v$ of each parameter, as `<dir>/<name>.m.npy` and `.v.npy`; the step
    /// count $t$ is the caller's to record (`trainer.txt`).
    using Moments = std::vector<std::pair<std::vector<S>, std::vector<S>>>;

    /// Throws `error` naming `who`, the tensor and the element unless every weight and moment
    /// is finite, and saying what follows (`then`).
    void check_finite(const std::string& who, const std::string& then) const {
        for (std::size_t k = 0; k < refs.size(); ++k) {
            const auto& mv = moments[k];
            for (std::size_t i = 0; i < refs[k].size; ++i)
                if (!(std::isfinite(double(refs[k].value[i])) && std::isfinite(double(mv.first[i])) &&
                      std::isfinite(double(mv.second[i]))))
                    throw error(detail::concat(who, ": ", names[k], " element ", i,
                                               " (or its Adam moments) is not finite; ", then));
        }
    }
    /// Write the moments into `dir` (which exists).
    void write_state(const std::filesystem::path& dir) const {
        for (std::size_t k = 0; k < names.size(); ++k) {
            const auto& mv = moments[k];
            write_npy((dir / (names[k] + ".m.npy")).string(), xt::adapt(mv.first, std::vector<std::size_t>{mv.first.size()}));
            write_npy((dir / (names[k] + ".v.npy")).string(), xt::adapt(mv.second, std::vector<std::size_t>{mv.second.size()}));
        }
    }
    /// The moments in `dir`, checked (shapes; finite, and $v \ge 0$: anything else would put
    /// NaN into the weights with the first update), not yet applied.
    Moments read_state(const std::filesystem::path& dir) const {
        Moments read(names.size());
        for (std::size_t k = 0; k < names.size(); ++k) {
            const std::array<std::size_t, 1> n{moments[k].first.size()};
            tensor<S, 1> m, v;
            read_npy((dir / (names[k] + ".m.npy")).string(), n, m);
            read_npy((dir / (names[k] + ".v.npy")).string(), n, v);
            for (std::size_t i = 0; i < m.size(); ++i)
                if (!(std::isfinite(double(m(i))) && std::isfinite(double(v(i))) && v(i) >= S(0)))
                    throw checkpoint_error(detail::concat(
                        (dir / names[k]).string(), ".{m,v}.npy: element ", i, " holds m = ", m(i), ", v = ", v(i),
                        " (not finite, or a negative second moment); refusing to load it"));
            read[k] = {std::vector<S>(m.begin(), m.end()), std::vector<S>(v.begin(), v.end())};
        }
        return read;
    }
    /// Continue from `read_state`'s moments after `step` updates.
    void restore(Moments&& read, std::size_t step) {
        moments = std::move(read);
        recompute_active();
        t = step;
    }

    /// One update of the attached parameters with learning rate `lr` (the schedule's
    /// $\eta_t$ for the new step). A plain loop the compiler vectorises (with
    /// `-fno-math-errno`, `std::sqrt` becomes one instruction).
    ///
    /// A row-sparse parameter is updated over its *active* span only: every element whose
    /// gradient has ever been non-zero. Outside it $g = m = v = 0$, so the update
    /// $\theta \mathrel{-}= \eta\, 0 / (0 + \epsilon)$ would change nothing: skipping it is exact,
    /// and saves most of the work on labml's 8192-row relative tables.
    void step(double lr) {
        ++t;
        const double bc1 = 1 - std::pow(beta1, double(t)), bc2 = 1 - std::pow(beta2, double(t));
        const S step_size = S(lr * std::sqrt(bc2) / bc1);
        const S b1 = S(beta1), b2 = S(beta2), e = S(eps), c1 = S(1 - beta1), c2 = S(1 - beta2);
        const S keep = S(1 - lr * weight_decay);  // AdamW: $1 - \eta_t \lambda$
        std::size_t total = 0;
        for (std::size_t k = 0; k < refs.size(); ++k) {
            active[k].extend(refs[k].touched->begin, refs[k].touched->end);
            total += active[k].empty() ? 0 : active[k].end - active[k].begin;
        }
        // Elementwise over every active span (laid end to end and shared out between the
        // threads in one parallel region, see `for_joined_spans`), labml's "optimized" Adam:
        // $m \leftarrow \beta_1 m + (1 - \beta_1)\, g$, $v \leftarrow \beta_2 v + (1 - \beta_2)\, g^2$,
        // $\theta \leftarrow \theta - \eta_t \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t} \cdot \frac{m}{\sqrt v + \epsilon}$.
        // With AdamW's decay, first $\theta \leftarrow (1 - \eta_t \lambda)\, \theta$. A sparse tensor
        // decays over its active span only: the rows outside it never had a gradient, and hold
        // their initial values (zeros for labml's relative tables) undecayed.
        for_joined_spans(active, total, total >= 65536, [&](std::size_t k, std::size_t lo, std::size_t hi) {
            S* __restrict mm = moments[k].first.data();
            S* __restrict vv = moments[k].second.data();
            S* __restrict th = refs[k].value;
            const S* __restrict g = refs[k].grad;
            if (weight_decay > 0 && decayed[k])
#pragma omp simd
                for (std::size_t i = lo; i < hi; ++i) th[i] *= keep;
#pragma omp simd
            for (std::size_t i = lo; i < hi; ++i) {
                mm[i] = b1 * mm[i] + c1 * g[i];
                vv[i] = b2 * vv[i] + c2 * g[i] * g[i];
                th[i] -= step_size * mm[i] / (std::sqrt(vv[i]) + e);
            }
        });
    }
    std::vector<ParamRef<S>> refs;  ///< the attached parameters
    std::vector<Span> active;       ///< per tensor: where it has ever had a gradient

    std::size_t t = 0;  ///< steps taken
    std::vector<std::string> names;
    std::vector<bool> decayed;  ///< per tensor: AdamW's decay applies (`decays(name)`)
    std::vector<std::pair<std::vector<S>, std::vector<S>>> moments;  ///< (m, v) per tensor
};

}  // namespace txl
