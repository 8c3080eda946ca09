#pragma once
/// @file blocks/dropout.hpp
/// # Dropout
///
/// In training each value is kept with probability $1 - p$ and scaled by $1/(1-p)$, so its
/// expectation is unchanged: $y = x \odot m$, $m_i \in \{0, 1/(1-p)\}$.
/// Backward is the same mask: $\partial L/\partial x = \partial L/\partial y \odot m$.
/// With $p = 0$ or no generator (evaluation) dropout is the identity and stores nothing.
///
/// **Where the randomness comes from.** A mask takes *one* 64-bit draw $k$ from the generator;
/// element $i$ is then decided by a counter-based hash of $(k, i)$: a 32-bit uniform
/// $u_i = h(h(i \oplus k_{lo}) + k_{hi})$, kept iff $u_i \ge \lfloor p \cdot 2^{32} \rceil$.
/// $h$ is a bijective 32-bit mixer (two multiply-xorshift rounds, "lowbias32"), so the
/// decisions of one mask are distinct, well-mixed values, and the loop has no dependency from
/// one element to the next: it vectorises (8 or 16 elements per instruction). Drawing each
/// element in turn from the Mersenne twister (a `bernoulli_distribution` per value) made a
/// training step with dropout much slower than without it (`docs/performance.md` has the
/// figures). The generator's state still advances once per mask, so a resumed
/// run draws the same masks bit for bit, and the masks do not depend on the thread count.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "../core/random.hpp"

namespace txl {

namespace detail {
/// Chris Wellons' "lowbias32" integer hash: a bijection of 32-bit words with low bias.
inline std::uint32_t mix32(std::uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}
}  // namespace detail

template <class S>
struct Dropout {
    S p = 0;

    bool active(const Rng* rng) const { return rng != nullptr && p > S(0); }

    /// The drop threshold on a 32-bit uniform: $\lfloor p \cdot 2^{32} \rceil$ (p < 1).
    static std::uint32_t threshold(S p) {
        const double t = std::nearbyint(double(p) * 4294967296.0);
        return t >= 4294967295.0 ? 4294967295U : std::uint32_t(t);
    }

    /// Draw a mask of `n` values and apply it in place: `x *= mask`.
    void forward(S* x, std::size_t n, S* mask, Rng& rng) const {
        const std::uint64_t k = rng();
        const std::uint32_t t = threshold(p);
        const S scale = S(1) / (S(1) - p);
        // The counter $i$ is 32 bits: a mask longer than $2^{32}$ goes in blocks, each keyed
        // by its own hash of $k$ and the block number.
        for (std::size_t b0 = 0, blk = 0; b0 < n; b0 += (std::size_t(1) << 32), ++blk) {
            const std::size_t len = std::min<std::size_t>(n - b0, std::size_t(1) << 32);
            const std::uint32_t k_lo = std::uint32_t(k),
                                k_hi = std::uint32_t(k >> 32) + detail::mix32(std::uint32_t(blk));
            S* __restrict xb = x + b0;
            S* __restrict mb = mask + b0;
#pragma omp simd
            for (std::size_t i = 0; i < len; ++i) {
                // $u_i = h(h(i \oplus k_{lo}) + k_{hi})$; keep iff $u_i \ge t$.
                const std::uint32_t u = detail::mix32(detail::mix32(std::uint32_t(i) ^ k_lo) + k_hi);
                mb[i] = u >= t ? scale : S(0);
                xb[i] *= mb[i];
            }
        }
    }
    /// `dx *= mask`, in place.
    static void backward(S* dx, std::size_t n, const S* mask) {
        for (std::size_t i = 0; i < n; ++i) dx[i] *= mask[i];
    }
};

}  // namespace txl
