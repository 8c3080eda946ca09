#pragma once
/// @file blocks/adaptive_embedding.hpp
/// # Adaptive input: an embedding whose rare words are narrow
///
/// The paper's `AdaptiveEmbedding` (Baevski and Auli 2019, as kimiyoung/transformer-xl has
/// it), an embedding slot block. With the clusters of `adaptive_clusters.hpp`, a token $v$ in
/// cluster $i$ (so $c_i \le v < c_{i+1}$) is looked up in that cluster's table
/// $E_i \in \mathbb R^{(c_{i+1} - c_i) \times d_i}$, projected to $d_{model}$ and scaled:
/// $$x = \sqrt{d_{model}}\; E_i[v - c_i]\, P_i^\top \qquad (\text{no } P_i \text{ when } \text{div\_val} = 1:\ x = \sqrt{d_{model}}\, E[v]).$$
/// The scale $\sqrt{d_{model}}$ is the paper's `emb_scale`; with $\text{div\_val} = 1$ the
/// clusters are row ranges of one table $E \in \mathbb R^{n_{vocab} \times d_{model}}$, exactly
/// a scaled `Embedding`. The parameters: $\sum_i (c_{i+1} - c_i)\, d_i$ table entries
/// (WikiText-103 with $\text{div\_val} = 4$: a quarter of the full table's for the 20k-40k words, a
/// sixteenth beyond) plus the projections.
///
/// **Backward**, per cluster with $\delta = \partial L/\partial x$ over the rows whose token is in it:
/// $$\frac{\partial L}{\partial E_i[v - c_i]} \mathrel{+}= \sqrt{d_{model}}\, \delta P_i, \qquad
///   \frac{\partial L}{\partial P_i} \mathrel{+}= \sqrt{d_{model}}\, \delta^\top e,$$
/// with $e$ the looked-up rows $E_i[v - c_i]$ (a scatter-add over the rows of the table, as
/// `Embedding` does). `AdaptiveSoftmax` can share these tables and projections (tied weights).
///
/// Parameter names are the paper's: `emb_layers.{i}.weight` (one table when div_val = 1),
/// `emb_projs.{i}`. Initialisation is the paper's `normal` one: tables $\mathcal N(0, 0.02^2)$,
/// projections $\mathcal N(0, 0.01^2)$.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/config.hpp"
#include "../core/errors.hpp"
#include "../core/tensor.hpp"
#include "../core/random.hpp"
#include "../detail/gemm.hpp"
#include "embedding.hpp"
#include "adaptive_clusters.hpp"

namespace txl {

/// Fill `n` values with $\mathcal N(0, \sigma^2)$.
template <class S>
inline void init_normal_std(S* x, std::size_t n, double sigma, Rng& rng) {
    init_normal(x, n, rng);
    for (std::size_t i = 0; i < n; ++i) x[i] = S(double(x[i]) * sigma);
}

/// @tparam C        a `txl::Config`.
/// @tparam Clusters an `AdaptiveClusters<div_val, cutoffs...>`.
template <class C, class Clusters>
class AdaptiveEmbedding {
public:
    using config = C;
    using clusters = Clusters;
    using S = typename C::scalar;
    using scalar = S;
    static constexpr std::size_t D = C::d_model, K = Clusters::n_tails;
    static constexpr bool projected = Clusters::projected;
    static std::string name() { return "AdaptiveEmbedding(" + Clusters::describe() + ")"; }

    AdaptiveEmbedding() = default;
    explicit AdaptiveEmbedding(std::size_t n_vocab)
        : n_vocab_(n_vocab), bounds_(Clusters::bounds(n_vocab, D, "AdaptiveEmbedding")) {
        // div_val = 1: one table [n_vocab, D]; else table i is [c_{i+1} - c_i, d_i] with P_i [D, d_i].
        emb_layers.resize(projected ? K + 1 : 1);
        if (!projected) emb_layers[0].resize(std::array<std::size_t, 2>{n_vocab, D});
        for (std::size_t i = 0; projected && i <= K; ++i) {
            emb_layers[i].resize(std::array<std::size_t, 2>{size(i), width(i)});
            emb_projs.emplace_back();
            emb_projs[i].resize(std::array<std::size_t, 2>{D, width(i)});
        }
    }

    std::size_t n_vocab() const { return n_vocab_; }
    /// Cluster $i$'s first id $c_i$, size $c_{i+1} - c_i$ and width $d_i$.
    std::size_t first(std::size_t i) const { return bounds_.first(i); }
    std::size_t size(std::size_t i) const { return bounds_.size(i); }
    static constexpr std::size_t width(std::size_t i) { return Clusters::width(D, i); }
    /// The cluster of token `v`: the $i$ with $c_i \le v < c_{i+1}$.
    std::size_t cluster_of(std::int64_t v) const { return bounds_.cluster_of(v); }

    void init(Rng& rng) {
        for (auto& t : emb_layers) init_normal_std(t.value.data(), t.value.size(), 0.02, rng);
        for (auto& p : emb_projs) init_normal_std(p.value.data(), p.value.size(), 0.01, rng);
    }

    void check_tokens(const std::int64_t* tokens, std::size_t n) const {
        check_ids("AdaptiveEmbedding", "token", tokens, n, n_vocab_);
    }

    /// `x[T*B, D]` from `tokens[T*B]` (ids checked by `check_tokens`).
    void forward(const std::int64_t* tokens, std::size_t T, std::size_t B, S* x) const {
        const std::size_t n = T * B;
        const S scale = S(std::sqrt(double(D)));
        if constexpr (!projected) {
            // $x_r = \sqrt{d_{model}}\, E[v_r]$.
            for (std::size_t r = 0; r < n; ++r) {
                const S* e = emb_layers[0].value.data() + std::size_t(tokens[r]) * D;
                for (std::size_t c = 0; c < D; ++c) x[r * D + c] = scale * e[c];
            }
            return;
        }
        std::vector<std::size_t> rows;
        std::vector<S> e, y;
        for (std::size_t i = 0; i <= K; ++i) {
            // The rows whose token is in cluster $i$, their table rows $e = E_i[v - c_i]$ `[m, d_i]`,
            // then $x_{rows} = \sqrt{d_{model}}\, e P_i^\top$ `[m, D]`.
            gather(tokens, n, i, rows, e);
            if (rows.empty()) continue;
            y.resize(rows.size() * D);
            gemm(Trans::No, Trans::Yes, rows.size(), D, width(i), scale, e.data(), width(i), emb_projs[i].value.data(),
                 width(i), S(0), y.data(), D);
            for (std::size_t j = 0; j < rows.size(); ++j) std::copy_n(y.data() + j * D, D, x + rows[j] * D);
        }
    }

    /// Accumulate the tables' and projections' gradients from `dx[T*B, D]`.
    void backward(const std::int64_t* tokens, const S* dx, std::size_t T, std::size_t B) {
        const std::size_t n = T * B;
        const S scale = S(std::sqrt(double(D)));
        if constexpr (!projected) {
            // $\partial L/\partial E[v_r] \mathrel{+}= \sqrt{d_{model}}\, \delta_r$.
            for (std::size_t r = 0; r < n; ++r) {
                S* g = emb_layers[0].grad.data() + std::size_t(tokens[r]) * D;
                for (std::size_t c = 0; c < D; ++c) g[c] += scale * dx[r * D + c];
            }
            return;
        }
        std::vector<std::size_t> rows;
        std::vector<S> e, d, de;
        for (std::size_t i = 0; i <= K; ++i) {
            gather(tokens, n, i, rows, e);
            if (rows.empty()) continue;
            const std::size_t m = rows.size(), w = width(i);
            d.resize(m * D);
            for (std::size_t j = 0; j < m; ++j) std::copy_n(dx + rows[j] * D, D, d.data() + j * D);
            // $\partial L/\partial P_i \mathrel{+}= \sqrt{d_{model}}\, \delta^\top e$: `[D, m] x [m, d_i]`.
            gemm(Trans::Yes, Trans::No, D, w, m, scale, d.data(), D, e.data(), w, S(1), emb_projs[i].grad.data(), w);
            // $\partial L/\partial e = \sqrt{d_{model}}\, \delta P_i$ `[m, d_i]`, scattered into the table's rows.
            de.resize(m * w);
            gemm(Trans::No, Trans::No, m, w, D, scale, d.data(), D, emb_projs[i].value.data(), w, S(0), de.data(), w);
            for (std::size_t j = 0; j < m; ++j) {
                S* g = emb_layers[i].grad.data() + (std::size_t(tokens[rows[j]]) - first(i)) * w;
                for (std::size_t c = 0; c < w; ++c) g[c] += de[j * w + c];
            }
        }
    }

    template <class F>
    void visit(F&& f, const std::string& prefix = "") {
        for (std::size_t i = 0; i < emb_layers.size(); ++i)
            f(prefix + "emb_layers." + std::to_string(i) + ".weight", emb_layers[i]);
        for (std::size_t i = 0; i < emb_projs.size(); ++i) f(prefix + "emb_projs." + std::to_string(i), emb_projs[i]);
    }

    std::vector<Param<S, 2>> emb_layers;  ///< $E$ (div_val = 1) or $E_0 .. E_K$
    std::vector<Param<S, 2>> emb_projs;   ///< $P_0 .. P_K$ `[D, d_i]` (div_val > 1), else none

private:
    /// The rows `r` whose token is in cluster `i`, and their table rows copied to `e[m, d_i]`.
    void gather(const std::int64_t* tokens, std::size_t n, std::size_t i, std::vector<std::size_t>& rows,
                std::vector<S>& e) const {
        rows.clear();
        for (std::size_t r = 0; r < n; ++r)
            if (cluster_of(tokens[r]) == i) rows.push_back(r);
        const std::size_t w = width(i);
        e.resize(rows.size() * w);
        for (std::size_t j = 0; j < rows.size(); ++j)
            std::copy_n(emb_layers[i].value.data() + (std::size_t(tokens[rows[j]]) - first(i)) * w, w,
                        e.data() + j * w);
    }

    std::size_t n_vocab_ = 0;
    ClusterBounds bounds_;
};

}  // namespace txl
