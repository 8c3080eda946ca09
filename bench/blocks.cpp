// Google Benchmark micro-benchmarks: each block's forward and backward at the practical
// config's shapes (T = 64, M = 64, B = 32, d_model 128, 4 heads, d_ff 256), to see where a
// step's time goes.   build/bench/txl_bench_blocks [--benchmark_filter=Attention]
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
    using Model = txl::AutoregressiveModel<C, txl::XLLayer<txl::RelativeMultiHeadAttention<C>, txl::FeedForward<C>>>;
    Model model(65, 1);
    txl::Adam<float> adam;
    adam.attach(model);
    for (auto _ : st) adam.step(1e-4);
    st.SetItemsProcessed(std::int64_t(st.iterations()) * std::int64_t(model.parameter_count()));
}
}  // namespace

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
BENCHMARK_MAIN();
