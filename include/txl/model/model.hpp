#pragma once
/// @file model/model.hpp
/// # The autoregressive model
///
/// In the order the steps run, layers numbered from 0 as in the code (the overview's
/// [notation](../../docs/overview.md#notation)):
/// $$\begin{aligned} x_0 &= \text{embedding}(\text{tokens}),
///   \\ x_{l+1} &= \text{Layer}_l(x_l,\ mem_l), \quad l = 0 .. N-1,
///   \\ \text{logits} &= \text{generator}\big(\text{LN}(x_N)\big). \end{aligned}$$
/// labml's `AutoregressiveModel` for Transformer-XL: `src_embed` ($E$, `[n_vocab, d_model]`),
/// the layer stack `transformer` with its final LayerNorm, and `generator`, a linear layer
/// `[n_vocab, d_model]` to the vocabulary. Mask: query $i$ of the segment sees all $M$ memory
/// positions and the segment's keys $0..i$ (built into the attention's softmax).
///
/// **Composition.** The model is a type assembled from blocks in slots (`slots.hpp` checks
/// each against its contract at compile time): the embedding, the layer (itself an attention
/// block and a feed-forward block), the number of layers, the generator and the memory. The
/// defaults are labml's, and two aliases name the models people mean:
///
/// ```cpp
/// using C = txl::Config<float, 128, 4, 256, 6>;
/// txl::TransformerXL<C> model(/*n_vocab*/ 65, /*seed*/ 1);   // labml's Transformer-XL
/// txl::TransformerXLNoMemory<C> plain(65, 1);                    // the same layers, no memory
/// // Any slot by hand, e.g. a feed-forward of one's own:
/// using Layer = txl::XLLayer<txl::RelativeMultiHeadAttention<C>, MyFeedForward<C>>;
/// txl::AutoregressiveModel<C, Layer> mine(65, 1);
///
/// decltype(model)::Cache cache;  txl::Memory<float> mem;
/// model.forward(tokens, mem, cache);          // cache.logits: [T, B, n_vocab]
/// model.update_memory(mem, cache, 32);        // carry the segment into memory
/// ```

#include <array>
#include <cstdint>
#include <ostream>
#include <sstream>
#include <string>
#include <type_traits>

#include "../core/errors.hpp"
#include "../core/tensor.hpp"
#include "../core/random.hpp"
#include "../blocks/embedding.hpp"
#include "../blocks/feed_forward.hpp"
#include "../blocks/relative_attention.hpp"
#include "../blocks/sinusoidal_attention.hpp"
#include "../blocks/slots.hpp"
#include "../blocks/xl_layer.hpp"
#include "../blocks/post_norm_layer.hpp"
#include "../blocks/generator.hpp"
#include "../blocks/loss.hpp"
#include "layer_stack.hpp"
#include "memory.hpp"

namespace txl {

/// labml's layer: relative multi-head attention and a ReLU feed-forward, pre-LayerNorm.
template <class C>
using TransformerXLLayer = XLLayer<RelativeMultiHeadAttention<C>, FeedForward<C>>;

namespace detail {
template <class L>
using evaluation_settings_t =
    decltype(std::declval<L&>().self_attn.clamp_len = 0, std::declval<L&>().self_attn.same_length_span = 0);
}  // namespace detail

/// Whether a layer's attention (`self_attn`) has the paper's evaluation settings.
template <class L>
inline constexpr bool has_evaluation_settings_v = detail::is_detected_v<detail::evaluation_settings_t, L>;

/// @tparam C       a `txl::Config`; every block must be built on it.
/// @tparam Layer   the layer slot (default: labml's `TransformerXLLayer<C>`).
/// @tparam Mem     the memory slot: `XLMemory<C>` (labml) or `NoMemory<C>`.
/// @tparam Embed   the embedding slot (default: `Embedding<C>`, labml's `src_embed`).
/// @tparam Gen     the generator slot (default: `Generator<C>`, labml's `generator`).
/// @tparam NLayers the number of layers (default: `C::n_layers`).
template <class C, class Layer = TransformerXLLayer<C>, class Mem = XLMemory<C>, class Embed = Embedding<C>,
          class Gen = Generator<C>, std::size_t NLayers = C::n_layers>
class AutoregressiveModel {
    static_assert(slot_checked<check_embedding_slot<Embed, C>>);
    static_assert(slot_checked<check_layer_slot<Layer, C>>);
    static_assert(slot_checked<check_generator_slot<Gen, C>>);
    static_assert(slot_checked<check_memory_slot<Mem, C>>);

public:
    using config = C;
    using S = typename C::scalar;
    using scalar = S;
    using Stack = LayerStack<Layer, NLayers>;
    static constexpr std::size_t d_model = C::d_model, n_layers = NLayers;
    /// Whether evaluation and sampling can reuse the memory's keys and values: the layer's
    /// attention has a key/value cache and the memory block keeps rows by position
    /// (`keeps_rows`), so the cached keys and values can follow its rule. Without either they
    /// recompute them, exactly, more slowly.
    static constexpr bool reuses_keys_values = layer_reuses_keys_values_v<Layer> && memory_keeps_rows_v<Mem>;
    using memory_block = Mem;
    /// Whether a segment sees the ones before it (false with `NoMemory`).
    static constexpr bool has_memory = Mem::remembers;

    struct Cache {
        std::size_t T = 0, B = 0, M = 0;
        tensor<std::int64_t, 2> tokens;  ///< `[T, B]`
        typename Stack::Cache stack;
        tensor<S, 3> logits;              ///< `[T, B, n_vocab]` (a generator of the logits kind)
        tensor<S, 3> dlogits;             ///< `loss_backward`'s workspace (logits kind)
        tensor<S, 3> d_out;               ///< `[T, B, d_model]` backward workspace
        bool reused_keys_values = false;  ///< forward reused the memory's keys and values: no backward
    };

    /// A model with PyTorch's default initialisation drawn from `Rng(seed)`, in the order
    /// embedding, layers $0 .. N-1$ (attention q, k, v, o; feed-forward 1, 2), generator.
    explicit AutoregressiveModel(std::size_t n_vocab, std::uint64_t seed = 0, S dropout = S(0))
        : src_embed(n_vocab), generator(n_vocab) {
        tie_generator();
        Rng rng(seed);
        src_embed.init(rng);
        transformer.init(rng);
        generator.init(rng);
        set_dropout(dropout);
    }

    /// A copy is a model of its own: a generator tied to the embedding is tied to the copy's.
    AutoregressiveModel(const AutoregressiveModel& o)
        : src_embed(o.src_embed), transformer(o.transformer), generator(o.generator), memory_rule(o.memory_rule) {
        tie_generator();
    }
    AutoregressiveModel& operator=(const AutoregressiveModel& o) {
        src_embed = o.src_embed, transformer = o.transformer, generator = o.generator, memory_rule = o.memory_rule;
        tie_generator();
        return *this;
    }

    std::size_t n_vocab() const { return src_embed.n_vocab(); }
    /// Whether the generator scores targets itself (`AdaptiveSoftmax`) instead of giving logits:
    /// then `forward` leaves `cache.logits` empty and `loss`, `loss_backward` and
    /// `token_scores` are the way to the loss, its gradient and the next token's distribution.
    static constexpr bool generator_scores = generator_scores_v<Gen>;

    void set_dropout(S p) { set_dropout(p, p); }
    /// Residual and feed-forward dropout `p`, attention-weight dropout `p_att` (labml uses one
    /// `p` for both; the paper's code has `dropout` and `dropatt`).
    void set_dropout(S p, S p_att) {
        check(p >= S(0) && p < S(1), "set_dropout: p = ", p, ", expected 0 <= p < 1");
        check(p_att >= S(0) && p_att < S(1), "set_dropout: p_att = ", p_att, ", expected 0 <= p_att < 1");
        for (auto& l : transformer.layers) set_dropout_if_any(l, p, p_att);
    }

    /// The paper's evaluation settings, on every layer's attention: `clamp_len` (distances
    /// beyond it use its encoding or table row; 0: off) and the `same_length` mask over `span`
    /// keys (every query sees the same number of keys, the memory length; 0: off). An attention
    /// of one's own without them cannot take them: asking is an error.
    void set_evaluation(std::size_t clamp_len, std::size_t span) {
        for (auto& l : transformer.layers) {
            if constexpr (has_evaluation_settings_v<Layer>) {
                l.self_attn.clamp_len = clamp_len;
                l.self_attn.same_length_span = span;
            } else {
                check(clamp_len == 0 && span == 0, "set_evaluation: this model's attention has no clamp_len or "
                                                   "same_length mask");
            }
        }
    }

    /// Throws `shape_error` unless `tokens` `[T, B]` and `mem` fit this model.
    void check_inputs(const tensor<std::int64_t, 2>& tokens, const Memory<S>& mem) const {
        const std::size_t T = tokens.shape()[0], B = tokens.shape()[1];
        // $T \ge 1$, $B \ge 1$, every id in $[0, n_{vocab})$; each $mem_l$ is `[M, B, d]`; $M + T$ within
        // what the attention takes ($\le P$ for the relative tables).
        check(T >= 1, "AutoregressiveModel::forward: segment length T = 0, expected T >= 1");
        check(B >= 1, "AutoregressiveModel::forward: batch B = 0, expected B >= 1");
        src_embed.check_tokens(tokens.data(), tokens.size());
        const std::size_t M = mem.length();
        if (!mem.states.empty())
            check(mem.states.size() == n_layers, "AutoregressiveModel::forward: memory has ", mem.states.size(),
                  " layers, expected ", n_layers);
        for (std::size_t l = 0; l < mem.states.size(); ++l) {
            const auto& s = mem.states[l].shape();
            check(s[0] == M && s[1] == B && s[2] == d_model, "AutoregressiveModel::forward: layer ", l, " memory is [",
                  s[0], ", ", s[1], ", ", s[2], "], expected [", M, ", ", B, ", ", d_model,
                  "] (memory length, batch of the tokens, d_model)");
        }
        check_lengths_if_any<Layer>(M, T);
    }

    /// ## Forward
    /// `tokens[T, B]` with memory `mem` (length $M$, may be empty). Fills `cache.logits`.
    /// `rng` draws dropout masks; `nullptr` (evaluation) disables dropout.
    void forward(const tensor<std::int64_t, 2>& tokens, const Memory<S>& mem, Cache& c, Rng* rng = nullptr) const {
        check_inputs(tokens, mem);
        const std::size_t T = tokens.shape()[0], B = tokens.shape()[1], M = mem.length();
        c.T = T, c.B = B, c.M = M;
        ensure_shape(c.tokens, tokens.shape());
        std::copy(tokens.begin(), tokens.end(), c.tokens.begin());
        c.stack.x.resize(n_layers + 1);
        ensure_shape(c.stack.x[0], {T, B, d_model});
        // $x_0 = \text{embedding}(\text{tokens})$ `[T, B, d]`.
        src_embed.forward(tokens.data(), T, B, c.stack.x[0].data());

        // Per layer $l$: $mem_l$ `[M, B, d]`, and (inference, if the model can use them) the
        // memory's cached $k_l$, $v_l$ `[M, B, d]`: what the layer's attention would compute
        // again from $mem_l$, as long as the weights are fixed.
        std::array<const S*, n_layers> mem_ptr{}, k_ptr{}, v_ptr{};
        const bool reused = reuses_keys_values && M > 0 && mem.has_keys_values();
        for (std::size_t l = 0; l < n_layers; ++l) {
            mem_ptr[l] = M ? mem.states[l].data() : nullptr;
            k_ptr[l] = reused ? mem.keys[l].data() : nullptr;
            v_ptr[l] = reused ? mem.values[l].data() : nullptr;
        }
        c.reused_keys_values = reused;
        // $x_{l+1} = \text{Layer}_l(x_l, mem_l)$ for $l = 0 .. N-1$, then $\text{out} = \text{LN}(x_N)$
        // `[T, B, d]`.
        transformer.forward(mem_ptr, M, c.stack, rng, reused ? &k_ptr : nullptr, reused ? &v_ptr : nullptr);

        if constexpr (!generator_scores) {
            ensure_shape(c.logits, {T, B, n_vocab()});  // `[T, B, n_vocab]`
            // $\text{logits} = \text{generator}(\text{out})$ `[T, B, n_vocab]`.
            generator.forward(c.stack.out.data(), T * B, c.logits.data());
        }
    }

    /// ## The loss
    /// After `forward`: $L = \frac1n \sum_r -\log p(y_r)$ over the $n = TB$ positions of
    /// `targets[T, B]`, and the accuracy (the argmax over the vocabulary is $y_r$), for either
    /// kind of generator: `cross_entropy` over the logits, or the generator's own scores.
    LossResult<S> loss(const std::int64_t* targets, const Cache& c) const {
        const std::size_t n = c.T * c.B;
        if constexpr (generator_scores) {
            std::size_t hits = 0;
            const double sum = generator.nll(c.stack.out.data(), targets, n, &hits);
            return {sum / double(n), double(hits) / double(n)};
        } else {
            return cross_entropy(c.logits.data(), targets, n, n_vocab());
        }
    }

    /// `loss`, and the gradient of $s L$ accumulated into every parameter (the backward of the
    /// whole model; $s$ = `scale`, e.g. a share of a larger batch).
    LossResult<S> loss_backward(const std::int64_t* targets, Cache& c, S scale = S(1)) {
        const std::size_t n = c.T * c.B;
        if constexpr (generator_scores) {
            check_backward(c);
            std::size_t hits = 0;
            ensure_shape(c.d_out, {c.T, c.B, d_model});
            // $\partial (sL)/\partial\,\text{out}$ from the generator's scores, $\frac{s}{n}$ per position.
            const double sum =
                generator.nll_backward(c.stack.out.data(), targets, n, S(scale / S(n)), c.d_out.data(), &hits);
            backward_from_out(c);
            return {sum / double(n), double(hits) / double(n)};
        } else {
            ensure_shape(c.dlogits, c.logits.shape());
            const auto r = cross_entropy(c.logits.data(), targets, n, n_vocab(), c.dlogits.data());
            if (scale != S(1))
                for (auto& g : c.dlogits) g *= scale;
            backward(c.dlogits.data(), c);
            return r;
        }
    }

    /// Scores over the vocabulary at position `row` of the last forward (`row = t*B + b`)
    /// whose softmax is the model's distribution of the next token: the logits, or the
    /// log-probabilities of a scoring generator. `scores[n_vocab]`.
    void token_scores(const Cache& c, std::size_t row, S* scores) const {
        if constexpr (generator_scores)
            generator.log_probs(c.stack.out.data() + row * d_model, 1, scores);
        else
            std::copy_n(c.logits.data() + row * n_vocab(), n_vocab(), scores);
    }

    /// ## Backward
    /// From `dlogits[T, B, n_vocab]` (e.g. from `cross_entropy`), accumulate the gradient of
    /// every parameter. Nothing flows into the memory.
    void backward(const S* dlogits, Cache& c) {
        static_assert(!generator_scores,
                      "AutoregressiveModel::backward(dlogits): this generator gives no logits; "
                      "use loss_backward(targets, cache)");
        check_backward(c);
        const std::size_t n = c.T * c.B;
        ensure_shape(c.d_out, {c.T, c.B, d_model});
        // The chain in reverse: $\partial L/\partial\,\text{out} = \text{generator}'^\top \partial L/\partial\,\text{logits}$,
        // $\partial L/\partial x_0 = \text{stack}'^\top \partial L/\partial\,\text{out}$, then the embedding's scatter-add.
        generator.backward(c.stack.out.data(), dlogits, n, c.d_out.data());
        backward_from_out(c);
    }

    /// Carry this segment into `mem` as the memory block says (`XLMemory`: layer inputs
    /// appended, the last `mem_len` rows kept; `NoMemory`: nothing). With `mem.reuse_keys_values` and a
    /// model that can cache (`reuses_keys_values`), the keys and values follow by the block's own
    /// rule; otherwise `mem` keeps none, and the next forward recomputes them.
    void update_memory(Memory<S>& mem, const Cache& c, std::size_t mem_len) const {
        // $mem_l \leftarrow \text{rule}(mem_l, x_l)$ for every layer (`XLMemory`: the last
        // `mem_len` rows of $[\,mem_l;\ x_l\,]$), a constant to the next segment; with the cache,
        // $k_l \leftarrow \text{rule}(k_l^{mem}, k_l^{seg})$ and the same for $v_l$ (`Memory::carry_keys_values`).
        if constexpr (reuses_keys_values) {
            if (mem.reuse_keys_values && mem_len > 0) {
                std::array<const tensor<S, 2>*, n_layers> k{}, v{};
                for (std::size_t l = 0; l < n_layers; ++l) {
                    k[l] = &transformer.layers[l].keys(c.stack.layer[l]);
                    v[l] = &transformer.layers[l].values(c.stack.layer[l]);
                }
                mem.carry_keys_values(memory_rule, k.data(), v.data(), n_layers, c.M, c.T, c.B, mem_len,
                                      c.reused_keys_values);
                memory_rule.update(mem, c.stack.x.data(), n_layers, mem_len);
                return;
            }
        }
        memory_rule.update(mem, c.stack.x.data(), n_layers, mem_len);
        mem.keys.clear();
        mem.values.clear();
    }

    /// Visit every parameter as `(name, Param&)` with labml's `state_dict` names.
    template <class F>
    void visit(F&& f, const std::string& prefix = "") {
        src_embed.visit(f, prefix + "src_embed.");
        transformer.visit(f, prefix + "transformer.");
        generator.visit(f, prefix + "generator.");
    }

    void zero_grad() { txl::zero_grad(*this); }

    /// Flat views of every parameter (see `ParamRef`), for optimizers and clipping.
    std::vector<ParamRef<S>> parameter_refs() { return txl::parameter_refs<S>(*this); }

    std::size_t parameter_count() {
        std::size_t n = 0;  // $\sum_{\text{tensors}} |\theta|$ over what `visit` lists
        visit([&](const std::string&, auto& p) { n += p.value.size(); });
        return n;
    }

    /// The model's structure, one line per parameter tensor, with its shape.
    std::string describe() {
        std::ostringstream s;
        s << "AutoregressiveModel<" << (std::is_same_v<S, float> ? "float" : "double") << ", d_model=" << d_model
          << ", heads=" << C::heads << ", d_ff=" << C::d_ff << ", layers=" << n_layers << ", P=" << C::P
          << ">, n_vocab=" << n_vocab() << "\n"
          << "  embedding " << block_name<Embed>("(custom)") << ", layer " << block_name<Layer>("(custom)") << " x "
          << n_layers << ", generator " << block_name<Gen>("(custom)") << ", memory " << block_name<Mem>("(custom)")
          << "\n";
        visit([&](const std::string& name, auto& p) {
            s << "  " << name << " [";
            for (std::size_t i = 0; i < p.value.dimension(); ++i) s << (i ? ", " : "") << p.value.shape()[i];
            s << "]\n";
        });
        s << "  parameters: " << parameter_count() << "\n";
        return s.str();
    }

private:
    /// Before any gradient changes: a forward that reused the memory's cached keys and values
    /// kept nothing for a backward.
    static void check_backward(const Cache& c) {
        check<error>(!c.reused_keys_values,
                     "AutoregressiveModel::backward: the forward used the memory's cached "
                     "keys and values (Memory::reuse_keys_values, inference only)");
    }

    /// From $\partial L/\partial\,\text{out}$ in `c.d_out`: the layers, then the embedding.
    void backward_from_out(Cache& c) {
        const auto& dx0 = transformer.backward(c.d_out.data(), c.stack);
        src_embed.backward(c.tokens.data(), dx0.data(), c.T, c.B);
    }

    /// A generator that shares the embedding's tensors (`AdaptiveSoftmax` with tied weights)
    /// points at this model's embedding.
    void tie_generator() {
        if constexpr (generator_ties_v<Gen>) {
            static_assert(can_tie_v<Gen, Embed>,
                          "txl generator slot: the generator ties its weights to the "
                          "embedding (ties = true), but has no tie() for this embedding "
                          "(an AdaptiveEmbedding with the same clusters)");
            generator.tie(src_embed);
        }
    }

public:
    Embed src_embed;
    Stack transformer;
    Gen generator;
    /// The memory block: the rule for what a segment leaves for the next. (The remembered
    /// states themselves are a `Memory<S>` the caller owns.)
    Mem memory_rule;
};

/// labml's Transformer-XL: relative attention, memory of `mem_len` layer inputs.
template <class C>
using TransformerXL = AutoregressiveModel<C>;

/// Transformer-XL with the paper's own attention: sinusoidal distances projected per layer,
/// biases $u$ and $v$ (`SinusoidalRelativeAttention`), in labml's pre-LayerNorm layer.
template <class C>
using SinusoidalTransformerXL = AutoregressiveModel<C, XLLayer<SinusoidalRelativeAttention<C>, FeedForward<C>>>;

/// Transformer-XL's layers without memory: a causal Transformer over each segment alone,
/// still with the relative position scores (not the absolute positions of the paper's
/// "vanilla" baseline). It isolates what the memory contributes.
template <class C>
using TransformerXLNoMemory = AutoregressiveModel<C, TransformerXLLayer<C>, NoMemory<C>>;

}  // namespace txl
