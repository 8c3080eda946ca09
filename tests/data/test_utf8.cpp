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
