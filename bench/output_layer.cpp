// The output layer alone at WikiText-103's vocabulary: 267,735 words, d_model 410 (the paper's
// WT103 base). One pass is the loss and its backward over `--rows` hidden states: the full
// softmax (Generator's logits, cross_entropy, Generator::backward) against AdaptiveSoftmax (the
// paper's cutoffs 20k/40k/200k, div_val 1). Targets uniform over the vocabulary, or Zipfian
// (p(k) ~ 1/(k+1), as word frequencies fall), which is what the clusters are cut for. The
// passes alternate, so a busy machine slows both alike; medians are printed.
//
//   txl_bench_output_layer --rows 512 --repeats 5
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <random>
#include <vector>

#include <txl/txl.hpp>

namespace {

constexpr std::size_t V = 267735, D = 410;
using C = txl::Config<float, D, 10, 2100, 16>;
using Adaptive = txl::AdaptiveSoftmax<C, txl::AdaptiveClusters<1, 20000, 40000, 200000>>;

std::vector<std::int64_t> targets(std::size_t n, bool zipf, std::mt19937_64& g) {
    std::vector<std::int64_t> y(n);
    if (!zipf) {
        for (auto& v : y) v = std::int64_t(g() % V);
        return y;
    }
    std::vector<double> cdf(V);
    double s = 0;
    for (std::size_t k = 0; k < V; ++k) cdf[k] = s += 1.0 / double(k + 1);
    std::uniform_real_distribution<double> u(0, s);
    for (auto& v : y) v = std::int64_t(std::lower_bound(cdf.begin(), cdf.end(), u(g)) - cdf.begin());
    return y;
}

double seconds(const std::function<void()>& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"The output layer at WikiText-103's vocabulary: full softmax against adaptive softmax"};
    std::size_t rows = 512, repeats = 5;
    app.add_option("--rows", rows, "Hidden states per pass")->capture_default_str();
    app.add_option("--repeats", repeats, "Passes of each kind (alternating)")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    std::mt19937_64 g(1);
    txl::Rng rng(1);
    txl::Generator<C> full(V);
    full.init(rng);
    Adaptive adaptive(V);
    adaptive.init(rng);
    std::vector<float> x(rows * D), dx(rows * D);
    for (auto& v : x) v = float(std::normal_distribution<double>(0, 1)(g));
    const auto uniform = targets(rows, false, g), zipf = targets(rows, true, g);
    std::vector<float> logits(rows * V), dlogits(rows * V);
    std::vector<double> t_full, t_uniform, t_zipf;
    for (std::size_t r = 0; r <= repeats; ++r) {  // the first round warms up, not counted
        const double a = seconds([&] {
            full.forward(x.data(), rows, logits.data());
            txl::cross_entropy(logits.data(), uniform.data(), rows, V, dlogits.data());
            full.backward(x.data(), dlogits.data(), rows, dx.data());
        });
        const double b = seconds([&] { adaptive.nll_backward(x.data(), uniform.data(), rows, 1.0f, dx.data()); });
        const double c = seconds([&] { adaptive.nll_backward(x.data(), zipf.data(), rows, 1.0f, dx.data()); });
        if (r) t_full.push_back(a), t_uniform.push_back(b), t_zipf.push_back(c);
    }
    auto report = [&](const char* what, double t) {
        std::cout << std::left << std::setw(34) << what << std::right << std::fixed << std::setprecision(1)
                  << std::setw(9) << 1e3 * t << " ms/pass" << std::setw(11) << std::setprecision(0) << double(rows) / t
                  << " rows/s" << std::setw(8) << std::setprecision(1) << median(t_full) / t << "x\n";
    };
    std::cout << "output layer, n_vocab " << V << ", d_model " << D << ", " << rows << " rows, " << txl::max_threads()
              << " threads, medians of " << repeats << ":\n";
    report("full softmax", median(t_full));
    report("adaptive, targets uniform", median(t_uniform));
    report("adaptive, targets Zipfian", median(t_zipf));
}
