// txl_bench_train: time a real training step (forward, loss, backward, clip, Adam, memory
// update) on labml's configs, split into its parts, with the FLOPs of a step counted from
// the shapes and the heap allocations of the steady state counted.
//
//   txl_bench_train --config labml|practical|large --steps N [--warmup W] [--precision fp32|bf16]
//
// Last line: tokens_per_s <float>
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <new>
#include <sys/resource.h>

#include <txl/txl.hpp>

extern "C" char* openblas_get_corename(void);

#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // GCC 12 false positive on replaced new/delete
// Count heap allocations (operator new) so the steady state can be shown to allocate nothing.
static std::atomic<std::size_t> g_allocs{0};
void* operator new(std::size_t n) {
    g_allocs.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0;
}

struct Shape {
    std::size_t T, M, B, V;
};

/// FLOPs of one training step (multiply-add = 2), from the shapes. Forward per layer:
///   projections q, o: 2*T*B*d*d each; k, v: 2*K*B*d*d each   (K = M + T)
///   content scores and a*V: 2*T*K*d*B each; position scores: 2*T*K*d*B (the K-row window)
///   feed-forward: 2 * 2*T*B*d*d_ff
/// generator: 2*T*B*d*V. The backward does every GEMM twice (input and weight gradients),
/// so a step is 3x the forward (the first layer's input gradient is not skipped: it is needed
/// for the embedding).
template <class C>
double step_flops(const Shape& s) {
    const double d = C::d_model, f = C::d_ff, T = double(s.T), K = double(s.M + s.T), B = double(s.B);
    const double layer = 2 * T * B * d * d * 2 + 2 * K * B * d * d * 2 + 2 * T * K * d * B * 2 + 2 * T * K * d * B +
                         2 * 2 * T * B * d * f;
    const double fwd = C::n_layers * layer + 2 * T * B * d * double(s.V);
    return 3 * fwd;
}

template <class C>
int run(const std::string& name, const Shape& s, std::size_t steps, std::size_t warmup, txl::Precision precision) {
    txl::PrecisionScope scope(precision);
    if (warmup == 0) warmup = (s.M + s.T - 1) / s.T + 2;
    using Model = txl::TransformerXL<C>;
    using S = typename C::scalar;
    using clock = std::chrono::steady_clock;
    Model model(s.V, 1);
    txl::Adam<S> adam;
    adam.attach(model);
    txl::Schedule sched{txl::Schedule::Kind::noam, 1.0, 2000, C::d_model, 0, 0};
    typename Model::Cache cache;
    txl::Memory<S> mem;
    txl::Rng rng(3);
    auto x = txl::tensor<std::int64_t, 2>::from_shape({s.T, s.B});
    auto y = txl::tensor<std::int64_t, 2>::from_shape({s.T, s.B});
    txl::tensor<S, 3> dlogits;
    double t_fwd = 0, t_bwd = 0, t_clip = 0, t_opt = 0;
    std::size_t allocs = 0;
    auto secs = [](clock::time_point a, clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
    for (std::size_t i = 0; i < warmup + steps; ++i) {
        for (auto& v : x) v = std::int64_t(rng() % s.V);
        for (auto& v : y) v = std::int64_t(rng() % s.V);
        const std::size_t a0 = g_allocs.load();
        const auto t0 = clock::now();
        txl::zero_grad(adam.refs);
        model.forward(x, mem, cache);
        txl::ensure_shape(dlogits, cache.logits.shape());
        txl::cross_entropy(cache.logits.data(), y.data(), y.size(), s.V, dlogits.data());
        const auto t1 = clock::now();
        model.backward(dlogits.data(), cache);
        const auto t2 = clock::now();
        txl::clip_grad_norm(adam.refs, 1.0);
        const auto t3 = clock::now();
        adam.step(sched(adam.t + 1));
        model.update_memory(mem, cache, s.M);
        const auto t4 = clock::now();
        if (i >= warmup) {
            t_fwd += secs(t0, t1), t_bwd += secs(t1, t2), t_clip += secs(t2, t3), t_opt += secs(t3, t4);
            allocs += g_allocs.load() - a0;
        }
    }
    const double total = t_fwd + t_bwd + t_clip + t_opt;
    const double per = total / double(steps);
    const double flops = step_flops<C>(s);
    std::cout << std::fixed << std::setprecision(2) << "config " << name << ": d_model " << C::d_model << ", heads "
              << C::heads << ", d_ff " << C::d_ff << ", layers " << C::n_layers << ", seq_len " << s.T << ", mem_len "
              << s.M << ", batch " << s.B << ", " << model.parameter_count() << " parameters; OpenBLAS kernel "
              << openblas_get_corename() << "; txl GEMM kernel " << txl::kernel_name(txl::gemm_kernel())
              << ", vector loops " << txl::kernel_name(txl::vector_isa()) << ", " << txl::max_threads()
              << " threads; products in " << txl::precision_name(precision)
              << (precision == txl::Precision::bf16 ? std::string(" (") + txl::kernel_name(txl::bf16_kernel()) + ")"
                                                    : "")
              << "\n"
              << "ms per step " << per * 1e3 << ": forward " << t_fwd / double(steps) * 1e3 << ", backward "
              << t_bwd / double(steps) * 1e3 << ", clip " << t_clip / double(steps) * 1e3 << ", optimizer "
              << t_opt / double(steps) * 1e3 << "\n"
              << "GFLOP per step " << flops / 1e9 << "\n"
              << "GFLOP/s " << flops / per / 1e9 << "\n"
              << "heap allocations in " << steps << " steady-state steps: " << allocs << "\n"
              << "peak_rss_mb " << peak_rss_mb() << "\n"
              << "tokens_per_s " << double(s.T * s.B) / per << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"txl training-step benchmark"};
    std::string config = "practical";
    std::size_t steps = 20, warmup = 0;
    app.add_option("--config", config, "labml | practical | large")
        ->check(CLI::IsMember({"labml", "practical", "large"}))
        ->capture_default_str();
    app.add_option("--steps", steps, "Timed steps")->capture_default_str();
    app.add_option("--warmup", warmup, "Untimed steps first (default: until the memory is full, plus 2)");
    std::string precision_name = "fp32";
    app.add_option("--precision", precision_name, "Products in fp32 or bf16 (mixed precision)")
        ->check(CLI::IsMember({"fp32", "bf16"}))
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    txl::Precision precision = txl::Precision::fp32;
    txl::parse_precision(precision_name, precision);
    using Small = txl::Config<float, 128, 4, 256, 6>;
    using Large = txl::Config<float, 256, 8, 1024, 6>;
    try {  // e.g. bf16 on a CPU without a bf16 kernel (refused as the precision is set)
        if (config == "labml") return run<Small>(config, {2, 32, 32, 65}, steps, warmup, precision);
        if (config == "practical") return run<Small>(config, {64, 64, 32, 65}, steps, warmup, precision);
        return run<Large>(config, {128, 128, 16, 65}, steps, warmup, precision);
    } catch (const txl::error& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 2;
    }
}
