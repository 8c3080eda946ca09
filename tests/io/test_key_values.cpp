#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include <txl/io/key_values.hpp>

#include "../fixtures.hpp"

using namespace txl_test;

TEST_CASE("parse_whole: decimal digits in the range, nothing else") {
    unsigned long long x = 7;
    CHECK(txl::parse_whole("42", 0, 100, x));
    CHECK(x == 42);
    for (const char* bad : {"", "-5", "+5", "4 2", "42abc", "0x10", "101", "99999999999999999999999"}) {
        CAPTURE(bad);
        x = 7;
        CHECK_FALSE(txl::parse_whole(bad, 0, 100, x));
        CHECK(x == 7);  // unchanged
    }
    CHECK(txl::parse_whole("18446744073709551615", 0, ~0ull, x));
    CHECK(x == ~0ull);
}

TEST_CASE("parse_number: a finite number in the range, the whole string read") {
    double x = 7;
    CHECK(txl::parse_number("2.5e-4", 0, 1, x));
    CHECK(x == 2.5e-4);
    for (const char* bad : {"", "nan", "inf", "-inf", "1e400", "0.5x", "2", "-0.1", " 0.5"}) {
        CAPTURE(bad);
        x = 7;
        CHECK_FALSE(txl::parse_number(bad, 0, 1, x));
        CHECK(x == 7);
    }
}

TEST_CASE("KeyValues: values by key, checked; errors name the file, the key and the value") {
    TempDir dir;
    const std::string path = (dir.path / "config.txt").string();
    std::ofstream(path) << "seq_len 64\nschedule cosine\nlr 3e-3\nnote two words\nbad -1\nnovalue\n";
    const txl::KeyValues kv(path);
    CHECK(kv.whole("seq_len", 1, 4096) == 64);
    CHECK(kv.number("lr", 0, 1) == doctest::Approx(3e-3));
    CHECK(kv.text("schedule") == "cosine");
    CHECK(kv.text("note") == "two words");  // the rest of the line
    CHECK_FALSE(kv.has("novalue"));         // a line without a value is not a key
    CHECK(kv.text_or("dropatt", "-1") == "-1");
    CHECK_THROWS_WITH_AS(kv.text("size"), (path + ": no 'size'").c_str(), txl::checkpoint_error);
    CHECK_THROWS_WITH_AS(kv.whole("bad", 0, 10), (path + ": bad '-1', expected a whole number in [0, 10]").c_str(),
                         txl::checkpoint_error);
    CHECK_THROWS_WITH_AS(kv.whole("seq_len", 1, 8), (path + ": seq_len '64', expected a whole number in [1, 8]").c_str(),
                         txl::checkpoint_error);
    CHECK_THROWS_AS(txl::KeyValues((dir.path / "none.txt").string()), txl::checkpoint_error);
}
