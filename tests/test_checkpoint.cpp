#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

#include <txl/txl.hpp>

namespace fs = std::filesystem;

namespace {
using C = txl::Config<float, 8, 2, 12, 2, 8>;
using Model = txl::TransformerXL<C>;

struct TempDir {
    fs::path path;
    TempDir() {
        path = fs::temp_directory_path() /
               ("txl_test_ckpt_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
    static int& counter() {
        static int c = 0;
        return c;
    }
};

template <class M>
bool same_parameters(M& a, M& b) {
    std::vector<std::vector<float>> va, vb;
    a.visit([&](const std::string&, auto& p) { va.emplace_back(p.value.begin(), p.value.end()); });
    b.visit([&](const std::string&, auto& p) { vb.emplace_back(p.value.begin(), p.value.end()); });
    return va == vb;  // bit-exact
}

std::string what(const std::function<void()>& f) {
    try {
        f();
    } catch (const txl::checkpoint_error& e) {
        return e.what();
    }
    return "(no checkpoint_error)";
}
}  // namespace

TEST_CASE("checkpoint: save and load round-trip bit-exactly, with labml's file names") {
    TempDir tmp;
    Model a(9, 1), b(9, 2);
    a.transformer.layers[1].self_attn.key_pos_bias.value(3, 1) = 0.125f;
    txl::save_checkpoint(a, tmp.path / "ckpt");
    CHECK(fs::exists(tmp.path / "ckpt" / "transformer.layers.1.self_attn.key_pos_bias.npy"));
    CHECK(fs::exists(tmp.path / "ckpt" / "src_embed.weight.npy"));
    CHECK(!fs::exists(tmp.path / ".ckpt.tmp"));
    CHECK(!same_parameters(a, b));
    txl::load_checkpoint(b, tmp.path / "ckpt");
    CHECK(same_parameters(a, b));
}

TEST_CASE("checkpoint: an existing directory is replaced only when asked") {
    TempDir tmp;
    Model a(9, 1);
    txl::save_checkpoint(a, tmp.path / "ckpt");
    CHECK_THROWS_AS(txl::save_checkpoint(a, tmp.path / "ckpt"), txl::checkpoint_error);
    CHECK_NOTHROW(txl::save_checkpoint(a, tmp.path / "ckpt", /*overwrite*/ true));
    CHECK(!fs::exists(tmp.path / ".ckpt.old"));
}

TEST_CASE("checkpoint: bad files throw checkpoint_error naming the file; nothing is loaded") {
    TempDir tmp;
    Model a(9, 1), b(9, 2), b0(9, 2);
    const fs::path dir = tmp.path / "ckpt";
    txl::save_checkpoint(a, dir);
    const std::string f = (dir / "generator.bias.npy").string();
    // The reader's own checks, below the checksums: as for a checkpoint written before them.
    fs::remove(dir / "checksums.txt");

    SUBCASE("missing directory") {
        CHECK(what([&] { txl::load_checkpoint(b, tmp.path / "nope"); }).find("checkpoint directory not found") !=
              std::string::npos);
    }
    SUBCASE("missing file") {
        fs::remove(f);
        CHECK(what([&] { txl::load_checkpoint(b, dir); }) == f + ": missing or unreadable file");
    }
    SUBCASE("wrong shape (another vocabulary)") {
        xt::dump_npy(f, txl::tensor<float, 1>::from_shape({10}));
        CHECK(what([&] { txl::load_checkpoint(b, dir); }) == f + ": shape [10], expected [9]");
    }
    SUBCASE("wrong rank") {
        xt::dump_npy(f, txl::tensor<float, 2>::from_shape({9, 1}));
        CHECK(what([&] { txl::load_checkpoint(b, dir); }) == f + ": shape [9, 1], expected [9]");
    }
    SUBCASE("wrong dtype") {
        xt::dump_npy(f, txl::tensor<double, 1>::from_shape({9}));
        CHECK(what([&] { txl::load_checkpoint(b, dir); }) == f + ": dtype '<f8', expected '<f4'");
    }
    SUBCASE("unexpected name") {
        xt::dump_npy((dir / "transformer.layers.2.norm_ff.bias.npy").string(), txl::tensor<float, 1>::from_shape({8}));
        CHECK(what([&] { txl::load_checkpoint(b, dir); }).find("not a parameter of this model") != std::string::npos);
    }
    SUBCASE("truncated") {
        fs::resize_file(f, fs::file_size(f) - 3);
        CHECK(what([&] { txl::load_checkpoint(b, dir); }).find("truncated or padded") != std::string::npos);
    }
    SUBCASE("not a .npy file") {
        std::ofstream(f) << "hello";
        CHECK(what([&] { txl::load_checkpoint(b, dir); }).find("not a .npy file") != std::string::npos);
    }
    // The file with the first `from` in its header replaced by `to`.
    auto edit_header = [&](const std::string& from, const std::string& to) {
        std::string bytes;
        {
            std::ifstream in(f, std::ios::binary);
            bytes.assign(std::istreambuf_iterator<char>(in), {});
        }
        const auto at = bytes.find(from);
        REQUIRE(at != std::string::npos);
        bytes.replace(at, from.size(), to);
        std::ofstream(f, std::ios::binary) << bytes;
    };
    SUBCASE("fortran_order neither True nor False") {
        edit_header("False", "Maybe");
        CHECK(what([&] { txl::load_checkpoint(b, dir); }).find("fortran_order is neither True nor False") !=
              std::string::npos);
    }
    SUBCASE("a dimension too large for any memory") {
        edit_header("(9,)", "(99999999999999999999,)");
        CHECK(what([&] { txl::load_checkpoint(b, dir); }).find("implausibly large") != std::string::npos);
    }
    SUBCASE("a pipe in place of a file") {
        fs::remove(f);
        REQUIRE(::mkfifo(f.c_str(), 0600) == 0);
        CHECK(what([&] { txl::load_checkpoint(b, dir); }).find("not a regular file") != std::string::npos);
    }
    SUBCASE("empty file") {
        std::ofstream(f).close();
        CHECK(what([&] { txl::load_checkpoint(b, dir); }).find("not a .npy file") != std::string::npos);
    }
    // Whatever failed, b is exactly as before: no partial load.
    CHECK(same_parameters(b, b0));
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
    CHECK(what([&] { txl::load_checkpoint(b, dir); }).rfind(f, 0) == 0);
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
