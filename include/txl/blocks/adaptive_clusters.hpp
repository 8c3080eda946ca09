#pragma once
/// @file blocks/adaptive_clusters.hpp
/// # Frequency clusters of a vocabulary: what adaptive input and adaptive softmax share
///
/// A word-level vocabulary sorted by frequency (id 0 the most frequent) is cut into
/// clusters at the *cutoffs* $c_1 < c_2 < \dots < c_K$: cluster $i$ holds the ids
/// $[c_i, c_{i+1})$, with $c_0 = 0$ and $c_{K+1} = n_{vocab}$. Cluster 0 (the *shortlist*,
/// a few thousand words) covers most of the text; the tails hold many rare words each.
///
/// Cluster $i$ is represented in a width $d_i = d_{model} / \text{div\_val}^i$ (Baevski and
/// Auli 2019): rare words get narrower vectors, projected to $d_{model}$ by a matrix
/// $P_i \in \mathbb R^{d_{model} \times d_i}$. With $\text{div\_val} = 1$ every cluster has
/// the full width and there are no projections (the paper's WikiText-103 setup); with
/// $\text{div\_val} > 1$ every cluster, the shortlist too, has its $P_i$ (the paper's code
/// makes them all, as long as the width it projects from differs from $d_{model}$ somewhere).
/// The widest representation is $d_{model}$ itself (the paper's `d_embed = d_model`, as in its
/// enwik8 and WikiText-103 setups).
///
/// ```cpp
/// using WT103 = txl::AdaptiveClusters</*div_val*/ 1, 20000, 40000, 200000>;
/// ```

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/errors.hpp"

namespace txl {

/// The clusters of one vocabulary: cluster $i$ holds the ids $[c_i, c_{i+1})$, from the bounds
/// $[0, c_1, \dots, c_K, n_{vocab}]$ (`AdaptiveClusters::bounds` builds them, checked).
class ClusterBounds {
public:
    ClusterBounds() = default;
    explicit ClusterBounds(std::vector<std::size_t> bounds) : b_(std::move(bounds)) {}
    /// Cluster $i$'s first id $c_i$ and its size $c_{i+1} - c_i$.
    std::size_t first(std::size_t i) const { return b_[i]; }
    std::size_t size(std::size_t i) const { return b_[i + 1] - b_[i]; }
    /// The cluster of token `v`: the $i$ with $c_i \le v < c_{i+1}$.
    std::size_t cluster_of(std::int64_t v) const {
        std::size_t i = 0;
        while (std::size_t(v) >= b_[i + 1]) ++i;
        return i;
    }

private:
    std::vector<std::size_t> b_;
};

/// @tparam DivVal  $\text{div\_val} \ge 1$: each cluster is this many times narrower than the one before.
/// @tparam Cutoffs $c_1 < \dots < c_K$ ($K \ge 1$), each below the vocabulary's size.
template <std::size_t DivVal, std::size_t... Cutoffs>
struct AdaptiveClusters {
    static constexpr std::size_t div_val = DivVal;
    static constexpr std::size_t n_tails = sizeof...(Cutoffs);  ///< $K$
    static constexpr std::array<std::size_t, n_tails> cutoffs{Cutoffs...};
    /// Whether the clusters have projections $P_i$ (only when some width differs from $d_{model}$).
    static constexpr bool projected = DivVal > 1;

    static_assert(DivVal >= 1, "AdaptiveClusters: div_val must be >= 1");
    static_assert(n_tails >= 1, "AdaptiveClusters: give at least one cutoff (one tail cluster)");
    static constexpr bool increasing() {
        std::size_t last = 0;
        for (std::size_t c : cutoffs) {
            if (c <= last) return false;
            last = c;
        }
        return true;
    }
    static_assert(increasing(), "AdaptiveClusters: the cutoffs must be > 0 and strictly increasing");

    /// $d_i = D / \text{div\_val}^i$ for cluster $i = 0 .. K$.
    static constexpr std::size_t width(std::size_t D, std::size_t i) {
        for (std::size_t j = 0; j < i; ++j) D /= DivVal;
        return D;
    }

    /// The cluster bounds $[0, c_1, \dots, c_K, n_{vocab}]$; throws `shape_error` unless
    /// $c_K < n_{vocab}$ (every cluster non-empty) and every width $d_i \ge 1$.
    static ClusterBounds bounds(std::size_t n_vocab, std::size_t D, const char* who) {
        check(cutoffs[n_tails - 1] < n_vocab, who, ": the last cutoff ", cutoffs[n_tails - 1],
              " must be below the vocabulary's size ", n_vocab, " (every cluster needs a word)");
        check(width(D, n_tails) >= 1, who, ": d_model ", D, " / div_val^", n_tails,
              " is 0; use a smaller div_val or fewer cutoffs");
        std::vector<std::size_t> b{0};
        for (std::size_t c : cutoffs) b.push_back(c);
        b.push_back(n_vocab);
        return ClusterBounds(std::move(b));
    }

    /// `"div_val=4, cutoffs=2000,6000"`, for `describe()` and the run's config.
    static std::string describe() {
        std::string s = "div_val=" + std::to_string(DivVal) + ", cutoffs=";
        for (std::size_t i = 0; i < n_tails; ++i) s += (i ? "," : "") + std::to_string(cutoffs[i]);
        return s;
    }
};

}  // namespace txl
