#pragma once
/// @file core/config.hpp
/// # Compile-time configuration
///
/// Everything that fixes the *shape* of a parameter tensor is a compile-time constant:
/// the model width $d_{model}$, the number of heads $H$, the feed-forward width $d_{ff}$,
/// the number of layers and the size $P$ of the relative position table. The scalar type
/// is chosen here too: `double` for the gradient checks, `float` for training.
///
/// Lengths that change from run to run (vocabulary, segment length $T$, memory length $M$,
/// batch $B$) are runtime values, validated where they enter (see `errors.hpp`).
///
/// ```cpp
/// using C = txl::Config<float, /*d_model*/ 128, /*heads*/ 4, /*d_ff*/ 256, /*layers*/ 6>;
/// ```

#include <cstddef>
#include <type_traits>

namespace txl {

/// @tparam Scalar  `float` or `double`.
/// @tparam DModel  $d_{model}$, the width of the residual stream.
/// @tparam Heads   $H$, attention heads; $d_k = d_{model} / H$.
/// @tparam DFF     $d_{ff}$, the hidden width of the feed-forward block.
/// @tparam Layers  number of Transformer-XL layers.
/// @tparam RelP    $P$: relative distances are looked up in a table of $2P$ rows
///                 (labml: $2^{12}$); a segment of $T$ queries over $K = M + T$ keys needs
///                 $K \le P$.
template <class Scalar, std::size_t DModel, std::size_t Heads, std::size_t DFF, std::size_t Layers,
          std::size_t RelP = 4096>
struct Config {
    static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                  "txl::Config: Scalar must be float or double (the BLAS types)");
    static_assert(DModel > 0 && Heads > 0 && DFF > 0 && Layers > 0 && RelP > 0,
                  "txl::Config: every size must be positive");
    static_assert(DModel % Heads == 0, "txl::Config: d_model must be divisible by heads");

    using scalar = Scalar;
    static constexpr std::size_t d_model = DModel;
    static constexpr std::size_t heads = Heads;
    static constexpr std::size_t d_k = DModel / Heads;
    static constexpr std::size_t d_ff = DFF;
    static constexpr std::size_t n_layers = Layers;
    static constexpr std::size_t P = RelP;
};

}  // namespace txl
