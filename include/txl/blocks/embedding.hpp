#pragma once
/// @file blocks/embedding.hpp
/// # Token embedding
///
/// $x_{t,b} = E[\text{token}_{t,b}]$, $E \in \mathbb R^{n_{vocab} \times d_{model}}$
/// (PyTorch's `nn.Embedding`, initialised $\mathcal N(0,1)$; labml's Transformer-XL does not
/// scale it). **Backward** is a scatter-add: $\partial L/\partial E_v \mathrel{+}=
/// \sum_{(t,b):\, \text{token}_{t,b} = v} \partial L/\partial x_{t,b}$.
///
/// The model's embedding slot (see `slots.hpp`): `forward` and `backward` take the segment's
/// shape `[T, B]`, so that a block of one's own can add positions.

#include <cstdint>
#include <string>

#include "../core/config.hpp"
#include "../core/errors.hpp"
#include "../core/tensor.hpp"
#include "../core/random.hpp"

namespace txl {

/// Throws `shape_error` naming the first of `ids[n]` outside `[0, n_vocab)` and its position:
/// "`who`: `what` id 7 at position 1 is outside the vocabulary [0, 7)".
inline void check_ids(const char* who, const char* what, const std::int64_t* ids, std::size_t n, std::size_t n_vocab) {
    // $0 \le \text{id}_i < n_{vocab}$ for every position $i$.
    for (std::size_t i = 0; i < n; ++i)
        check(ids[i] >= 0 && std::uint64_t(ids[i]) < n_vocab, who, ": ", what, " id ", ids[i], " at position ", i,
              " is outside the vocabulary [0, ", n_vocab, ")");
}

/// @tparam C a `txl::Config` (gives the scalar type and $d_{model}$).
template <class C>
class Embedding {
public:
    using config = C;
    using S = typename C::scalar;
    using scalar = S;
    static constexpr std::size_t D = C::d_model;
    static std::string name() { return "Embedding"; }

    Embedding() = default;
    explicit Embedding(std::size_t n_vocab) : n_vocab_(n_vocab) {
        check(n_vocab > 0, "Embedding: n_vocab = 0, expected at least one token");
        weight.resize(std::array<std::size_t, 2>{n_vocab, D});
    }
    std::size_t n_vocab() const { return n_vocab_; }

    // $E_{v,c} \sim \mathcal N(0, 1)$ (PyTorch's `nn.Embedding`).
    void init(Rng& rng) { init_normal(weight.value.data(), weight.value.size(), rng); }

    /// Throws `shape_error` naming the first id outside `[0, n_vocab)` and its position.
    void check_tokens(const std::int64_t* tokens, std::size_t n) const {
        check_ids("Embedding", "token", tokens, n, n_vocab_);
    }

    /// `x[T*B, D] = E[tokens[T*B]]`. Ids must have passed `check_tokens`.
    void forward(const std::int64_t* tokens, std::size_t T, std::size_t B, S* x) const {
        const std::size_t n = T * B;
        // $x_{t,b} = E_{\text{token}_{t,b}}$: a row copy per position.
        for (std::size_t i = 0; i < n; ++i) {
            const S* row = weight.value.data() + std::size_t(tokens[i]) * D;
            std::copy(row, row + D, x + i * D);
        }
    }

    /// $\partial L/\partial E_{token} \mathrel{+}= \partial L/\partial x$, row by row.
    void backward(const std::int64_t* tokens, const S* dx, std::size_t T, std::size_t B) {
        const std::size_t n = T * B;
        // Scatter-add: $\partial L/\partial E_{\text{token}_{t,b}} \mathrel{+}= \partial L/\partial x_{t,b}$.
        for (std::size_t i = 0; i < n; ++i) {
            S* g = weight.grad.data() + std::size_t(tokens[i]) * D;
            const S* d = dx + i * D;
            for (std::size_t c = 0; c < D; ++c) g[c] += d[c];
        }
    }

    template <class F>
    void visit(F&& f, const std::string& prefix = "") {
        f(prefix + "weight", weight);
    }

    Param<S, 2> weight;

private:
    std::size_t n_vocab_ = 0;
};

}  // namespace txl
