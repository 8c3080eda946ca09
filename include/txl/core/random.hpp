#pragma once
/// @file core/random.hpp
/// # Seeded randomness: the generator and initialisation
///
/// One generator type, `txl::Rng` (a 64-bit Mersenne twister), seeded by the user, so that
/// two runs with the same seed start from the same weights and draw the same dropout masks
/// (`dropout.hpp`).
/// Its state can be written to and read from a stream (`<<`, `>>`), which is how a training
/// run resumes bit for bit.
///
/// Initialisation follows PyTorch's defaults:
/// * `nn.Linear(in, out)`: weight and bias $\sim U(-1/\sqrt{in}, 1/\sqrt{in})$
///   (Kaiming-uniform with $a = \sqrt 5$ reduces to exactly this bound);
/// * `nn.Embedding`: $\mathcal N(0, 1)$;
/// * `nn.LayerNorm`: weight 1, bias 0;
/// * labml's relative tables `key_pos_embeddings`, `key_pos_bias`, `query_pos_bias`: zeros.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
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

}  // namespace txl
