#pragma once
/// @file detail/bf16gemm.hpp
/// # Products in bfloat16 (machinery, off the reading path)
///
/// Under `Precision::bf16` (core/precision.hpp) a `float` product
/// $C \leftarrow \alpha\, op(A)\, op(B) + \mathbf 1 b^\top + \beta C$ multiplies operands
/// rounded to bfloat16 and sums the products in fp32. Three kernels do it, one chosen per run:
///
/// - **amx**: Intel's AMX tiles (Sapphire Rapids and later). One `tdpbf16ps` multiplies a
///   16 x 32 tile of $A$ by a 32 x 16 tile of $B$ into a 16 x 16 tile of fp32 sums.
/// - **avx512_bf16**: `vdpbf16ps` (Cooper Lake, Zen 4 and later): each of 16 fp32 lanes adds
///   the dot product of a pair of bf16 values, $c_j \mathrel{+}= a_{2j} b_{2j} + a_{2j+1} b_{2j+1}$.
/// - **portable**: rounds both operands to bf16 values held in fp32 and runs the fp32 product
///   on them. Any CPU; no faster than fp32. It is the reference the tests hold the other two to
///   (on every CPU, so the bf16 path of every block and of training is tested everywhere).
///
/// `TXL_GEMM_BF16=amx|avx512_bf16|portable|auto` chooses; `auto` (or unset) takes AMX, else
/// AVX512_BF16, and where the CPU has neither, bf16 is refused with an error naming the
/// variable (emulated products would be slower than fp32: nobody asks for that by accident).
///
/// **Rounding** (`to_bf16`): to nearest, ties to even, as the CPU's `vcvtne2ps2bf16` does;
/// NaN stays a (quiet) NaN; subnormals become zero of the same sign (the instruction treats
/// them as zero).
///
/// **Pairs.** Both instructions multiply pairs of consecutive $k$: one 32-bit word holds
/// $\text{bf16}(x_{2q})$ in its low half and $\text{bf16}(x_{2q+1})$ in its high half. So the
/// operands are *packed*, block by block as in the fp32 kernel (detail/sgemm.hpp): $A$'s block
/// into rows of pairs `a[r][q]` (an AMX tile's rows), $B$'s into panels of 32 columns, each
/// rows of pairs across its columns `b[q][j]` (AMX's "VNNI" layout: one 32-bit lane per
/// column). Padding (rows to 32, columns to 32, pairs to 16) is zero, so it adds exact zeros. Each $C_{ij}$ is summed over the pairs in
/// order inside a $k$-block and the blocks added in order, so a row's result does not depend on
/// the band or thread it falls in.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "isa.hpp"
#include "sgemm.hpp"

#if TXL_X86_KERNELS
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#define TXL_TARGET_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512bf16,avx2,fma")))
#define TXL_TARGET_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512bf16,avx2,fma")))
#endif

namespace txl {

/// What a product runs on under `Precision::bf16`.
enum class Bf16Kernel { portable, avx512_bf16, amx };

inline const char* kernel_name(Bf16Kernel k) {
    return k == Bf16Kernel::amx ? "amx" : k == Bf16Kernel::avx512_bf16 ? "avx512_bf16" : "portable";
}

namespace detail {
#if TXL_X86_KERNELS
inline bool cpuid_bit(unsigned leaf, unsigned sub, int reg, unsigned bit) {
    unsigned r[4] = {};
    if (!__get_cpuid_count(leaf, sub, &r[0], &r[1], &r[2], &r[3])) return false;
    return (r[reg] >> bit) & 1u;
}
/// AMX's tile registers are an 8 KiB state the kernel saves only for processes that ask
/// (Linux's `arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`); asked once per run.
inline bool amx_permitted() {
    static const bool ok = [] {
#if defined(__linux__) && defined(SYS_arch_prctl)
        constexpr int req_xcomp_perm = 0x1023, xfeature_xtiledata = 18;
        return syscall(SYS_arch_prctl, req_xcomp_perm, xfeature_xtiledata) == 0;
#else
        return false;
#endif
    }();
    return ok;
}
#endif
}  // namespace detail

namespace detail {
inline std::string bf16_unsupported_reason(Bf16Kernel k) {
    if (k == Bf16Kernel::portable) return {};
#if TXL_X86_KERNELS
    const bool avx512 = cpu_supports(GemmKernel::avx512) && __builtin_cpu_supports("avx512bw");
    const bool bf16 = detail::cpuid_bit(7, 1, 0, 5);  // CPUID.(7,1):EAX.AVX512_BF16
    if (!avx512 || !bf16) return "this CPU has no AVX512_BF16";
    if (k == Bf16Kernel::amx) {
        if (!detail::cpuid_bit(7, 0, 3, 22) || !detail::cpuid_bit(7, 0, 3, 24)) return "this CPU has no AMX-BF16";
        if (!detail::amx_permitted()) return "the operating system does not grant AMX's tile state";
    }
    return {};
#else
    return "txl's bf16 kernels are x86-64 only (GCC or Clang)";
#endif
}
}  // namespace detail

/// Why this CPU (and system) cannot run bf16 kernel `k`, in words; empty when it can. Asked
/// once per kernel and run (`cpuid` is slow where a hypervisor answers it).
inline const std::string& kernel_unsupported_reason(Bf16Kernel k) {
    static const std::string reasons[3] = {detail::bf16_unsupported_reason(Bf16Kernel::portable),
                                           detail::bf16_unsupported_reason(Bf16Kernel::avx512_bf16),
                                           detail::bf16_unsupported_reason(Bf16Kernel::amx)};
    return reasons[int(k)];
}
inline bool cpu_supports(Bf16Kernel k) { return kernel_unsupported_reason(k).empty(); }

/// The bf16 kernel a `TXL_GEMM_BF16` value names (`amx`, `avx512_bf16`, `portable`; `auto` or
/// unset: AMX, else AVX512_BF16). Throws `txl::error` for another value, for a kernel the CPU
/// lacks, and for `auto` on a CPU with neither native kernel.
inline Bf16Kernel bf16_kernel_named(const char* value) {
    const std::string v = value ? value : "";
    if (v.empty() || v == "auto") {
        for (Bf16Kernel k : {Bf16Kernel::amx, Bf16Kernel::avx512_bf16})
            if (cpu_supports(k)) return k;
        throw error("bf16 products need AMX or AVX512_BF16: " + kernel_unsupported_reason(Bf16Kernel::avx512_bf16) +
                    " (train in fp32, or set TXL_GEMM_BF16=portable to emulate bf16, slower than fp32)");
    }
    for (Bf16Kernel k : {Bf16Kernel::portable, Bf16Kernel::avx512_bf16, Bf16Kernel::amx})
        if (v == kernel_name(k)) {
            check<error>(cpu_supports(k), "TXL_GEMM_BF16=", v, ": ", kernel_unsupported_reason(k),
                         " (use portable, or unset TXL_GEMM_BF16 for the best this CPU has)");
            return k;
        }
    throw error("TXL_GEMM_BF16=" + v + ": expected amx, avx512_bf16, portable or auto");
}

/// The bf16 kernel of this run (`TXL_GEMM_BF16`, read once). Throws where bf16 cannot run:
/// call it before training starts to fail early with the reason.
inline Bf16Kernel bf16_kernel() {
    static const Bf16Kernel k = bf16_kernel_named(std::getenv("TXL_GEMM_BF16"));
    return k;
}

/// $x$ rounded to bfloat16 (its top 16 bits): to nearest, ties to even; NaN stays NaN;
/// subnormals become a zero of the same sign.
inline std::uint16_t to_bf16(float x) {
    std::uint32_t u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0) return std::uint16_t((u >> 16) & 0x8000u);           // zero, subnormal
    if ((u & 0x7fffffffu) > 0x7f800000u) return std::uint16_t((u >> 16) | 0x0040u);  // NaN, made quiet
    return std::uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);                    // ties to even
}
/// The float a bfloat16 stands for (exact).
inline float from_bf16(std::uint16_t h) {
    const std::uint32_t u = std::uint32_t(h) << 16;
    float x;
    std::memcpy(&x, &u, 4);
    return x;
}
/// $x$ rounded to the nearest bfloat16, as a float.
inline float round_bf16(float x) { return from_bf16(to_bf16(x)); }

namespace detail {

constexpr std::size_t bf_KC = 256;   ///< k-block (128 pairs; a multiple of AMX's 32)
constexpr std::size_t bf_NC = 2048;  ///< column block (a multiple of 32): B's packed block, 1 MiB, fits L2
constexpr std::size_t bf_MC = 128;   ///< row block (a multiple of 32)

inline std::size_t round_up(std::size_t x, std::size_t to) { return (x + to - 1) / to * to; }
inline std::uint32_t bf16_pair(float lo, float hi) {
    return std::uint32_t(to_bf16(lo)) | std::uint32_t(to_bf16(hi)) << 16;
}

/// The portable kernel: $op(A)$ and $op(B)$ rounded to bf16 into dense fp32 copies (rows
/// of $A$ `[m, k]`, rows of $B$ `[k, n]`, per-thread buffers kept between calls), then `fp32`,
/// the fp32 product on them.
template <class Fp32>
inline void bf16_gemm_portable(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, float alpha,
                               const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
                               std::size_t ldc, const float* bias, Fp32&& fp32) {
    thread_local std::vector<float> ra, rb;
    ra.resize(m * k);
    rb.resize(k * n);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t p = 0; p < k; ++p)
            ra[i * k + p] = round_bf16(ta == Trans::Yes ? a[p * lda + i] : a[i * lda + p]);
    for (std::size_t p = 0; p < k; ++p)
        for (std::size_t j = 0; j < n; ++j)
            rb[p * n + j] = round_bf16(tb == Trans::Yes ? b[j * ldb + p] : b[p * ldb + j]);
    fp32(m, n, k, alpha, ra.data(), k, rb.data(), n, beta, c, ldc, bias);
}

#if TXL_X86_KERNELS

/// `dst[q] = pair(src[2q], src[2q+1])` for the `n` values of `src` (`ceil(n/2)` pairs; an odd
/// last value pairs with zero): pairs along a row whose $k$ is contiguous.
TXL_TARGET_AVX512BF16 inline void bf16_pairs_along(const float* src, std::size_t n, std::uint32_t* dst) {
    std::size_t p = 0;
    for (; p + 32 <= n; p += 32) {
        const __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + p + 16), _mm512_loadu_ps(src + p));
        _mm512_storeu_si512(dst + p / 2, (__m512i)h);
    }
    for (; p + 1 < n; p += 2) dst[p / 2] = bf16_pair(src[p], src[p + 1]);
    if (p < n) dst[p / 2] = bf16_pair(src[p], 0.0f);
}

/// `dst[j] = pair(row0[j], row1[j])` for `j < n` (`row1` null: zeros): pairs across two rows
/// $k$, $k+1$ whose columns are contiguous.
TXL_TARGET_AVX512BF16 inline void bf16_pairs_across(const float* row0, const float* row1, std::size_t n,
                                                    std::uint32_t* dst) {
    // Interleave: bf16 word j of row 0, then word j of row 1 (words 16..31 of the converted pair).
    const __m512i order = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                                           21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    std::size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        const __m512 hi = row1 ? _mm512_loadu_ps(row1 + j) : _mm512_setzero_ps();
        const __m512bh h = _mm512_cvtne2ps_pbh(hi, _mm512_loadu_ps(row0 + j));
        _mm512_storeu_si512(dst + j, _mm512_permutexvar_epi16(order, (__m512i)h));
    }
    for (; j < n; ++j) dst[j] = bf16_pair(row0[j], row1 ? row1[j] : 0.0f);
}

/// A thread's packing buffers: A's block, B's block, and a scratch for the transposed cases.
struct Bf16Buffers {
    std::vector<std::uint32_t> a = std::vector<std::uint32_t>(bf_MC * bf_KC / 2),
                               b = std::vector<std::uint32_t>(bf_KC / 2 * bf_NC),
                               scratch = std::vector<std::uint32_t>(bf_KC / 2 * bf_NC);
};
inline Bf16Buffers& bf16_buffers() {
    thread_local Bf16Buffers buffers;
    return buffers;
}

/// $op(A)$ rows `[i0, i0+mc)`, $k$ `[p0, p0+kc)` into `dst[r * kp + q]` (pairs), zero-padded
/// to `mp` rows and `kp` pairs. A transposed $A$ is paired across its stored rows, then
/// transposed (32-bit words, `sg_transpose`).
inline void bf16_pack_a(Trans ta, const float* a, std::size_t lda, std::size_t i0, std::size_t mc, std::size_t p0,
                        std::size_t kc, std::uint32_t* dst, std::size_t mp, std::size_t kp, std::uint32_t* scratch) {
    const std::size_t pairs = (kc + 1) / 2;
    if (ta == Trans::No) {
        for (std::size_t r = 0; r < mc; ++r) bf16_pairs_along(a + (i0 + r) * lda + p0, kc, dst + r * kp);
    } else {
        for (std::size_t q = 0; q < pairs; ++q) {
            const float* row0 = a + (p0 + 2 * q) * lda + i0;
            bf16_pairs_across(row0, 2 * q + 1 < kc ? row0 + lda : nullptr, mc, scratch + q * mc);
        }
        sg_transpose(reinterpret_cast<const float*>(scratch), mc, pairs, mc, reinterpret_cast<float*>(dst), kp);
    }
    for (std::size_t r = 0; r < mc; ++r) std::fill(dst + r * kp + pairs, dst + (r + 1) * kp, 0u);
    std::fill(dst + mc * kp, dst + mp * kp, 0u);
}

/// $op(B)$ $k$ `[p0, p0+kc)`, columns `[j0, j0+nc)` into panels of 32 columns: panel `jp`
/// holds `dst[(jp * kp + q) * 32 + jj]` (pairs), zero-padded to `kp` pairs and 32 columns. A
/// panel's pair rows lie 128 bytes apart: the 16 rows of a tile spread over the cache's sets
/// (rows a power of two kilobytes apart would all fall into one set).
inline void bf16_pack_b(Trans tb, const float* b, std::size_t ldb, std::size_t p0, std::size_t kc, std::size_t j0,
                        std::size_t nc, std::uint32_t* dst, std::size_t kp, std::uint32_t* scratch) {
    const std::size_t pairs = (kc + 1) / 2;
    if (tb == Trans::Yes)  // pairs along each stored row of B (a column of op(B)), transposed below
        for (std::size_t j = 0; j < nc; ++j) bf16_pairs_along(b + (j0 + j) * ldb + p0, kc, scratch + j * pairs);
    for (std::size_t jp = 0; jp * 32 < nc; ++jp) {
        std::uint32_t* panel = dst + jp * kp * 32;
        const std::size_t w = std::min<std::size_t>(32, nc - jp * 32);
        if (tb == Trans::No) {
            for (std::size_t q = 0; q < pairs; ++q) {
                const float* row0 = b + (p0 + 2 * q) * ldb + j0 + jp * 32;
                bf16_pairs_across(row0, 2 * q + 1 < kc ? row0 + ldb : nullptr, w, panel + q * 32);
            }
        } else {
            sg_transpose(reinterpret_cast<const float*>(scratch + jp * 32 * pairs), pairs, w, pairs,
                         reinterpret_cast<float*>(panel), 32);
        }
        if (w < 32)
            for (std::size_t q = 0; q < pairs; ++q) std::fill(panel + q * 32 + w, panel + (q + 1) * 32, 0u);
        std::fill(panel + pairs * 32, panel + kp * 32, 0u);
    }
}

/// Where a tile's sums start: from zero, from the bias row, or from what C holds (a later
/// $k$-block, or $\beta \ne 0$, C then made $\beta C + b$ first). Every element of C goes
/// through the same additions whatever tile it falls in: results do not depend on the band.
enum class TileStart { zero, bias, c };

/// ## AVX512_BF16: tiles of 8 rows x 32 columns, 16 fp32 accumulators
/// The first `rows` rows and `cols` columns of the tile are C's (masked loads and stores); the
/// packed operands are padded, so the loop always runs the whole tile. Per pair $q$: two loads
/// of B's pairs (32 columns), 8 broadcasts of A's pair, 16 `vdpbf16ps`.
TXL_TARGET_AVX512BF16 inline void bf16_tile_avx512(const std::uint32_t* a, std::size_t kp, const std::uint32_t* b,
                                                   float* c, std::size_t ldc, std::size_t rows, std::size_t cols,
                                                   TileStart start, const float* bias) {
    const __mmask16 lanes[2] = {__mmask16(cols >= 16 ? 0xffff : (1u << cols) - 1),
                                __mmask16(cols >= 32  ? 0xffff
                                          : cols > 16 ? (1u << (cols - 16)) - 1
                                                      : 0)};
    __m512 acc[8][2];
#pragma GCC unroll 8
    for (std::size_t r = 0; r < 8; ++r)
        for (int h = 0; h < 2; ++h)
            acc[r][h] = start == TileStart::bias            ? _mm512_maskz_loadu_ps(lanes[h], bias + 16 * h)
                        : start == TileStart::c && r < rows ? _mm512_maskz_loadu_ps(lanes[h], c + r * ldc + 16 * h)
                                                            : _mm512_setzero_ps();
    for (std::size_t q = 0; q < kp; ++q) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + q * 32);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + q * 32 + 16);
#pragma GCC unroll 8
        for (std::size_t r = 0; r < 8; ++r) {
            const __m512bh av = (__m512bh)_mm512_set1_epi32(int(a[r * kp + q]));
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
        }
    }
    for (std::size_t r = 0; r < rows; ++r)
        for (int h = 0; h < 2; ++h) _mm512_mask_storeu_ps(c + r * ldc + 16 * h, lanes[h], acc[r][h]);
}

/// ## AMX: tiles of 32 x 32, four 16 x 16 accumulator tiles
/// Tiles 0-3 hold the sums, 4-5 two 16-row slices of A's pairs (16 pairs = 64 bytes a row),
/// 6-7 two 16-column slices of B's (16 pair-rows of 16 columns). The sums start from C's tile
/// (rows `ldc` apart), from the bias (loaded with a row distance of zero: every row the same),
/// or from zero; per 16 pairs: four loads, four `tdpbf16ps`; then stored into C's tile.
struct alignas(64) AmxConfig {
    std::uint8_t palette = 1, start_row = 0, reserved[14] = {};
    std::uint16_t bytes_per_row[16] = {64, 64, 64, 64, 64, 64, 64, 64};
    std::uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};
TXL_TARGET_AMX inline void bf16_tile_amx(const std::uint32_t* a, std::size_t kp, const std::uint32_t* b, float* c,
                                         std::size_t ldc, TileStart start, const float* bias) {
    thread_local bool configured = false;
    if (!configured) {
        static const AmxConfig config;
        _tile_loadconfig(&config);
        configured = true;
    }
    const std::size_t ld = ldc * 4;
    if (start == TileStart::c) {
        _tile_loadd(0, c, ld);
        _tile_loadd(1, c + 16, ld);
        _tile_loadd(2, c + 16 * ldc, ld);
        _tile_loadd(3, c + 16 * ldc + 16, ld);
    } else if (start == TileStart::bias) {
        _tile_loadd(0, bias, 0);
        _tile_loadd(1, bias + 16, 0);
        _tile_loadd(2, bias, 0);
        _tile_loadd(3, bias + 16, 0);
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    for (std::size_t q = 0; q < kp; q += 16) {
        _tile_loadd(4, a + q, kp * 4);
        _tile_loadd(5, a + 16 * kp + q, kp * 4);
        _tile_loadd(6, b + q * 32, 32 * 4);
        _tile_loadd(7, b + q * 32 + 16, 32 * 4);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, c, ld);
    _tile_stored(1, c + 16, ld);
    _tile_stored(2, c + 16 * ldc, ld);
    _tile_stored(3, c + 16 * ldc + 16, ld);
}

/// An AMX tile of C with fewer than 32 rows or columns goes through a 32 x 32 copy: C's part
/// in (zero elsewhere) when the sums start from C, the bias zero-padded, C's part out after.
inline void bf16_edge_tile_amx(const std::uint32_t* a, std::size_t kp, const std::uint32_t* b, float* c,
                               std::size_t ldc, std::size_t rows, std::size_t cols, TileStart start,
                               const float* bias) {
    alignas(64) float tile[32 * 32] = {};
    alignas(64) float bias32[32] = {};
    if (start == TileStart::c)
        for (std::size_t r = 0; r < rows; ++r) std::copy_n(c + r * ldc, cols, tile + r * 32);
    if (start == TileStart::bias) std::copy_n(bias, cols, bias32);
    bf16_tile_amx(a, kp, b, tile, 32, start, bias32);
    for (std::size_t r = 0; r < rows; ++r) std::copy_n(tile + r * 32, cols, c + r * ldc);
}

/// The lines of C's tile after tile `(i, j)` of a `[mc, nc]` block (tiles in row-major order)
/// asked for ahead, for writing. An AMX tile's sums over a short $k$ (128: sixteen
/// `tdpbf16ps`) take a few hundred cycles while its 32 rows of C are 64 cache lines to read
/// for ownership and write; without the hint each tile waits on its own lines. (Always
/// inlined: GCC takes a function of nothing but prefetches for one without effects and drops
/// the call.)
[[gnu::always_inline]] inline void prefetch_next_tile(const float* c, std::size_t ldc, std::size_t mc, std::size_t nc,
                                                      std::size_t i, std::size_t j, std::size_t tile_rows) {
    j += 32;
    if (j >= nc) j = 0, i += tile_rows;
    if (i >= mc) return;
    for (std::size_t r = i; r < std::min(mc, i + tile_rows); ++r) {
        _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + j), _MM_HINT_ET0);
        _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + j + 16), _MM_HINT_ET0);
    }
}

/// The blocked product on a native bf16 kernel, $\alpha = 1$: C made $\beta C + b$ first when
/// $\beta \ne 0$; then per $(k, n)$ block $B$'s pairs packed once, and per row block $A$'s, and
/// the tiles (AMX: 32 x 32, AVX512_BF16: 8 x 32) over it.
inline void bf16_gemm_native(Bf16Kernel kernel, Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k,
                             const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
                             std::size_t ldc, const float* bias) {
    if (beta != 0.0f && (beta != 1.0f || bias)) scale_add_bias(m, n, beta, c, ldc, bias);
    Bf16Buffers& buf = bf16_buffers();
    const std::size_t tile_rows = kernel == Bf16Kernel::amx ? 32 : 8;
    for (std::size_t p0 = 0; p0 < k; p0 += bf_KC) {
        const std::size_t kc = std::min(bf_KC, k - p0), kp = round_up((kc + 1) / 2, 16);
        const TileStart start = p0 > 0 || beta != 0.0f ? TileStart::c : bias ? TileStart::bias : TileStart::zero;
        for (std::size_t j0 = 0; j0 < n; j0 += bf_NC) {
            const std::size_t nc = std::min(bf_NC, n - j0);
            bf16_pack_b(tb, b, ldb, p0, kc, j0, nc, buf.b.data(), kp, buf.scratch.data());
            for (std::size_t i0 = 0; i0 < m; i0 += bf_MC) {
                const std::size_t mc = std::min(bf_MC, m - i0), mp = round_up(mc, 32);
                bf16_pack_a(ta, a, lda, i0, mc, p0, kc, buf.a.data(), mp, kp, buf.scratch.data());
                for (std::size_t i = 0; i < mc; i += tile_rows)
                    for (std::size_t j = 0; j < nc; j += 32) {
                        const std::uint32_t* ai = buf.a.data() + i * kp;
                        const std::uint32_t* bj = buf.b.data() + j / 32 * kp * 32;
                        float* cij = c + (i0 + i) * ldc + j0 + j;
                        const float* bias_j = start == TileStart::bias ? bias + j0 + j : nullptr;
                        const std::size_t rows = std::min(tile_rows, mc - i), cols = std::min<std::size_t>(32, nc - j);
                        prefetch_next_tile(c + i0 * ldc + j0, ldc, mc, nc, i, j, tile_rows);
                        if (kernel == Bf16Kernel::avx512_bf16)
                            bf16_tile_avx512(ai, kp, bj, cij, ldc, rows, cols, start, bias_j);
                        else if (rows == 32 && cols == 32)
                            bf16_tile_amx(ai, kp, bj, cij, ldc, start, bias_j);
                        else
                            bf16_edge_tile_amx(ai, kp, bj, cij, ldc, rows, cols, start, bias_j);
                    }
            }
        }
    }
}

#endif  // TXL_X86_KERNELS

}  // namespace detail

/// $C \leftarrow \alpha\, \text{bf16}(op(A))\, \text{bf16}(op(B)) + \mathbf 1 b^\top + \beta C$
/// summed in fp32, on the calling thread, on bf16 kernel `kernel` (the CPU must support it).
/// `fp32(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias)` is the fp32 product on dense
/// row-major operands the portable kernel runs on its rounded copies.
template <class Fp32>
inline void bf16_gemm(Bf16Kernel kernel, Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, float alpha,
                      const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
                      std::size_t ldc, const float* bias, Fp32&& fp32) {
    check<error>(cpu_supports(kernel), "bf16 kernel ", kernel_name(kernel),
                 " cannot run here: ", kernel_unsupported_reason(kernel));
    if (m == 0 || n == 0) return;
    if (k == 0) return detail::scale_add_bias(m, n, beta, c, ldc, bias);
#if TXL_X86_KERNELS
    if (kernel != Bf16Kernel::portable && alpha == 1.0f)
        return detail::bf16_gemm_native(kernel, ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, bias);
    if (kernel != Bf16Kernel::portable) {  // alpha != 1 (txl's blocks never ask): the product, then C
        thread_local std::vector<float> product;
        product.resize(m * n);
        detail::bf16_gemm_native(kernel, ta, tb, m, n, k, a, lda, b, ldb, 0.0f, product.data(), n, nullptr);
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j)
                c[i * ldc + j] = alpha * product[i * n + j] + (bias ? bias[j] : 0.0f) +
                                 (beta == 0.0f ? 0.0f : beta * c[i * ldc + j]);
        return;
    }
#endif
    detail::bf16_gemm_portable(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, fp32);
}

}  // namespace txl
