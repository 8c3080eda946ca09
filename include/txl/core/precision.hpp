#pragma once
/// @file core/precision.hpp
/// # Mixed precision: which numbers the products multiply
///
/// A `float` model keeps its weights, gradients, Adam's moments, LayerNorm, the softmax and the
/// loss in fp32 whatever the precision. What `Precision::bf16` changes is the products (every
/// `gemm` on `float`: the projections, the attention's scores and values, the feed-forward
/// layers, the generator, forward and backward): their operands are rounded to bfloat16 and the
/// sums of products are accumulated in fp32,
/// $$C \leftarrow \text{bf16}(A)\,\text{bf16}(B) \text{ summed in fp32},$$
/// as PyTorch's `torch.autocast('cpu', dtype=torch.bfloat16)` does for its matrix products.
/// bfloat16 keeps fp32's 8-bit exponent (same range, no loss scaling) and 8 of its 24
/// significand bits: rounding to nearest costs at most a relative $2^{-8}$ per operand, so a
/// product's error is bounded by $(2 \cdot 2^{-8} + 2^{-16}) \sum_p |a_{ip}|\,|b_{pj}|$ plus
/// fp32's own accumulation error. Weights are rounded as they are read, not stored rounded:
/// the fp32 "master" weights take Adam's small updates that a bf16 copy would lose.
///
/// The precision is a setting of the calling thread, like PyTorch's autocast: a
/// `PrecisionScope` sets it for its lifetime, and txl's parallel loops carry it into the tasks
/// they hand to other threads. `double` products ignore it (the gradient checks stay exact).
///
/// ```cpp
/// txl::PrecisionScope bf16(txl::Precision::bf16);  // products in bf16 until the scope ends
/// ```

#include <string>

#include "../detail/bf16gemm.hpp"

namespace txl {

/// What the operands of `float` products are rounded to before they are multiplied.
enum class Precision { fp32, bf16 };

inline const char* precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }

/// The precision a name (`fp32`, `bf16`) stands for; `false` for another name.
inline bool parse_precision(const std::string& name, Precision& p) {
    if (name != "fp32" && name != "bf16") return false;
    p = name == "bf16" ? Precision::bf16 : Precision::fp32;
    return true;
}

namespace detail {
inline Precision& thread_precision() {
    thread_local Precision p = Precision::fp32;
    return p;
}
}  // namespace detail

/// The precision of `float` products on this thread (fp32 unless a `PrecisionScope` says).
inline Precision gemm_precision() { return detail::thread_precision(); }

/// Sets this thread's product precision for the scope's lifetime, then restores the one before.
/// Entering bf16 where no bf16 kernel can run throws `txl::error` with the reason (here, on the
/// calling thread, not later inside a product).
class PrecisionScope {
public:
    explicit PrecisionScope(Precision p) : before_(detail::thread_precision()) {
        if (p == Precision::bf16) bf16_kernel();
        detail::thread_precision() = p;
    }
    ~PrecisionScope() { detail::thread_precision() = before_; }
    PrecisionScope(const PrecisionScope&) = delete;
    PrecisionScope& operator=(const PrecisionScope&) = delete;

private:
    Precision before_;
};

}  // namespace txl
