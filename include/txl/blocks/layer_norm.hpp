#pragma once
/// @file blocks/layer_norm.hpp
/// # Layer normalisation
///
/// Each row $x \in \mathbb R^{d}$ is normalised over its $d$ features, then scaled and shifted:
/// $$\mu = \tfrac1d \textstyle\sum_c x_c,\quad \sigma^2 = \tfrac1d \sum_c (x_c - \mu)^2,\quad
///   \hat x = (x - \mu)\, r,\; r = 1/\sqrt{\sigma^2 + \epsilon},\quad
///   y = \gamma \odot \hat x + \beta$$
/// with PyTorch's biased variance and $\epsilon = 10^{-5}$. `weight` is $\gamma$, `bias` $\beta$.
///
/// ## Backward {#backward}
/// With $\delta = \partial L/\partial y$ for one row, the scale and shift give
/// $$\frac{\partial L}{\partial \gamma} \mathrel{+}= \delta \odot \hat x, \qquad
///   \frac{\partial L}{\partial \beta} \mathrel{+}= \delta, \qquad
///   \hat\delta = \frac{\partial L}{\partial \hat x} = \delta \odot \gamma.$$
/// Then through $\hat x_k = (x_k - \mu)\, r$, where $\mu$ and $r$ depend on every $x_c$:
/// $\partial\mu/\partial x_c = 1/d$ and $\partial r/\partial x_c = -r^3 (x_c - \mu)/d = -r^2 \hat x_c/d$, so
/// $$\frac{\partial \hat x_k}{\partial x_c} = r\Big([k = c] - \frac1d\Big) - \frac{r}{d}\,\hat x_k \hat x_c$$
/// and, summing over $k$ (mean: over the row's $d$ features):
/// $$\frac{\partial L}{\partial x_c} = \sum_k \hat\delta_k \frac{\partial \hat x_k}{\partial x_c}
///   = r \Big(\hat\delta_c - \operatorname{mean}(\hat\delta) - \hat x_c\, \operatorname{mean}(\hat\delta \odot \hat x)\Big)$$
/// This $\partial L/\partial x$ is what the layers write $\text{LN}'^\top \delta$: the transposed
/// Jacobian of LayerNorm applied to the output's gradient. The forward keeps $\hat x$ and $r$
/// for it.

#include <algorithm>
#include <cmath>
#include <string>

#include "../core/tensor.hpp"

namespace txl {

/// @tparam S scalar type. @tparam D the width $d$ of a row (compile time).
template <class S, std::size_t D>
class LayerNorm {
public:
    using scalar = S;
    static constexpr S eps = S(1e-5);

    LayerNorm() {
        weight.resize(std::array<std::size_t, 1>{D});
        bias.resize(std::array<std::size_t, 1>{D});
        weight.value.fill(S(1));
    }

    /// `n` rows of `x` into `y`; keeps `xhat[n, D]` and `rstd[n]` for backward.
    void forward(const S* x, std::size_t n, S* y, S* xhat, S* rstd) const {
        const S* gamma = weight.value.data();
        const S* beta = bias.value.data();
        // Row by row (rows spread over the threads when there are many):
        for_range(n, n >= 256, [&](std::size_t r) {
            const S* xr = x + r * D;
            // $\mu = \frac1d \sum_c x_c$, $\sigma^2 = \frac1d \sum_c (x_c - \mu)^2$
            const S mean = row_sum([&](std::size_t c) { return xr[c]; }) / S(D);
            const S var = row_sum([&](std::size_t c) { return (xr[c] - mean) * (xr[c] - mean); }) / S(D);
            // $r = 1/\sqrt{\sigma^2 + \epsilon}$, kept for backward
            const S rs = S(1) / std::sqrt(var + eps);
            rstd[r] = rs;
            S* hr = xhat + r * D;
            S* yr = y + r * D;
            // $\hat x = (x - \mu)\, r$ (kept), $y = \gamma \odot \hat x + \beta$
            for (std::size_t c = 0; c < D; ++c) {
                hr[c] = (xr[c] - mean) * rs;
                yr[c] = gamma[c] * hr[c] + beta[c];
            }
        });
    }

    /// Accumulate $\partial L/\partial\gamma$, $\partial L/\partial\beta$ from `dy[n, D]`;
    /// if `dx` is given, *add* $\partial L/\partial x$ to it (the residual stream's gradient
    /// is already there). `dx == nullptr` is the stop-gradient case (memory rows). With
    /// `residual`, write `dx = residual + ∂L/∂x` instead (saves the caller a copy).
    void backward(const S* dy, const S* xhat, const S* rstd, std::size_t n, S* dx, const S* residual = nullptr) {
        const S* gamma = weight.value.data();
        S* dgamma = weight.grad.data();
        S* dbeta = bias.grad.data();
        // $\partial L/\partial \gamma \mathrel{+}= \sum_r g_r \odot \hat x_r$, $\partial L/\partial \beta \mathrel{+}= \sum_r g_r$:
        // sums over rows. Each thread owns whole blocks of 16 columns (one cache line of a row)
        // and walks the rows in order, so every sum runs in row order whatever the thread
        // count, and each row is read once.
        constexpr std::size_t CB = 16, blocks = (D + CB - 1) / CB;
        for_range(blocks, n >= 256, [&](std::size_t blk) {
            const std::size_t c0 = blk * CB, w = std::min(CB, D - c0);
            S g[CB] = {}, b[CB] = {};
            for (std::size_t r = 0; r < n; ++r) {
                const S* dr = dy + r * D + c0;
                const S* hr = xhat + r * D + c0;
                for (std::size_t c = 0; c < w; ++c) {
                    g[c] += dr[c] * hr[c];
                    b[c] += dr[c];
                }
            }
            for (std::size_t c = 0; c < w; ++c) {
                dgamma[c0 + c] += g[c];
                dbeta[c0 + c] += b[c];
            }
        });
        if (!dx) return;
        // Input gradient, row by row, with $\hat\delta = \delta \odot \gamma$:
        for_range(n, n >= 256, [&](std::size_t r) {
            const S* gr = dy + r * D;
            const S* hr = xhat + r * D;
            // $\operatorname{mean}(\hat\delta) = \frac1d \sum_c \hat\delta_c$, $\operatorname{mean}(\hat\delta \odot \hat x) = \frac1d \sum_c \hat\delta_c \hat x_c$
            const S mean_g = row_sum([&](std::size_t c) { return gr[c] * gamma[c]; }) / S(D);
            const S mean_gh = row_sum([&](std::size_t c) { return gr[c] * gamma[c] * hr[c]; }) / S(D);
            S* dxr = dx + r * D;
            const S* base = residual ? residual + r * D : dxr;
            // $\partial L/\partial x = r\,(\hat\delta - \operatorname{mean}(\hat\delta) - \hat x\, \operatorname{mean}(\hat\delta \odot \hat x))$, added to `dx` (or `residual`)
            for (std::size_t c = 0; c < D; ++c)
                dxr[c] = base[c] + rstd[r] * (gr[c] * gamma[c] - mean_g - hr[c] * mean_gh);
        });
    }

    /// $\sum_{c<D} f(c)$ over one row (see `partial_sums16`).
    template <class F>
    static S row_sum(F&& f) {
        return partial_sums16<S>(D, f);
    }

    template <class F>
    void visit(F&& f, const std::string& prefix = "") {
        f(prefix + "weight", weight);
        f(prefix + "bias", bias);
    }

    Param<S, 1> weight;  ///< $\gamma$
    Param<S, 1> bias;    ///< $\beta$
};

}  // namespace txl
