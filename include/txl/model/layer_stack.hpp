#pragma once
/// @file model/layer_stack.hpp
/// # The layer stack
///
/// $$x_0 = \text{input}, \qquad x_{l+1} = \text{Layer}_l(x_l, mem_l) \ \ (l = 0 .. N-1), \qquad
///   \text{out} = \text{LN}(x_N)$$
/// Each $x_l$ ($l < N$) is kept: it is layer $l$'s new memory (see `memory.hpp`) and, with the
/// layer caches, what the backward pass needs. labml's `TransformerXL` (the stack; in txl that
/// name is the whole standard model, see `model.hpp`); its parameters keep labml's prefix
/// `transformer.`.

#include <array>
#include <string>
#include <vector>

#include "../core/tensor.hpp"
#include "../core/random.hpp"
#include "../blocks/layer_norm.hpp"
#include "../blocks/slots.hpp"

namespace txl {

/// @tparam Layer   a layer block (the layer slot), e.g. `XLLayer<...>`.
/// @tparam NLayers the number of layers $N$ (`n_layers`; the loss is $L$).
template <class Layer, std::size_t NLayers>
class LayerStack {
public:
    using config = typename Layer::config;
    using S = typename config::scalar;
    using scalar = S;
    static constexpr std::size_t d_model = config::d_model, n_layers = NLayers;
    static_assert(NLayers > 0, "txl::LayerStack: at least one layer");

    struct Cache {
        std::size_t M = 0, T = 0, B = 0;
        std::vector<tensor<S, 3>> x;  ///< `x[l]`, `l = 0..N`: `[T, B, d_model]`
        std::array<typename Layer::Cache, n_layers> layer;
        tensor<S, 2> xhat;  ///< final LayerNorm
        tensor<S, 1> rstd;
        tensor<S, 3> out;         ///< `[T, B, d_model]`
        tensor<S, 3> dx_a, dx_b;  ///< backward ping-pong workspace
    };

    void init(Rng& rng) {
        for (auto& l : layers) l.init(rng);
        norm = LayerNorm<S, d_model>();
    }

    /// Runs the stack on `cache.x[0]` (filled by the caller, `[T, B, d_model]`).
    /// `mem[l]` points at layer `l`'s memory `[M, B, d_model]` (null when M = 0).
    /// `k_mem`, `v_mem` (optional, only for a layer with a key/value cache): per layer, the
    /// memory's cached keys and values (inference).
    void forward(const std::array<const S*, n_layers>& mem, std::size_t M, Cache& c, Rng* rng,
                 const std::array<const S*, n_layers>* k_mem = nullptr,
                 const std::array<const S*, n_layers>* v_mem = nullptr) const {
        const std::size_t T = c.x[0].shape()[0], B = c.x[0].shape()[1];
        c.M = M, c.T = T, c.B = B;
        c.x.resize(n_layers + 1);
        // $x_{l+1} = \text{Layer}_l(x_l, mem_l)$; each $x_l$ stays in the cache (the backward and
        // the next memory read it).
        for (std::size_t l = 0; l < n_layers; ++l) {
            ensure_shape(c.x[l + 1], {T, B, d_model});
            if constexpr (layer_reuses_keys_values_v<Layer>) {
                if (k_mem && v_mem) {
                    layers[l].forward(c.x[l].data(), mem[l], M, T, B, c.x[l + 1].data(), c.layer[l], rng, (*k_mem)[l],
                                      (*v_mem)[l]);
                    continue;
                }
            }
            layers[l].forward(c.x[l].data(), mem[l], M, T, B, c.x[l + 1].data(), c.layer[l], rng);
        }
        // The final LayerNorm keeps $\hat x$ and $r = 1/\sqrt{\sigma^2 + \epsilon}$ per row for its backward.
        ensure_shape(c.out, {T, B, d_model});
        ensure_shape(c.xhat, {T * B, d_model});
        ensure_shape(c.rstd, {T * B});
        // $\text{out} = \text{LN}(x_N)$ `[T, B, d]`.
        norm.forward(c.x[n_layers].data(), T * B, c.out.data(), c.xhat.data(), c.rstd.data());
    }

    /// From `d_out[T, B, d_model]`; returns $\partial L/\partial x_0$ (a workspace of the cache).
    const tensor<S, 3>& backward(const S* d_out, Cache& c) {
        ensure_shape(c.dx_a, {c.T, c.B, d_model});
        ensure_shape(c.dx_b, {c.T, c.B, d_model});
        c.dx_a.fill(S(0));  // LayerNorm's backward adds into $\partial L/\partial x_N$
        // $\partial L/\partial x_N = \text{LN}'^\top\, \partial L/\partial\,\text{out}$.
        norm.backward(d_out, c.xhat.data(), c.rstd.data(), c.T * c.B, c.dx_a.data());
        tensor<S, 3>* dy = &c.dx_a;
        tensor<S, 3>* dx = &c.dx_b;
        // Down the stack: $\partial L/\partial x_l = \text{Layer}_l'^\top\, \partial L/\partial x_{l+1}$
        // (two buffers, swapped each layer).
        for (std::size_t l = n_layers; l-- > 0;) {
            layers[l].backward(dy->data(), dx->data(), c.layer[l]);
            std::swap(dy, dx);
        }
        return *dy;  // $\partial L/\partial x_0$, for the embedding's scatter-add
    }

    template <class F>
    void visit(F&& f, const std::string& prefix = "") {
        for (std::size_t l = 0; l < n_layers; ++l) layers[l].visit(f, prefix + "layers." + std::to_string(l) + ".");
        norm.visit(f, prefix + "norm.");
    }

    std::array<Layer, n_layers> layers;
    LayerNorm<S, d_model> norm;
};

}  // namespace txl
