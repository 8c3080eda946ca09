#pragma once
/// @file detail/sgemm.hpp
/// # txl's own `float` GEMM: an AVX-512 and an AVX2 kernel, chosen at run time
///
/// Every product of a training step is a GEMM, so the step runs at the speed of the GEMM
/// kernel. OpenBLAS picks its kernel from the CPU, unless the environment overrides it:
/// `OPENBLAS_CORETYPE=Haswell` (set on some machines because older OpenBLAS builds misbehave
/// on newer cores) makes an AVX-512 CPU run the AVX2 kernel, half the vector width. The
/// products here are also small enough (the attention's per-(b, h) products are
/// $64 \times 128 \times 32$ in the practical config) that BLAS's fixed costs per call —
/// dispatch, packing both operands — are a visible share. So `float` products go through one of
/// the two kernels below (see `gemm` in detail/gemm.hpp for the rule), and BLAS does the rest
/// (`double`, other CPUs).
///
/// $$C \leftarrow op(A)\,op(B) + \mathbf 1\, b^\top + \beta C,$$
/// $$op(A) \in \mathbb R^{m \times k},\; op(B) \in \mathbb R^{k \times n},$$
/// the bias row $b$ optional (a linear layer's forward).
///
/// **Chosen at run time, not at compile time.** Each kernel is compiled for its instruction
/// set through a function attribute (`target("avx512f")`, `target("avx2,fma")`), whatever
/// flags the program is built with, and `gemm_kernel()` picks one once per run from what the
/// CPU reports (`__builtin_cpu_supports`): AVX-512 if it has it, else AVX2 with FMA, else BLAS.
/// A project compiled with plain `-O2` gets the same kernel as a `-march=native` build.
/// `TXL_GEMM=blas|avx2|avx512` forces one (asking for one the CPU lacks is an error, not a
/// crash). Compilers that are not GCC or Clang, and CPUs that are not x86-64, use BLAS.
///
/// **Blocking.** The sum over $p$ is cut into blocks of $k_c$ = 256, the columns into blocks
/// of $n_c$ = 256 and the rows into blocks of $m_c$ (128 rows on AVX-512, 120 on AVX2). For each $(k_c, n_c)$ block, $B$'s
/// part is *packed*: copied into panels of $n_r$ columns (two vector registers: 32 floats on
/// AVX-512, 16 on AVX2), each panel $k_c \times n_r$ contiguous (it stays in L1 while every
/// tile of a row block reads it), the last one padded with zeros; a transposed $B$ is packed
/// through 8 x 8 register transposes. A $B$ that is one panel wide and stored densely (the
/// attention's head blocks `[rows, d_k]` with $d_k$ = 32, on AVX-512) is a panel already and
/// is read in place. $A$ is not packed: a tile reads $m_r$ of its rows (or columns when $A$ is
/// transposed) in place, one element per row and $p$, broadcast into a register.
///
/// **The micro-kernel** computes a tile of $m_r$ rows by one panel:
/// $$\text{acc}_{r,\,0..n_r} = \sum_{p \in \text{block}} A_{i_0+r,\,p}\; \text{panel}_{p,\,0..n_r}$$
/// per $p$: two loads of the panel's row, $m_r$ broadcasts, $2 m_r$ fused multiply-adds into
/// $2 m_r$ accumulators that stay in registers for the whole block. AVX-512 has 32 vector
/// registers: $m_r = 8$ (16 accumulators; eight would leave the two FMA units waiting on each
/// other's latency). AVX2 has 16: $m_r = 6$ (12 accumulators, two panel registers, one
/// broadcast). Leftover rows take 4- and 1-row tiles. The first $k$-block's sums start from $b$
/// (or zero) and it writes $\beta C + \text{acc}$ (just $\text{acc}$ when $\beta = 0$, so $C$
/// may hold garbage, as BLAS allows); later blocks add their $\text{acc}$ to $C$.
///
/// **Determinism.** Each $C_{ij}$ is summed over $p$ in order inside a block and the blocks are
/// added in order, whatever the tile, the row band or the thread, so for one kernel the result
/// depends on $k$ alone (a test checks each kernel against the naive loop on every kind of
/// edge). The two kernels round alike: one FMA per $p$, in the same order.
///
/// The packing buffer is one per thread, allocated on a thread's first call and reused: no
/// allocation inside a training step after the first.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>

#include "isa.hpp"

namespace txl {

enum class Trans : bool { No = false, Yes = true };

namespace detail {

constexpr std::size_t sg_KC = 256;  ///< k-block
constexpr std::size_t sg_NC = 256;  ///< column block (a multiple of both panel widths)

/// $C \leftarrow \beta C + \mathbf 1 b^\top$ for an `m x n` C (rows `ldc` apart; `bias` may be null);
/// $\beta = 0$ ignores what C held (NaN included), as BLAS does. A product with $k = 0$ is this,
/// and so is what BLAS and the bf16 kernels do to C before they add $op(A)\,op(B)$.
template <class S>
inline void scale_add_bias(std::size_t m, std::size_t n, S beta, S* c, std::size_t ldc, const S* bias) {
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            S& cij = c[i * ldc + j];
            cij = (beta == S(0) ? S(0) : beta * cij) + (bias ? bias[j] : S(0));
        }
}

/// What a tile does with C: overwrite, add, or scale by beta and add.
enum class SgStore { Set, Add, Beta };

/// A tile's `rows x ncols` results (`tmp`, rows `nr` apart) into C as `mode` says: the last
/// columns, when they fill only part of a panel.
inline void sg_store_partial(const float* tmp, std::size_t nr, std::size_t rows, float* c, std::size_t ldc,
                             std::size_t ncols, SgStore mode, float beta) {
    for (std::size_t r = 0; r < rows; ++r) {
        float* dst = c + r * ldc;
        for (std::size_t j = 0; j < ncols; ++j) {
            const float t = tmp[r * nr + j];
            dst[j] = mode == SgStore::Set ? t : mode == SgStore::Add ? dst[j] + t : std::fma(beta, dst[j], t);
        }
    }
}

#if TXL_X86_KERNELS

/// ## The AVX-512 kernel: tiles of up to 8 rows x 32 columns (two 16-float registers)
struct SgAvx512 {
    static constexpr std::size_t L = 16, NR = 32, MC = 128;  ///< MC: the row block, a multiple of 8

    /// One `MR x NR` tile: acc = A-rows x panel over `kc`, then stored into the first `ncols`
    /// columns of C as `mode` says. A's element (r, p) is at `a[r * sa_r + p * sa_p]`.
    template <std::size_t MR>
    TXL_TARGET_AVX512 static void tile(const float* a, std::size_t sa_r, std::size_t sa_p, const float* panel,
                                       std::size_t kc, float* c, std::size_t ldc, std::size_t ncols, SgStore mode,
                                       float beta, const float* bias) {
        // The sums start from zero, or from the bias row (NR values) when one is given.
        const __m512 init0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
        const __m512 init1 = bias ? _mm512_loadu_ps(bias + L) : _mm512_setzero_ps();
        __m512 acc[MR][2];
#pragma GCC unroll 16
        for (std::size_t r = 0; r < MR; ++r) acc[r][0] = init0, acc[r][1] = init1;
        for (std::size_t p = 0; p < kc; ++p) {
            const __m512 b0 = _mm512_loadu_ps(panel + p * NR), b1 = _mm512_loadu_ps(panel + p * NR + L);
#pragma GCC unroll 16
            for (std::size_t r = 0; r < MR; ++r) {
                const __m512 av = _mm512_set1_ps(a[r * sa_r + p * sa_p]);
                acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
            }
        }
        if (ncols == NR) {
            const __m512 vbeta = _mm512_set1_ps(beta);
#pragma GCC unroll 16
            for (std::size_t r = 0; r < MR; ++r)
#pragma GCC unroll 2
                for (std::size_t q = 0; q < 2; ++q) {
                    float* dst = c + r * ldc + q * L;
                    const __m512 v = mode == SgStore::Set   ? acc[r][q]
                                     : mode == SgStore::Add ? _mm512_add_ps(_mm512_loadu_ps(dst), acc[r][q])
                                                            : _mm512_fmadd_ps(vbeta, _mm512_loadu_ps(dst), acc[r][q]);
                    _mm512_storeu_ps(dst, v);
                }
            return;
        }
        alignas(64) float tmp[MR * NR];
        for (std::size_t r = 0; r < MR; ++r) {
            _mm512_store_ps(tmp + r * NR, acc[r][0]);
            _mm512_store_ps(tmp + r * NR + L, acc[r][1]);
        }
        sg_store_partial(tmp, NR, MR, c, ldc, ncols, mode, beta);
    }

    /// `kc` rows of B, `NR` columns each (`ldb` apart), into a panel.
    TXL_TARGET_AVX512 static void copy_panel_rows(const float* b, std::size_t ldb, std::size_t kc, float* panel) {
        for (std::size_t p = 0; p < kc; ++p) {
            _mm512_store_ps(panel + p * NR, _mm512_loadu_ps(b + p * ldb));
            _mm512_store_ps(panel + p * NR + L, _mm512_loadu_ps(b + p * ldb + L));
        }
    }

    /// Rows `[0, mc)` of a row block against one panel: 8-row tiles, then 4, then 1.
    static void rows(const float* a, std::size_t sa_r, std::size_t sa_p, const float* panel, std::size_t kc,
                     std::size_t mc, float* c, std::size_t ldc, std::size_t ncols, SgStore mode, float beta,
                     const float* bias) {
        std::size_t i = 0;
        for (; i + 8 <= mc; i += 8)
            tile<8>(a + i * sa_r, sa_r, sa_p, panel, kc, c + i * ldc, ldc, ncols, mode, beta, bias);
        for (; i + 4 <= mc; i += 4)
            tile<4>(a + i * sa_r, sa_r, sa_p, panel, kc, c + i * ldc, ldc, ncols, mode, beta, bias);
        for (; i < mc; ++i) tile<1>(a + i * sa_r, sa_r, sa_p, panel, kc, c + i * ldc, ldc, ncols, mode, beta, bias);
    }
};

/// ## The AVX2 kernel: tiles of up to 6 rows x 16 columns (two 8-float registers)
/// The same loop as AVX-512's, sized for 16 vector registers.
struct SgAvx2 {
    static constexpr std::size_t L = 8, NR = 16, MC = 120;  ///< MC: the row block, a multiple of 6

    template <std::size_t MR>
    TXL_TARGET_AVX2 static void tile(const float* a, std::size_t sa_r, std::size_t sa_p, const float* panel,
                                     std::size_t kc, float* c, std::size_t ldc, std::size_t ncols, SgStore mode,
                                     float beta, const float* bias) {
        const __m256 init0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
        const __m256 init1 = bias ? _mm256_loadu_ps(bias + L) : _mm256_setzero_ps();
        __m256 acc[MR][2];
#pragma GCC unroll 16
        for (std::size_t r = 0; r < MR; ++r) acc[r][0] = init0, acc[r][1] = init1;
        for (std::size_t p = 0; p < kc; ++p) {
            const __m256 b0 = _mm256_loadu_ps(panel + p * NR), b1 = _mm256_loadu_ps(panel + p * NR + L);
#pragma GCC unroll 16
            for (std::size_t r = 0; r < MR; ++r) {
                const __m256 av = _mm256_broadcast_ss(a + r * sa_r + p * sa_p);
                acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
            }
        }
        if (ncols == NR) {
            const __m256 vbeta = _mm256_set1_ps(beta);
#pragma GCC unroll 16
            for (std::size_t r = 0; r < MR; ++r)
#pragma GCC unroll 2
                for (std::size_t q = 0; q < 2; ++q) {
                    float* dst = c + r * ldc + q * L;
                    const __m256 v = mode == SgStore::Set   ? acc[r][q]
                                     : mode == SgStore::Add ? _mm256_add_ps(_mm256_loadu_ps(dst), acc[r][q])
                                                            : _mm256_fmadd_ps(vbeta, _mm256_loadu_ps(dst), acc[r][q]);
                    _mm256_storeu_ps(dst, v);
                }
            return;
        }
        alignas(32) float tmp[MR * NR];
        for (std::size_t r = 0; r < MR; ++r) {
            _mm256_store_ps(tmp + r * NR, acc[r][0]);
            _mm256_store_ps(tmp + r * NR + L, acc[r][1]);
        }
        sg_store_partial(tmp, NR, MR, c, ldc, ncols, mode, beta);
    }

    TXL_TARGET_AVX2 static void copy_panel_rows(const float* b, std::size_t ldb, std::size_t kc, float* panel) {
        for (std::size_t p = 0; p < kc; ++p) {
            _mm256_store_ps(panel + p * NR, _mm256_loadu_ps(b + p * ldb));
            _mm256_store_ps(panel + p * NR + L, _mm256_loadu_ps(b + p * ldb + L));
        }
    }

    /// Rows `[0, mc)` of a row block against one panel: 6-row tiles, then 4, then 1.
    static void rows(const float* a, std::size_t sa_r, std::size_t sa_p, const float* panel, std::size_t kc,
                     std::size_t mc, float* c, std::size_t ldc, std::size_t ncols, SgStore mode, float beta,
                     const float* bias) {
        std::size_t i = 0;
        for (; i + 6 <= mc; i += 6)
            tile<6>(a + i * sa_r, sa_r, sa_p, panel, kc, c + i * ldc, ldc, ncols, mode, beta, bias);
        for (; i + 4 <= mc; i += 4)
            tile<4>(a + i * sa_r, sa_r, sa_p, panel, kc, c + i * ldc, ldc, ncols, mode, beta, bias);
        for (; i < mc; ++i) tile<1>(a + i * sa_r, sa_r, sa_p, panel, kc, c + i * ldc, ldc, ncols, mode, beta, bias);
    }
};

/// `dst[q * ldd + r] = src[r * lds + q]` for `r < rows`, `q < cols`: a transposed copy, in
/// 8 x 8 blocks through AVX registers (eight loads, three rounds of shuffles, eight stores),
/// element by element at the edges. Both kernels pack a transposed B with it.
TXL_TARGET_AVX2 inline void sg_transpose(const float* src, std::size_t lds, std::size_t rows, std::size_t cols,
                                         float* dst, std::size_t ldd) {
    std::size_t r0 = 0;
    for (; r0 + 8 <= rows; r0 += 8) {
        std::size_t q0 = 0;
        for (; q0 + 8 <= cols; q0 += 8) {
            const float* s = src + r0 * lds + q0;
            __m256 r[8], t[8], u[8];
            for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(s + std::size_t(i) * lds);
            for (int i = 0; i < 8; i += 2) {  // interleave pairs of rows
                t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
                t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
            }
            for (int i = 0; i < 8; i += 4) {  // then pairs of pairs
                u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
                u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
                u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
                u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
            }
            float* d = dst + q0 * ldd + r0;
            for (int i = 0; i < 4; ++i) {  // then the two 128-bit halves
                _mm256_storeu_ps(d + std::size_t(i) * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
                _mm256_storeu_ps(d + std::size_t(i + 4) * ldd, _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
            }
        }
        for (; q0 < cols; ++q0)
            for (std::size_t r = r0; r < r0 + 8; ++r) dst[q0 * ldd + r] = src[r * lds + q0];
    }
    for (; r0 < rows; ++r0)
        for (std::size_t q = 0; q < cols; ++q) dst[q * ldd + r0] = src[r0 * lds + q];
}

/// Pack rows [p0, p0+kc) and columns [j0, j0+nc) of op(B) into panels of NR columns
/// (`dst[(panel * kc + p) * NR + jj]`), zero-padding the last panel.
template <class K, std::size_t NR = K::NR>
inline void sg_pack(Trans tb, const float* b, std::size_t ldb, std::size_t p0, std::size_t kc, std::size_t j0,
                    std::size_t nc, float* dst) {
    for (std::size_t jp = 0; jp * NR < nc; ++jp) {
        float* panel = dst + jp * kc * NR;
        const std::size_t jb = j0 + jp * NR, w = std::min(NR, nc - jp * NR);
        if (tb == Trans::No && w == NR) {  // a full panel: two vector registers per row
            K::copy_panel_rows(b + p0 * ldb + jb, ldb, kc, panel);
            continue;
        }
        if (tb == Trans::No) {
            for (std::size_t p = 0; p < kc; ++p)
                std::memcpy(panel + p * NR, b + (p0 + p) * ldb + jb, w * sizeof(float));
        } else {  // op(B)(p, j) = b[j * ldb + p]: the panel is a transposed [w, kc] block
            sg_transpose(b + jb * ldb + p0, ldb, w, kc, panel, NR);
        }
        if (w < NR)
            for (std::size_t p = 0; p < kc; ++p) std::fill(panel + p * NR + w, panel + (p + 1) * NR, 0.0f);
    }
}

/// This thread's packing buffer: `sg_KC * sg_NC` floats, 64-byte aligned, allocated on the
/// thread's first call.
inline float* sg_buffer() {
    struct Deleter {
        void operator()(float* p) const { ::operator delete[](p, std::align_val_t(64)); }
    };
    constexpr std::size_t size = sg_KC * sg_NC;
    thread_local std::unique_ptr<float[], Deleter> buf(
        static_cast<float*>(::operator new[](size * sizeof(float), std::align_val_t(64))));
    return buf.get();
}

/// The blocked product on kernel `K` (SgAvx512 or SgAvx2): the loops over k-, column- and row
/// blocks and panels; `K::rows` does the arithmetic.
template <class K>
inline void sgemm_blocked(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, const float* a,
                          std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc,
                          const float* bias) {
    constexpr std::size_t NR = K::NR;
    float* buf = sg_buffer();
    alignas(64) float bias_tail[NR];  // a partial panel's bias, zero-padded
    // A is read in place: element (i, p) at a[i*lda + p], or at a[p*lda + i] when stored
    // transposed. (Copying a transposed A into groups of rows first, as BLAS does, is a pass
    // over memory of its own; read in place, the loads overlap the FMAs. `docs/performance.md`
    // has the comparison.)
    const std::size_t sa_r = ta == Trans::Yes ? 1 : lda, sa_p = ta == Trans::Yes ? lda : 1;
    // B exactly one panel wide and stored that way (the attention's head-major [rows, d_k]
    // blocks with d_k = 32, on AVX-512) is already packed: read it in place.
    const bool in_place = tb == Trans::No && n == NR && ldb == NR;
    for (std::size_t p0 = 0; p0 < k; p0 += sg_KC) {
        const std::size_t kc = std::min(sg_KC, k - p0);
        const SgStore mode = p0 > 0         ? SgStore::Add
                             : beta == 0.0f ? SgStore::Set
                             : beta == 1.0f ? SgStore::Add
                                            : SgStore::Beta;
        for (std::size_t j0 = 0; j0 < n; j0 += sg_NC) {
            const std::size_t nc = std::min(sg_NC, n - j0);
            if (!in_place) sg_pack<K>(tb, b, ldb, p0, kc, j0, nc, buf);
            for (std::size_t i0 = 0; i0 < m; i0 += K::MC) {
                const std::size_t mc = std::min(K::MC, m - i0);
                for (std::size_t jp = 0; jp * NR < nc; ++jp) {
                    const float* panel = in_place ? b + p0 * NR : buf + jp * kc * NR;
                    const std::size_t ncols = std::min(NR, nc - jp * NR);
                    const float* bj = nullptr;  // the bias enters with the first k-block only
                    if (bias && p0 == 0) {
                        bj = bias + j0 + jp * NR;
                        if (ncols < NR) {
                            std::fill(std::copy_n(bj, ncols, bias_tail), bias_tail + NR, 0.0f);
                            bj = bias_tail;
                        }
                    }
                    K::rows(a + i0 * sa_r + p0 * sa_p, sa_r, sa_p, panel, kc, mc, c + i0 * ldc + j0 + jp * NR, ldc,
                            ncols, mode, beta, bj);
                }
            }
        }
    }
}

#endif  // TXL_X86_KERNELS

}  // namespace detail

/// $C \leftarrow op(A)\,op(B) + \beta C$, row-major `float`, on the calling thread, on txl's
/// kernel `kernel` (`avx2` or `avx512`; the CPU must support it, see `cpu_supports`). `gemm`
/// (detail/gemm.hpp) splits large products over threads and picks the kernel. `lda`, `ldb`,
/// `ldc` are the distances between consecutive rows as stored. With `bias` (`n` values) every
/// row's sums start from it: $C \leftarrow op(A)\,op(B) + \mathbf 1\, b^\top + \beta C$, a linear
/// layer's forward without first copying $b$ into every row of $C$ and reading it back.
inline void sgemm(GemmKernel kernel, Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, const float* a,
                  std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc,
                  const float* bias = nullptr) {
    if (kernel == GemmKernel::blas || !cpu_supports(kernel))
        throw error(std::string("sgemm: kernel ") + kernel_name(kernel) + " cannot run here: " +
                    (kernel == GemmKernel::blas ? "it is BLAS, not one of txl's" : kernel_unsupported_reason(kernel)));
    if (m == 0 || n == 0) return;
    if (k == 0) return detail::scale_add_bias(m, n, beta, c, ldc, bias);
#if TXL_X86_KERNELS
    if (kernel == GemmKernel::avx512)
        detail::sgemm_blocked<detail::SgAvx512>(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, bias);
    else
        detail::sgemm_blocked<detail::SgAvx2>(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, bias);
#endif
}

}  // namespace txl
