// doctest's main, alone in its translation unit (it takes seconds to compile).
//
// A run told to use one of txl's kernels this CPU lacks (`TXL_GEMM=avx512` on an AVX2-only CPU:
// ctest's `kernel.*` entries) is reported as skipped, with the reason, through exit code 77
// (ctest's SKIP_RETURN_CODE), not passed silently; so is `TXL_GEMM_BF16` naming a bf16 kernel the CPU
// lacks. Unset, bf16 products run on the best native bf16 kernel, or on the portable one where the
// CPU has none, so the bf16 tests run everywhere.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include <txl/detail/bf16gemm.hpp>

int main(int argc, char** argv) {
    if (const char* v = std::getenv("TXL_GEMM"))
        for (auto k : {txl::GemmKernel::avx2, txl::GemmKernel::avx512})
            if (std::string(v) == txl::kernel_name(k) && !txl::cpu_supports(k)) {
                std::cout << "skipped: TXL_GEMM=" << v << ": " << txl::kernel_unsupported_reason(k) << "\n";
                return 77;
            }
    if (const char* v = std::getenv("TXL_GEMM_BF16"))
        for (auto k : {txl::Bf16Kernel::avx512_bf16, txl::Bf16Kernel::amx})
            if (std::string(v) == txl::kernel_name(k) && !txl::cpu_supports(k)) {
                std::cout << "skipped: TXL_GEMM_BF16=" << v << ": " << txl::kernel_unsupported_reason(k) << "\n";
                return 77;
            }
    if (!std::getenv("TXL_GEMM_BF16") && !txl::cpu_supports(txl::Bf16Kernel::amx) &&
        !txl::cpu_supports(txl::Bf16Kernel::avx512_bf16))
        setenv("TXL_GEMM_BF16", "portable", 1);
    try {
        std::cout << "txl float products: " << txl::kernel_name(txl::gemm_kernel())
                  << " kernel; bf16 products: " << txl::kernel_name(txl::bf16_kernel()) << " kernel\n";
    } catch (const txl::error& e) {
        std::cerr << e.what() << "\n";
        return 2;
    }
    doctest::Context context(argc, argv);
    return context.run();
}
