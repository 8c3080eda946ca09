#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <txl/data/char_tokenizer.hpp>
#include <txl/data/loader.hpp>
#include <txl/data/text_file.hpp>
#include <txl/data/token_ids.hpp>
#include <txl/data/utf8.hpp>

TEST_CASE("split_train_valid: labml's 90/10 (1,003,854 / 111,540 for Tiny Shakespeare)") {
    std::vector<std::int64_t> ids(1115394, 0);
    auto [train, valid] = txl::split_train_valid(ids);
    CHECK(train.size() == 1003854);
    CHECK(valid.size() == 111540);
}

namespace {
std::filesystem::path write_temp(const std::string& name, const std::string& bytes) {
    const auto p = std::filesystem::temp_directory_path() / ("txl_" + name + "_" + std::to_string(::getpid()));
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
}
}  // namespace

TEST_CASE("read_text_file: chunked reading equals decoding the whole text; vocabulary, stop, progress, bad files") {
    std::string text;
    for (int k = 0; k < 50; ++k)
        text += "To be, or not to be: \xC3\xA9t\xC3\xA9 \xE2\x82\xAC " + std::to_string(k) + "\n";
    const auto path = write_temp("text", text);
    const auto cps = txl::utf8_decode(text);
    const txl::CharTokenizer tok(cps);
    const auto expected = tok.encode(cps);
    for (std::size_t chunk : {1, 2, 3, 7, 4096}) {  // chunks that cut the 2- and 3-byte characters
        txl::ReadTextOptions o;
        o.chunk_bytes = chunk;
        std::uint64_t last = 0, total = 0;
        bool monotone = true;
        o.progress = [&](std::uint64_t done, std::uint64_t all) { monotone &= done > last, last = done, total = all; };
        const auto f = txl::read_text_file(path.string(), o);
        CHECK(f.tokenizer.chars() == tok.chars());
        CHECK(f.ids.to_vector() == expected);
        CHECK(f.ids.width() == 1);
        CHECK(f.bytes == text.size());
        CHECK(monotone);
        CHECK(last == 2 * text.size());
        CHECK(total == 2 * text.size());
    }
    // With a vocabulary: its ids (a larger vocabulary shifts them), and a character outside it is named.
    auto more = tok.chars();
    more.insert(more.begin(), U'\t');
    const auto wider = txl::CharTokenizer::from_chars(more);
    txl::ReadTextOptions with;
    with.vocabulary = &wider;
    CHECK(txl::read_text_file(path.string(), with).ids.to_vector() == wider.encode(cps));
    const auto narrow = txl::CharTokenizer::from_chars({U' ', U'a'});
    with.vocabulary = &narrow;
    CHECK_THROWS_WITH_AS(txl::read_text_file(path.string(), with),
                         (path.string() + ": character '\n' (U+A) is not in the vocabulary of 2 characters").c_str(),
                         txl::shape_error);
    // Stop: asked between chunks, ends the read with `interrupted`.
    txl::ReadTextOptions stop;
    stop.chunk_bytes = 64;
    int asked = 0;
    stop.stop = [&] { return ++asked > 3; };
    CHECK_THROWS_AS(txl::read_text_file(path.string(), stop), txl::interrupted);
    CHECK(asked == 4);
    // Bad files: each with the path and what is wrong.
    const auto bad = write_temp("bad", std::string(5000, 'a') + "\xC3(");
    txl::ReadTextOptions small;
    small.chunk_bytes = 1000;
    CHECK_THROWS_WITH_AS(txl::read_text_file(bad.string(), small),
                         (bad.string() + ": invalid UTF-8 at byte 5001").c_str(), txl::error);
    const auto cut = write_temp("cut", "abc\xE2\x82");
    CHECK_THROWS_WITH_AS(txl::read_text_file(cut.string()),
                         (cut.string() + ": invalid UTF-8 at byte 3 (the text ends inside a character)").c_str(),
                         txl::error);
    const auto empty = write_temp("empty", "");
    CHECK_THROWS_WITH_AS(txl::read_text_file(empty.string()), (empty.string() + ": the file is empty").c_str(),
                         txl::error);
    CHECK_THROWS_WITH_AS(txl::read_text_file("/dev/zero"),
                         "/dev/zero: not a regular file (a device or a pipe?), expected a text file", txl::error);
    CHECK_THROWS_WITH_AS(txl::read_text_file("/no/such/file"), "/no/such/file: no such file", txl::error);
    for (const auto& p : {path, bad, cut, empty}) std::filesystem::remove(p);
}
