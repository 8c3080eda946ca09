#pragma once
/// @file detail/isa.hpp
/// # Which vector instructions run (machinery, off the reading path)
///
/// A library compiled into someone else's program gets that program's flags: usually `-O2`
/// or `-O3` without `-march`, i.e. x86-64's baseline SSE2, four floats per instruction, even on
/// a CPU with AVX-512 (sixteen). So txl picks its instruction set at run time, once:
/// - its GEMM kernels (detail/sgemm.hpp) are compiled for AVX-512 and for AVX2+FMA through
///   function attributes, and `gemm_kernel()` picks the best the CPU has;
/// - the element-wise loops of a step (LayerNorm, the softmax, the attention's head-major
///   copies, column sums, residual adds) run through `vectorized(f)`, which calls `f` from a
///   copy of itself compiled for AVX-512 or AVX2 (`flatten` inlines `f`'s body there), unless
///   the program is compiled for AVX-512 already.
/// `TXL_GEMM=blas|avx2|avx512|auto` overrides the choice (`blas`: products on BLAS, loops on the
/// best the CPU has); asking for what the CPU lacks is an error, not a crash. Compilers other
/// than GCC and Clang, and CPUs other than x86-64, use BLAS and the program's own flags.

#include <cstdlib>
#include <string>

#include "../core/errors.hpp"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define TXL_X86_KERNELS 1
#include <immintrin.h>
/// The instruction sets each kernel is compiled for, whatever the program's own flags.
#define TXL_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define TXL_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#else
#define TXL_X86_KERNELS 0
#endif

namespace txl {

/// What a `float` product runs on.
enum class GemmKernel { blas, avx2, avx512 };

inline const char* kernel_name(GemmKernel k) {
    switch (k) {
        case GemmKernel::avx512:
            return "avx512";
        case GemmKernel::avx2:
            return "avx2";
        default:
            return "blas";
    }
}

/// Whether this CPU (and this build) can run kernel `k`; BLAS always can.
inline bool cpu_supports(GemmKernel k) {
    if (k == GemmKernel::blas) return true;
#if TXL_X86_KERNELS
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return k == GemmKernel::avx2 ? avx2 : avx2 && __builtin_cpu_supports("avx512f");
#else
    return false;
#endif
}

/// Why `cpu_supports(k)` is false, in words (empty when it is true).
inline std::string kernel_unsupported_reason(GemmKernel k) {
    if (cpu_supports(k)) return {};
    if (!TXL_X86_KERNELS) return "txl's own kernels are x86-64 only (GCC or Clang); this build uses BLAS";
    return k == GemmKernel::avx2 ? "this CPU has no AVX2 with FMA" : "this CPU has no AVX-512F";
}

/// The fastest kernel this CPU runs: AVX-512, else AVX2, else BLAS.
inline GemmKernel best_gemm_kernel() {
    for (GemmKernel k : {GemmKernel::avx512, GemmKernel::avx2})
        if (cpu_supports(k)) return k;
    return GemmKernel::blas;
}

/// The kernel a `TXL_GEMM` value names (`blas`, `avx2`, `avx512`; `auto` or unset: the best
/// one). Throws `txl::error` for another value or a kernel this CPU lacks.
inline GemmKernel gemm_kernel_named(const char* value) {
    const std::string v = value ? value : "";
    if (v.empty() || v == "auto") return best_gemm_kernel();
    for (GemmKernel k : {GemmKernel::blas, GemmKernel::avx2, GemmKernel::avx512})
        if (v == kernel_name(k)) {
            check<error>(cpu_supports(k), "TXL_GEMM=", v, ": ", kernel_unsupported_reason(k),
                         " (use blas, or unset TXL_GEMM for the best this CPU has)");
            return k;
        }
    throw error("TXL_GEMM=" + v + ": expected blas, avx2, avx512 or auto");
}

/// The kernel `float` products use in this run: `TXL_GEMM` if set, else the best the CPU has.
/// Read once; the choice holds for the whole run.
inline GemmKernel gemm_kernel() {
    static const GemmKernel k = gemm_kernel_named(std::getenv("TXL_GEMM"));
    return k;
}

/// The instruction set of the element-wise loops in this run: the GEMM kernel's, or with
/// `TXL_GEMM=blas` the best the CPU has.
inline GemmKernel vector_isa() {
    static const GemmKernel k = gemm_kernel() == GemmKernel::blas ? best_gemm_kernel() : gemm_kernel();
    return k;
}

namespace detail {
#if TXL_X86_KERNELS && !defined(__AVX512F__)
// GCC at -O2 vectorises only loops it can prove need no remainder (its "very cheap" cost
// model), which leaves most of these loops scalar: the copies ask for -O3's vectoriser.
// Clang vectorises at -O2 already (and has no `optimize` attribute).
#if defined(__clang__)
#define TXL_VECTORIZE_LOOPS
#else
#define TXL_VECTORIZE_LOOPS , optimize("O3")
#endif
template <class F>
TXL_TARGET_AVX512 __attribute__((flatten TXL_VECTORIZE_LOOPS)) inline void run_avx512(F& f) {
    f();
}
template <class F>
TXL_TARGET_AVX2 __attribute__((flatten TXL_VECTORIZE_LOOPS)) inline void run_avx2(F& f) {
    f();
}
#endif
}  // namespace detail

/// `f()`, compiled for the widest vectors this run uses (`vector_isa()`): a loop inside `f`
/// vectorises with AVX-512 or AVX2 even when the program is built for baseline x86-64. `f`
/// should be a leaf loop (everything it calls is inlined into each copy).
template <class F>
inline void vectorized(F&& f) {
#if TXL_X86_KERNELS && !defined(__AVX512F__)
    const GemmKernel isa = vector_isa();
    if (isa == GemmKernel::avx512) return detail::run_avx512(f);
#if !defined(__AVX2__)
    if (isa == GemmKernel::avx2) return detail::run_avx2(f);
#endif
#endif
    f();
}

}  // namespace txl
