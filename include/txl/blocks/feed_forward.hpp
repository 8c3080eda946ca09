#pragma once
/// @file blocks/feed_forward.hpp
/// # Position-wise feed-forward network
///
/// $$\text{FFN}(z) = \text{ReLU}(z W_1^\top + b_1)\, W_2^\top + b_2$$
/// applied to every position independently (labml's `FeedForward`, names `layer1`,
/// `layer2`), with dropout on the hidden activation as labml applies it.
///
/// **Backward.** With $h = \text{dropout}(\text{ReLU}(a))$, $a = z W_1^\top + b_1$ and
/// $\delta = \partial L/\partial y$: the second linear gives $\partial L/\partial h = \delta W_2$;
/// ReLU passes the gradient where $a > 0$ and dropout multiplies by its mask $m$, so
/// $\partial L/\partial a = (\delta W_2) \odot [h > 0]$ without dropout and
/// $(\delta W_2) \odot m \odot [h > 0 \lor m = 0]$ with it (both reduce to
/// $[a > 0] \odot m$, since $h > 0 \iff a > 0$ wherever $m \neq 0$);
/// then the first linear gives $\partial L/\partial z = (\partial L/\partial a) W_1$.

#include <string>

#include "../core/tensor.hpp"
#include "../core/random.hpp"
#include "dropout.hpp"
#include "linear.hpp"

namespace txl {

/// @tparam C a `txl::Config`.
template <class C>
class FeedForward {
public:
    using config = C;
    using S = typename C::scalar;
    using scalar = S;
    static constexpr std::size_t d_model = C::d_model, d_ff = C::d_ff;
    static std::string name() { return "FeedForward(ReLU)"; }

    /// What forward keeps for backward, and backward's workspace (owned by the caller).
    struct Cache {
        tensor<S, 2> h;     ///< `[n, d_ff]` hidden activation after ReLU (and dropout)
        tensor<S, 2> mask;  ///< `[n, d_ff]` dropout mask (empty without dropout)
        tensor<S, 2> dh;    ///< `[n, d_ff]` workspace
        bool dropped = false;
    };

    FeedForward() : layer1(d_model, d_ff, true), layer2(d_ff, d_model, true) {}

    void init(Rng& rng) {
        layer1.init(rng);
        layer2.init(rng);
    }

    /// `y[n, d_model] = FFN(z[n, d_model])`.
    void forward(const S* z, std::size_t n, S* y, Cache& cache, Rng* rng) const {
        ensure_shape(cache.h, {n, d_ff});
        S* h = cache.h.data();
        // $a = z W_1^\top + b_1$ `[n, d_ff]`, then $h = \text{ReLU}(a) = \max(a, 0)$ in place.
        layer1.forward(z, n, h);
        const std::size_t size = n * d_ff;
        const bool parallel = size >= (std::size_t(1) << 16);  // element-wise: worth threads when large
        for_range(size, parallel, [&](std::size_t i) { h[i] = h[i] > S(0) ? h[i] : S(0); });
        // $h \leftarrow h \odot m / (1 - p)$ (training only).
        cache.dropped = dropout.active(rng);
        if (cache.dropped) {
            ensure_shape(cache.mask, {n, d_ff});
            dropout.forward_rows(h, n, d_ff, cache.mask.data(), *rng);  // rows are time-major
        }
        // $y = h W_2^\top + b_2$ `[n, d]`.
        layer2.forward(h, n, y);
    }

    /// From `dy[n, d_model]`: accumulate parameter gradients and write `dz[n, d_model]`.
    void backward(const S* z, const S* dy, std::size_t n, S* dz, Cache& cache) {
        ensure_shape(cache.dh, {n, d_ff});
        S* dh = cache.dh.data();
        const S* h = cache.h.data();
        // $\partial L/\partial h = \delta W_2$ `[n, d_ff]` (and $W_2$, $b_2$ gradients).
        layer2.backward(h, dy, n, dh);
        // $\partial L/\partial a = \partial L/\partial h \odot [a > 0]$ (times $m$ with dropout).
        const std::size_t size = n * d_ff;
        const bool parallel = size >= (std::size_t(1) << 16);
        if (cache.dropped) {
            const S* m = cache.mask.data();
            for_range(size, parallel,
                      [&](std::size_t i) { dh[i] = (h[i] > S(0) || m[i] == S(0)) ? dh[i] * m[i] : S(0); });
        } else {
            for_range(size, parallel, [&](std::size_t i) { dh[i] = h[i] > S(0) ? dh[i] : S(0); });
        }
        // $\partial L/\partial z = (\partial L/\partial a) W_1$ `[n, d]` (and $W_1$, $b_1$ gradients).
        layer1.backward(z, dh, n, dz);
    }

    /// Dropout on the hidden activation, probability `p`.
    void set_dropout(S p) { dropout.p = p; }

    template <class F>
    void visit(F&& f, const std::string& prefix = "") {
        layer1.visit(f, prefix + "layer1.");
        layer2.visit(f, prefix + "layer2.");
    }

    Linear<S> layer1, layer2;
    Dropout<S> dropout;
};

}  // namespace txl
