#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <txl/data/char_tokenizer.hpp>
#include <txl/data/loader.hpp>
#include <txl/data/text_file.hpp>
#include <txl/data/token_ids.hpp>
#include <txl/data/utf8.hpp>

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
    CHECK_THROWS_WITH_AS(txl::utf8_decode("\xE0\x80\xAF"), "invalid UTF-8 at byte 0 (an overlong encoding)",
                         txl::error);
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

TEST_CASE("Utf8Stream: a text fed in pieces of any size decodes as a whole; offsets count from the start") {
    const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\nxyz\xC3\xB6";
    const auto whole = txl::utf8_decode(s);
    for (std::size_t piece = 1; piece <= s.size(); ++piece) {
        txl::Utf8Stream d;
        std::vector<char32_t> got;
        for (std::size_t i = 0; i < s.size(); i += piece)
            d.feed(s.data() + i, std::min(piece, s.size() - i), [&](char32_t c) { got.push_back(c); });
        d.finish();
        CHECK(got == whole);
    }
    // An error in the second piece names its offset in the whole text, even inside a cut character.
    txl::Utf8Stream d;
    auto drop = [](char32_t) {};
    d.feed("abc\xE2\x82", 5, drop);
    CHECK_THROWS_WITH_AS(d.feed("x", 1, drop), "invalid UTF-8 at byte 5", txl::error);
    txl::Utf8Stream e;
    e.feed("ab\xF0\x9F", 4, drop);
    CHECK_THROWS_WITH_AS(e.finish(), "invalid UTF-8 at byte 2 (the text ends inside a character)", txl::error);
}

TEST_CASE("TokenIds: the fewest bytes per id, shared slices, plain ids in and out") {
    CHECK(txl::TokenIds(10, 65).width() == 1);
    CHECK(txl::TokenIds(10, 256).width() == 1);
    CHECK(txl::TokenIds(10, 257).width() == 2);
    CHECK(txl::TokenIds(10, 65536).width() == 2);
    CHECK(txl::TokenIds(10, 70000).width() == 4);
    const std::vector<std::int64_t> plain{0, 300, 7, 65535, 2};
    const txl::TokenIds ids = plain;  // converts: 2 bytes each
    CHECK(ids.width() == 2);
    CHECK(ids.to_vector() == plain);
    const auto tail = ids.slice(1, 4);
    CHECK(tail.size() == 3);
    CHECK(tail[0] == 300);
    CHECK(tail[2] == 65535);
    CHECK(tail.storage_bytes() == 10);  // shared, not copied
    const txl::TokenIds wide = std::vector<std::int64_t>{70000, 1};
    CHECK(wide.width() == 4);
    CHECK(wide[0] == 70000);
    CHECK_THROWS_AS(txl::TokenIds(std::vector<std::int64_t>{1, -1}), txl::shape_error);
    CHECK_THROWS_AS(ids.slice(3, 6), txl::shape_error);
    auto [train, valid] = txl::split_train_valid(txl::TokenIds(1115394, 65));
    CHECK(train.size() == 1003854);
    CHECK(valid.size() == 111540);
    CHECK(valid.storage_bytes() == 1115394);
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

TEST_CASE("SequentialLoader: compact ids and a slice read exactly as the plain ids") {
    std::vector<std::int64_t> plain(103);
    for (std::size_t i = 0; i < plain.size(); ++i) plain[i] = std::int64_t((i * 37) % 300);
    const txl::TokenIds all = plain;  // 2 bytes each
    txl::SequentialLoader a(std::vector<std::int64_t>(plain.begin() + 3, plain.end()), 4, 5);
    txl::SequentialLoader b(all.slice(3, all.size()), 4, 5);
    txl::tensor<std::int64_t, 2> xa, ya, xb, yb;
    for (int k = 0; k < 12; ++k) {
        a.next(xa, ya);
        b.next(xb, yb);
        CHECK(xa == xb);
        CHECK(ya == yb);
    }
}

TEST_CASE("Utf8Stream: random bytes in random pieces decode, or fail, exactly as the whole string") {
    // A property test over 3000 strings biased towards UTF-8's own bytes (lead bytes,
    // continuation bytes, the boundaries of overlong, surrogate and beyond-U+10FFFF forms).
    std::uint64_t state = 12345;
    auto next = [&] { return state = state * 6364136223846793005ull + 1442695040888963407ull, state >> 33; };
    const unsigned char interesting[] = {0x00, 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
                                         0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0x9F, 0xA0, 0x8F, 0x90};
    int agreed = 0, failed = 0;
    for (int trial = 0; trial < 3000; ++trial) {
        std::string s(next() % 24, '\0');
        for (auto& c : s) c = char(next() % 3 ? interesting[next() % sizeof interesting] : next() % 256);
        std::vector<char32_t> whole;
        std::string whole_error;
        try {
            whole = txl::utf8_decode(s);
        } catch (const txl::error& e) {
            whole_error = e.what();
        }
        txl::Utf8Stream d;
        std::vector<char32_t> got;
        std::string got_error;
        try {
            for (std::size_t i = 0; i < s.size();) {
                const std::size_t piece = std::min<std::size_t>(1 + next() % 4, s.size() - i);
                d.feed(s.data() + i, piece, [&](char32_t c) { got.push_back(c); });
                i += piece;
            }
            d.finish();
        } catch (const txl::error& e) {
            got_error = e.what();
        }
        CHECK(got_error == whole_error);
        if (whole_error.empty()) CHECK(got == whole);
        agreed += got_error == whole_error;
        failed += !whole_error.empty();
    }
    CHECK(agreed == 3000);
    CHECK(failed > 500);  // both kinds of input were tried
    CHECK(failed < 2900);
}
