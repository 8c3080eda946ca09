#pragma once
/// @file random.hpp
/// # Seeded randomness: initialisation and dropout
///
/// One generator type, `txl::Rng` (a 64-bit Mersenne twister), seeded by the user, so that
/// two runs with the same seed start from the same weights and draw the same dropout masks.
/// Its state can be written to and read from a stream (`<<`, `>>`), which is how a training
/// run resumes bit for bit.
///
/// Initialisation follows PyTorch's defaults:
/// * `nn.Linear(in, out)`: weight and bias $\sim U(-1/\sqrt{in}, 1/\sqrt{in})$
///   (Kaiming-uniform with $a = \sqrt 5$ reduces to exactly this bound);
/// * `nn.Embedding`: $\mathcal N(0, 1)$;
/// * `nn.LayerNorm`: weight 1, bias 0;
/// * labml's relative tables `key_pos_embeddings`, `key_pos_bias`, `query_pos_bias`: zeros.

#include <cmath>
#include <cstddef>
#include <random>

namespace txl {

using Rng = std::mt19937_64;

/// Fill `n` values with $U(-bound, bound)$.
template <class S>
inline void init_uniform(S* x, std::size_t n, double bound, Rng& rng) {
    std::uniform_real_distribution<double> u(-bound, bound);
    for (std::size_t i = 0; i < n; ++i) x[i] = S(u(rng));
}

/// Fill `n` values with $\mathcal N(0, 1)$.
template <class S>
inline void init_normal(S* x, std::size_t n, Rng& rng) {
    std::normal_distribution<double> g(0.0, 1.0);
    for (std::size_t i = 0; i < n; ++i) x[i] = S(g(rng));
}

/// ## Dropout
/// In training each value is kept with probability $1 - p$ and scaled by $1/(1-p)$, so its
/// expectation is unchanged: $y = x \odot m$, $m_i \in \{0, 1/(1-p)\}$.
/// Backward is the same mask: $\partial L/\partial x = \partial L/\partial y \odot m$.
/// With $p = 0$ or no generator (evaluation) dropout is the identity and stores nothing.
template <class S>
struct Dropout {
    S p = 0;

    bool active(const Rng* rng) const { return rng != nullptr && p > S(0); }

    /// Draw a mask of `n` values and apply it in place: `x *= mask`.
    void forward(S* x, std::size_t n, S* mask, Rng& rng) const {
        std::bernoulli_distribution keep(1.0 - double(p));
        const S scale = S(1) / (S(1) - p);
        for (std::size_t i = 0; i < n; ++i) {
            mask[i] = keep(rng) ? scale : S(0);
            x[i] *= mask[i];
        }
    }
    /// `dx *= mask`, in place.
    static void backward(S* dx, std::size_t n, const S* mask) {
        for (std::size_t i = 0; i < n; ++i) dx[i] *= mask[i];
    }
};

}  // namespace txl
