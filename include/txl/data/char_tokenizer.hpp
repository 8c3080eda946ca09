#pragma once
/// @file data/char_tokenizer.hpp
/// # Characters to ids: the vocabulary of a text
///
/// The vocabulary is the *sorted* set of the code points of the whole text (labml's
/// `TextFileDataset`), so the same text always gives the same ids, and id $i$ is the $i$-th
/// smallest character. A character outside the vocabulary is an error naming it.

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <set>
#include <string>
#include <vector>

#include "../core/errors.hpp"
#include "utf8.hpp"

namespace txl {

/// Characters (Unicode code points) to ids and back.
class CharTokenizer {
public:
    CharTokenizer() = default;
    /// The sorted set of the text's code points.
    explicit CharTokenizer(const std::vector<char32_t>& text) {
        std::set<char32_t> s(text.begin(), text.end());
        chars_.assign(s.begin(), s.end());
    }
    static CharTokenizer from_chars(std::vector<char32_t> chars) {
        CharTokenizer t;
        check<error>(
            std::is_sorted(chars.begin(), chars.end()) && std::adjacent_find(chars.begin(), chars.end()) == chars.end(),
            "vocabulary: code points must be sorted and distinct");
        t.chars_ = std::move(chars);
        return t;
    }

    std::size_t size() const { return chars_.size(); }
    const std::vector<char32_t>& chars() const { return chars_; }

    /// Id of a code point; throws naming the character if it is not in the vocabulary.
    std::int64_t id(char32_t c) const {
        auto it = std::lower_bound(chars_.begin(), chars_.end(), c);
        if (it == chars_.end() || *it != c) {
            std::ostringstream m;
            m << "character '" << utf8_encode(c) << "' (U+" << std::hex << std::uppercase << std::uint32_t(c)
              << ") is not in the vocabulary of " << std::dec << size() << " characters";
            throw shape_error(m.str());
        }
        return std::int64_t(it - chars_.begin());
    }
    std::vector<std::int64_t> encode(const std::vector<char32_t>& text) const {
        std::vector<std::int64_t> ids(text.size());
        for (std::size_t i = 0; i < text.size(); ++i) ids[i] = id(text[i]);
        return ids;
    }
    std::vector<std::int64_t> encode(const std::string& utf8) const { return encode(utf8_decode(utf8)); }
    std::string decode(std::int64_t id) const {
        check(id >= 0 && std::size_t(id) < size(), "decode: id ", id, " outside [0, ", size(), ")");
        return utf8_encode(chars_[std::size_t(id)]);
    }

    /// Saved as one decimal code point per line (newline and space survive any editor).
    void save(const std::string& path) const {
        std::ofstream out(path);
        check<error>(bool(out), path, ": cannot open the vocabulary for writing");
        for (char32_t c : chars_) out << std::uint32_t(c) << "\n";
        out.close();  // the flush happens here: a full disk shows up now, not before
        check<error>(bool(out), path, ": cannot write the vocabulary (disk full?)");
    }
    static CharTokenizer load(const std::string& path) {
        std::ifstream in(path);
        check<checkpoint_error>(bool(in), path, ": missing or unreadable vocabulary file");
        std::vector<char32_t> chars;
        std::string line;
        while (std::getline(in, line)) {
            check<checkpoint_error>(
                !line.empty() && line.find_first_not_of("0123456789") == std::string::npos && line.size() < 8, path,
                ": line ", chars.size() + 1, " is not a code point: '", line, "'");
            const char32_t cp = char32_t(std::stoul(line));
            check<checkpoint_error>(is_unicode_scalar(cp), path, ": line ", chars.size() + 1, ": ", line,
                                    " is not a Unicode character (beyond U+10FFFF or a surrogate)");
            chars.push_back(cp);
        }
        check<checkpoint_error>(!chars.empty(), path, ": empty vocabulary");
        try {
            return from_chars(std::move(chars));
        } catch (const error& e) {
            throw checkpoint_error(path + ": " + e.what());
        }
    }

private:
    std::vector<char32_t> chars_;
};

}  // namespace txl
