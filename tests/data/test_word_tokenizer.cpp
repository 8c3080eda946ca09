// Word and byte vocabularies: the two ways to split a line, frequency order, <unk>, bytes that
// are not UTF-8, saving and loading.
#include <doctest/doctest.h>

#include <filesystem>

#include <txl/txl.hpp>

using txl::WordSplit;
using txl::WordTokenizer;
using Tokens = std::vector<std::string>;

TEST_CASE("WordTokenizer::split: plain text into words and punctuation, <eos> at each line's end") {
    const Tokens got =
        WordTokenizer::split("Don't stop, o'er 'tis--\r\n\nCafé  42x\tend.", WordSplit::words_and_punctuation);
    const Tokens want{"Don't", "stop",  ",",    "o'er", "'",   "tis", "-",    "-",
                      "<eos>", "<eos>", "Café", "42x",  "end", ".",   "<eos>"};
    CHECK(got == want);
}

TEST_CASE("WordTokenizer::split: WikiText's tokenised lines by spaces, empty lines as <eos>") {
    const std::string wiki = " = Valkyria Chronicles III = \n \n Senjō no Valkyria 3 : <unk> Chronicles @-@ 1 \n";
    const Tokens got = WordTokenizer::split(wiki, WordSplit::whitespace);
    const Tokens want{"=",        "Valkyria", "Chronicles", "III",   "=",          "<eos>", "<eos>", "Senjō", "no",
                      "Valkyria", "3",        ":",          "<unk>", "Chronicles", "@-@",   "1",     "<eos>"};
    CHECK(got == want);
}

TEST_CASE("WordTokenizer::build: most frequent first, ties by first appearance, rare words and unseen ones as <unk>") {
    const Tokens train{"b", "a", "c", "a", "b", "d", "a", "<eos>", "e"};
    const auto v = WordTokenizer::build(train, 2);
    // <unk> stands for c, d, <eos> and e (4), then a (3), b (2).
    CHECK(v.words() == Tokens{"<unk>", "a", "b"});
    CHECK(v.id("c") == 0);
    CHECK(v.id("never seen") == 0);
    CHECK(v.encode({"b", "a", "zzz"}) == std::vector<std::int64_t>{2, 1, 0});
    CHECK(v.decode(1) == "a ");
    const auto all = WordTokenizer::build(train, 1);
    CHECK(all.words() == Tokens{"a", "b", "c", "d", "<eos>", "e", "<unk>"});
    CHECK(all.decode(4) == "\n");
    // A text with its own <unk> (WikiText): counted as a word, the replaced ones added to it.
    const auto wiki = WordTokenizer::build({"<unk>", "x", "<unk>", "y", "y", "z"}, 2);
    CHECK(wiki.words() == Tokens{"<unk>", "y"});  // <unk>: 2 of its own + x and z; y: 2
}

TEST_CASE("WordTokenizer: save and load give the same ids; a bad file is a checkpoint error") {
    const auto dir = std::filesystem::temp_directory_path() / "txl_word_vocab";
    std::filesystem::create_directories(dir);
    const auto v =
        WordTokenizer::build(WordTokenizer::split("to be or not to be\n", WordSplit::words_and_punctuation), 1);
    v.save((dir / "vocab.txt").string());
    CHECK(WordTokenizer::load((dir / "vocab.txt").string()).words() == v.words());
    std::ofstream((dir / "bad.txt").string()) << "a\nb c\n";
    CHECK_THROWS_AS(WordTokenizer::load((dir / "bad.txt").string()), txl::checkpoint_error);
    std::ofstream((dir / "twice.txt").string()) << "a\na\n";
    CHECK_THROWS_WITH_AS(WordTokenizer::load((dir / "twice.txt").string()), doctest::Contains("appears twice"),
                         txl::checkpoint_error);
    std::filesystem::remove_all(dir);
}

TEST_CASE("ByteTokenizer: the bytes that occur, most frequent first, any bytes at all") {
    const std::string text{'\xff', 'a', '\x80', 'a', '\0', '\xff', 'a'};  // not UTF-8, a NUL inside
    const txl::ByteTokenizer t(text);
    CHECK(t.bytes() == std::vector<std::uint8_t>{'a', 0xff, 0x00, 0x80});
    CHECK(t.encode(text) == std::vector<std::int64_t>{1, 0, 3, 0, 2, 1, 0});
    CHECK(t.decode(3) == std::string(1, '\x80'));
    CHECK_THROWS_WITH_AS(t.id('b'), "byte 98 is not in the vocabulary of 4 bytes", txl::shape_error);
    const auto path = std::filesystem::temp_directory_path() / "txl_byte_vocab.txt";
    t.save(path.string());
    CHECK(txl::ByteTokenizer::load(path.string()).bytes() == t.bytes());
    std::ofstream(path.string()) << "97\n256\n";
    CHECK_THROWS_AS(txl::ByteTokenizer::load(path.string()), txl::checkpoint_error);
    std::filesystem::remove(path);
}
