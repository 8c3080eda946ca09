// The smallest program that uses txl: build a model, run one segment, take one gradient. Built
// with the consumer's own flags (CMake's defaults, no -march), it still gets the best GEMM kernel
// and vector loops the CPU has, chosen at run time.
#include <cstdlib>
#include <iostream>
#include <txl/txl.hpp>

int main() {
    using C = txl::Config<float, 16, 2, 32, 2, 64>;
    using Model = txl::TransformerXL<C>;
    Model model(/*n_vocab*/ 10, /*seed*/ 1);
    Model::Cache cache;
    txl::Memory<float> mem;
    txl::tensor<std::int64_t, 2> x = {{1, 2}, {3, 4}, {5, 6}}, y = {{2, 3}, {4, 5}, {6, 7}};
    model.forward(x, mem, cache);
    txl::tensor<float, 3> dlogits = xt::zeros_like(cache.logits);
    const auto loss = txl::cross_entropy(cache.logits.data(), y.data(), 6, 10, dlogits.data());
    model.backward(dlogits.data(), cache);
    model.update_memory(mem, cache, 4);
    std::cout << "loss " << loss.loss << ", memory length " << mem.length() << "; GEMM kernel "
              << txl::kernel_name(txl::gemm_kernel()) << ", vector loops " << txl::kernel_name(txl::vector_isa())
              << ", " << txl::max_threads() << " threads\n";
    const bool best = std::getenv("TXL_GEMM") || txl::gemm_kernel() == txl::best_gemm_kernel();
    return loss.loss > 0 && mem.length() == 3 && best ? 0 : 1;
}
