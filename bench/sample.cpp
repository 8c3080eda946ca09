// txl_bench_sample: sampling speed with memory, as labml samples (one character per step,
// the rest carried as memory), on the practical config's model with random weights; greedy.
//
//   txl_bench_sample [--chars N] [--mem-len M]        last line: chars_per_s <float>
#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>

#include <txl/txl.hpp>

int main(int argc, char** argv) {
    CLI::App app{"txl sampling benchmark"};
    std::size_t chars = 500, mem_len = 64;
    app.add_option("--chars", chars, "Characters to time")->capture_default_str();
    app.add_option("--mem-len", mem_len, "Memory length")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    using C = txl::Config<float, 128, 4, 256, 6>;
    using Model = txl::TransformerXL<C>;
    Model model(65, 1);
    Model::Cache cache;
    txl::Memory<float> mem;
    mem.reuse_keys_values = true;  // inference: reuse the memory's keys and values
    auto x = txl::tensor<std::int64_t, 2>::from_shape({1, 1});
    x(0, 0) = 0;
    auto step = [&] {
        model.forward(x, mem, cache);
        model.update_memory(mem, cache, mem_len);
        std::size_t best = 0;
        for (std::size_t c = 1; c < 65; ++c)
            if (cache.logits(0, 0, c) > cache.logits(0, 0, best)) best = c;
        x(0, 0) = std::int64_t(best);
    };
    for (std::size_t i = 0; i < mem_len; ++i) step();  // fill the memory: time the steady state
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < chars; ++i) step();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "chars_per_s " << double(chars) / s << "\n";
}
