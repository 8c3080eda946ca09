#include "../fixtures.hpp"
#include "../gradcheck.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <unistd.h>

namespace fs = std::filesystem;

using namespace txl_test;

namespace {
using C = txl::Config<float, 16, 2, 32, 2, 64>;
using Model = txl::TransformerXL<C>;

txl::TrainOptions options(double dropout) { return small_train_options<C>(dropout); }
}  // namespace

TEST_CASE("Trainer: N steps, save, load into a fresh model, N steps == 2N steps straight (bit-exact)") {
    for (double dropout : {0.0, 0.1}) {
        CAPTURE(dropout);
        const auto ids = synthetic_ids(400, 9);  // 133 rows per stream: the run crosses an epoch
        const std::size_t N = 17;
        Model straight(9, 3);
        txl::Trainer<Model> ts(straight, options(dropout), ids);
        for (std::size_t i = 0; i < 2 * N; ++i) ts.step();

        const fs::path dir = fs::temp_directory_path() / ("txl_resume_" + std::to_string(::getpid()));
        fs::remove_all(dir);
        {
            Model first(9, 3);
            txl::Trainer<Model> t1(first, options(dropout), ids);
            for (std::size_t i = 0; i < N; ++i) t1.step();
            t1.save(dir, [](const fs::path&) {});
        }
        Model resumed(9, 999);  // different initial weights: everything must come from the files
        txl::Trainer<Model> t2(resumed, options(dropout), ids);
        t2.load(dir);
        CHECK(t2.step_count() == N);
        for (std::size_t i = 0; i < N; ++i) t2.step();
        CHECK(t2.step_count() == 2 * N);
        CHECK(flat_parameters(resumed) == flat_parameters(straight));
        CHECK(t2.loader().epoch == ts.loader().epoch);
        CHECK(ts.loader().epoch >= 1);
        fs::remove_all(dir);
    }
}

TEST_CASE("Trainer: a checkpoint of another run shape is refused before anything changes") {
    const auto ids = synthetic_ids(400, 9);
    const fs::path dir = fs::temp_directory_path() / ("txl_resume_bad_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    Model a(9, 3);
    txl::Trainer<Model> ta(a, options(0.0), ids);
    ta.step();
    ta.save(dir, [](const fs::path&) {});
    auto other = options(0.0);
    other.batch = 4;
    Model b(9, 4);
    const auto before = flat_parameters(b);
    txl::Trainer<Model> tb(b, other, ids);
    CHECK_THROWS_AS(tb.load(dir), txl::checkpoint_error);
    fs::remove(dir / "optimizer" / "generator.bias.v.npy");
    txl::Trainer<Model> tc(b, options(0.0), ids);
    CHECK_THROWS_WITH_AS(
        tc.load(dir),
        ((dir / "optimizer" / "generator.bias.v.npy").string() + ": listed in checksums.txt but missing").c_str(),
        txl::checkpoint_error);
    CHECK(flat_parameters(b) == before);
    CHECK(tc.step_count() == 0);
    fs::remove_all(dir);
}

TEST_CASE("Trainer: resume is bit-exact with AdamW decay, dropout and accumulation") {
    const auto ids = synthetic_ids(400, 9);
    auto opts = [] {
        auto o = options(0.1);
        o.weight_decay = 0.1, o.accumulate = 3;
        return o;
    };
    Model straight(9, 3);
    txl::Trainer<Model> ts(straight, opts(), ids);
    for (int i = 0; i < 10; ++i) ts.step();
    const fs::path dir = fs::temp_directory_path() / ("txl_resume_wd_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    {
        Model first(9, 3);
        txl::Trainer<Model> t1(first, opts(), ids);
        for (int i = 0; i < 5; ++i) t1.step();
        t1.save(dir, [](const fs::path&) {});
    }
    Model resumed(9, 999);
    txl::Trainer<Model> t2(resumed, opts(), ids);
    t2.load(dir);
    for (int i = 0; i < 5; ++i) t2.step();
    CHECK(flat_parameters(resumed) == flat_parameters(straight));
    fs::remove_all(dir);
}

TEST_CASE("Trainer: a checkpoint of a newer format is refused, by name, before anything changes") {
    const auto ids = synthetic_ids(400, 9);
    TempDir tmp;
    const fs::path dir = tmp.path / "run";
    Model a(9, 3);
    txl::Trainer<Model> ta(a, options(0.0), ids);
    ta.step();
    ta.save(dir, [](const fs::path&) {});
    // What a later txl would write: the same files, trainer.txt saying format 2, checksums valid.
    std::string text;
    {
        std::ifstream in(dir / "trainer.txt");
        text.assign(std::istreambuf_iterator<char>(in), {});
    }
    REQUIRE(text.rfind("format 1\n", 0) == 0);
    text.replace(0, std::strlen("format 1"), "format 2");
    std::ofstream(dir / "trainer.txt") << text;
    txl::detail::seal_directory(dir);  // checksums.txt anew, as a save writes it

    Model b(9, 4);
    const auto before = flat_parameters(b);
    txl::Trainer<Model> tb(b, options(0.0), ids);
    const std::string msg = checkpoint_error_text([&] { tb.load(dir); });
    CHECK(msg == (dir / "trainer.txt").string() + ": format 2 was written by a newer txl; this program reads format 1");
    CHECK(flat_parameters(b) == before);
    CHECK(tb.step_count() == 0);
}
