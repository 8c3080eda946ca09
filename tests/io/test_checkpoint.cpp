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

TEST_CASE("checkpoint: bad files throw checkpoint_error naming the file; nothing is loaded") {
    TempDir tmp;
    Model a(9, 1), b(9, 2), b0(9, 2);
    const fs::path dir = tmp.path / "ckpt";
    txl::save_checkpoint(a, dir);
    const std::string f = (dir / "generator.bias.npy").string();
    // The reader's own checks, below the checksums: as for a checkpoint written before them.
    fs::remove(dir / "checksums.txt");

    SUBCASE("missing directory") {
        CHECK(checkpoint_error_text([&] {
                  txl::load_checkpoint(b, tmp.path / "nope");
              }).find("checkpoint directory not found") != std::string::npos);
    }
    SUBCASE("missing file") {
        fs::remove(f);
        CHECK(checkpoint_error_text([&] { txl::load_checkpoint(b, dir); }) == f + ": missing or unreadable file");
    }
    SUBCASE("wrong shape (another vocabulary)") {
        xt::dump_npy(f, txl::tensor<float, 1>::from_shape({10}));
        CHECK(checkpoint_error_text([&] { txl::load_checkpoint(b, dir); }) == f + ": shape [10], expected [9]");
    }
    SUBCASE("wrong rank") {
        xt::dump_npy(f, txl::tensor<float, 2>::from_shape({9, 1}));
        CHECK(checkpoint_error_text([&] { txl::load_checkpoint(b, dir); }) == f + ": shape [9, 1], expected [9]");
    }
    SUBCASE("wrong dtype") {
        xt::dump_npy(f, txl::tensor<double, 1>::from_shape({9}));
        CHECK(checkpoint_error_text([&] { txl::load_checkpoint(b, dir); }) == f + ": dtype '<f8', expected '<f4'");
    }
    SUBCASE("unexpected name") {
        xt::dump_npy((dir / "transformer.layers.2.norm_ff.bias.npy").string(), txl::tensor<float, 1>::from_shape({8}));
        CHECK(checkpoint_error_text([&] { txl::load_checkpoint(b, dir); }).find("not a parameter of this model") !=
              std::string::npos);
    }
    SUBCASE("truncated") {
        fs::resize_file(f, fs::file_size(f) - 3);
        CHECK(checkpoint_error_text([&] { txl::load_checkpoint(b, dir); }).find("truncated or padded") !=
              std::string::npos);
    }
    SUBCASE("not a .npy file") {
        std::ofstream(f) << "hello";
        CHECK(checkpoint_error_text([&] { txl::load_checkpoint(b, dir); }).find("not a .npy file") !=
              std::string::npos);
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
        CHECK(checkpoint_error_text([&] {
                  txl::load_checkpoint(b, dir);
              }).find("fortran_order is neither True nor False") != std::string::npos);
    }
    SUBCASE("a dimension too large for any memory") {
        edit_header("(9,)", "(99999999999999999999,)");
        CHECK(checkpoint_error_text([&] { txl::load_checkpoint(b, dir); }).find("implausibly large") !=
              std::string::npos);
    }
    SUBCASE("a pipe in place of a file") {
        fs::remove(f);
        REQUIRE(::mkfifo(f.c_str(), 0600) == 0);
        CHECK(checkpoint_error_text([&] { txl::load_checkpoint(b, dir); }).find("not a regular file") !=
              std::string::npos);
    }
    SUBCASE("empty file") {
        std::ofstream(f).close();
        CHECK(checkpoint_error_text([&] { txl::load_checkpoint(b, dir); }).find("not a .npy file") !=
              std::string::npos);
    }
    // Whatever failed, b is exactly as before: no partial load.
    CHECK(same_parameters(b, b0));
}
