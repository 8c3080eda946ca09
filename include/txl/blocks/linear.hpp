#pragma once
/// @file blocks/linear.hpp
/// # Linear layer
///
/// $$y = x W^\top + b, \qquad x \in \mathbb R^{n \times in},\; W \in \mathbb R^{out \times in},
/// \; b \in \mathbb R^{out}$$
///
/// PyTorch's `nn.Linear`, weight stored `[out, in]` as PyTorch stores it, so checkpoints move
/// between the two unchanged. The $n$ rows are all positions of a segment (`T * B`).
///
/// **Backward.** With $\delta = \partial L / \partial y$:
/// $$\frac{\partial L}{\partial x} = \delta W, \qquad
///   \frac{\partial L}{\partial W} \mathrel{+}= \delta^\top x, \qquad
///   \frac{\partial L}{\partial b} \mathrel{+}= \textstyle\sum_r \delta_{r,:}$$
/// Three GEMM-shaped products: the forward and the two halves of the backward each cost
/// $2 \cdot n \cdot in \cdot out$ FLOPs.

#include <cmath>
#include <string>

#include "../core/tensor.hpp"
#include "../core/random.hpp"

namespace txl {

/// @tparam S scalar type. Sizes are runtime values (the generator's `out` is the vocabulary).
template <class S>
class Linear {
public:
    using scalar = S;
    Linear() = default;
    Linear(std::size_t in, std::size_t out, bool bias) : in_(in), out_(out), has_bias_(bias) {
        weight.resize(std::array<std::size_t, 2>{out, in});
        if (bias) this->bias.resize(std::array<std::size_t, 1>{out});
    }

    std::size_t in_features() const { return in_; }
    std::size_t out_features() const { return out_; }
    bool has_bias() const { return has_bias_; }

    /// PyTorch's default: $U(-1/\sqrt{in}, 1/\sqrt{in})$ for weight and bias.
    void init(Rng& rng) {
        const double bound = 1.0 / std::sqrt(double(in_));
        init_uniform(weight.value.data(), weight.value.size(), bound, rng);
        if (has_bias_) init_uniform(bias.value.data(), bias.value.size(), bound, rng);
    }

    /// `y[n, out] = x[n, in] W^T + b` (dense rows): one GEMM, whose sums start from $b$
    /// (`gemm`'s `bias`), so $b$ is not first copied into every row of $y$.
    void forward(const S* x, std::size_t n, S* y) const {
        // $y = x W^\top + \mathbf 1 b^\top$: `[n, in] x [in, out]`.
        gemm(Trans::No, Trans::Yes, n, out_, in_, S(1), x, in_, weight.value.data(), in_, S(0), y, out_,
             has_bias_ ? bias.value.data() : nullptr);
    }

    /// Accumulate $\partial L/\partial W$, $\partial L/\partial b$ from `dy[n, out]` and the
    /// forward input `x[n, in]`; write `dx = dy W` (or add it, `dx_beta = 1`) if `dx` is given.
    void backward(const S* x, const S* dy, std::size_t n, S* dx, S dx_beta = S(0)) {
        // $\partial L/\partial W \mathrel{+}= \delta^\top x$: `[out, n] x [n, in]`.
        gemm(Trans::Yes, Trans::No, out_, in_, n, S(1), dy, out_, x, in_, S(1), weight.grad.data(), in_);
        // $\partial L/\partial b \mathrel{+}= \sum_r \delta_{r,:}$.
        if (has_bias_) add_column_sums(dy, n, out_, bias.grad.data());
        // $\partial L/\partial x = \delta W$: `[n, out] x [out, in]` (written, or added with `dx_beta = 1`).
        if (dx) gemm(Trans::No, Trans::No, n, in_, out_, S(1), dy, out_, weight.value.data(), in_, dx_beta, dx, in_);
    }

    /// Visit `(name, Param&)`: `prefix + "weight"` and `prefix + "bias"`.
    template <class F>
    void visit(F&& f, const std::string& prefix = "") {
        f(prefix + "weight", weight);
        if (has_bias_) f(prefix + "bias", bias);
    }

    Param<S, 2> weight;
    Param<S, 1> bias;

private:
    std::size_t in_ = 0, out_ = 0;
    bool has_bias_ = true;
};

}  // namespace txl
