// Google Benchmark micro-benchmarks: each block's forward and backward at the practical
// config's shapes (T = 64, M = 64, B = 32, d_model 128, 4 heads, d_ff 256), to see where a
// step's time goes; and the GEMM kernels on the products' shapes (BM_Gemm: OpenBLAS against
// txl::sgemm, one thread).   build/bench/txl_bench_blocks [--benchmark_filter=Attention|Gemm]
#include <benchmark/benchmark.h>

#include <txl/txl.hpp>

namespace {
using C = txl::Config<float, 128, 4, 256, 6>;
constexpr std::size_t T = 64, M = 64, B = 32, D = 128, K = M + T;

std::vector<float> random_vec(std::size_t n, unsigned seed) {
    std::vector<float> v(n);
    txl::Rng rng(seed);
    txl::init_uniform(v.data(), n, 1.0, rng);
    return v;
}

void BM_Linear_forward(benchmark::State& st) {
    txl::Linear<float> lin(D, D, true);
    txl::Rng rng(1);
    lin.init(rng);
    auto x = random_vec(T * B * D, 2);
    std::vector<float> y(T * B * D);
    for (auto _ : st) lin.forward(x.data(), T * B, y.data());
    st.SetItemsProcessed(std::int64_t(st.iterations() * T * B));
}
void BM_Linear_backward(benchmark::State& st) {
    txl::Linear<float> lin(D, D, true);
    auto x = random_vec(T * B * D, 2), dy = random_vec(T * B * D, 3);
    std::vector<float> dx(T * B * D);
    for (auto _ : st) lin.backward(x.data(), dy.data(), T * B, dx.data());
    st.SetItemsProcessed(std::int64_t(st.iterations() * T * B));
}
void BM_LayerNorm_forward(benchmark::State& st) {
    txl::LayerNorm<float, D> ln;
    auto x = random_vec(T * B * D, 2);
    std::vector<float> y(T * B * D), xhat(T * B * D), rstd(T * B);
    for (auto _ : st) ln.forward(x.data(), T * B, y.data(), xhat.data(), rstd.data());
    st.SetItemsProcessed(std::int64_t(st.iterations() * T * B));
}
void BM_LayerNorm_backward(benchmark::State& st) {
    txl::LayerNorm<float, D> ln;
    auto x = random_vec(T * B * D, 2), dy = random_vec(T * B * D, 3);
    std::vector<float> y(T * B * D), xhat(T * B * D), rstd(T * B), dx(T * B * D);
    ln.forward(x.data(), T * B, y.data(), xhat.data(), rstd.data());
    for (auto _ : st) ln.backward(dy.data(), xhat.data(), rstd.data(), T * B, dx.data());
    st.SetItemsProcessed(std::int64_t(st.iterations() * T * B));
}
void BM_FeedForward_forward(benchmark::State& st) {
    txl::FeedForward<C> ff;
    txl::Rng rng(1);
    ff.init(rng);
    txl::FeedForward<C>::Cache c;
    auto z = random_vec(T * B * D, 2);
    std::vector<float> y(T * B * D);
    for (auto _ : st) ff.forward(z.data(), T * B, y.data(), c, nullptr);
    st.SetItemsProcessed(std::int64_t(st.iterations() * T * B));
}
void BM_FeedForward_backward(benchmark::State& st) {
    txl::FeedForward<C> ff;
    txl::Rng rng(1);
    ff.init(rng);
    txl::FeedForward<C>::Cache c;
    auto z = random_vec(T * B * D, 2), dy = random_vec(T * B * D, 3);
    std::vector<float> y(T * B * D), dz(T * B * D);
    ff.forward(z.data(), T * B, y.data(), c, nullptr);
    for (auto _ : st) ff.backward(z.data(), dy.data(), T * B, dz.data(), c);
    st.SetItemsProcessed(std::int64_t(st.iterations() * T * B));
}
void BM_Attention_forward(benchmark::State& st) {
    txl::RelativeMultiHeadAttention<C> attn;
    txl::Rng rng(1);
    attn.init(rng);
    txl::RelativeMultiHeadAttention<C>::Cache c;
    auto kv = random_vec(K * B * D, 2);
    std::vector<float> out(T * B * D);
    for (auto _ : st) attn.forward(kv.data(), M, T, B, out.data(), c, nullptr);
    st.SetItemsProcessed(std::int64_t(st.iterations() * T * B));
}
void BM_Attention_backward(benchmark::State& st) {
    txl::RelativeMultiHeadAttention<C> attn;
    txl::Rng rng(1);
    attn.init(rng);
    txl::RelativeMultiHeadAttention<C>::Cache c;
    auto kv = random_vec(K * B * D, 2), dout = random_vec(T * B * D, 3);
    std::vector<float> out(T * B * D), dkv(K * B * D);
    attn.forward(kv.data(), M, T, B, out.data(), c, nullptr);
    for (auto _ : st) attn.backward(kv.data(), dout.data(), dkv.data(), c);
    st.SetItemsProcessed(std::int64_t(st.iterations() * T * B));
}
void BM_Position_scores(benchmark::State& st) {
    txl::RelativeMultiHeadAttention<C> attn;
    auto q = random_vec(T * B * D, 2);
    std::vector<float> scores(B * C::heads * T * K), x(T * B * K);
    for (auto _ : st) attn.add_position_scores(q.data(), M, T, B, scores.data(), x.data());
    st.SetItemsProcessed(std::int64_t(st.iterations() * T * B));
}
void BM_Adam_step(benchmark::State& st) {
    using Model = txl::TransformerXL<C>;
    Model model(65, 1);
    txl::Adam<float> adam;
    adam.attach(model);
    for (auto _ : st) adam.step(1e-4);
    st.SetItemsProcessed(std::int64_t(st.iterations()) * std::int64_t(model.parameter_count()));
}
}  // namespace

// One thread's share of a step's products, OpenBLAS (`cblas_sgemm`, whatever kernel it picked)
// against txl's own kernels (`txl::sgemm`, AVX2 and AVX-512 where the CPU has them), single-threaded: the per-call kernel speed. Rows of
// the large projections are halved, as `gemm` hands each of two threads half of them.
struct GemmShape {
    const char* what;
    txl::Trans ta, tb;
    std::size_t m, n, k;
};
const GemmShape gemm_shapes[] = {
    {"practical x W^T (projections, FFN in), half the rows", txl::Trans::No, txl::Trans::Yes, 1024, 256, 128},
    {"practical dy W (input gradient), half the rows", txl::Trans::No, txl::Trans::No, 1024, 128, 256},
    {"practical dy^T x (weight gradient), half the rows", txl::Trans::Yes, txl::Trans::No, 128, 128, 2048},
    {"practical per-head (q+u) k^T", txl::Trans::No, txl::Trans::Yes, 64, 128, 32},
    {"practical per-head a v", txl::Trans::No, txl::Trans::No, 64, 32, 128},
    {"practical per-head a^T dO", txl::Trans::Yes, txl::Trans::No, 128, 32, 64},
    {"large x W1^T (FFN in), half the rows", txl::Trans::No, txl::Trans::Yes, 1024, 1024, 256},
    {"large dy^T x (FFN weight gradient)", txl::Trans::Yes, txl::Trans::No, 512, 256, 2048},
};
void BM_Gemm(benchmark::State& st) {
    const GemmShape& g = gemm_shapes[st.range(0)];
    const auto kernel = txl::GemmKernel(st.range(1));  // blas, avx2, avx512
    const bool own = kernel != txl::GemmKernel::blas;
    if (!txl::cpu_supports(kernel)) {
        st.SkipWithError((std::string("skipped: ") + txl::kernel_unsupported_reason(kernel)).c_str());
        return;
    }
    st.SetLabel(std::string(own ? "txl::sgemm " : "OpenBLAS   ") + (own ? txl::kernel_name(kernel) : "") + "  " +
                g.what);
    const std::size_t lda = g.ta == txl::Trans::Yes ? g.m : g.k, ldb = g.tb == txl::Trans::Yes ? g.k : g.n;
    auto a = random_vec(g.m * g.k, 1), b = random_vec(g.k * g.n, 2);
    std::vector<float> c(g.m * g.n);
    txl::detail::blas_one_thread();
    for (auto _ : st) {
        if (own)
            txl::sgemm(kernel, g.ta, g.tb, g.m, g.n, g.k, a.data(), lda, b.data(), ldb, 0.0f, c.data(), g.n);
        else
            cblas_sgemm(CblasRowMajor, g.ta == txl::Trans::Yes ? CblasTrans : CblasNoTrans,
                        g.tb == txl::Trans::Yes ? CblasTrans : CblasNoTrans, int(g.m), int(g.n), int(g.k), 1.0f,
                        a.data(), int(lda), b.data(), int(ldb), 0.0f, c.data(), int(g.n));
        benchmark::DoNotOptimize(c.data());
    }
    st.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(g.m * g.n * g.k) * double(st.iterations()),
                                                benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

BENCHMARK(BM_Linear_forward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Linear_backward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LayerNorm_forward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_LayerNorm_backward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FeedForward_forward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FeedForward_backward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Attention_forward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Attention_backward)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Position_scores)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Adam_step)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Gemm)
    ->ArgsProduct({benchmark::CreateDenseRange(0, std::size(gemm_shapes) - 1, 1),
                   {int(txl::GemmKernel::blas), int(txl::GemmKernel::avx2), int(txl::GemmKernel::avx512)}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
