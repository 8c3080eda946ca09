#pragma once
/// @file blocks/slots.hpp
/// # The slots of the model, and what a block must provide to fill one
///
/// A model is composed at compile time from blocks, each in a *slot*:
///
/// | slot | the labml block | what it computes |
/// |---|---|---|
/// | embedding | `Embedding<C>` | token ids `[T, B]` to $x_0$ `[T, B, d_{model}]` |
/// | attention (inside a layer) | `RelativeMultiHeadAttention<C>` | $\text{Attn}(z, kv)$ |
/// | feed-forward (inside a layer) | `FeedForward<C>` | $\text{FFN}(z)$, row by row |
/// | layer | `XLLayer<Attn, FF>` | $x_{l+1} = \text{Layer}(x_l, mem_l)$ |
/// | generator | `Generator<C>` | $\text{out} = \text{LN}(x_N)$ to logits `[T, B, n_{vocab}]` |
/// | memory | `XLMemory<C>` (or `NoMemory<C>`) | what the next segment remembers |
///
/// `docs/slots.md` states each contract in prose; this header checks it. Each check below
/// is a C++17 *detection* (does `block.backward(...)` with these argument types compile?)
/// followed by a `static_assert` that names the slot and the missing piece. The asserts are
/// chained: once one piece is missing, the ones after it stay quiet, so the first error the
/// compiler prints is the one to fix.
///
/// Every block names its `txl::Config` (`using config = C;`). Blocks compose only if they
/// were built on the same one: the same scalar type and the same sizes. A mismatch would
/// otherwise compile and read memory with the wrong stride.
///
/// **Capabilities** are optional members the model uses where they exist and does without
/// where they do not, detected here too:
/// * `set_dropout(S p)`: the block has dropout of its own (without it, the layer's residual
///   dropout still applies);
/// * `static check_lengths(M, T)`: the block limits the lengths (labml's relative table holds
///   at most $P$ keys) and throws `shape_error` beyond them;
/// * a key/value cache (attention and layer): `keys(cache)`, `values(cache)` and a `forward`
///   that takes the memory's cached keys and values (see `docs/slots.md`). Evaluation and
///   sampling use it when it is there; without it they recompute the memory's keys and values
///   every segment, exactly and more slowly.

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include "../core/tensor.hpp"
#include "../core/random.hpp"

namespace txl {

template <class S>
class Memory;

namespace detail {

// ---------------------------------------------------------------------------------------
// The detection idiom: is_detected_v<Op, T> is true iff Op<T> names a valid type.
// ---------------------------------------------------------------------------------------
template <class, template <class...> class Op, class... A>
struct detector : std::false_type {};
template <template <class...> class Op, class... A>
struct detector<std::void_t<Op<A...>>, Op, A...> : std::true_type {};
template <template <class...> class Op, class... A>
inline constexpr bool is_detected_v = detector<void, Op, A...>::value;

/// The `config` of the first of the blocks that names one (`void` if none does), so that a
/// composite such as `XLLayer<Attn, FF>` still reaches its slot checks when one block lacks it.
template <class B, class = void>
struct config_of1 {
    using type = void;
};
template <class B>
struct config_of1<B, std::void_t<typename B::config>> {
    using type = typename B::config;
};
template <class A, class B>
using config_of_t = std::conditional_t<std::is_void_v<typename config_of1<A>::type>, typename config_of1<B>::type,
                                       typename config_of1<A>::type>;

/// A visitor of the shape `visit` is called with: `(name, Param&)`.
struct any_param_visitor {
    template <class P>
    void operator()(const std::string&, P&) const {}
};

template <class B>
using config_t = typename B::config;
template <class B>
using cache_t = typename B::Cache;
template <class B>
using scalar_t = typename B::config::scalar;

/// Stands in for the `config` of a block that names none, so that the checks after the first
/// failing one still compile, and stay quiet: one message, not a cascade.
struct no_config {
    using scalar = void;
    static constexpr std::size_t d_model = 0;
};
template <class B, class = void>
struct config_or_none {
    using type = no_config;
};
template <class B>
struct config_or_none<B, std::void_t<typename B::config>> {
    using type = typename B::config;
};
template <class B>
using config_or_none_t = typename config_or_none<B>::type;
template <class B>
using init_t = decltype(std::declval<B&>().init(std::declval<Rng&>()));
template <class B>
using visit_t = decltype(std::declval<B&>().visit(std::declval<any_param_visitor&>(), std::string()));
template <class B>
using set_dropout_t = decltype(std::declval<B&>().set_dropout(std::declval<scalar_t<B>>()));
template <class B>
using set_dropout2_t =
    decltype(std::declval<B&>().set_dropout(std::declval<scalar_t<B>>(), std::declval<scalar_t<B>>()));
template <class B>
using check_lengths_t = decltype(B::check_lengths(std::size_t(), std::size_t()));
template <class B>
using name_t = decltype(std::string(B::name()));

// Attention: forward(kv, M, T, B, out, cache, rng) const; backward(kv, dout, dkv, cache).
template <class A>
using attn_forward_t = decltype(std::declval<const A&>().forward(
    std::declval<const scalar_t<A>*>(), std::size_t(), std::size_t(), std::size_t(), std::declval<scalar_t<A>*>(),
    std::declval<cache_t<A>&>(), std::declval<Rng*>()));
template <class A>
using attn_backward_t =
    decltype(std::declval<A&>().backward(std::declval<const scalar_t<A>*>(), std::declval<const scalar_t<A>*>(),
                                         std::declval<scalar_t<A>*>(), std::declval<cache_t<A>&>()));

// Feed-forward: forward(z, n, y, cache, rng) const; backward(z, dy, n, dz, cache).
template <class F>
using ff_forward_t = decltype(std::declval<const F&>().forward(std::declval<const scalar_t<F>*>(), std::size_t(),
                                                               std::declval<scalar_t<F>*>(),
                                                               std::declval<cache_t<F>&>(), std::declval<Rng*>()));
template <class F>
using ff_backward_t =
    decltype(std::declval<F&>().backward(std::declval<const scalar_t<F>*>(), std::declval<const scalar_t<F>*>(),
                                         std::size_t(), std::declval<scalar_t<F>*>(), std::declval<cache_t<F>&>()));

// Layer: forward(x, mem, M, T, B, y, cache, rng) const; backward(dy, dx, cache).
template <class L>
using layer_forward_t = decltype(std::declval<const L&>().forward(
    std::declval<const scalar_t<L>*>(), std::declval<const scalar_t<L>*>(), std::size_t(), std::size_t(), std::size_t(),
    std::declval<scalar_t<L>*>(), std::declval<cache_t<L>&>(), std::declval<Rng*>()));
template <class L>
using layer_backward_t = decltype(std::declval<L&>().backward(
    std::declval<const scalar_t<L>*>(), std::declval<scalar_t<L>*>(), std::declval<cache_t<L>&>()));

// The key/value cache capability, for an attention block or a layer: the forward takes the
// memory's cached keys and values (two more pointers), and keys(cache) / values(cache) give
// the keys and values of the K rows the forward attended over.
template <class A>
using attn_forward_kv_t = decltype(std::declval<const A&>().forward(
    std::declval<const scalar_t<A>*>(), std::size_t(), std::size_t(), std::size_t(), std::declval<scalar_t<A>*>(),
    std::declval<cache_t<A>&>(), std::declval<Rng*>(), std::declval<const scalar_t<A>*>(),
    std::declval<const scalar_t<A>*>()));
template <class L>
using layer_forward_kv_t = decltype(std::declval<const L&>().forward(
    std::declval<const scalar_t<L>*>(), std::declval<const scalar_t<L>*>(), std::size_t(), std::size_t(), std::size_t(),
    std::declval<scalar_t<L>*>(), std::declval<cache_t<L>&>(), std::declval<Rng*>(), std::declval<const scalar_t<L>*>(),
    std::declval<const scalar_t<L>*>()));
template <class B>
using keys_t = decltype(std::declval<const B&>().keys(std::declval<const cache_t<B>&>()).data());
template <class B>
using values_t = decltype(std::declval<const B&>().values(std::declval<const cache_t<B>&>()).data());

// Embedding: Embed(n_vocab); n_vocab(); check_tokens(ids, n); forward(ids, T, B, x) const;
// backward(ids, dx, T, B).
template <class E>
using embed_ctor_t = decltype(E(std::size_t()));
template <class E>
using n_vocab_t = decltype(std::size_t(std::declval<const E&>().n_vocab()));
template <class E>
using check_tokens_t =
    decltype(std::declval<const E&>().check_tokens(std::declval<const std::int64_t*>(), std::size_t()));
template <class E>
using embed_forward_t = decltype(std::declval<const E&>().forward(std::declval<const std::int64_t*>(), std::size_t(),
                                                                  std::size_t(), std::declval<scalar_t<E>*>()));
template <class E>
using embed_backward_t = decltype(std::declval<E&>().backward(
    std::declval<const std::int64_t*>(), std::declval<const scalar_t<E>*>(), std::size_t(), std::size_t()));

// Generator: Gen(n_vocab); forward(x, n, logits) const; backward(x, dlogits, n, dx).
template <class G>
using gen_forward_t = decltype(std::declval<const G&>().forward(std::declval<const scalar_t<G>*>(), std::size_t(),
                                                                std::declval<scalar_t<G>*>()));
template <class G>
using gen_backward_t =
    decltype(std::declval<G&>().backward(std::declval<const scalar_t<G>*>(), std::declval<const scalar_t<G>*>(),
                                         std::size_t(), std::declval<scalar_t<G>*>()));

// Generator, scoring kind: nll(x, y, n, hits) const; nll_backward(x, y, n, s, dx, hits);
// log_probs(x, n, logp) const.
template <class G>
using gen_nll_t = decltype(double(std::declval<const G&>().nll(std::declval<const scalar_t<G>*>(),
                                                               std::declval<const std::int64_t*>(), std::size_t(),
                                                               std::declval<std::size_t*>())));
template <class G>
using gen_nll_backward_t = decltype(double(std::declval<G&>().nll_backward(
    std::declval<const scalar_t<G>*>(), std::declval<const std::int64_t*>(), std::size_t(), std::declval<scalar_t<G>>(),
    std::declval<scalar_t<G>*>(), std::declval<std::size_t*>())));
template <class G>
using gen_log_probs_t = decltype(std::declval<const G&>().log_probs(std::declval<const scalar_t<G>*>(), std::size_t(),
                                                                    std::declval<scalar_t<G>*>()));
// A generator that shares tensors with the embedding: ties (true) and tie(embedding).
template <class G>
using ties_t = decltype(bool(G::ties));
template <class G, class E>
using tie_t = decltype(std::declval<G&>().tie(std::declval<E&>()));

// Memory: update(mem, layer_inputs, n_layers, mem_len) const.
template <class Mm>
using remembers_t = decltype(bool(Mm::remembers));
template <class Mm, class = void>
inline constexpr bool keeps_rows_v = false;
template <class Mm>
inline constexpr bool keeps_rows_v<Mm, std::void_t<decltype(Mm::keeps_rows)>> = bool(Mm::keeps_rows);
template <class Mm>
using mem_update_t = decltype(std::declval<const Mm&>().update(std::declval<Memory<scalar_t<Mm>>&>(),
                                                               std::declval<const tensor<scalar_t<Mm>, 3>*>(),
                                                               std::size_t(), std::size_t()));

}  // namespace detail

/// The checks every slot shares, written once as a macro so that each message can name its
/// slot (a `static_assert` message must be a string literal): a `config` built on the model's
/// `Config` (scalar, then d_model, then the rest), `visit` (the one door to the block's
/// parameters) and `init`. Sets `common` to whether all of them hold.
#define TXL_COMMON_SLOT_CHECKS(SLOT, B, C)                                                                             \
    static constexpr bool has_config = detail::is_detected_v<detail::config_t, B>;                                     \
    static_assert(has_config, "txl " SLOT                                                                              \
                              " slot: the block has no `using config = ...;` "                                         \
                              "naming its txl::Config");                                                               \
    static constexpr bool same_scalar =                                                                                \
        has_config && std::is_same_v<typename detail::config_or_none_t<B>::scalar, typename C::scalar>;                \
    static_assert(!has_config || same_scalar, "txl " SLOT                                                              \
                                              " slot: the block is built on another scalar type than the model "       \
                                              "(float and double blocks do not compose)");                             \
    static constexpr bool same_d_model = same_scalar && detail::config_or_none_t<B>::d_model == C::d_model;            \
    static_assert(!same_scalar || same_d_model, "txl " SLOT " slot: the block's d_model differs from the model's");    \
    static constexpr bool same_config = same_d_model && std::is_same_v<detail::config_or_none_t<B>, C>;                \
    static_assert(!same_d_model || same_config, "txl " SLOT                                                            \
                                                " slot: the block is built on another txl::Config than the model "     \
                                                "(every block of a model shares one Config)");                         \
    static constexpr bool has_visit = same_config && detail::is_detected_v<detail::visit_t, B>;                        \
    static_assert(!same_config || has_visit, "txl " SLOT                                                               \
                                             " slot: the block has no `template <class F> void visit(F&& f, "          \
                                             "const std::string& prefix)` calling f(name, param) for each parameter"); \
    static constexpr bool common = has_visit && detail::is_detected_v<detail::init_t, B>;                              \
    static_assert(!has_visit || common, "txl " SLOT " slot: the block has no `void init(txl::Rng&)`");

/// A type carried as a value: `f(type_tag<Model>{})` lets a runtime choice pick a type.
template <class T>
struct type_tag {
    using type = T;
};

/// `static_assert(slot_checked<check_..._slot<Block, C>>)` runs a slot's checks; it never
/// fails itself, so a broken block gives one message, the check's own.
template <class Check>
inline constexpr bool slot_checked = sizeof(Check) > 0;

/// Whether a block has the optional capabilities (see [the file comment](#top)).
template <class B>
inline constexpr bool has_set_dropout_v = detail::is_detected_v<detail::set_dropout_t, B>;
template <class B>
inline constexpr bool has_check_lengths_v = detail::is_detected_v<detail::check_lengths_t, B>;
template <class A>
inline constexpr bool attention_reuses_keys_values_v = detail::is_detected_v<detail::attn_forward_kv_t, A>&&
    detail::is_detected_v<detail::keys_t, A>&& detail::is_detected_v<detail::values_t, A>;
template <class L>
inline constexpr bool layer_reuses_keys_values_v = detail::is_detected_v<detail::layer_forward_kv_t, L>&&
    detail::is_detected_v<detail::keys_t, L>&& detail::is_detected_v<detail::values_t, L>;

/// Whether a memory block keeps rows of $[\,mem;\ x\,]$ by position alone
/// (`static constexpr bool keeps_rows = true`), so that the key/value cache can follow its
/// rule. Detected, never assumed: a block that says nothing gets no cache (exact, slower).
template <class Mm>
inline constexpr bool memory_keeps_rows_v = detail::keeps_rows_v<Mm>;

/// `block.set_dropout(p)` if the block has dropout of its own; nothing otherwise.
template <class B, class S>
void set_dropout_if_any(B& block, S p) {
    if constexpr (has_set_dropout_v<B>) block.set_dropout(p);
}
/// A layer's `set_dropout(p, p_att)` (residual and attention-weight dropout apart) if it has
/// one, else `set_dropout_if_any(layer, p)`.
template <class B, class S>
void set_dropout_if_any(B& layer, S p, S p_att) {
    if constexpr (detail::is_detected_v<detail::set_dropout2_t, B>)
        layer.set_dropout(p, p_att);
    else
        set_dropout_if_any(layer, p);
}

/// `B::check_lengths(M, T)` if the block limits the lengths; nothing otherwise.
template <class B>
void check_lengths_if_any(std::size_t M, std::size_t T) {
    if constexpr (has_check_lengths_v<B>) B::check_lengths(M, T);
}

/// A block's `name()` if it has one (for `describe()`), else `fallback`.
template <class B>
std::string block_name(const char* fallback) {
    if constexpr (detail::is_detected_v<detail::name_t, B>)
        return B::name();
    else
        return fallback;
}

/// ## The attention slot
/// `forward(kv, M, T, B, out, cache, rng) const`: `kv[K*B, d_model]` (the normalised memory
/// rows, then the segment's; the queries are the last `T*B` rows), `out[T*B, d_model]`.
/// `backward(kv, dout, dkv, cache)`: accumulate parameter gradients, *write* `dkv[K*B, d_model]`.
template <class A, class C>
struct check_attention_slot {
    TXL_COMMON_SLOT_CHECKS("attention", A, C)
    static constexpr bool has_cache = common && detail::is_detected_v<detail::cache_t, A>;
    static_assert(!common || has_cache,
                  "txl attention slot: the block has no `struct Cache` (what forward keeps for backward)");
    static constexpr bool has_forward = has_cache && detail::is_detected_v<detail::attn_forward_t, A>;
    static_assert(!has_cache || has_forward,
                  "txl attention slot: the block has no `void forward(const S* kv, std::size_t M, "
                  "std::size_t T, std::size_t B, S* out, Cache&, txl::Rng*) const`");
    static constexpr bool has_backward = has_forward && detail::is_detected_v<detail::attn_backward_t, A>;
    static_assert(!has_forward || has_backward,
                  "txl attention slot: the block has no `void backward(const S* kv, const S* dout, "
                  "S* dkv, Cache&)`");
    static constexpr bool value = has_backward;
};

/// ## The feed-forward slot
/// `forward(z, n, y, cache, rng) const` over `n` rows of `d_model`;
/// `backward(z, dy, n, dz, cache)`: accumulate parameter gradients, *write* `dz`.
template <class F, class C>
struct check_feed_forward_slot {
    TXL_COMMON_SLOT_CHECKS("feed-forward", F, C)
    static constexpr bool has_cache = common && detail::is_detected_v<detail::cache_t, F>;
    static_assert(!common || has_cache,
                  "txl feed-forward slot: the block has no `struct Cache` (what forward keeps for backward)");
    static constexpr bool has_forward = has_cache && detail::is_detected_v<detail::ff_forward_t, F>;
    static_assert(!has_cache || has_forward,
                  "txl feed-forward slot: the block has no `void forward(const S* z, std::size_t n, "
                  "S* y, Cache&, txl::Rng*) const`");
    static constexpr bool has_backward = has_forward && detail::is_detected_v<detail::ff_backward_t, F>;
    static_assert(!has_forward || has_backward,
                  "txl feed-forward slot: the block has no `void backward(const S* z, const S* dy, "
                  "std::size_t n, S* dz, Cache&)`");
    static constexpr bool value = has_backward;
};

/// ## The layer slot
/// `forward(x, mem, M, T, B, y, cache, rng) const`: `x[T*B, d_model]`, this layer's memory
/// `mem[M*B, d_model]` (null when M = 0), `y[T*B, d_model]`.
/// `backward(dy, dx, cache)`: accumulate parameter gradients, *write* `dx`; nothing reaches `mem`.
template <class L, class C>
struct check_layer_slot {
    TXL_COMMON_SLOT_CHECKS("layer", L, C)
    static constexpr bool has_cache = common && detail::is_detected_v<detail::cache_t, L>;
    static_assert(!common || has_cache,
                  "txl layer slot: the block has no `struct Cache` (what forward keeps for backward)");
    static constexpr bool has_forward = has_cache && detail::is_detected_v<detail::layer_forward_t, L>;
    static_assert(!has_cache || has_forward,
                  "txl layer slot: the block has no `void forward(const S* x, const S* mem, std::size_t M, "
                  "std::size_t T, std::size_t B, S* y, Cache&, txl::Rng*) const`");
    static constexpr bool has_backward = has_forward && detail::is_detected_v<detail::layer_backward_t, L>;
    static_assert(!has_forward || has_backward,
                  "txl layer slot: the block has no `void backward(const S* dy, S* dx, Cache&)`");
    static constexpr bool value = has_backward;
};

/// ## The embedding slot
/// `Embed(n_vocab)`, `n_vocab()`, `check_tokens(ids, n)` (throws `shape_error` on an id
/// outside the vocabulary), `forward(ids, T, B, x) const` (`ids[T*B]`, `x[T*B, d_model]`),
/// `backward(ids, dx, T, B)` (accumulate parameter gradients; token ids have no gradient).
template <class E, class C>
struct check_embedding_slot {
    TXL_COMMON_SLOT_CHECKS("embedding", E, C)
    static constexpr bool has_ctor =
        common && detail::is_detected_v<detail::embed_ctor_t, E> && detail::is_detected_v<detail::n_vocab_t, E>;
    static_assert(!common || has_ctor,
                  "txl embedding slot: the block needs a constructor from n_vocab and `std::size_t n_vocab() const`");
    static constexpr bool has_check = has_ctor && detail::is_detected_v<detail::check_tokens_t, E>;
    static_assert(!has_ctor || has_check,
                  "txl embedding slot: the block has no `void check_tokens(const std::int64_t* ids, "
                  "std::size_t n) const`");
    static constexpr bool has_forward = has_check && detail::is_detected_v<detail::embed_forward_t, E>;
    static_assert(!has_check || has_forward,
                  "txl embedding slot: the block has no `void forward(const std::int64_t* ids, "
                  "std::size_t T, std::size_t B, S* x) const`");
    static constexpr bool has_backward = has_forward && detail::is_detected_v<detail::embed_backward_t, E>;
    static_assert(!has_forward || has_backward,
                  "txl embedding slot: the block has no `void backward(const std::int64_t* ids, "
                  "const S* dx, std::size_t T, std::size_t B)`");
    static constexpr bool value = has_backward;
};

/// ## The generator slot
/// `Gen(n_vocab)`, then one of two kinds:
/// * **logits**: `forward(x, n, logits) const` (`x[n, d_model]`, `logits[n, n_vocab]`) and
///   `backward(x, dlogits, n, dx)`: accumulate parameter gradients, *write* `dx`; the model's
///   loss is `cross_entropy` over the logits;
/// * **scores** (a generator that never forms the whole vocabulary's logits, such as
///   `AdaptiveSoftmax`): `double nll(x, y, n, hits) const` ($\sum_r -\log p(y_r)$, and with
///   `hits` the argmax hits), `double nll_backward(x, y, n, s, dx, hits)` (the same, the
///   gradients of $s \sum_r -\log p(y_r)$ accumulated, `dx` written) and
///   `log_probs(x, n, logp) const` (`logp[n, n_vocab]`, for sampling).
template <class G, class C>
struct check_generator_slot {
    TXL_COMMON_SLOT_CHECKS("generator", G, C)
    static constexpr bool has_ctor = common && detail::is_detected_v<detail::embed_ctor_t, G>;
    static_assert(!common || has_ctor, "txl generator slot: the block needs a constructor from n_vocab");
    static constexpr bool logits =
        detail::is_detected_v<detail::gen_forward_t, G> && detail::is_detected_v<detail::gen_backward_t, G>;
    static constexpr bool scores = detail::is_detected_v<detail::gen_nll_t, G> &&
                                   detail::is_detected_v<detail::gen_nll_backward_t, G> &&
                                   detail::is_detected_v<detail::gen_log_probs_t, G>;
    static constexpr bool has_kind = has_ctor && (logits || scores);
    static_assert(!has_ctor || has_kind,
                  "txl generator slot: the block gives neither logits (`void forward(const S* x, std::size_t n, "
                  "S* logits) const` and `void backward(const S* x, const S* dlogits, std::size_t n, S* dx)`) nor "
                  "scores (`double nll(x, y, n, hits) const`, `double nll_backward(x, y, n, s, dx, hits)`, "
                  "`void log_probs(x, n, logp) const`)");
    static constexpr bool value = has_kind;
};

/// Whether a generator is of the scoring kind (no logits; see the generator slot).
template <class G>
inline constexpr bool generator_scores_v =
    detail::is_detected_v<detail::gen_nll_t, G> && !detail::is_detected_v<detail::gen_forward_t, G>;

/// Whether a generator shares tensors with the embedding (`G::ties`), and can (`tie(embed)`).
template <class G>
inline constexpr bool generator_ties_v = [] {
    if constexpr (detail::is_detected_v<detail::ties_t, G>)
        return bool(G::ties);
    else
        return false;
}();
template <class G, class E>
inline constexpr bool can_tie_v = detail::is_detected_v<detail::tie_t, G, E>;

/// ## The memory slot
/// `update(mem, layer_inputs, n_layers, mem_len) const`: after a segment, what each layer
/// remembers for the next (`layer_inputs[l]` is layer `l`'s input `[T, B, d_model]`), and
/// `static constexpr bool remembers` (false: every segment starts from nothing, and sampling
/// re-reads a window of earlier tokens instead). The memory has no parameters and no
/// gradient, so only `config`, `update` and `remembers` are asked for.
template <class Mm, class C>
struct check_memory_slot {
    static constexpr bool has_config = detail::is_detected_v<detail::config_t, Mm>;
    static_assert(has_config, "txl memory slot: the block has no `using config = ...;` naming its txl::Config");
    static constexpr bool same = has_config && std::is_same_v<detail::config_or_none_t<Mm>, C>;
    static_assert(!has_config || same, "txl memory slot: the block is built on another txl::Config than the model");
    static constexpr bool has_update = same && detail::is_detected_v<detail::mem_update_t, Mm>;
    static_assert(!same || has_update,
                  "txl memory slot: the block has no `void update(txl::Memory<S>& mem, const "
                  "txl::tensor<S, 3>* layer_inputs, std::size_t n_layers, std::size_t mem_len) const`");
    static constexpr bool has_remembers = has_update && detail::is_detected_v<detail::remembers_t, Mm>;
    static_assert(!has_update || has_remembers,
                  "txl memory slot: the block has no `static constexpr bool remembers` (whether a "
                  "segment sees anything of the ones before it)");
    static constexpr bool value = has_remembers;
};

#undef TXL_COMMON_SLOT_CHECKS

}  // namespace txl
