// txl_bench_eval_memory: the paper's evaluation-speed claim (Table 9). To predict the next
// token with an attention length of L, a vanilla Transformer recomputes the whole window of L
// tokens; Transformer-XL runs one new token against a memory of the previous L - 1 states.
// This prints, per attention length, the time per token of each way and their ratio, on the
// labml model (d_model 128, 4 heads, d_ff 256, 6 layers), batch 1, one thread count as set.
//
//   txl_bench_eval_memory [--lengths 128,256,512,1024,2048] [--reps N]
#include <CLI/CLI.hpp>

#include <chrono>
#include <iomanip>
#include <iostream>

#include <txl/txl.hpp>

int main(int argc, char** argv) {
    CLI::App app{"Evaluation with memory reuse against recomputing the window"};
    std::vector<std::size_t> lengths = {128, 256, 512, 1024, 2048};
    std::size_t reps = 20;
    app.add_option("--lengths", lengths, "Attention lengths")->delimiter(',');
    app.add_option("--reps", reps, "Repetitions of the memory-reuse step")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    using C = txl::Config<float, 128, 4, 256, 6>;
    using Model = txl::TransformerXL<C>;
    using clock = std::chrono::steady_clock;
    Model model(65, 1);
    Model::Cache cache;
    std::cout << "| attention length | recompute window (ms/token) | memory reuse (ms/token) | speed-up |\n"
              << "|---:|---:|---:|---:|\n";
    for (std::size_t L : lengths) {
        auto window = txl::tensor<std::int64_t, 2>::from_shape({L, 1});
        for (std::size_t i = 0; i < L; ++i) window(i, 0) = std::int64_t(i * 7 % 65);
        txl::Memory<float> none, mem;
        mem.reuse_keys_values = true;  // inference: reuse the memory's keys and values
        // Recompute: the whole window, once per predicted token (warm-up run first).
        model.forward(window, none, cache);
        const std::size_t full_reps = std::max<std::size_t>(1, reps * 128 / L / 4);
        auto t0 = clock::now();
        for (std::size_t r = 0; r < full_reps; ++r) model.forward(window, none, cache);
        const double full = std::chrono::duration<double>(clock::now() - t0).count() / double(full_reps);
        // Reuse: the first L - 1 tokens become memory, then one token against it.
        auto head = txl::tensor<std::int64_t, 2>::from_shape({L - 1, 1});
        std::copy(window.begin(), window.end() - 1, head.begin());
        model.forward(head, none, cache);
        model.update_memory(mem, cache, L - 1);
        auto last = txl::tensor<std::int64_t, 2>::from_shape({1, 1});
        last(0, 0) = window(L - 1, 0);
        model.forward(last, mem, cache);
        t0 = clock::now();
        for (std::size_t r = 0; r < reps; ++r) model.forward(last, mem, cache);
        const double reuse = std::chrono::duration<double>(clock::now() - t0).count() / double(reps);
        std::cout << std::fixed << std::setprecision(3) << "| " << L << " | " << full * 1e3 << " | " << reuse * 1e3
                  << " | " << std::setprecision(0) << full / reuse << "x |\n";
    }
}
