#pragma once
/// @file inference/sampling.hpp
/// # Sampling with memory
///
/// As labml samples: the prompt is fed once (in chunks if it is longer than the relative table
/// allows), then one character at a time, each step attending over the memory of everything
/// before it, up to `mem_len` positions. A step costs $O(M)$ instead of $O(M^2)$: nothing
/// already seen is recomputed.
///
/// The next character is drawn from $\operatorname{softmax}(\ell / \tau)$ restricted to the
/// `top_k` largest logits (all when `top_k = 0`); $\tau = 0$ is greedy (argmax).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <vector>

#include "../core/errors.hpp"
#include "../core/random.hpp"
#include "../model/memory.hpp"

namespace txl {

struct SampleOptions {
    double temperature = 1.0;  ///< 0: greedy
    std::size_t top_k = 0;     ///< 0: all
    std::uint64_t seed = 1;
    std::size_t mem_len = 32;
};

/// Pick a token from one row of logits.
template <class S>
inline std::int64_t pick_token(const S* logits, std::size_t V, const SampleOptions& o, Rng& rng) {
    check(std::isfinite(o.temperature) && o.temperature >= 0, "sample: temperature ", o.temperature,
          " must be finite and >= 0");
    std::size_t best = 0;
    for (std::size_t c = 1; c < V; ++c)
        if (logits[c] > logits[best]) best = c;
    if (o.temperature == 0) return std::int64_t(best);
    std::vector<std::size_t> idx(V);
    std::iota(idx.begin(), idx.end(), 0);
    std::size_t k = o.top_k == 0 ? V : std::min(o.top_k, V);
    std::partial_sort(idx.begin(), idx.begin() + std::ptrdiff_t(k), idx.end(),
                      [&](std::size_t a, std::size_t b) { return logits[a] > logits[b]; });
    // $p_c \propto e^{(\ell_c - \max)/\tau}$ over the `k` largest logits, then one draw.
    std::vector<double> p(k);
    double sum = 0;
    for (std::size_t i = 0; i < k; ++i) {
        p[i] = std::exp((double(logits[idx[i]]) - double(logits[best])) / o.temperature);
        sum += p[i];
    }
    double u = std::uniform_real_distribution<double>(0.0, sum)(rng);
    for (std::size_t i = 0; i < k; ++i) {
        if (u < p[i]) return std::int64_t(idx[i]);
        u -= p[i];
    }
    return std::int64_t(idx[k - 1]);
}

/// Generate `length` tokens after `prompt` (batch 1). A model with memory attends over up to
/// `mem_len` earlier positions through it; one without (`NoMemory`) re-reads a window of the
/// last `mem_len + 1` tokens for every new one. `on_token` is called with each new id as
/// soon as it is chosen (for streaming output). Returns the generated ids.
template <class Model>
std::vector<std::int64_t> sample(const Model& model, const std::vector<std::int64_t>& prompt, std::size_t length,
                                 const SampleOptions& o, const std::function<void(std::int64_t)>& on_token = {}) {
    using S = typename Model::S;
    check(!prompt.empty(), "sample: the prompt is empty; give at least one character");
    constexpr std::size_t P = Model::config::P;
    check(o.mem_len < P, "sample: mem_len ", o.mem_len, " must be below P = ", P);
    typename Model::Cache cache;
    Memory<S> mem;
    mem.reuse_keys_values = true;  // fixed weights: keys and values of remembered positions are reused
    Rng rng(o.seed);
    const std::size_t V = model.n_vocab();
    tensor<std::int64_t, 2> x;
    std::vector<S> scores(V);  // the next token's logits (or log-probabilities)
    if constexpr (!Model::has_memory) {
        // A model without memory sees only what one forward gets: every prediction re-reads
        // the window of the last mem_len + 1 tokens (the prompt included).
        std::vector<std::int64_t> context(prompt), out;
        out.reserve(length);
        for (std::size_t n = 0; n < length; ++n) {
            const std::size_t w = std::min(context.size(), o.mem_len + 1);
            ensure_shape(x, {w, std::size_t(1)});
            std::copy(context.end() - std::ptrdiff_t(w), context.end(), x.data());
            model.forward(x, mem, cache);
            model.token_scores(cache, w - 1, scores.data());
            const std::int64_t next = pick_token(scores.data(), V, o, rng);
            out.push_back(next);
            if (on_token) on_token(next);
            context.push_back(next);
        }
        return out;
    }
    // Feed the prompt in chunks that fit the relative table next to a full memory.
    const std::size_t chunk = P - o.mem_len;
    for (std::size_t i = 0; i < prompt.size(); i += chunk) {
        const std::size_t t = std::min(chunk, prompt.size() - i);
        ensure_shape(x, {t, std::size_t(1)});
        std::copy(prompt.begin() + std::ptrdiff_t(i), prompt.begin() + std::ptrdiff_t(i + t), x.data());
        model.forward(x, mem, cache);
        model.update_memory(mem, cache, o.mem_len);
    }
    std::vector<std::int64_t> out;
    out.reserve(length);
    ensure_shape(x, {std::size_t(1), std::size_t(1)});
    for (std::size_t n = 0; n < length; ++n) {
        model.token_scores(cache, cache.T - 1, scores.data());
        const std::int64_t next = pick_token(scores.data(), V, o, rng);
        out.push_back(next);
        if (on_token) on_token(next);
        if (n + 1 == length) break;
        x(0, 0) = next;
        model.forward(x, mem, cache);
        model.update_memory(mem, cache, o.mem_len);
    }
    return out;
}

}  // namespace txl
