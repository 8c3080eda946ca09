#pragma once
/// @file blocks/loss.hpp
/// # Cross-entropy loss and accuracy
///
/// For $n = T B$ positions with logits $\ell_r \in \mathbb R^{n_{vocab}}$ and targets $y_r$:
/// $$\begin{aligned} L &= \frac1n \sum_r \Big(\log \sum_c e^{\ell_{r,c}} - \ell_{r, y_r}\Big),
///   \\ \text{acc} &= \frac1n \sum_r [\arg\max_c \ell_{r,c} = y_r] \end{aligned}$$
/// **Backward**: $\partial L/\partial \ell_{r,c} = (\operatorname{softmax}(\ell_r)_c - [c = y_r])/n$.

#include <cmath>
#include <cstdint>

#include "../core/errors.hpp"
#include "../core/tensor.hpp"

namespace txl {

template <class S>
struct LossResult {
    double loss = 0;      ///< mean cross-entropy (nats)
    double accuracy = 0;  ///< fraction of argmax hits
};

/// Mean cross-entropy of `logits[n, V]` against `targets[n]`; if `dlogits` is given, writes
/// $\partial L/\partial \ell$ into it. The sums run in double whatever `S` is.
template <class S>
inline LossResult<S> cross_entropy(const S* logits, const std::int64_t* targets, std::size_t n, std::size_t V,
                                   S* dlogits = nullptr) {
    check(n > 0, "cross_entropy: no positions (n = 0)");
    for (std::size_t r = 0; r < n; ++r)
        check(targets[r] >= 0 && std::uint64_t(targets[r]) < V, "cross_entropy: target id ", targets[r],
              " at position ", r, " is outside the vocabulary [0, ", V, ")");
    LossResult<S> res;
    // Rows are independent; only the two totals are shared. They are summed per chunk of rows
    // (64 fixed chunks), then the chunks in order, so the loss does not depend on the threads.
    constexpr std::size_t chunks = 64;
    double chunk_loss[chunks] = {};
    std::size_t chunk_hits[chunks] = {};
    auto chunk = [&](std::size_t ch) {
        for (std::size_t r = ch * n / chunks, end = (ch + 1) * n / chunks; r < end; ++r) {
            const S* l = logits + r * V;
            // $\arg\max_c \ell_{r,c}$ (a hit if it is $y_r$); its value is the max for a stable log-sum-exp.
            std::size_t arg = 0;
            for (std::size_t c = 1; c < V; ++c)
                if (l[c] > l[arg]) arg = c;
            chunk_hits[ch] += arg == std::size_t(targets[r]);
            // $\text{lse}_r = \max + \log \sum_c e^{\ell_{r,c} - \max}$, $L \mathrel{+}= \text{lse}_r - \ell_{r,y_r}$.
            const double mx = double(l[arg]);
            double sum = 0;
            for (std::size_t c = 0; c < V; ++c) sum += std::exp(double(l[c]) - mx);
            const double lse = mx + std::log(sum);
            chunk_loss[ch] += lse - double(l[targets[r]]);
            // $\partial L/\partial \ell_{r,c} = (e^{\ell_{r,c} - \text{lse}_r} - [c = y_r]) / n$.
            if (dlogits) {
                S* d = dlogits + r * V;
                for (std::size_t c = 0; c < V; ++c) d[c] = S(std::exp(double(l[c]) - lse) / double(n));
                d[targets[r]] -= S(1.0 / double(n));
            }
        }
    };
    for_range(chunks, n * V >= 16384, chunk);
    double loss = 0;
    std::size_t hits = 0;
    // $L = \frac1n \sum_r (\text{lse}_r - \ell_{r,y_r})$, $\text{acc} = \frac1n \sum_r [\arg\max_c \ell_{r,c} = y_r]$,
    // the chunks added in order.
    for (std::size_t ch = 0; ch < chunks; ++ch) loss += chunk_loss[ch], hits += chunk_hits[ch];
    res.loss = loss;
    res.loss /= double(n);
    res.accuracy = double(hits) / double(n);
    return res;
}

}  // namespace txl
