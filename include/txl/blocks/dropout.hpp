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
///
/// **The index is the element's place in the global batch.** A tensor with a batch axis is
/// seen as `[outer, b, inner]`, its $b$ columns being columns `first ..` of the global batch of
/// $B$ streams (`Rng::columns`); element $(o, j, c)$ is keyed by
/// $$i = (o B + \text{first} + j)\,\text{inner} + c,$$
/// its index in the same tensor computed for the whole batch. So two processes that each
/// compute half the streams (`distributed.hpp`), or $k$ micro-batches in turn, drop exactly
/// what one process computing all of them drops; with the whole batch ($b = B$) $i$ is the
/// flat index.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

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

    /// Draw a mask of `n` values and apply it in place: `x *= mask`, keyed by the flat index.
    /// (A tensor without a batch axis; one with it takes the form below.)
    void forward(S* x, std::size_t n, S* mask, Rng& rng) const {
        const std::uint64_t k = rng();
        apply(x, mask, n, 0, k, threshold(p), S(1) / (S(1) - p));
    }

    /// A mask's key: the generator's one 64-bit draw $k$ with what places an element in the
    /// global batch. `apply` then drops any piece of the tensor, in any order, on any thread
    /// (a parallel loop's task its own block), exactly as one `forward` over the whole would.
    struct Keyed {
        std::uint64_t k;
        std::uint32_t t;
        S scale;
        std::size_t B, first, inner;  ///< global batch, this forward's first column, values per column

        /// `x *= mask` on `len` values of column `j` of row `o`, from its value `c0` on:
        /// keyed by $i = (o B + \text{first} + j)\,\text{inner} + c_0 + 0 .. len-1$.
        void apply(S* x, S* mask, std::size_t o, std::size_t j, std::size_t c0, std::size_t len) const {
            Dropout::apply(x, mask, len, (o * B + first + j) * inner + c0, k, t, scale);
        }
    };

    /// Draw the key of a mask over a tensor seen as `[outer, b, inner]` with its batch axis in
    /// the middle (the columns `rng.columns` of the global batch, all of it when unset).
    Keyed draw(std::size_t b, std::size_t inner, Rng& rng) const {
        const std::uint64_t k = rng();
        const BatchColumns& c = rng.columns;
        const bool cut = c.count != 0 && !(c.first == 0 && c.total == b);
        check_columns(c, b, cut);
        return Keyed{k, threshold(p), S(1) / (S(1) - p), cut ? c.total : b, cut ? c.first : 0, inner};
    }

    /// Draw a mask over `x` seen as `[outer, b, inner]` and apply it in place, keyed by the global index.
    void forward(S* x, std::size_t outer, std::size_t b, std::size_t inner, S* mask, Rng& rng) const {
        const Keyed key = draw(b, inner, rng);
        for (std::size_t o = 0; o < outer; ++o)
            for (std::size_t j = 0; j < b; ++j) {
                const std::size_t local = (o * b + j) * inner;
                key.apply(x + local, mask + local, o, j, 0, inner);
            }
    }

    /// The same for `rows` rows of `width` values laid out time-major (row $t b + j$ is stream
    /// $j$ at time $t$, as activations are), $b$ = the generator's column count (all rows when unset).
    void forward_rows(S* x, std::size_t rows, std::size_t width, S* mask, Rng& rng) const {
        const std::size_t b = rng.columns.count ? rng.columns.count : rows;
        if (rows % b != 0)
            throw std::invalid_argument("Dropout: " + std::to_string(rows) + " rows are not time steps of " +
                                        std::to_string(b) + " streams");
        forward(x, rows / b, b, width, mask, rng);
    }

    /// `dx *= mask`, in place.
    static void backward(S* dx, std::size_t n, const S* mask) {
        for (std::size_t i = 0; i < n; ++i) dx[i] *= mask[i];
    }

private:
    /// Elements `[0, len)` of `x`, keyed by the global indices `g0 + i`: keep iff
    /// $u = h(h(i_{lo} \oplus k_{lo}) + k_{hi} + h(i_{hi})) \ge t$, $i_{lo}$ and $i_{hi}$ the low and
    /// high 32 bits of the index (the counter is 32 bits; each block of $2^{32}$ is keyed anew).
    static void apply(S* x, S* mask, std::size_t len, std::size_t g0, std::uint64_t k, std::uint32_t t, S scale) {
        const std::size_t block = std::size_t(1) << 32;
        for (std::size_t done = 0; done < len;) {
            const std::size_t g = g0 + done, run = std::min(len - done, block - g % block);
            const std::uint32_t k_lo = std::uint32_t(k),
                                k_hi = std::uint32_t(k >> 32) + detail::mix32(std::uint32_t(g / block)),
                                i0 = std::uint32_t(g % block);
            S* __restrict xb = x + done;
            S* __restrict mb = mask + done;
#pragma omp simd
            for (std::size_t i = 0; i < run; ++i) {
                // $u_i = h(h(i \oplus k_{lo}) + k_{hi})$; keep iff $u_i \ge t$.
                const std::uint32_t u = detail::mix32(detail::mix32((i0 + std::uint32_t(i)) ^ k_lo) + k_hi);
                mb[i] = u >= t ? scale : S(0);
                xb[i] *= mb[i];
            }
            done += run;
        }
    }

    /// A forward's `b` columns must lie inside the global batch `rng.columns` names.
    static void check_columns(const BatchColumns& c, std::size_t b, bool cut) {
        if (!cut) return;
        if (c.count != b || c.first + c.count > c.total)
            throw std::invalid_argument("Dropout: the generator's batch columns [" + std::to_string(c.first) + ", " +
                                        std::to_string(c.first + c.count) + ") of " + std::to_string(c.total) +
                                        " do not fit a forward of " + std::to_string(b) + " streams");
    }
};

}  // namespace txl
