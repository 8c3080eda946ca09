// Data-parallel training on MPI (txl/training/distributed.hpp), run by ctest under
// `mpirun -np 2` (tests/CMakeLists.txt). Every rank also trains the same model alone, on the
// whole batch, so each case compares W processes against one within a single launch.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <txl/training/distributed.hpp>
#include <txl/txl.hpp>

#include "../fixtures.hpp"

namespace fs = std::filesystem;
using txl_test::identical;
using txl_test::synthetic_ids;

namespace {

txl::MpiCommunicator* world = nullptr;

using CD = txl::Config<double, 16, 2, 32, 2, 64>;
using ModelD = txl::TransformerXL<CD>;

/// Memory and dropout on (residual, feed-forward and attention weights), clipping that acts,
/// a batch of 4 streams (any world size of 1, 2 or 4 divides it).
txl::TrainOptions options() {
    txl::TrainOptions o;
    o.seq_len = 5, o.mem_len = 7, o.batch = 4, o.seed = 11, o.clip = 0.5;
    o.dropout = 0.1, o.dropatt = 0.15;
    o.schedule = {txl::Schedule::Kind::noam, 1.0, 10, CD::d_model, 0, 0};
    return o;
}

/// $\max_i |a_i - b_i| / \max_i |b_i|$: the largest difference relative to the tensor's scale.
double relative_difference(const double* a, const double* b, std::size_t n) {
    double diff = 0, scale = 0;
    for (std::size_t i = 0; i < n; ++i) {
        diff = std::max(diff, std::abs(a[i] - b[i]));
        scale = std::max(scale, std::abs(b[i]));
    }
    return scale > 0 ? diff / scale : diff;
}

/// Weights and both Adam moments of `a` against `b` (same model type), the largest relative difference.
double state_difference(txl::Trainer<ModelD>& a, txl::Trainer<ModelD>& b) {
    double worst = 0;
    auto& ra = a.optimizer().refs;
    auto& rb = b.optimizer().refs;
    REQUIRE(ra.size() == rb.size());
    for (std::size_t k = 0; k < ra.size(); ++k) {
        worst = std::max(worst, relative_difference(ra[k].value, rb[k].value, ra[k].size));
        const auto& ma = a.optimizer().moments[k];
        const auto& mb = b.optimizer().moments[k];
        worst = std::max(worst, relative_difference(ma.first.data(), mb.first.data(), ma.first.size()));
        worst = std::max(worst, relative_difference(ma.second.data(), mb.second.data(), ma.second.size()));
    }
    return worst;
}

/// This process's memory columns against the same columns of the whole batch's memory.
double memory_difference(const txl::Trainer<ModelD>& mine, const txl::Trainer<ModelD>& whole) {
    const auto& c = mine.columns();
    double worst = 0;
    REQUIRE(mine.memory().states.size() == whole.memory().states.size());
    for (std::size_t l = 0; l < whole.memory().states.size(); ++l) {
        const auto& w = whole.memory().states[l];
        const auto& m = mine.memory().states[l];
        const std::size_t M = w.shape()[0], B = w.shape()[1], d = w.shape()[2];
        REQUIRE(m.shape()[0] == M);
        REQUIRE(m.shape()[1] == c.count);
        std::vector<double> cols(M * c.count * d);
        for (std::size_t t = 0; t < M; ++t)
            std::copy_n(w.data() + (t * B + c.first) * d, c.count * d, cols.data() + t * c.count * d);
        worst = std::max(worst, relative_difference(m.data(), cols.data(), cols.size()));
    }
    return worst;
}

bool bitwise_equal(txl::Trainer<ModelD>& a, txl::Trainer<ModelD>& b) {
    auto& ra = a.optimizer().refs;
    auto& rb = b.optimizer().refs;
    for (std::size_t k = 0; k < ra.size(); ++k) {
        if (std::memcmp(ra[k].value, rb[k].value, ra[k].size * sizeof(double)) != 0) return false;
        if (a.optimizer().moments[k].first != b.optimizer().moments[k].first) return false;
        if (a.optimizer().moments[k].second != b.optimizer().moments[k].second) return false;
    }
    for (std::size_t l = 0; l < a.memory().states.size(); ++l)
        if (!identical(a.memory().states[l], b.memory().states[l])) return false;
    return true;
}

}  // namespace

TEST_CASE("data parallel: W processes train the model one process trains (double, memory, dropout, 20 steps)") {
    const auto ids = synthetic_ids(900, 9);
    ModelD alone_model(9, 3), shared_model(9, 3);
    txl::Trainer<ModelD> alone(alone_model, options(), ids);
    txl::Trainer<ModelD> shared(shared_model, options(), ids, world);
    CHECK(shared.columns().count * world->size() == 4);
    double loss_diff = 0;
    for (int step = 0; step < 20; ++step) {
        const auto a = alone.step(), s = shared.step();
        loss_diff = std::max(loss_diff, std::abs(a.loss - s.loss) / a.loss);
        CHECK(s.tokens == a.tokens);
        CHECK(s.grad_norm == doctest::Approx(a.grad_norm).epsilon(1e-12));
        CHECK(s.accuracy == doctest::Approx(a.accuracy).epsilon(1e-12));
    }
    const double state = state_difference(shared, alone), mem = memory_difference(shared, alone);
    if (world->rank() == 0)
        std::cout << "[data parallel, " << world->size() << " processes vs 1, double, 20 steps] largest relative "
                  << "difference: weights and Adam moments " << state << ", memory " << mem << ", loss " << loss_diff
                  << "\n";
    CHECK(state < 1e-12);
    CHECK(mem < 1e-12);
    CHECK(loss_diff < 1e-12);
    // The replicas are the same bits (no weight was ever sent).
    CHECK_NOTHROW(txl::check_same_on_all_ranks(world, shared.weights_fingerprint(), "the weights"));
}

TEST_CASE("data parallel: the sum adds in rank order and every rank gets the same bits") {
    const std::size_t W = world->size(), r = world->rank(), n = 1001;  // not a multiple of W
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i)  // values whose sum depends on the order of additions
        x[i] = float((r % 2 ? -1.0 : 1.0) * std::pow(10.0, double((i + 3 * r) % 9)) + 0.1 * double(i));
    std::vector<float> all(W * n);
    world->allgather(x.data(), n * sizeof(float), all.data());
    std::vector<float> expect(all.begin(), all.begin() + std::ptrdiff_t(n));
    for (std::size_t q = 1; q < W; ++q)
        for (std::size_t i = 0; i < n; ++i) expect[i] += all[q * n + i];
    world->sum(x.data(), n);
    CHECK(std::memcmp(x.data(), expect.data(), n * sizeof(float)) == 0);
    CHECK_NOTHROW(txl::check_same_on_all_ranks(world, txl::fingerprint(x.data(), n * sizeof(float)), "the sum"));
}

TEST_CASE("data parallel: only the touched rows of the relative tables are summed") {
    const auto ids = synthetic_ids(900, 9);
    ModelD model(9, 3);
    txl::Trainer<ModelD> shared(model, options(), ids, world);
    const auto s1 = shared.step(), s2 = shared.step();
    if (world->size() == 1) {
        CHECK(s1.summed == 0);
        return;
    }
    // Dense parameters, plus per layer the window's rows of R [2P, H, d_k] and b^pos [2P, H]:
    // K = M + T rows, one a distance 0 .. K-1.
    std::size_t dense = 0;
    model.visit([&](const std::string&, auto& p) { dense += p.sparse ? 0 : p.value.size(); });
    const std::size_t T = 5, rows1 = T, rows2 = 5 + T;  // M = 0, then M = 5
    CHECK(s1.summed == dense + CD::n_layers * rows1 * (CD::d_model + CD::heads));
    CHECK(s2.summed == dense + CD::n_layers * rows2 * (CD::d_model + CD::heads));
    CHECK(s2.summed < model.parameter_count());
}

TEST_CASE("data parallel: a checkpoint of W processes resumes bit for bit on W, and on 1") {
    const auto ids = synthetic_ids(900, 9);
    const fs::path dir = fs::temp_directory_path() / "txl_test_distributed_ckpt";
    if (world->rank() == 0) fs::remove_all(dir);
    world->barrier();
    ModelD m1(9, 3);
    txl::Trainer<ModelD> straight(m1, options(), ids, world);
    for (int i = 0; i < 8; ++i) straight.step();
    straight.save(dir, [](const fs::path&) {});
    world->barrier();  // rank 0 has written it
    for (int i = 0; i < 6; ++i) straight.step();

    ModelD m2(9, 99);  // other weights: all of them must come from the checkpoint
    txl::Trainer<ModelD> resumed(m2, options(), ids, world);
    resumed.load(dir);
    for (int i = 0; i < 6; ++i) resumed.step();
    CHECK(bitwise_equal(resumed, straight));

    // One process resumes what W wrote: the same run, up to the order of the sums.
    ModelD m3(9, 98);
    txl::Trainer<ModelD> alone(m3, options(), ids);
    alone.load(dir);
    for (int i = 0; i < 6; ++i) alone.step();
    CHECK(state_difference(straight, alone) < 1e-12);
    CHECK(memory_difference(straight, alone) < 1e-12);
    world->barrier();
    if (world->rank() == 0) fs::remove_all(dir);
}

TEST_CASE("data parallel: evaluation over the processes' streams gives the whole text's figures") {
    const auto ids = synthetic_ids(700, 9);
    ModelD model(9, 5);
    const auto alone = txl::evaluate(model, ids, 4, 6, 9);
    const auto shared = txl::evaluate(model, ids, 4, 6, 9, nullptr, world);
    CHECK(shared.tokens == alone.tokens);
    CHECK(shared.loss == doctest::Approx(alone.loss).epsilon(1e-13));
    CHECK(shared.accuracy == doctest::Approx(alone.accuracy).epsilon(1e-13));
    // A stop on one process stops every process at the same segment.
    std::size_t calls = 0;
    const auto stopped = txl::evaluate(
        model, ids, 4, 6, 9, [&] { return ++calls == 3 && world->rank() + 1 == world->size(); }, world);
    CHECK_FALSE(stopped.complete);
    CHECK(stopped.tokens == 2 * 6 * 4);
}

TEST_CASE("data parallel: a stop asked for on one process stops all after the same step") {
    const auto ids = synthetic_ids(900, 9);
    ModelD model(9, 3);
    txl::Trainer<ModelD> shared(model, options(), ids, world);
    CHECK_FALSE(shared.step().stop);
    CHECK(shared.step(world->rank() + 1 == world->size()).stop);  // the last rank asks
    CHECK_FALSE(shared.step().stop);
}

TEST_CASE("data parallel: processes on different data are refused, naming the rank") {
    CHECK_NOTHROW(txl::check_same_on_all_ranks(world, 42, "the text"));
    if (world->size() == 1) return;
    CHECK_THROWS_WITH_AS(txl::check_same_on_all_ranks(world, world->rank() == 1 ? 7 : 42, "the text"),
                         doctest::Contains("the processes disagree on the text: rank(s) 1 differ from rank 0"),
                         txl::error);
    CHECK_THROWS_WITH_AS(txl::batch_columns(world, 4 * world->size() + 1), doctest::Contains("cannot be split evenly"),
                         txl::error);
}

TEST_CASE("data parallel: a failing MPI call is a txl::error naming the call") {
    int x = 0;
    CHECK_THROWS_WITH_AS(world->broadcast(&x, sizeof x, world->size() + 5), doctest::Contains("MPI_Bcast failed"),
                         txl::error);
}

int main(int argc, char** argv) {
    try {
        txl::MpiSession mpi(argc, argv);
        txl::MpiCommunicator comm;
        world = &comm;
        doctest::Context context(argc, argv);
        if (comm.rank() != 0) context.setOption("minimal", true);  // rank 0 reports; the others print only failures
        int failed = context.run();
        // The job fails if any rank failed.
        std::int64_t any = failed != 0;
        comm.max(&any, 1);
        return any ? 1 : 0;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        txl::MpiSession::abort(2);
    }
}
