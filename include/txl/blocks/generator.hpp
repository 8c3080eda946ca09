#pragma once
/// @file blocks/generator.hpp
/// # The generator: from the last hidden state to the logits
///
/// $$\text{logits}_{t,b} = x_{t,b}\, W_g^\top + b_g, \qquad W_g \in \mathbb R^{n_{vocab} \times d_{model}}$$
/// labml's `generator` (an `nn.Linear(d_model, n_vocab)`), the model's generator slot (see
/// `slots.hpp`). Its backward is `Linear`'s: $\partial L/\partial x = \delta W_g$,
/// $\partial L/\partial W_g \mathrel{+}= \delta^\top x$, $\partial L/\partial b_g \mathrel{+}= \sum_r \delta_r$.

#include <string>

#include "../core/config.hpp"
#include "../core/errors.hpp"
#include "../core/random.hpp"
#include "linear.hpp"

namespace txl {

/// @tparam C a `txl::Config`.
template <class C>
class Generator {
public:
    using config = C;
    using S = typename C::scalar;
    static std::string name() { return "Generator"; }

    Generator() = default;
    explicit Generator(std::size_t n_vocab) : linear(C::d_model, n_vocab, true) {
        check(n_vocab > 0, "Generator: n_vocab = 0, expected at least one token");
    }

    void init(Rng& rng) { linear.init(rng); }

    /// `logits[n, n_vocab] = x[n, d_model] W_g^T + b_g`.
    void forward(const S* x, std::size_t n, S* logits) const { linear.forward(x, n, logits); }

    /// From `dlogits[n, n_vocab]`: accumulate $W_g$, $b_g$ gradients and write `dx[n, d_model]`.
    void backward(const S* x, const S* dlogits, std::size_t n, S* dx) { linear.backward(x, dlogits, n, dx); }

    /// labml's names: `weight`, `bias` (directly under the model's `generator.`).
    template <class F>
    void visit(F&& f, const std::string& prefix = "") {
        linear.visit(f, prefix);
    }

    Linear<S> linear;
};

}  // namespace txl
