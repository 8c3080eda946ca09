#pragma once
// A text at the level of bytes, characters or words: found (a file, standard input or a pipe,
// Tiny Shakespeare by default, or one of the paper's corpora: corpora.hpp), read, tokenised with
// the vocabulary of its level (txl/data/word_tokenizer.hpp, txl/data/char_tokenizer.hpp) and split
// 90/10 into training and validation tokens (a named corpus: its own splits, with a test split).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <unistd.h>

#include <txl/txl.hpp>

#include "../common/spool.hpp"
#include "console.hpp"

namespace txl_cli {

namespace fs = std::filesystem;

enum class Level { bytes, chars, words };

inline Level parse_level(const std::string& s) {
    if (s == "bytes") return Level::bytes;
    if (s == "chars") return Level::chars;
    if (s == "words") return Level::words;
    throw txl::error("--tokens '" + s + "': expected bytes, chars or words");
}
inline const char* level_name(Level l) { return l == Level::bytes ? "bytes" : l == Level::chars ? "chars" : "words"; }

/// The bytes of `path`, or of standard input for `-` (read whole: the tokenisers take two passes).
inline std::string read_all(const std::string& path) {
    std::ostringstream s;
    if (path == "-") {
        s << std::cin.rdbuf();
        txl::check<txl::error>(!std::cin.bad(), "standard input cannot be read");
    } else {
        std::error_code ec;
        txl::check<txl::error>(fs::exists(path, ec), path, ": no such file");
        txl::check<txl::error>(!fs::is_directory(path, ec), path, ": is a directory, expected a text file");
        txl::check<txl::error>(fs::is_regular_file(path, ec) || fs::is_fifo(path, ec), path,
                               ": not a regular file or a pipe (a device?), expected a text file");
        std::ifstream in(path, std::ios::binary);
        txl::check<txl::error>(bool(in), path, ": cannot be opened");
        s << in.rdbuf();
        txl::check<txl::error>(!in.bad(), path, ": cannot be read");
    }
    txl::check<txl::error>(s.tellp() > 0, path == "-" ? std::string("standard input") : path, " is empty");
    return s.str();
}

/// One vocabulary of the three kinds, behind the few calls the program makes.
struct Vocabulary {
    Level level = Level::chars;
    txl::ByteTokenizer bytes;
    txl::CharTokenizer chars;
    txl::WordTokenizer words;

    std::size_t size() const {
        return level == Level::bytes ? bytes.size() : level == Level::chars ? chars.size() : words.size();
    }
    std::string decode(std::int64_t id) const {
        return level == Level::bytes ? bytes.decode(id) : level == Level::chars ? chars.decode(id) : words.decode(id);
    }
    /// The ids of a prompt (plain text; words split as the training text was).
    std::vector<std::int64_t> encode(const std::string& text) const {
        if (level == Level::bytes) return bytes.encode(text);
        if (level == Level::chars) return chars.encode(text);
        auto tokens = txl::WordTokenizer::split(text, txl::WordSplit::words_and_punctuation);
        if (!tokens.empty() && text.back() != '\n') tokens.pop_back();  // no <eos> after an unfinished line
        return words.encode(tokens);
    }
    /// The same tokens with the same ids (a resumed run's text against its checkpoint's).
    bool same_as(const Vocabulary& o) const {
        if (level != o.level || size() != o.size()) return false;
        for (std::size_t i = 0; i < size(); ++i)
            if (decode(std::int64_t(i)) != o.decode(std::int64_t(i))) return false;
        return true;
    }
    void save(const fs::path& path) const {
        if (level == Level::bytes) return bytes.save(path.string());
        if (level == Level::chars) return chars.save(path.string());
        words.save(path.string());
    }
    static Vocabulary load(const fs::path& path, Level level) {
        Vocabulary v;
        v.level = level;
        if (level == Level::bytes) v.bytes = txl::ByteTokenizer::load(path.string());
        if (level == Level::chars) v.chars = txl::CharTokenizer::load(path.string());
        if (level == Level::words) v.words = txl::WordTokenizer::load(path.string());
        return v;
    }
};

struct Corpus {
    Vocabulary vocab;
    txl::TokenIds train, valid, test;  ///< test: empty for a plain file (split 90/10)
    std::size_t bytes = 0, tokens = 0;
};

/// Encode `text` at `level` (bytes, characters) with `given`, else with a vocabulary built from
/// the whole text into `vocab`.
inline std::vector<std::int64_t> encode_whole(const std::string& text, Level level, Vocabulary& vocab,
                                              const Vocabulary* given) {
    if (given) vocab = *given;
    vocab.level = level;
    if (level == Level::bytes) {
        if (!given) vocab.bytes = txl::ByteTokenizer(text);
        return vocab.bytes.encode(text);
    }
    const auto cps = txl::utf8_decode(text);  // throws naming the first byte that is not UTF-8
    if (!given) vocab.chars = txl::CharTokenizer(cps);
    return vocab.chars.encode(cps);
}

/// Read a text of characters in chunks (`txl::read_text_file`: memory near one byte per
/// character), with a progress line for a large file, and split it 90/10. With `given`, encode
/// with its characters (one outside them is an error). A pipe or `-` (standard input) is read
/// from a temporary copy.
inline Corpus load_chars(const std::string& given_path, const Vocabulary* given) {
    const examples::Spooled spooled(given_path);  // a pipe or standard input: a temporary copy
    const std::string& path = spooled.path();
    txl::ReadTextOptions o;
    if (given) o.vocabulary = &given->chars;
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (!ec && size >= (std::uintmax_t(32) << 20)) o.progress = ProgressLine("reading " + path, double(size));
    txl::TextFile file;
    try {
        file = txl::read_text_file(path, o);
    } catch (const txl::shape_error& e) {  // a character outside the checkpoint's vocabulary
        throw txl::error(std::string(e.what()) + " (the checkpoint was trained on another text)");
    }
    Corpus c;
    c.vocab.level = Level::chars;
    c.vocab.chars = file.tokenizer;
    c.bytes = ec ? 0 : std::size_t(size);
    c.tokens = file.ids.size();
    std::tie(c.train, c.valid) = txl::split_train_valid(file.ids);
    return c;
}

/// Read and tokenise `path` at `level`, split 90/10 by tokens; words below `min_count` in
/// training are `<unk>`. With `given` (a trained model's), encode with it instead.
inline Corpus load_corpus(const std::string& path, Level level, std::size_t min_count,
                          const Vocabulary* given = nullptr) {
    if (level == Level::chars) return load_chars(path, given);
    const std::string text = read_all(path);
    Corpus c;
    c.vocab.level = level;
    c.bytes = text.size();
    std::vector<std::int64_t> ids;
    if (level != Level::words) {
        ids = encode_whole(text, level, c.vocab, given);
    } else {
        // The split is over tokens, so the vocabulary is the first 90%'s (validation words it never saw: <unk>).
        const auto tokens = txl::WordTokenizer::split(text, txl::WordSplit::words_and_punctuation);
        const std::size_t n_train = std::size_t(double(tokens.size()) * 0.9);
        c.vocab.words =
            given ? given->words
                  : txl::WordTokenizer::build({tokens.begin(), tokens.begin() + std::ptrdiff_t(n_train)}, min_count);
        ids = c.vocab.words.encode(tokens);
    }
    c.tokens = ids.size();
    txl::TokenIds all(ids);
    std::tie(c.train, c.valid) = txl::split_train_valid(all);
    return c;
}

}  // namespace txl_cli
