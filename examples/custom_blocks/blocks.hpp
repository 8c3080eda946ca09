#pragma once
/// @file blocks.hpp
/// # Blocks of one's own, written outside txl against its slot contracts
///
/// Nothing here is part of the library: this is what a user writes to put a block of their own
/// into a slot of `txl::AutoregressiveModel` (the contracts: `docs/slots.md`, checked by
/// `txl/blocks/slots.hpp` when the model type is formed). Each block has a forward, a hand-derived
/// backward, and is checked against finite differences with `txl/testing/gradcheck.hpp`
/// (`main.cpp`, and `tests/blocks/test_slots.cpp`).
///
/// * `GeluFeedForward<C>`: the feed-forward slot with GELU instead of ReLU.
/// * `CausalSelfAttention<C>`: the attention slot as the original Transformer has it
///   (softmax of $q \cdot k / \sqrt{d_k}$, causal mask), with *absolute* positions: sinusoidal
///   encodings added to what the queries and keys read (not the values), as in Shortformer's
///   position-infused attention. Over memory, position $t$ is the row's place in the window
///   `[memory; segment]`, so the same character has another position as a query than later as
///   a remembered key: the inconsistency the paper's relative encoding removes. It has no
///   key/value cache and no dropout: the model evaluates and samples with it all the same,
///   recomputing the memory's keys and values every segment.
/// * `StridedMemory<C>`: the memory slot with another rule than labml's: of each segment it
///   remembers every second position (counting back from the last), so a memory of `mem_len`
///   rows reaches twice as far back. It keeps rows by position (`keeps_rows`), so evaluation and
///   sampling cache the keys and values by the same rule.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

#include <txl/txl.hpp>

namespace custom {

/// ## GELU feed-forward
/// $$\begin{aligned} \text{FFN}(z) &= \text{GELU}(z W_1^\top + b_1)\, W_2^\top + b_2,
///   \\ \text{GELU}(a) &= a\,\Phi(a) = \tfrac{a}{2}\big(1 + \operatorname{erf}(a/\sqrt 2)\big) \end{aligned}$$
/// **Backward.** With $h = \text{GELU}(a)$ and $\delta = \partial L/\partial y$:
/// $\partial L/\partial h = \delta W_2$, then $\partial L/\partial a = \partial L/\partial h
/// \odot \text{GELU}'(a)$ with $\text{GELU}'(a) = \Phi(a) + a\,\varphi(a)$
/// ($\varphi$ the standard normal density), then $\partial L/\partial z = (\partial L/\partial a) W_1$.
template <class C>
class GeluFeedForward {
public:
    using config = C;
    using S = typename C::scalar;
    static constexpr std::size_t d_model = C::d_model, d_ff = C::d_ff;
    static std::string name() { return "GeluFeedForward"; }

    struct Cache {
        txl::tensor<S, 2> a, h;  ///< `[n, d_ff]` pre-activation and GELU of it
        txl::tensor<S, 2> da;    ///< `[n, d_ff]` backward workspace
    };

    GeluFeedForward() : layer1(d_model, d_ff, true), layer2(d_ff, d_model, true) {}

    void init(txl::Rng& rng) {
        layer1.init(rng);
        layer2.init(rng);
    }

    static S gelu(S a) { return S(0.5) * a * (S(1) + std::erf(a / std::sqrt(S(2)))); }
    /// $\text{GELU}'(a) = \Phi(a) + a\,\varphi(a)$.
    static S gelu_grad(S a) {
        const S Phi = S(0.5) * (S(1) + std::erf(a / std::sqrt(S(2))));
        const S phi = std::exp(-S(0.5) * a * a) / std::sqrt(S(2) * S(3.14159265358979323846));
        return Phi + a * phi;
    }

    /// `y[n, d_model] = FFN(z[n, d_model])`.
    void forward(const S* z, std::size_t n, S* y, Cache& c, txl::Rng*) const {
        txl::ensure_shape(c.a, {n, d_ff});
        txl::ensure_shape(c.h, {n, d_ff});
        // $a = z W_1^\top + b_1$
        layer1.forward(z, n, c.a.data());
        // $h = \text{GELU}(a)$
        for (std::size_t i = 0; i < n * d_ff; ++i) c.h.data()[i] = gelu(c.a.data()[i]);
        // $y = h W_2^\top + b_2$
        layer2.forward(c.h.data(), n, y);
    }

    /// From `dy[n, d_model]`: accumulate parameter gradients, write `dz[n, d_model]`.
    void backward(const S* z, const S* dy, std::size_t n, S* dz, Cache& c) {
        txl::ensure_shape(c.da, {n, d_ff});
        // dL/dh = dy W_2 (and W_2, b_2 gradients)
        layer2.backward(c.h.data(), dy, n, c.da.data());
        // dL/da = dL/dh * GELU'(a)
        for (std::size_t i = 0; i < n * d_ff; ++i) c.da.data()[i] *= gelu_grad(c.a.data()[i]);
        // dL/dz = dL/da W_1 (and W_1, b_1 gradients)
        layer1.backward(z, c.da.data(), n, dz);
    }

    template <class F>
    void visit(F&& f, const std::string& prefix = "") {
        layer1.visit(f, prefix + "layer1.");
        layer2.visit(f, prefix + "layer2.");
    }

    txl::Linear<S> layer1, layer2;
};

/// ## Causal self-attention with absolute positions
/// Rows of the window `kv[K*B, d_model]` (memory first, row $t B + b$) get the sinusoidal
/// encoding of their place $t$ in the window, $p_t$, before the query and key projections:
/// $$\begin{aligned} q_i &= (z_i + p_{M+i}) W_q^\top + b_q, \quad k_j = (kv_j + p_j) W_k^\top,
///   \\ v_j &= kv_j W_v^\top + b_v, \end{aligned}$$
/// $$\begin{aligned} a_{ij} &= \operatorname{softmax}_j\big(q_i \cdot k_j / \sqrt{d_k}\big) \text{ over } j \le M + i,
///   \\ o_i &= \textstyle\sum_j a_{ij} v_j, \qquad \text{out} = o W_o^\top + b_o \end{aligned}$$
/// per head. $p_{t,2c} = \sin(t / 10000^{2c/d})$, $p_{t,2c+1} = \cos(t / 10000^{2c/d})$.
/// The keys have no bias: $b_k$ would add $q_i \cdot b_k$ to every score of row $i$, which the
/// softmax cancels, so its gradient is exactly zero (the gradient check flags such a tensor:
/// an all-zero gradient proves nothing).
///
/// **Backward.** $\partial L/\partial o = \delta W_o$; per head $\partial L/\partial a = (\partial L/\partial o) V^\top$,
/// $\partial L/\partial V = a^\top \partial L/\partial o$; softmax
/// $g_{ij} = a_{ij}(\partial_{a_{ij}} - \sum_{j'} a_{ij'} \partial_{a_{ij'}}) / \sqrt{d_k}$;
/// $\partial L/\partial q = g\, k$, $\partial L/\partial k = g^\top q$. The positions are constants
/// added to the input, so the query and key projections' input gradients flow into
/// $\partial L/\partial kv$ unchanged, beside the value projection's.
template <class C>
class CausalSelfAttention {
public:
    using config = C;
    using S = typename C::scalar;
    static constexpr std::size_t d_model = C::d_model, H = C::heads, d_k = C::d_k;
    static std::string name() { return "CausalSelfAttention(absolute positions)"; }

    struct Cache {
        std::size_t M = 0, T = 0, B = 0;
        txl::tensor<S, 2> xp;       ///< `[K*B, d_model]`: kv + positions (what q and k read)
        txl::tensor<S, 2> q;        ///< `[T*B, d_model]`
        txl::tensor<S, 2> k, v;     ///< `[K*B, d_model]`
        txl::tensor<S, 4> a;        ///< `[B, H, T, K]` attention weights
        txl::tensor<S, 2> o;        ///< `[T*B, d_model]` heads side by side
        txl::tensor<S, 2> d_o, dq;  ///< `[T*B, d_model]` backward workspace
        txl::tensor<S, 2> dk, dv;   ///< `[K*B, d_model]` backward workspace
        txl::tensor<S, 2> g;        ///< `[T, K]` one head's score gradient
    };

    CausalSelfAttention()
        : query(d_model, d_model, true),
          key(d_model, d_model, false),
          value(d_model, d_model, true),
          output(d_model, d_model, true) {}

    void init(txl::Rng& rng) {
        query.init(rng);
        key.init(rng);
        value.init(rng);
        output.init(rng);
    }

    /// $p_{t,e}$, the sinusoidal encoding of position $t$, feature $e$.
    static S position(std::size_t t, std::size_t e) {
        const double freq = std::pow(10000.0, -double(e - e % 2) / double(d_model));
        return S(e % 2 == 0 ? std::sin(double(t) * freq) : std::cos(double(t) * freq));
    }

    void forward(const S* kv, std::size_t M, std::size_t T, std::size_t B, S* out, Cache& c, txl::Rng*) const {
        const std::size_t K = M + T, nq = T * B, nk = K * B, ld = B * d_model;
        c.M = M, c.T = T, c.B = B;
        txl::ensure_shape(c.xp, {nk, d_model});
        txl::ensure_shape(c.q, {nq, d_model});
        txl::ensure_shape(c.k, {nk, d_model});
        txl::ensure_shape(c.v, {nk, d_model});
        txl::ensure_shape(c.a, {B, H, T, K});
        txl::ensure_shape(c.o, {nq, d_model});
        // xp_t = kv_t + p_t: row t*B + b of the window is at position t.
        for (std::size_t t = 0; t < K; ++t)
            for (std::size_t b = 0; b < B; ++b)
                for (std::size_t e = 0; e < d_model; ++e)
                    c.xp((t * B + b), e) = kv[(t * B + b) * d_model + e] + position(t, e);
        // q from the segment's rows (the last T*B), k from all rows with positions; v without.
        query.forward(c.xp.data() + M * B * d_model, nq, c.q.data());
        key.forward(c.xp.data(), nk, c.k.data());
        value.forward(kv, nk, c.v.data());
        const S scale = S(1) / std::sqrt(S(d_k));
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t h = 0; h < H; ++h) {
                const std::size_t col = b * d_model + h * d_k;  // this (b, h)'s slice of a row
                S* a = &c.a(b, h, 0, 0);
                // scores $= q\, k^\top$: `[T, d_k] x [d_k, K]`, rows B*d_model apart
                txl::gemm(txl::Trans::No, txl::Trans::Yes, T, K, d_k, S(1), c.q.data() + col, ld, c.k.data() + col, ld,
                          S(0), a, K);
                // a = softmax(scale * scores) over the visible keys j <= M + i
                for (std::size_t i = 0; i < T; ++i) {
                    S* row = a + i * K;
                    const std::size_t visible = M + i + 1;
                    S mx = row[0];
                    for (std::size_t j = 1; j < visible; ++j) mx = std::max(mx, row[j]);
                    S sum = 0;
                    for (std::size_t j = 0; j < visible; ++j) sum += (row[j] = std::exp((row[j] - mx) * scale));
                    for (std::size_t j = 0; j < visible; ++j) row[j] /= sum;
                    for (std::size_t j = visible; j < K; ++j) row[j] = S(0);
                }
                // o = a V: [T, K] x [K, d_k]
                txl::gemm(txl::Trans::No, txl::Trans::No, T, d_k, K, S(1), a, K, c.v.data() + col, ld, S(0),
                          c.o.data() + col, ld);
            }
        // $\text{out} = o\, W_o^\top + b_o$
        output.forward(c.o.data(), nq, out);
    }

    void backward(const S* kv, const S* dout, S* dkv, Cache& c) {
        const std::size_t M = c.M, T = c.T, B = c.B, K = M + T, nq = T * B, nk = K * B, ld = B * d_model;
        txl::ensure_shape(c.d_o, {nq, d_model});
        txl::ensure_shape(c.dq, {nq, d_model});
        txl::ensure_shape(c.dk, {nk, d_model});
        txl::ensure_shape(c.dv, {nk, d_model});
        txl::ensure_shape(c.g, {T, K});
        // dL/do = dout W_o (and W_o, b_o gradients)
        output.backward(c.o.data(), dout, nq, c.d_o.data());
        const S scale = S(1) / std::sqrt(S(d_k));
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t h = 0; h < H; ++h) {
                const std::size_t col = b * d_model + h * d_k;
                const S* a = &c.a(b, h, 0, 0);
                S* g = c.g.data();
                // $\partial L/\partial a = (\partial L/\partial o)\, V^\top$, $\partial L/\partial V = a^\top\, \partial L/\partial o$
                txl::gemm(txl::Trans::No, txl::Trans::Yes, T, K, d_k, S(1), c.d_o.data() + col, ld, c.v.data() + col,
                          ld, S(0), g, K);
                txl::gemm(txl::Trans::Yes, txl::Trans::No, K, d_k, T, S(1), a, K, c.d_o.data() + col, ld, S(0),
                          c.dv.data() + col, ld);
                // g = a * (dL/da - sum_j a dL/da) * scale: the softmax's backward
                for (std::size_t i = 0; i < T; ++i) {
                    S dot = 0;
                    for (std::size_t j = 0; j < K; ++j) dot += a[i * K + j] * g[i * K + j];
                    for (std::size_t j = 0; j < K; ++j) g[i * K + j] = a[i * K + j] * (g[i * K + j] - dot) * scale;
                }
                // $\partial L/\partial q = g\, k$, $\partial L/\partial k = g^\top q$
                txl::gemm(txl::Trans::No, txl::Trans::No, T, d_k, K, S(1), g, K, c.k.data() + col, ld, S(0),
                          c.dq.data() + col, ld);
                txl::gemm(txl::Trans::Yes, txl::Trans::No, K, d_k, T, S(1), g, K, c.q.data() + col, ld, S(0),
                          c.dk.data() + col, ld);
            }
        // dL/dkv = dV W_v + dK W_k + [0; dQ W_q] (positions are constants: xp's gradient is kv's)
        value.backward(kv, c.dv.data(), nk, dkv, S(0));
        key.backward(c.xp.data(), c.dk.data(), nk, dkv, S(1));
        query.backward(c.xp.data() + M * B * d_model, c.dq.data(), nq, dkv + M * B * d_model, S(1));
    }

    /// labml's `MultiHeadAttention` names.
    template <class F>
    void visit(F&& f, const std::string& prefix = "") {
        query.visit(f, prefix + "query.linear.");
        key.visit(f, prefix + "key.linear.");
        value.visit(f, prefix + "value.linear.");
        output.visit(f, prefix + "output.");
    }

    txl::Linear<S> query, key, value, output;
};

/// ## A strided memory
/// After each segment layer $l$ remembers
/// $mem_l \leftarrow [\,mem_l;\ x_{l,\,T-1-2s}\ (s = \lfloor (T-1)/2 \rfloor, \dots, 1, 0)\,]$, the last
/// `mem_len` rows: the old memory, then every second row of the segment, ending with its
/// last. No parameters and no gradient (the memory is a constant to the next segment, as in
/// every memory block).
template <class C>
struct StridedMemory {
    using config = C;
    using S = typename C::scalar;
    static std::string name() { return "StridedMemory"; }
    static constexpr bool remembers = true;
    /// Every remembered row is a row of $[\,mem;\ x\,]$ picked by position alone: the key/value
    /// cache may follow the same rule (`txl::Memory::carry_keys_values`).
    static constexpr bool keeps_rows = true;

    void update(txl::Memory<S>& mem, const txl::tensor<S, 3>* layer_inputs, std::size_t n_layers,
                std::size_t mem_len) const {
        if (mem_len == 0) return mem.clear();
        const std::size_t M = mem.length();
        mem.states.resize(n_layers);
        for (std::size_t l = 0; l < n_layers; ++l) {
            const auto& x = layer_inputs[l];
            const std::size_t T = x.shape()[0], B = x.shape()[1], d = x.shape()[2], row = B * d;
            const std::size_t picked = (T + 1) / 2, keep = std::min(mem_len, M + picked);
            txl::tensor<S, 3> out = txl::tensor<S, 3>::from_shape({keep, B, d});
            // Rows of $[\,mem;\ \text{picked}\,]$ from `first` on; the picked rows are
            // $x_{T-1-2(picked-1-p)}$, $p = 0 .. picked - 1$.
            const std::size_t first = M + picked - keep;
            for (std::size_t r = first; r < M + picked; ++r) {
                const S* src =
                    r < M ? mem.states[l].data() + r * row : x.data() + (T - 1 - 2 * (picked - 1 - (r - M))) * row;
                std::copy(src, src + row, out.data() + (r - first) * row);
            }
            mem.states[l] = std::move(out);
        }
    }
};

}  // namespace custom
