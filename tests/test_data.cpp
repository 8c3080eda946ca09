#include <doctest/doctest.h>

#include <filesystem>
#include <unistd.h>

#include <txl/data.hpp>

TEST_CASE("utf8: decode and encode round-trip; malformed input throws") {
    const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\n";  // a é € 😀 newline
    const auto cps = txl::utf8_decode(s);
    REQUIRE(cps.size() == 5);
    CHECK(cps[1] == 0xE9);
    CHECK(cps[3] == 0x1F600);
    std::string back;
    for (auto c : cps) back += txl::utf8_encode(c);
    CHECK(back == s);
    CHECK_THROWS_AS(txl::utf8_decode("ab\xC3"), txl::error);
    CHECK_THROWS_AS(txl::utf8_decode("\xFF"), txl::error);
    // Well-formed bytes that are still not UTF-8: an overlong '/', a surrogate, beyond U+10FFFF.
    CHECK_THROWS_WITH_AS(txl::utf8_decode("a\xC0\xAF"), "invalid UTF-8 at byte 1 (an overlong encoding)", txl::error);
    CHECK_THROWS_WITH_AS(txl::utf8_decode("\xE0\x80\xAF"), "invalid UTF-8 at byte 0 (an overlong encoding)", txl::error);
    CHECK_THROWS_WITH_AS(txl::utf8_decode("\xED\xA0\x80"), "invalid UTF-8 at byte 0 (a UTF-16 surrogate)", txl::error);
    CHECK_THROWS_WITH_AS(txl::utf8_decode("\xF4\x90\x80\x80"), "invalid UTF-8 at byte 0 (beyond U+10FFFF)", txl::error);
    CHECK(txl::utf8_decode("\xF4\x8F\xBF\xBF") == std::vector<char32_t>{0x10FFFF});  // the last one is fine
}

TEST_CASE("CharTokenizer: sorted vocabulary, ids, unknown characters, save and load") {
    const auto cps = txl::utf8_decode("hello, w\xC3\xB6rld\n");
    txl::CharTokenizer tok(cps);
    CHECK(tok.size() == 11);
    CHECK(tok.chars().front() == U'\n');
    CHECK(tok.decode(tok.id(U'\xF6')) == "\xC3\xB6");
    CHECK_THROWS_WITH_AS(tok.id(U'Z'), "character 'Z' (U+5A) is not in the vocabulary of 11 characters",
                         txl::shape_error);
    const auto path = std::filesystem::temp_directory_path() / ("txl_vocab_" + std::to_string(::getpid()));
    tok.save(path.string());
    CHECK(txl::CharTokenizer::load(path.string()).chars() == tok.chars());
    std::filesystem::remove(path);
    CHECK_THROWS_AS(txl::CharTokenizer::load(path.string()), txl::checkpoint_error);
}

TEST_CASE("split_train_valid: labml's 90/10 (1,003,854 / 111,540 for Tiny Shakespeare)") {
    std::vector<std::int64_t> ids(1115394, 0);
    auto [train, valid] = txl::split_train_valid(ids);
    CHECK(train.size() == 1003854);
    CHECK(valid.size() == 111540);
}

TEST_CASE("SequentialLoader: B contiguous streams, targets one ahead, short last batch, epochs") {
    std::vector<std::int64_t> ids(23);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = std::int64_t(i);
    txl::SequentialLoader loader(ids, 2, 4);  // n = 11 rows: stream 0 is 0..10, stream 1 is 11..21
    CHECK(loader.rows() == 11);
    CHECK(loader.batches_per_epoch() == 3);
    txl::tensor<std::int64_t, 2> x, y;
    loader.next(x, y);
    CHECK(x.shape()[0] == 4);
    CHECK(x(0, 0) == 0);
    CHECK(x(0, 1) == 11);
    CHECK(y(3, 1) == 15);
    loader.next(x, y);
    CHECK(x(0, 0) == 4);  // stream 0 continues where it stopped
    loader.next(x, y);
    CHECK(x.shape()[0] == 2);  // 10 target rows in all: 4 + 4 + 2
    CHECK(y(1, 1) == 21);
    CHECK(loader.at_epoch_start());
    CHECK(loader.epoch == 1);
    CHECK_THROWS_WITH_AS(txl::SequentialLoader(std::vector<std::int64_t>(5), 4, 2, "tiny.txt"),
                         "tiny.txt has 5 characters: too short for one batch of 4 streams (needs at least 8)",
                         txl::shape_error);
}
