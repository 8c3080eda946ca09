#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include <txl/txl.hpp>

#include "../fixtures.hpp"

namespace fs = std::filesystem;

using namespace txl_test;

namespace {
using C = txl::Config<float, 8, 2, 12, 2, 8>;
using Model = txl::TransformerXL<C>;
}  // namespace

TEST_CASE("checkpoint: an existing directory is replaced only when asked") {
    TempDir tmp;
    Model a(9, 1);
    txl::save_checkpoint(a, tmp.path / "ckpt");
    CHECK_THROWS_AS(txl::save_checkpoint(a, tmp.path / "ckpt"), txl::checkpoint_error);
    CHECK_NOTHROW(txl::save_checkpoint(a, tmp.path / "ckpt", /*overwrite*/ true));
    CHECK(!fs::exists(tmp.path / ".ckpt.old"));
}

TEST_CASE("checkpoint: a byte changed after saving, or a listed file missing, fails its checksum; nothing is loaded") {
    TempDir tmp;
    Model a(9, 1), b(9, 2), b0(9, 2);
    const fs::path dir = tmp.path / "ckpt";
    txl::save_checkpoint(a, dir);
    CHECK(fs::exists(dir / "checksums.txt"));
    const std::string f = (dir / "transformer.layers.0.feed_forward.layer1.weight.npy").string();
    SUBCASE("one byte of a weight, still a finite value") {
        std::fstream io(f, std::ios::in | std::ios::out | std::ios::binary);
        io.seekp(std::streamoff(fs::file_size(f) - 2));  // a low byte of the last float
        io.put(char(0x55));
    }
    SUBCASE("a file listed but missing") { fs::remove(f); }
    CHECK(checkpoint_error_text([&] { txl::load_checkpoint(b, dir); }).rfind(f, 0) == 0);
    CHECK(same_parameters(b, b0));
}

TEST_CASE("checkpoint: a save interrupted between its two renames loses nothing: the previous copy is put back") {
    TempDir tmp;
    Model a(9, 1), b(9, 2);
    const fs::path dir = tmp.path / "ckpt";
    txl::save_checkpoint(a, dir);
    // Where the system has no atomic exchange, a save moves the old directory aside first; a
    // process killed right after that leaves only `.ckpt.old`.
    fs::rename(dir, tmp.path / ".ckpt.old");
    CHECK(!fs::exists(dir));
    txl::load_checkpoint(b, dir);
    CHECK(same_parameters(a, b));
    CHECK(fs::exists(dir));
    CHECK(!fs::exists(tmp.path / ".ckpt.old"));
    // Saving over it again works, and leaves no sibling behind.
    txl::save_checkpoint(b, dir, /*overwrite*/ true);
    CHECK(!fs::exists(tmp.path / ".ckpt.old"));
    CHECK(!fs::exists(tmp.path / ".ckpt.tmp"));
}
