#pragma once
/// @file data/word_tokenizer.hpp
/// # Words to ids, and bytes to ids: the paper's word- and byte-level vocabularies
///
/// **Words.** As the paper's data scripts prepare WikiText (kimiyoung/transformer-xl
/// `data_utils.py`): each line is split into tokens and ends with `<eos>`; the vocabulary is
/// the training text's tokens *sorted by frequency* (most frequent first, ties in order of first
/// appearance), so that adaptive-softmax cutoffs mean "the 20,000 most frequent words". Two
/// ways to split a line:
/// * `WordSplit::whitespace`: the text is already tokenised (WikiText, One Billion Word): the
///   tokens are what spaces separate, and the text's own `<unk>` is a word like any other;
/// * `WordSplit::words_and_punctuation`: plain text (Tiny Shakespeare): a word is a run of
///   letters and digits (any non-ASCII byte counts as a letter, so UTF-8 words stay whole)
///   with apostrophes *inside* it kept (`don't`, `o'er`); every other visible character is a
///   token of its own (`,` `.` `'` `:`); case is kept.
///
/// **Unknown words.** A token seen fewer than `min_count` times in training is `<unk>`, in
/// training and after; a validation token never seen in training is `<unk>` too. So `<unk>`
/// is trained on, and its probability stands for every rare word at once (the usual rule for
/// word-level perplexity). With `min_count = 1` and a text that has its own `<unk>` (WikiText),
/// nothing is replaced.
///
/// **Bytes.** `ByteTokenizer` is the paper's enwik8 vocabulary: the bytes that occur, most
/// frequent first (ties by byte value); any byte sequence, valid UTF-8 or not.

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "../core/errors.hpp"

namespace txl {

enum class WordSplit { whitespace, words_and_punctuation };

/// Words (byte strings without spaces) to ids and back.
class WordTokenizer {
public:
    static constexpr const char* eos = "<eos>";
    static constexpr const char* unk = "<unk>";

    /// The tokens of a text, line by line, each line ending with `<eos>` (a last line without a
    /// newline too). Carriage returns count as spaces.
    static std::vector<std::string> split(const std::string& text, WordSplit how) {
        std::vector<std::string> out;
        std::size_t start = 0;
        while (start < text.size()) {
            std::size_t end = text.find('\n', start);
            if (end == std::string::npos) end = text.size();
            split_line(text, start, end, how, out);
            out.emplace_back(eos);
            start = end + 1;
        }
        return out;
    }

    /// The vocabulary of `train`: tokens seen at least `min_count` times, most frequent first
    /// (ties: first seen first), and `<unk>` among them, counted as the tokens it replaces (the
    /// text's own `<unk>` included; always there, for the validation words training never saw).
    static WordTokenizer build(const std::vector<std::string>& train, std::size_t min_count = 1) {
        check<error>(min_count >= 1, "WordTokenizer: min_count must be >= 1");
        std::unordered_map<std::string, std::size_t> count, first;
        for (std::size_t i = 0; i < train.size(); ++i) {
            auto [it, fresh] = count.try_emplace(train[i], 0);
            ++it->second;
            if (fresh) first[train[i]] = i;
        }
        std::size_t unk_count = 0;
        std::vector<std::string> words;
        for (const auto& [w, c] : count) {
            if (w == unk) continue;
            if (c >= min_count)
                words.push_back(w);
            else
                unk_count += c;
        }
        if (auto it = count.find(unk); it != count.end()) unk_count += it->second;  // the text's own
        words.emplace_back(unk);
        count[unk] = unk_count;
        first.try_emplace(unk, train.size());  // never seen as such: after the words of its count
        std::sort(words.begin(), words.end(), [&](const std::string& a, const std::string& b) {
            return count[a] != count[b] ? count[a] > count[b] : first[a] < first[b];
        });
        return from_words(std::move(words));
    }

    /// From a saved list (id order); tokens must be distinct, non-empty and without spaces.
    static WordTokenizer from_words(std::vector<std::string> words) {
        WordTokenizer t;
        for (std::size_t i = 0; i < words.size(); ++i) {
            const auto& w = words[i];
            check<error>(!w.empty() && w.find_first_of(" \t\n\r") == std::string::npos, "vocabulary: word ", i,
                         " is empty or has white space");
            check<error>(t.ids_.emplace(w, std::int64_t(i)).second, "vocabulary: word '", w, "' appears twice");
        }
        t.words_ = std::move(words);
        auto u = t.ids_.find(unk);
        t.unk_id_ = u == t.ids_.end() ? -1 : u->second;
        return t;
    }

    std::size_t size() const { return words_.size(); }
    const std::vector<std::string>& words() const { return words_; }
    bool has_unk() const { return unk_id_ >= 0; }

    /// The id of a token: its own, else `<unk>`'s; a clear error if the vocabulary has no `<unk>`.
    std::int64_t id(const std::string& w) const {
        auto it = ids_.find(w);
        if (it != ids_.end()) return it->second;
        check(unk_id_ >= 0, "word '", w, "' is not in the vocabulary of ", size(), " words, which has no <unk>");
        return unk_id_;
    }
    std::vector<std::int64_t> encode(const std::vector<std::string>& tokens) const {
        std::vector<std::int64_t> ids(tokens.size());
        for (std::size_t i = 0; i < tokens.size(); ++i) ids[i] = id(tokens[i]);
        return ids;
    }
    /// The token of an id, as text to print: a word and a space, `<eos>` a new line.
    std::string decode(std::int64_t id) const {
        check(id >= 0 && std::size_t(id) < size(), "decode: id ", id, " outside [0, ", size(), ")");
        const std::string& w = words_[std::size_t(id)];
        return w == eos ? std::string("\n") : w + " ";
    }

    /// One token per line, in id order.
    void save(const std::string& path) const {
        std::ofstream out(path, std::ios::binary);
        check<error>(bool(out), path, ": cannot open the vocabulary for writing");
        for (const auto& w : words_) out << w << "\n";
        out.close();
        check<error>(bool(out), path, ": cannot write the vocabulary (disk full?)");
    }
    static WordTokenizer load(const std::string& path) {
        std::ifstream in(path, std::ios::binary);
        check<checkpoint_error>(bool(in), path, ": missing or unreadable vocabulary file");
        std::vector<std::string> words;
        for (std::string line; std::getline(in, line);) words.push_back(line);
        check<checkpoint_error>(!words.empty(), path, ": empty vocabulary");
        try {
            return from_words(std::move(words));
        } catch (const error& e) {
            throw checkpoint_error(path + ": " + e.what());
        }
    }

private:
    static bool space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
    static bool letter(char c) {
        const unsigned char u = static_cast<unsigned char>(c);
        return u >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }

    /// The tokens of `text[start, end)` appended to `out` (see the file comment).
    static void split_line(const std::string& text, std::size_t start, std::size_t end, WordSplit how,
                           std::vector<std::string>& out) {
        std::size_t i = start;
        while (i < end) {
            if (space(text[i])) {
                ++i;
                continue;
            }
            std::size_t j = i + 1;
            if (how == WordSplit::whitespace) {
                while (j < end && !space(text[j])) ++j;
            } else if (letter(text[i])) {
                // A run of letters; an apostrophe joins it only between two letters.
                while (j < end && (letter(text[j]) || (text[j] == '\'' && j + 1 < end && letter(text[j + 1])))) ++j;
            }
            out.emplace_back(text, i, j - i);
            i = j;
        }
    }

    std::vector<std::string> words_;
    std::unordered_map<std::string, std::int64_t> ids_;
    std::int64_t unk_id_ = -1;
};

/// Bytes to ids: the bytes that occur, most frequent first (ties by byte value).
class ByteTokenizer {
public:
    ByteTokenizer() = default;
    explicit ByteTokenizer(const std::string& text) {
        std::array<std::size_t, 256> count{};
        for (char c : text) ++count[static_cast<unsigned char>(c)];
        for (int b = 0; b < 256; ++b)
            if (count[b]) bytes_.push_back(std::uint8_t(b));
        std::stable_sort(bytes_.begin(), bytes_.end(),
                         [&](std::uint8_t a, std::uint8_t b) { return count[a] > count[b]; });
        index();
    }
    static ByteTokenizer from_bytes(std::vector<std::uint8_t> bytes) {
        ByteTokenizer t;
        t.bytes_ = std::move(bytes);
        t.index();
        return t;
    }

    std::size_t size() const { return bytes_.size(); }
    const std::vector<std::uint8_t>& bytes() const { return bytes_; }
    std::int64_t id(std::uint8_t b) const {
        check(id_[b] >= 0, "byte ", int(b), " is not in the vocabulary of ", size(), " bytes");
        return id_[b];
    }
    std::vector<std::int64_t> encode(const std::string& text) const {
        std::vector<std::int64_t> ids(text.size());
        for (std::size_t i = 0; i < text.size(); ++i) ids[i] = id(static_cast<unsigned char>(text[i]));
        return ids;
    }
    std::string decode(std::int64_t id) const {
        check(id >= 0 && std::size_t(id) < size(), "decode: id ", id, " outside [0, ", size(), ")");
        return std::string(1, char(bytes_[std::size_t(id)]));
    }

    /// One decimal byte value per line, in id order.
    void save(const std::string& path) const {
        std::ofstream out(path);
        check<error>(bool(out), path, ": cannot open the vocabulary for writing");
        for (auto b : bytes_) out << int(b) << "\n";
        out.close();
        check<error>(bool(out), path, ": cannot write the vocabulary (disk full?)");
    }
    static ByteTokenizer load(const std::string& path) {
        std::ifstream in(path);
        check<checkpoint_error>(bool(in), path, ": missing or unreadable vocabulary file");
        std::vector<std::uint8_t> bytes;
        for (std::string line; std::getline(in, line);) {
            check<checkpoint_error>(!line.empty() && line.size() <= 3 &&
                                        line.find_first_not_of("0123456789") == std::string::npos &&
                                        std::stoi(line) < 256,
                                    path, ": line ", bytes.size() + 1, " is not a byte value: '", line, "'");
            bytes.push_back(std::uint8_t(std::stoi(line)));
        }
        check<checkpoint_error>(!bytes.empty(), path, ": empty vocabulary");
        return from_bytes(std::move(bytes));
    }

private:
    void index() {
        id_.fill(-1);
        for (std::size_t i = 0; i < bytes_.size(); ++i) {
            check<error>(id_[bytes_[i]] < 0, "vocabulary: byte ", int(bytes_[i]), " appears twice");
            id_[bytes_[i]] = std::int64_t(i);
        }
    }
    std::vector<std::uint8_t> bytes_;
    std::array<std::int64_t, 256> id_{};
};

}  // namespace txl
