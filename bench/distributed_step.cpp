// txl_bench_distributed: training steps of txl_bench_train's configs run data-parallel under
// mpirun (txl/training/distributed.hpp), timed, with the time and bytes of the gradient sum.
//
//   mpirun -np 2 txl_bench_distributed --config practical|large --steps N
//
// Every rank trains its B/W streams; the communicator is wrapped in one that times each sum
// and counts what it moves. Rank 0 prints the tokens per second of the whole batch, the share
// of a step spent in the sum, and the bytes a rank sends per step: measured for the sums as
// they run (the row-sparse tables over the touched rows only), and computed for all
// gradients, both as 2 (W-1)/W x the buffer (what the reduce-scatter and all-gather send).
// Last line: tokens_per_s <float>
#include <CLI/CLI.hpp>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <vector>

#include <txl/training/distributed.hpp>
#include <txl/txl.hpp>

extern "C" char* openblas_get_corename(void);

namespace {

using Clock = std::chrono::steady_clock;

/// A communicator that forwards to another and keeps the time and bytes of its sums.
class Timed : public txl::Communicator {
public:
    explicit Timed(txl::Communicator& inner) : inner_(inner) {}
    std::size_t rank() const override { return inner_.rank(); }
    std::size_t size() const override { return inner_.size(); }
    void sum(float* x, std::size_t n) override {
        timed(n * sizeof(float), [&] { inner_.sum(x, n); });
    }
    void sum(double* x, std::size_t n) override {
        timed(n * sizeof(double), [&] { inner_.sum(x, n); });
    }
    void max(std::int64_t* x, std::size_t n) override {
        timed(n * 8, [&] { inner_.max(x, n); });
    }
    void allgather(const void* l, std::size_t b, void* a) override { inner_.allgather(l, b, a); }
    void broadcast(void* d, std::size_t b, std::size_t r) override { inner_.broadcast(d, b, r); }
    void barrier() override { inner_.barrier(); }

    double seconds = 0, buffer_bytes = 0;

private:
    template <class F>
    void timed(std::size_t bytes, F&& f) {
        const auto t0 = Clock::now();
        f();
        seconds += std::chrono::duration<double>(Clock::now() - t0).count();
        buffer_bytes += double(bytes);
    }
    txl::Communicator& inner_;
};

template <class C>
int run(txl::MpiCommunicator& world, const std::string& name, std::size_t T, std::size_t B, std::size_t steps) {
    using Model = txl::TransformerXL<C>;
    const std::size_t V = 65;
    std::vector<std::int64_t> ids(400'000);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = std::int64_t((i * 7 + i / 5) % V);
    Model model(V, 1);
    txl::TrainOptions o;
    o.seq_len = T, o.mem_len = T, o.batch = B;
    o.schedule = {txl::Schedule::Kind::constant, 1e-3, 0, C::d_model, 0, 0};
    Timed comm(world);
    txl::Trainer<Model> trainer(model, o, ids, &comm);
    for (std::size_t i = 0; i < 3; ++i) trainer.step();  // the memory full, buffers sized
    comm.seconds = comm.buffer_bytes = 0;
    world.barrier();
    const auto t0 = Clock::now();
    std::size_t tokens = 0, summed = 0;
    for (std::size_t i = 0; i < steps; ++i) {
        const auto s = trainer.step();
        tokens += s.tokens, summed += s.summed;
    }
    world.barrier();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    const double W = double(world.size()), wire = W > 1 ? 2 * (W - 1) / W : 0;
    if (world.rank() == 0) {
        std::cout << std::fixed << std::setprecision(0) << "config " << name << " (d_model " << C::d_model << ", d_ff "
                  << C::d_ff << ", T = M = " << T << ", batch " << B << "), " << world.size() << " processes x "
                  << txl::max_threads() << " threads, OpenBLAS " << openblas_get_corename() << ", txl kernel "
                  << txl::kernel_name(txl::gemm_kernel()) << "\n"
                  << "  " << double(tokens) / secs << " tokens/s; " << std::setprecision(1)
                  << 1e3 * secs / double(steps) << " ms a step, of which the sums "
                  << 1e3 * comm.seconds / double(steps) << " ms\n"
                  << std::setprecision(2) << "  sent per rank per step: touched rows "
                  << wire * double(summed) * sizeof(float) / double(steps) / 1e6 << " MB (" << summed / steps
                  << " values), all gradients " << wire * double(model.parameter_count()) * sizeof(float) / 1e6
                  << " MB (" << model.parameter_count() << " values)\n"
                  << std::setprecision(0) << "tokens_per_s " << double(tokens) / secs << "\n";
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    txl::MpiSession mpi(argc, argv);
    txl::MpiCommunicator world;
    CLI::App app{"txl data-parallel training-step benchmark (under mpirun)"};
    std::string config = "practical";
    std::size_t steps = 20;
    app.add_option("--config", config, "practical | large")
        ->check(CLI::IsMember({"practical", "large"}))
        ->capture_default_str();
    app.add_option("--steps", steps, "Timed steps")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        if (config == "practical") return run<txl::Config<float, 128, 4, 256, 6>>(world, config, 64, 32, steps);
        return run<txl::Config<float, 256, 8, 1024, 6>>(world, config, 128, 16, steps);
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        txl::MpiSession::abort(1);
    }
}
