#pragma once
/// @file detail/sgemm.hpp
/// # txl's own `float` GEMM
///
/// Every product of a training step is a GEMM, so the step runs at the speed of the GEMM
/// kernel. OpenBLAS picks its kernel from the CPU, unless the environment overrides it:
/// `OPENBLAS_CORETYPE=Haswell` (set on some machines because older OpenBLAS builds misbehave
/// on newer cores) makes an AVX-512 CPU run the AVX2 kernel, half the vector width, and
/// sgemm then reaches about half of the machine's FMA ceiling. The products here are also
/// small enough (the attention's per-(b, h) products are $64 \times 128 \times 32$ in the
/// practical config) that BLAS's fixed costs per call — dispatch, packing both operands —
/// are a visible share. So `float` products go through this kernel when the compiler targets
/// AVX-512 (`-march=native` on such a CPU; see `gemm` in detail/gemm.hpp for the rule), and BLAS
/// does the rest (`double`, other CPUs).
///
/// $$C \leftarrow op(A)\,op(B) + \mathbf 1\, b^\top + \beta C, \qquad
///   op(A) \in \mathbb R^{m \times k},\; op(B) \in \mathbb R^{k \times n},$$
/// the bias row $b$ optional (a linear layer's forward).
///
/// **Blocking.** The sum over $p$ is cut into blocks of $k_c$ = 256, the columns into blocks
/// of $n_c$ = 256 and the rows into blocks of $m_c$ = 128. For each $(k_c, n_c)$ block, $B$'s
/// part is *packed*: copied into panels of $n_r = 2L$ columns ($L$ = 16 floats in an AVX-512
/// register), each panel $k_c \times n_r$ contiguous (16-32 KiB: it stays in L1 while every
/// tile of a row block reads it), the last one padded with zeros; a transposed $B$ is packed
/// through 8 x 8 register transposes. A $B$ that is one panel wide and stored densely (the
/// attention's head blocks `[rows, d_k]` with $d_k$ = 32) is a panel already and is read in
/// place. $A$ is not packed: a tile reads 8 of its rows (or 8 columns when $A$ is transposed)
/// in place, one element per row and $p$, broadcast into a register.
///
/// **The micro-kernel** computes a tile of $m_r = 8$ rows by one panel:
/// $$\text{acc}_{r,\,0..n_r} = \sum_{p \in \text{block}} A_{i_0+r,\,p}\; \text{panel}_{p,\,0..n_r}$$
/// per $p$: two loads of the panel's row, eight broadcasts, sixteen fused multiply-adds into
/// sixteen accumulators that stay in registers for the whole block (eight would leave the two
/// FMA units waiting on each other's latency). Leftover rows take 4- and 1-row tiles. The
/// first $k$-block's sums start from $b$ (or zero) and it writes $\beta C + \text{acc}$ (just
/// $\text{acc}$ when $\beta = 0$, so $C$ may hold garbage, as BLAS allows); later blocks add
/// their $\text{acc}$ to $C$.
///
/// **Determinism.** Each $C_{ij}$ is summed over $p$ in order inside a block and the blocks are
/// added in order, whatever the tile, the row band or the thread, so the result depends on
/// $k$ alone (a test checks the kernel against the naive loop on every kind of edge).
///
/// The packing buffer is one per thread, allocated on a thread's first call and reused: no
/// allocation inside a training step after the first.

#include <algorithm>
#include <cstddef>
#include <memory>

#include <xsimd/xsimd.hpp>
#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace txl {

enum class Trans : bool { No = false, Yes = true };

namespace detail {

using fbatch = xsimd::batch<float>;
constexpr std::size_t sg_L = fbatch::size;  ///< floats per register
constexpr std::size_t sg_NR = 2 * sg_L;     ///< panel width
constexpr std::size_t sg_KC = 256;          ///< k-block
constexpr std::size_t sg_NC = 256;          ///< column block (a multiple of sg_NR)
constexpr std::size_t sg_MC = 128;          ///< row block (a multiple of 8)

/// What a tile does with C: overwrite, add, or scale by beta and add.
enum class SgStore { Set, Add, Beta };

/// One `MR x sg_NR` tile: acc = A-rows x panel over `kc`, then stored into the first `ncols`
/// columns of C as `mode` says. A's element (r, p) is at `a[r * sa_r + p * sa_p]`.
template <std::size_t MR>
inline void sg_tile(const float* a, std::size_t sa_r, std::size_t sa_p, const float* panel,
                    std::size_t kc, float* c, std::size_t ldc, std::size_t ncols, SgStore mode,
                    float beta, const float* bias) {
    // The sums start from zero, or from the bias row (sg_NR values) when one is given.
    const fbatch init0 = bias ? fbatch::load_unaligned(bias) : fbatch(0.0f);
    const fbatch init1 = bias ? fbatch::load_unaligned(bias + sg_L) : fbatch(0.0f);
    fbatch acc[MR][2];
#pragma GCC unroll 16
    for (std::size_t r = 0; r < MR; ++r) {
        acc[r][0] = init0;
        acc[r][1] = init1;
    }
    for (std::size_t p = 0; p < kc; ++p) {
        const fbatch b0 = fbatch::load_unaligned(panel + p * sg_NR);
        const fbatch b1 = fbatch::load_unaligned(panel + p * sg_NR + sg_L);
#pragma GCC unroll 16
        for (std::size_t r = 0; r < MR; ++r) {
            const fbatch av(a[r * sa_r + p * sa_p]);
            acc[r][0] = xsimd::fma(av, b0, acc[r][0]);
            acc[r][1] = xsimd::fma(av, b1, acc[r][1]);
        }
    }
    auto put = [&](float* dst, std::size_t r, std::size_t q) {
        switch (mode) {
            case SgStore::Set: acc[r][q].store_unaligned(dst); break;
            case SgStore::Add: (fbatch::load_unaligned(dst) + acc[r][q]).store_unaligned(dst); break;
            case SgStore::Beta:
                xsimd::fma(fbatch(beta), fbatch::load_unaligned(dst), acc[r][q]).store_unaligned(dst);
                break;
        }
    };
    if (ncols == sg_NR) {
#pragma GCC unroll 16
        for (std::size_t r = 0; r < MR; ++r) {
            put(c + r * ldc, r, 0);
            put(c + r * ldc + sg_L, r, 1);
        }
        return;
    }
    // A partial panel (the last columns): through a small buffer, valid columns only.
    alignas(64) float tmp[sg_NR];
    for (std::size_t r = 0; r < MR; ++r) {
        acc[r][0].store_aligned(tmp);
        acc[r][1].store_aligned(tmp + sg_L);
        float* dst = c + r * ldc;
        for (std::size_t j = 0; j < ncols; ++j)
            dst[j] = mode == SgStore::Set   ? tmp[j]
                     : mode == SgStore::Add ? dst[j] + tmp[j]
                                            : std::fma(beta, dst[j], tmp[j]);
    }
}

/// `dst[q * ldd + r] = src[r * lds + q]` for `r < rows`, `q < cols`: a transposed copy, in
/// 8 x 8 blocks through AVX registers (eight loads, three rounds of shuffles, eight stores)
/// where the compiler targets AVX, element by element at the edges.
inline void sg_transpose(const float* src, std::size_t lds, std::size_t rows, std::size_t cols,
                         float* dst, std::size_t ldd) {
    std::size_t r0 = 0;
#if defined(__AVX__)
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
#endif
    for (; r0 < rows; ++r0)
        for (std::size_t q = 0; q < cols; ++q) dst[q * ldd + r0] = src[r0 * lds + q];
}

/// Pack rows [p0, p0+kc) and columns [j0, j0+nc) of op(B) into panels of sg_NR columns
/// (`dst[(panel * kc + p) * sg_NR + jj]`), zero-padding the last panel.
inline void sg_pack(Trans tb, const float* b, std::size_t ldb, std::size_t p0, std::size_t kc,
                    std::size_t j0, std::size_t nc, float* dst) {
    for (std::size_t jp = 0; jp * sg_NR < nc; ++jp) {
        float* panel = dst + jp * kc * sg_NR;
        const std::size_t jb = j0 + jp * sg_NR, w = std::min(sg_NR, nc - jp * sg_NR);
        if (tb == Trans::No && w == sg_NR) {  // a full panel: two registers per row
            for (std::size_t p = 0; p < kc; ++p) {
                const float* src = b + (p0 + p) * ldb + jb;
                fbatch::load_unaligned(src).store_aligned(panel + p * sg_NR);
                fbatch::load_unaligned(src + sg_L).store_aligned(panel + p * sg_NR + sg_L);
            }
            continue;
        }
        if (tb == Trans::No) {
            for (std::size_t p = 0; p < kc; ++p) std::copy_n(b + (p0 + p) * ldb + jb, w, panel + p * sg_NR);
        } else {  // op(B)(p, j) = b[j * ldb + p]: the panel is a transposed [w, kc] block
            sg_transpose(b + jb * ldb + p0, ldb, w, kc, panel, sg_NR);
        }
        if (w < sg_NR)
            for (std::size_t p = 0; p < kc; ++p) std::fill(panel + p * sg_NR + w, panel + (p + 1) * sg_NR, 0.0f);
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

}  // namespace detail

/// $C \leftarrow op(A)\,op(B) + \beta C$, row-major `float`, on the calling thread (`gemm` in
/// tensor.hpp splits large products over threads). `lda`, `ldb`, `ldc` are the distances
/// between consecutive rows as stored. With `bias` (`n` values) every row's sums start from
/// it: $C \leftarrow op(A)\,op(B) + \mathbf 1\, b^\top + \beta C$, a linear layer's forward
/// without first copying $b$ into every row of $C$ and reading it back.
inline void sgemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, const float* a,
                  std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
                  std::size_t ldc, const float* bias = nullptr) {
    using namespace detail;
    if (m == 0 || n == 0) return;
    if (k == 0) {  // C = beta C (+ bias)
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j)
                c[i * ldc + j] = (beta == 0.0f ? 0.0f : beta * c[i * ldc + j]) + (bias ? bias[j] : 0.0f);
        return;
    }
    float* buf = sg_buffer();
    alignas(64) float bias_tail[sg_NR];  // a partial panel's bias, zero-padded
    // A is read in place: element (i, p) at a[i*lda + p], or at a[p*lda + i] when stored
    // transposed. (Copying a transposed A into groups of 8 rows first, as BLAS does, measured
    // slower here: the copy is a pass over memory of its own, where in place the loads overlap
    // the FMAs.)
    const std::size_t sa_r = ta == Trans::Yes ? 1 : lda, sa_p = ta == Trans::Yes ? lda : 1;
    for (std::size_t p0 = 0; p0 < k; p0 += sg_KC) {
        const std::size_t kc = std::min(sg_KC, k - p0);
        const SgStore mode = p0 > 0 ? SgStore::Add
                             : beta == 0.0f ? SgStore::Set
                             : beta == 1.0f ? SgStore::Add
                                            : SgStore::Beta;
        for (std::size_t j0 = 0; j0 < n; j0 += sg_NC) {
            const std::size_t nc = std::min(sg_NC, n - j0);
            // B exactly one panel wide and stored that way (the attention's head-major
            // [rows, d_k] blocks with d_k = 32) is already packed: read it in place.
            const bool in_place = tb == Trans::No && n == sg_NR && ldb == sg_NR;
            if (!in_place) sg_pack(tb, b, ldb, p0, kc, j0, nc, buf);
            for (std::size_t i0 = 0; i0 < m; i0 += sg_MC) {
                const std::size_t mc = std::min(sg_MC, m - i0);
                const float* ap = a + i0 * sa_r + p0 * sa_p;  // the block's first row
                for (std::size_t jp = 0; jp * sg_NR < nc; ++jp) {
                    const float* panel = in_place ? b + p0 * sg_NR : buf + jp * kc * sg_NR;
                    const std::size_t ncols = std::min(sg_NR, nc - jp * sg_NR);
                    float* cj = c + i0 * ldc + j0 + jp * sg_NR;
                    const float* bj = nullptr;  // the bias enters with the first k-block only
                    if (bias && p0 == 0) {
                        bj = bias + j0 + jp * sg_NR;
                        if (ncols < sg_NR) {
                            std::fill(std::copy_n(bj, ncols, bias_tail), bias_tail + sg_NR, 0.0f);
                            bj = bias_tail;
                        }
                    }
                    std::size_t i = 0;
                    for (; i + 8 <= mc; i += 8)
                        sg_tile<8>(ap + i * sa_r, sa_r, sa_p, panel, kc, cj + i * ldc, ldc, ncols, mode, beta, bj);
                    for (; i + 4 <= mc; i += 4)
                        sg_tile<4>(ap + i * sa_r, sa_r, sa_p, panel, kc, cj + i * ldc, ldc, ncols, mode, beta, bj);
                    for (; i < mc; ++i)
                        sg_tile<1>(ap + i * sa_r, sa_r, sa_p, panel, kc, cj + i * ldc, ldc, ncols, mode, beta, bj);
                }
            }
        }
    }
}

}  // namespace txl
