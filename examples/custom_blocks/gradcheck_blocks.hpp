#pragma once
/// @file gradcheck_blocks.hpp
/// # Checking a block's backward pass, the way txl checks its own
///
/// For a block built on a `Config<double, ...>`: random parameters (`randomize`), a random
/// input, the loss $f = \sum_i w_i\, y_i$ with fixed random $w$, so that
/// $\partial f/\partial y = w$; forward, zero the gradients, backward with $w$; then every
/// parameter *and the input* against central differences of $f$ (`txl/testing/gradcheck.hpp`).
/// Works for any block in the attention or the feed-forward slot.

#include <functional>
#include <vector>

#include <txl/testing/gradcheck.hpp>
#include <txl/txl.hpp>

namespace custom {

/// An attention block over `M` memory rows and `T` queries, batch `B`.
/// `setup` (optional) configures the block first (e.g. a mask option).
template <class Attn>
txl::testing::GradReport gradcheck_attention(std::size_t M, std::size_t T, std::size_t B, unsigned seed = 1,
                                             const std::function<void(Attn&)>& setup = {}) {
    using namespace txl::testing;
    constexpr std::size_t d = Attn::config::d_model;
    Attn attn;
    randomize(attn, seed);
    if (setup) setup(attn);
    const std::size_t nk = (M + T) * B, nq = T * B;
    std::vector<double> kv(nk * d), out(nq * d), w(nq * d), dkv(nk * d);
    fill_uniform(kv.data(), kv.size(), seed + 100);
    fill_uniform(w.data(), w.size(), seed + 200);
    typename Attn::Cache cache;
    auto f = [&] {
        attn.forward(kv.data(), M, T, B, out.data(), cache, nullptr);
        return dot(out.data(), w.data(), out.size());
    };
    f();
    txl::zero_grad(attn);
    attn.backward(kv.data(), w.data(), dkv.data(), cache);
    auto checked = parameters_of(attn);
    checked.push_back({"input kv", kv.data(), dkv.data(), kv.size()});
    return check_gradients(checked, f);
}

/// A feed-forward block over `n` rows.
template <class FF>
txl::testing::GradReport gradcheck_feed_forward(std::size_t n, unsigned seed = 1) {
    using namespace txl::testing;
    constexpr std::size_t d = FF::config::d_model;
    FF ff;
    randomize(ff, seed);
    std::vector<double> z(n * d), y(n * d), w(n * d), dz(n * d);
    fill_uniform(z.data(), z.size(), seed + 100);
    fill_uniform(w.data(), w.size(), seed + 200);
    typename FF::Cache cache;
    auto f = [&] {
        ff.forward(z.data(), n, y.data(), cache, nullptr);
        return dot(y.data(), w.data(), y.size());
    };
    f();
    txl::zero_grad(ff);
    ff.backward(z.data(), w.data(), n, dz.data(), cache);
    auto checked = parameters_of(ff);
    checked.push_back({"input z", z.data(), dz.data(), z.size()});
    return check_gradients(checked, f);
}

}  // namespace custom
