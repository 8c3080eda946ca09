#pragma once
/// @file blocks/adaptive_softmax.hpp
/// # Adaptive softmax: the loss without the whole vocabulary's logits
///
/// At WikiText-103's 267,735 words a full softmax costs $267{,}735 \cdot d_{model}$
/// multiply-adds per position, forward, and twice that backward: more than all the layers.
/// The adaptive softmax (Grave et al. 2017), as the paper's `ProjectedAdaptiveLogSoftmax`
/// computes it, factors the probability by the clusters of `adaptive_clusters.hpp`.
/// The **head** scores the shortlist and one entry per tail cluster; a **tail** scores the
/// words inside its cluster:
/// $$\begin{aligned}
///   h_i &= x P_i \quad (h_i = x \text{ without projections}),
///   \\ z &= \big[\, h_0 W_0^\top + b_0 \;;\; h_0 W_c^\top + b_c \,\big] \in \mathbb R^{c_1 + K},
///   \qquad \log p_{head} = \operatorname{log\,softmax}(z),
///   \\ \log p(v) &= \log p_{head}[v] \qquad (v < c_1),
///   \\ \log p(v) &= \log p_{head}[c_1 + K - i] + \operatorname{log\,softmax}\big(h_i W_i^\top + b_i\big)[v - c_i]
///   \qquad (c_i \le v < c_{i+1}).
/// \end{aligned}$$
/// $W_i \in \mathbb R^{(c_{i+1} - c_i) \times d_i}$, $b_i$ its bias, $P_i \in \mathbb R^{d_{model} \times d_i}$;
/// $W_c \in \mathbb R^{K \times d_{model}}$, $b_c \in \mathbb R^K$ score the clusters. Tail $i$'s
/// entry in the head is column $c_1 + K - i$: the paper's code reads it as `head_logprob[:, -i]`,
/// so its row of `cluster_weight` is $K - i$ (counted from 0), and checkpoints keep that layout.
/// The probabilities over all words sum to 1: each tail's softmax sums to 1 and is weighted
/// by its cluster's head probability.
///
/// **Why the tails are cheap.** In training, row $r$ needs only the head and the *one* tail its
/// target $y_r$ is in: the head costs $(c_1 + K)\, d_{model}$ per row and tail $i$ costs
/// $(c_{i+1} - c_i)\, d_i$ only for the rows whose target falls in it, a small fraction for
/// the rare clusters. The full vocabulary's logits are never formed.
///
/// **Backward.** For the loss $L = s \sum_r -\log p(y_r)$ (the caller's scale $s$, e.g. $1/n$):
/// the head is a softmax over $c_1 + K$ classes whose target is $y_r$ itself (shortlist) or
/// its cluster's column, so $\partial L/\partial z_r = s\,(p_{head,r} - \text{onehot})$; a tail
/// row the same over its cluster's words, $\partial L/\partial t_r = s\,(\operatorname{softmax}(t_r) - \text{onehot}(y_r - c_i))$.
/// Then each is a linear layer: $\partial L/\partial W \mathrel{+}= \delta^\top h$,
/// $\partial L/\partial b \mathrel{+}= \sum_r \delta_r$, $\partial L/\partial h = \delta W$, and through
/// the projection $\partial L/\partial P_i \mathrel{+}= x^\top\, \partial L/\partial h_i$,
/// $\partial L/\partial x \mathrel{+}= \partial L/\partial h_i\, P_i^\top$.
///
/// **Accuracy** is the exact argmax over the whole vocabulary, found without all of it: a tail
/// word's probability is at most its cluster's head probability, so tail $i$ is scored for a
/// row only if $\log p_{head}[c_1 + K - i]$ beats the best word found so far.
///
/// **Tied weights** (the paper's `tie_weight`, `tie_projs`): with `TieWeights` the tables $W_i$
/// are the `AdaptiveEmbedding`'s $E_i$; with `TieProjections` the tails' $P_i$ ($i \ge 1$) are its
/// $P_i$, as the paper's WikiText-103 setup has them. The model calls `tie(embedding)`; the shared
/// tensors are the embedding's (visited, updated and saved once, under its names), and this
/// block adds its gradient into them. The biases, the cluster scores and $P_0$ stay its own.
///
/// **The generator slot's scoring kind** (`slots.hpp`): instead of logits this block gives
/// `nll` (evaluation), `nll_backward` (training: the loss and its gradient) and `log_probs`
/// (sampling, or any few rows). Parameter names are the paper's: `out_layers.{i}.weight`,
/// `out_layers.{i}.bias`, `out_projs.{i}`, `cluster_weight`, `cluster_bias`.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/config.hpp"
#include "../core/errors.hpp"
#include "../core/tensor.hpp"
#include "../core/random.hpp"
#include "../detail/gemm.hpp"
#include "adaptive_clusters.hpp"
#include "adaptive_embedding.hpp"

namespace txl {

/// Each of `m` rows of `z` (row stride `ld`, `V` columns) replaced by its log-softmax:
/// $z_c \leftarrow z_c - \log \sum_{c'} e^{z_{c'}}$, the sum in double about the row's max.
template <class S>
inline void log_softmax_rows(S* z, std::size_t m, std::size_t V, std::size_t ld) {
    for_range(m, m * V >= 16384, [&](std::size_t r) {
        S* row = z + r * ld;
        S mx = row[0];
        for (std::size_t c = 1; c < V; ++c) mx = row[c] > mx ? row[c] : mx;
        double sum = 0;
        for (std::size_t c = 0; c < V; ++c) sum += std::exp(double(row[c]) - double(mx));
        const double lse = double(mx) + std::log(sum);
        for (std::size_t c = 0; c < V; ++c) row[c] = S(double(row[c]) - lse);
    });
}

/// @tparam C              a `txl::Config`.
/// @tparam Clusters       an `AdaptiveClusters<div_val, cutoffs...>`.
/// @tparam TieWeights     the tables are the `AdaptiveEmbedding`'s (the model ties them).
/// @tparam TieProjections the tails' projections are the embedding's (when there are projections).
template <class C, class Clusters, bool TieWeights = false, bool TieProjections = false>
class AdaptiveSoftmax {
public:
    using config = C;
    using clusters = Clusters;
    using S = typename C::scalar;
    using scalar = S;
    using Embedding = AdaptiveEmbedding<C, Clusters>;
    static constexpr std::size_t D = C::d_model, K = Clusters::n_tails;
    static constexpr bool projected = Clusters::projected;
    /// Whether this block shares tensors with the model's embedding (`tie` must be called).
    static constexpr bool ties = TieWeights || (TieProjections && projected);
    static std::string name() {
        return std::string("AdaptiveSoftmax(") + Clusters::describe() + (TieWeights ? ", tied weights" : "") +
               (TieProjections && projected ? ", tied projections" : "") + ")";
    }

    struct OutLayer {
        Param<S, 2> weight;  ///< $W_i$ (unused when tied)
        Param<S, 1> bias;    ///< $b_i$
    };

    AdaptiveSoftmax() = default;
    explicit AdaptiveSoftmax(std::size_t n_vocab)
        : n_vocab_(n_vocab), bounds_(Clusters::bounds(n_vocab, D, "AdaptiveSoftmax")) {
        // div_val = 1: one layer over all n_vocab words, clusters its row ranges; else one per cluster.
        out_layers.resize(projected ? K + 1 : 1);
        for (std::size_t i = 0; i < out_layers.size(); ++i) {
            const std::size_t rows = projected ? size(i) : n_vocab;
            if (!TieWeights) out_layers[i].weight.resize(std::array<std::size_t, 2>{rows, width(i)});
            out_layers[i].bias.resize(std::array<std::size_t, 1>{rows});
        }
        for (std::size_t i = 0; projected && i <= K; ++i) {
            out_projs.emplace_back();
            if (i == 0 || !TieProjections) out_projs[i].resize(std::array<std::size_t, 2>{D, width(i)});
        }
        cluster_weight.resize(std::array<std::size_t, 2>{K, D});
        cluster_bias.resize(std::array<std::size_t, 1>{K});
    }

    std::size_t n_vocab() const { return n_vocab_; }
    std::size_t first(std::size_t i) const { return bounds_.first(i); }
    std::size_t size(std::size_t i) const { return bounds_.size(i); }
    static constexpr std::size_t width(std::size_t i) { return Clusters::width(D, i); }
    /// The head's width $c_1 + K$ and tail $i$'s column in it, $c_1 + K - i$.
    std::size_t head_size() const { return first(1) + K; }
    std::size_t head_column(std::size_t i) const { return first(1) + K - i; }

    /// Share the embedding's tables (and tails' projections) as the template says.
    void tie(Embedding& embedding) {
        check(embedding.n_vocab() == n_vocab_, "AdaptiveSoftmax::tie: the embedding has ", embedding.n_vocab(),
              " tokens, this block ", n_vocab_);
        tied_ = &embedding;
    }

    /// The paper's `normal` initialisation: $W_i, W_c \sim \mathcal N(0, 0.02^2)$, $P_i \sim
    /// \mathcal N(0, 0.01^2)$, biases 0. Tied tensors are the embedding's to initialise.
    void init(Rng& rng) {
        for (auto& l : out_layers) {
            init_normal_std(l.weight.value.data(), l.weight.value.size(), 0.02, rng);
            l.bias.value.fill(S(0));
        }
        for (auto& p : out_projs) init_normal_std(p.value.data(), p.value.size(), 0.01, rng);
        init_normal_std(cluster_weight.value.data(), cluster_weight.value.size(), 0.02, rng);
        cluster_bias.value.fill(S(0));
    }

    /// $\sum_r -\log p(y_r \mid x_r)$ over `x[n, D]`; with `hits`, also how many rows have
    /// $y_r$ as the argmax of the whole distribution.
    double nll(const S* x, const std::int64_t* y, std::size_t n, std::size_t* hits = nullptr) const {
        Work w;
        return forward_scores(x, y, n, w, hits, /*keep*/ false);
    }

    /// The same, and the gradients of $L = s \sum_r -\log p(y_r)$: accumulated into the
    /// parameters (tied ones into the embedding's), written into `dx[n, D]`.
    double nll_backward(const S* x, const std::int64_t* y, std::size_t n, S s, S* dx, std::size_t* hits = nullptr) {
        const double sum = forward_scores(x, y, n, scratch_.work, hits, /*keep*/ true);
        backward_scores(x, y, n, s, scratch_.work, dx);
        return sum;
    }

    /// `logp[n, n_vocab]`: $\log p(v \mid x_r)$ for every word (every tail scored: for
    /// sampling and checks, a few rows at a time).
    void log_probs(const S* x, std::size_t n, S* logp) const {
        Work w;
        head(x, n, w);
        const std::size_t H = head_size(), V = n_vocab_;
        for (std::size_t r = 0; r < n; ++r) std::copy_n(w.z.data() + r * H, first(1), logp + r * V);
        std::vector<std::size_t> all(n);
        for (std::size_t r = 0; r < n; ++r) all[r] = r;
        for (std::size_t i = 1; i <= K; ++i) {
            Tail& t = w.tails[i];
            t.rows = all;
            tail(x, i, t);
            // $\log p(c_i + j) = \log p_{head}[c_1 + K - i] + \log p_{tail}[j]$.
            for (std::size_t r = 0; r < n; ++r)
                for (std::size_t j = 0; j < size(i); ++j)
                    logp[r * V + first(i) + j] = w.z[r * H + head_column(i)] + t.t[r * size(i) + j];
        }
    }

    template <class F>
    void visit(F&& f, const std::string& prefix = "") {
        for (std::size_t i = 0; i < out_layers.size(); ++i) {
            const std::string p = prefix + "out_layers." + std::to_string(i) + ".";
            if (!TieWeights) f(p + "weight", out_layers[i].weight);
            f(p + "bias", out_layers[i].bias);
        }
        for (std::size_t i = 0; i < out_projs.size(); ++i)
            if (i == 0 || !TieProjections) f(prefix + "out_projs." + std::to_string(i), out_projs[i]);
        f(prefix + "cluster_weight", cluster_weight);
        f(prefix + "cluster_bias", cluster_bias);
    }

    /// How many scores a chunk of tail rows holds when they are scored and dropped (see `forward_scores`).
    std::size_t chunk_values = std::size_t(1) << 24;

    std::vector<OutLayer> out_layers;
    std::vector<Param<S, 2>> out_projs;  ///< $P_i$ `[D, d_i]` (projected clusters only)
    Param<S, 2> cluster_weight;          ///< $W_c$ `[K, D]`
    Param<S, 1> cluster_bias;            ///< $b_c$ `[K]`

private:
    /// Rows of a batch scored by tail $i$ (in training, those whose target is in it): their
    /// inputs `x[m, D]`, $h$ `[m, d_i]` and, after `tail`, the log-probabilities `t[m, size(i)]`.
    struct Tail {
        std::vector<std::size_t> rows;
        std::vector<S> x, h, t, dh, dx;
    };
    /// Scratch of one call (kept between calls only so that training reuses its memory).
    struct Work {
        std::vector<S> h0, z, dh0;  ///< $h_0$ `[n, D]` (projected), the head's log-probabilities `[n, c_1 + K]`
        std::vector<Tail> tails = std::vector<Tail>(K + 1);
        Tail chunk;                        ///< a chunk of rows scored and dropped (argmax rows; all rows in evaluation)
        std::vector<std::size_t> cluster;  ///< the cluster of each row's target
        std::vector<std::size_t> others;   ///< rows a tail scores only for the argmax
        std::vector<double> nll;
        std::vector<S> best;                ///< the argmax's log-probability so far, per row
        std::vector<std::int64_t> best_id;  ///< and its word
    };

    // The tensors of cluster i, wherever they live (its own, or the tied embedding's).
    Param<S, 2>& weight_param(std::size_t i) {
        if constexpr (TieWeights) return tied()->emb_layers[i];
        return out_layers[i].weight;
    }
    const Param<S, 2>& weight_param(std::size_t i) const { return const_cast<AdaptiveSoftmax*>(this)->weight_param(i); }
    Param<S, 2>& proj_param(std::size_t i) {
        if (TieProjections && i > 0) return tied()->emb_projs[i];
        return out_projs[i];
    }
    const Param<S, 2>& proj_param(std::size_t i) const { return const_cast<AdaptiveSoftmax*>(this)->proj_param(i); }
    Embedding* tied() const {
        check<error>(tied_ != nullptr, "AdaptiveSoftmax: its weights are tied but tie(embedding) was never called");
        return tied_;
    }
    /// $W_i$'s first row and $b_i$ (row ranges of the one table when div_val = 1).
    const S* W(std::size_t i) const {
        return projected ? weight_param(i).value.data() : weight_param(0).value.data() + first(i) * D;
    }
    S* dW(std::size_t i) {
        return projected ? weight_param(i).grad.data() : weight_param(0).grad.data() + first(i) * D;
    }
    const S* b(std::size_t i) const {
        return projected ? out_layers[i].bias.value.data() : out_layers[0].bias.value.data() + first(i);
    }
    S* db(std::size_t i) {
        return projected ? out_layers[i].bias.grad.data() : out_layers[0].bias.grad.data() + first(i);
    }

    /// The head: $h_0$ and the log-probabilities `w.z[n, c_1 + K]`; returns $h_0$.
    const S* head(const S* x, std::size_t n, Work& w) const {
        const std::size_t H = head_size(), c1 = first(1);
        const S* h0 = x;
        if (projected) {  // $h_0 = x P_0$ `[n, D] x [D, D]`
            w.h0.resize(n * D);
            gemm(Trans::No, Trans::No, n, D, D, S(1), x, D, proj_param(0).value.data(), D, S(0), w.h0.data(), D);
            h0 = w.h0.data();
        }
        // $z = [\,h_0 W_0^\top + b_0;\ h_0 W_c^\top + b_c\,]$: two products into the columns of one `[n, H]`.
        w.z.resize(n * H);
        gemm(Trans::No, Trans::Yes, n, c1, D, S(1), h0, D, W(0), D, S(0), w.z.data(), H, b(0));
        gemm(Trans::No, Trans::Yes, n, K, D, S(1), h0, D, cluster_weight.value.data(), D, S(0), w.z.data() + c1, H,
             cluster_bias.value.data());
        log_softmax_rows(w.z.data(), n, H, H);
        return h0;
    }

    /// Tail `i` over `t.rows`: $x$ gathered, $h_i = x P_i$, `t.t` $= \operatorname{log\,softmax}(h_i W_i^\top + b_i)$.
    void tail(const S* x, std::size_t i, Tail& t) const {
        const std::size_t m = t.rows.size(), w = width(i), V = size(i);
        t.x.resize(m * D);
        for (std::size_t j = 0; j < m; ++j) std::copy_n(x + t.rows[j] * D, D, t.x.data() + j * D);
        const S* h = t.x.data();
        if (projected) {
            t.h.resize(m * w);
            gemm(Trans::No, Trans::No, m, w, D, S(1), t.x.data(), D, proj_param(i).value.data(), w, S(0), t.h.data(),
                 w);
            h = t.h.data();
        }
        t.t.resize(m * V);
        gemm(Trans::No, Trans::Yes, m, V, w, S(1), h, w, W(i), w, S(0), t.t.data(), V, b(i));
        log_softmax_rows(t.t.data(), m, V, V);
    }

    /// The forward of `nll`: the head for every row, each tail for the rows that need it. With
    /// `keep` (training) each tail's target rows stay in `w.tails[i]` for the backward; every
    /// other tail row is scored in chunks of at most `chunk_values` scores, so that evaluating a large
    /// batch at a large vocabulary never holds a tail's scores for all of its rows at once.
    double forward_scores(const S* x, const std::int64_t* y, std::size_t n, Work& w, std::size_t* hits,
                          bool keep) const {
        check_ids("AdaptiveSoftmax", "target", y, n, n_vocab_);
        const std::size_t H = head_size(), c1 = first(1);
        head(x, n, w);
        w.cluster.resize(n);
        for (std::size_t r = 0; r < n; ++r) w.cluster[r] = bounds_.cluster_of(y[r]);
        w.nll.assign(n, 0.0);
        if (hits) w.best.assign(n, S(0)), w.best_id.assign(n, 0);
        for (std::size_t r = 0; r < n; ++r) {
            const S* z = w.z.data() + r * H;
            // $-\log p(y_r) = -\log p_{head}[y_r]$ (shortlist) or $-\log p_{head}[c_1 + K - i]$ plus the tail's part, below.
            const std::size_t i = w.cluster[r];
            w.nll[r] = -double(z[i == 0 ? std::size_t(y[r]) : head_column(i)]);
            if (hits) {  // the best shortlist word
                std::size_t a = 0;
                for (std::size_t c = 1; c < c1; ++c)
                    if (z[c] > z[a]) a = c;
                w.best[r] = z[a], w.best_id[r] = std::int64_t(a);
            }
        }
        for (std::size_t i = 1; i <= K; ++i) {
            // The rows whose target is in cluster $i$, then (argmax) those whose cluster could beat the best so far.
            Tail& t = w.tails[i];
            std::vector<std::size_t>& targets = t.rows;  // kept with its scores for the backward when `keep`
            targets.clear(), w.others.clear();
            for (std::size_t r = 0; r < n; ++r)
                if (w.cluster[r] == i)
                    targets.push_back(r);
                else if (hits && w.z[r * H + head_column(i)] > w.best[r])
                    w.others.push_back(r);
            if (keep && !targets.empty()) score_tail(x, y, i, t, true, w, hits != nullptr);
            const std::size_t chunk = std::max<std::size_t>(1, chunk_values / size(i));
            auto in_chunks = [&](const std::vector<std::size_t>& rows, bool are_targets) {
                for (std::size_t s = 0; s < rows.size(); s += chunk) {
                    w.chunk.rows.assign(rows.begin() + std::ptrdiff_t(s),
                                        rows.begin() + std::ptrdiff_t(std::min(s + chunk, rows.size())));
                    score_tail(x, y, i, w.chunk, are_targets, w, hits != nullptr);
                }
            };
            if (!keep) in_chunks(targets, true), targets.clear();
            in_chunks(w.others, false);
        }
        double sum = 0;
        for (std::size_t r = 0; r < n; ++r) sum += w.nll[r];
        if (hits) {
            *hits = 0;
            for (std::size_t r = 0; r < n; ++r) *hits += w.best_id[r] == y[r];
        }
        return sum;
    }

    /// Tail `i` over `t.rows` (`tail`): their targets' terms into the nll when `targets`, and the
    /// argmax so far updated when `argmax`.
    void score_tail(const S* x, const std::int64_t* y, std::size_t i, Tail& t, bool targets, Work& w,
                    bool argmax) const {
        tail(x, i, t);
        const std::size_t V = size(i), H = head_size();
        for (std::size_t j = 0; j < t.rows.size(); ++j) {
            const std::size_t r = t.rows[j];
            const S* row = t.t.data() + j * V;
            if (targets) w.nll[r] -= double(row[std::size_t(y[r]) - first(i)]);
            if (!argmax) continue;
            std::size_t a = 0;
            for (std::size_t c = 1; c < V; ++c)
                if (row[c] > row[a]) a = c;
            const S lp = w.z[r * H + head_column(i)] + row[a];
            if (lp > w.best[r]) w.best[r] = lp, w.best_id[r] = std::int64_t(first(i) + a);
        }
    }

    /// The backward of $L = s \sum_r -\log p(y_r)$ after `forward_scores` filled `w`.
    void backward_scores(const S* x, const std::int64_t* y, std::size_t n, S s, Work& w, S* dx) {
        const std::size_t H = head_size(), c1 = first(1);
        // Head: $\partial L/\partial z_r = s\,(p_{head,r} - \text{onehot})$, in place of the log-probabilities.
        for_range(n, n * H >= 16384, [&](std::size_t r) {
            S* z = w.z.data() + r * H;
            for (std::size_t c = 0; c < H; ++c) z[c] = S(std::exp(double(z[c])) * double(s));
            const std::size_t i = w.cluster[r];
            z[i == 0 ? std::size_t(y[r]) : head_column(i)] -= s;
        });
        const S* h0 = projected ? w.h0.data() : x;
        // $\partial L/\partial W_0 \mathrel{+}= \delta_{:, <c_1}^\top h_0$, $\partial L/\partial W_c \mathrel{+}= \delta_{:, \ge c_1}^\top h_0$, and the biases.
        gemm(Trans::Yes, Trans::No, c1, D, n, S(1), w.z.data(), H, h0, D, S(1), dW(0), D);
        gemm(Trans::Yes, Trans::No, K, D, n, S(1), w.z.data() + c1, H, h0, D, S(1), cluster_weight.grad.data(), D);
        add_column_sums(w.z.data(), n, c1, db(0), H);
        add_column_sums(w.z.data() + c1, n, K, cluster_bias.grad.data(), H);
        // $\partial L/\partial h_0 = \delta_{:, <c_1} W_0 + \delta_{:, \ge c_1} W_c$ (straight into `dx` without $P_0$).
        S* dh0 = dx;
        if (projected) w.dh0.resize(n * D), dh0 = w.dh0.data();
        gemm(Trans::No, Trans::No, n, D, c1, S(1), w.z.data(), H, W(0), D, S(0), dh0, D);
        gemm(Trans::No, Trans::No, n, D, K, S(1), w.z.data() + c1, H, cluster_weight.value.data(), D, S(1), dh0, D);
        if (projected) {
            // $\partial L/\partial P_0 \mathrel{+}= x^\top \partial L/\partial h_0$, $\partial L/\partial x = \partial L/\partial h_0\, P_0^\top$.
            gemm(Trans::Yes, Trans::No, D, D, n, S(1), x, D, dh0, D, S(1), proj_param(0).grad.data(), D);
            gemm(Trans::No, Trans::Yes, n, D, D, S(1), dh0, D, proj_param(0).value.data(), D, S(0), dx, D);
        }
        for (std::size_t i = 1; i <= K; ++i) tail_backward(i, y, s, w.tails[i], dx);
    }

    /// Tail `i`'s backward over its target rows, adding into `dx`.
    void tail_backward(std::size_t i, const std::int64_t* y, S s, Tail& t, S* dx) {
        const std::size_t m = t.rows.size(), w = width(i), V = size(i);
        if (m == 0) return;
        // $\partial L/\partial t_r = s\,(\operatorname{softmax}(t_r) - \text{onehot}(y_r - c_i))$.
        for_range(m, m * V >= 16384, [&](std::size_t j) {
            S* row = t.t.data() + j * V;
            for (std::size_t c = 0; c < V; ++c) row[c] = S(std::exp(double(row[c])) * double(s));
            row[std::size_t(y[t.rows[j]]) - first(i)] -= s;
        });
        const S* h = projected ? t.h.data() : t.x.data();
        // $\partial L/\partial W_i \mathrel{+}= \delta^\top h_i$, $\partial L/\partial b_i \mathrel{+}= \sum_r \delta_r$, $\partial L/\partial h_i = \delta W_i$.
        gemm(Trans::Yes, Trans::No, V, w, m, S(1), t.t.data(), V, h, w, S(1), dW(i), w);
        add_column_sums(t.t.data(), m, V, db(i));
        t.dh.resize(m * w);
        gemm(Trans::No, Trans::No, m, w, V, S(1), t.t.data(), V, W(i), w, S(0), t.dh.data(), w);
        const S* dxr = t.dh.data();
        if (projected) {
            // $\partial L/\partial P_i \mathrel{+}= x^\top \partial L/\partial h_i$, $\partial L/\partial x = \partial L/\partial h_i\, P_i^\top$.
            gemm(Trans::Yes, Trans::No, D, w, m, S(1), t.x.data(), D, t.dh.data(), w, S(1), proj_param(i).grad.data(),
                 w);
            t.dx.resize(m * D);
            gemm(Trans::No, Trans::Yes, m, D, w, S(1), t.dh.data(), w, proj_param(i).value.data(), w, S(0), t.dx.data(),
                 D);
            dxr = t.dx.data();
        }
        for (std::size_t j = 0; j < m; ++j) {
            S* d = dx + t.rows[j] * D;
            for (std::size_t c = 0; c < D; ++c) d[c] += dxr[j * D + c];
        }
    }

    std::size_t n_vocab_ = 0;
    ClusterBounds bounds_;
    Embedding* tied_ = nullptr;
    /// Training's scratch, kept only to reuse its memory: a copy of the block starts without it.
    struct Scratch {
        Work work;
        Scratch() = default;
        Scratch(const Scratch&) {}
        Scratch& operator=(const Scratch&) { return *this; }
    } scratch_;
};

}  // namespace txl
