#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <txl/data/char_tokenizer.hpp>
#include <txl/data/loader.hpp>
#include <txl/data/text_file.hpp>
#include <txl/data/token_ids.hpp>
#include <txl/data/utf8.hpp>

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
