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
/// A generator that draws dropout masks also says which columns of the *global* batch the
/// forward it serves computes (`columns`): a data-parallel run (`distributed.hpp`), or a
/// micro-batch of gradient accumulation, computes $b$ of the $B$ streams, and dropout keys each
/// element by its index in the whole batch, so the masks do not depend on how the batch is cut.
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

/// Which streams of the global batch a forward computes: columns `[first, first + count)` of
/// `total`. `count = 0` (the default) means all of them: the forward's batch is the whole batch.
struct BatchColumns {
    std::size_t first = 0, count = 0, total = 0;
};

/// The generator: a `std::mt19937_64` (the same draws, the same stream format), plus the batch
/// columns its dropout masks are keyed by (never saved: a run sets them).
class Rng : public std::mt19937_64 {
public:
    using std::mt19937_64::mt19937_64;
    Rng() = default;
    BatchColumns columns;
};

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
