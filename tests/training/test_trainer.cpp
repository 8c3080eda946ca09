#include "../fixtures.hpp"
#include "../gradcheck.hpp"

#include <cstring>
#include <filesystem>
#include <limits>
#include <unistd.h>

namespace fs = std::filesystem;

using namespace txl_test;

namespace {
using C = txl::Config<float, 16, 2, 32, 2, 64>;
using Model = txl::TransformerXL<C>;

txl::TrainOptions options(double dropout) { return small_train_options<C>(dropout); }
}  // namespace

TEST_CASE("Trainer: loss falls on a learnable sequence; evaluate uses memory") {
    const auto ids = synthetic_ids(3000, 9);
    Model model(9, 1);
    txl::Trainer<Model> t(model, options(0.0), ids);
    const double before = txl::evaluate(model, ids, 3, 5, 7).loss;
    for (int i = 0; i < 150; ++i) t.step();
    const auto after = txl::evaluate(model, ids, 3, 5, 7);
    MESSAGE("loss " << before << " -> " << after.loss << ", accuracy " << after.accuracy);
    CHECK(after.loss < 0.5 * before);
    CHECK(after.tokens == 3 * (1000 - 1));
}

TEST_CASE("Trainer: a step whose loss is not finite stops before the update; a checkpoint holding NaN is refused") {
    const auto ids = synthetic_ids(400, 9);
    Model model(9, 3);
    txl::Trainer<Model> trainer(model, options(0.0), ids);
    trainer.step();
    // A diverged run, as if a learning rate had been far too high: one weight becomes infinite.
    model.generator.linear.weight.value(0, 0) = std::numeric_limits<float>::infinity();
    const auto before = flat_parameters(model);
    CHECK_THROWS_WITH_AS(trainer.step(), doctest::Contains("not finite: the run diverged"), txl::error);
    const auto after = flat_parameters(model);
    CHECK(std::memcmp(before.data(), after.data(), before.size() * sizeof(float)) == 0);  // untouched
    CHECK(trainer.optimizer().t == 1);

    // Saved anyway (by other means), such weights are refused on loading, naming the file.
    const fs::path dir = fs::temp_directory_path() / ("txl_nan_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    model.generator.linear.weight.value(0, 0) = std::numeric_limits<float>::quiet_NaN();
    txl::save_checkpoint(model, dir);
    Model fresh(9, 4);
    const auto fresh_before = flat_parameters(fresh);
    CHECK_THROWS_WITH_AS(txl::load_checkpoint(fresh, dir),
                         doctest::Contains("generator.weight.npy: holds a value that is not finite"),
                         txl::checkpoint_error);
    const auto fresh_after = flat_parameters(fresh);
    CHECK(std::memcmp(fresh_before.data(), fresh_after.data(), fresh_before.size() * sizeof(float)) == 0);
    fs::remove_all(dir);

    // Adam's moments too: a NaN (or a negative second moment) would reach every weight it
    // touches with the first update. The training checkpoint is refused and nothing changes.
    model.generator.linear.weight.value(0, 0) = 0.5f;
    trainer.optimizer().moments[0].second[2] = -1.0f;
    trainer.save(dir, [](const fs::path&) {});
    Model other(9, 5);
    txl::Trainer<Model> resumed(other, options(0.0), ids);
    const auto other_before = flat_parameters(other);
    CHECK_THROWS_WITH_AS(resumed.load(dir), doctest::Contains("(not finite, or a negative second moment)"),
                         txl::checkpoint_error);
    CHECK(std::memcmp(other_before.data(), flat_parameters(other).data(), other_before.size() * sizeof(float)) == 0);
    CHECK(resumed.step_count() == 0);
    fs::remove_all(dir);
}

TEST_CASE("Trainer: options out of range are refused, naming the option; weights that are not finite are never saved") {
    const auto ids = synthetic_ids(400, 9);
    Model model(9, 3);
    auto bad = [&](auto&& change, const char* want) {
        auto o = options(0.0);
        change(o);
        CHECK_THROWS_WITH_AS(txl::Trainer<Model>(model, o, ids), doctest::Contains(want), txl::error);
    };
    bad([](txl::TrainOptions& o) { o.seq_len = 0; }, "seq_len 0 and batch");
    bad([](txl::TrainOptions& o) { o.mem_len = 1 << 20; }, "seq_len + mem_len");
    bad([](txl::TrainOptions& o) { o.clip = std::nan(""); }, "clip nan");
    bad([](txl::TrainOptions& o) { o.clip = -1; }, "clip -1");
    bad([](txl::TrainOptions& o) { o.dropout = 1; }, "dropout 1 must be in [0, 1)");
    bad([](txl::TrainOptions& o) { o.dropatt = std::nan(""); }, "dropatt nan");
    bad([](txl::TrainOptions& o) { o.schedule.lr = HUGE_VAL; }, "schedule lr inf");
    bad([](txl::TrainOptions& o) { o.schedule.lr = 0; }, "schedule lr 0");
    bad([](txl::TrainOptions& o) { o.schedule.min_lr = 5; }, "min_lr 5 must be in [0, lr]");

    txl::Trainer<Model> trainer(model, options(0.0), ids);
    trainer.step();
    const fs::path dir = fs::temp_directory_path() / ("txl_nosave_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    trainer.save(dir, [](const fs::path&) {});
    const auto saved = fs::last_write_time(dir / "trainer.txt");
    model.generator.linear.weight.value(1, 2) = std::numeric_limits<float>::quiet_NaN();  // flat index 1 * 16 + 2
    CHECK_THROWS_WITH_AS(trainer.save(dir, [](const fs::path&) {}),
                         doctest::Contains("generator.weight element 18 (or its Adam moments) is not finite"),
                         txl::error);
    CHECK(fs::last_write_time(dir / "trainer.txt") == saved);
    fs::remove_all(dir);
}

TEST_CASE("Trainer: gradient accumulation gives the whole batch's step (double precision)") {
    using CD = txl::Config<double, 16, 2, 32, 2, 64>;
    using ModelD = txl::TransformerXL<CD>;
    const auto ids = synthetic_ids(400, 9);
    for (std::size_t k : {std::size_t(2), std::size_t(4)}) {
        CAPTURE(k);
        txl::TrainOptions o;
        o.seq_len = 5, o.mem_len = 7, o.batch = 4, o.seed = 11, o.clip = 0.5;  // clipping acts: same norm needed
        o.schedule = {txl::Schedule::Kind::noam, 1.0, 10, CD::d_model, 0, 0};
        ModelD whole(9, 3), split(9, 3);
        txl::Trainer<ModelD> tw(whole, o, ids);
        o.accumulate = k;
        txl::Trainer<ModelD> ts(split, o, ids);
        for (int step = 0; step < 6; ++step) {  // the memory fills (5, 7, 7, ...) on the way
            const auto a = tw.step(), b = ts.step();
            CHECK(b.loss == doctest::Approx(a.loss).epsilon(1e-12));
            CHECK(b.accuracy == doctest::Approx(a.accuracy).epsilon(1e-12));
            CHECK(b.grad_norm == doctest::Approx(a.grad_norm).epsilon(1e-10));
        }
        double worst = 0;
        std::vector<double> pw, ps;
        whole.visit([&](const std::string&, auto& p) { pw.insert(pw.end(), p.value.begin(), p.value.end()); });
        split.visit([&](const std::string&, auto& p) { ps.insert(ps.end(), p.value.begin(), p.value.end()); });
        REQUIRE(pw.size() == ps.size());
        for (std::size_t i = 0; i < pw.size(); ++i) worst = std::max(worst, std::abs(pw[i] - ps[i]));
        CHECK(worst < 1e-10);
        REQUIRE(tw.memory().states.size() == ts.memory().states.size());
        double mem_worst = 0;
        for (std::size_t l = 0; l < tw.memory().states.size(); ++l) {
            REQUIRE(tw.memory().states[l].shape() == ts.memory().states[l].shape());
            for (std::size_t i = 0; i < tw.memory().states[l].size(); ++i)
                mem_worst =
                    std::max(mem_worst, std::abs(tw.memory().states[l].data()[i] - ts.memory().states[l].data()[i]));
        }
        CHECK(mem_worst < 1e-10);
    }
    txl::TrainOptions bad;
    bad.batch = 4, bad.accumulate = 3;
    CHECK_THROWS_WITH_AS(txl::Trainer<ModelD>::checked(bad),
                         doctest::Contains("accumulate 3 must be >= 1 and divide batch 4"), txl::error);
}
