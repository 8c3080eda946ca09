#pragma once
/// @file data.hpp
/// # Character-level text data
///
/// * `utf8_decode` / `utf8_encode`: text as Unicode code points (invalid UTF-8 is an error).
/// * `CharTokenizer`: the vocabulary is the *sorted* set of code points of the whole text
///   (labml's `TextFileDataset`), so the same text always gives the same ids.
/// * `split_train_valid`: labml's split, the first $\lfloor 0.9\, n \rfloor$ characters train,
///   the rest validate.
/// * `SequentialLoader`: the ids are cut into $B$ contiguous streams
///   (`ids[:n*B].view(B, n).t()`), and each batch is the next $T$ rows of all streams with
///   targets one row ahead. Stream $b$ continues in the same column from batch to batch, which is
///   what lets the memory of one segment be the true past of the next. The last batch of an
///   epoch may be shorter; an epoch ends when fewer than two rows remain.

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "errors.hpp"
#include "tensor.hpp"

namespace txl {

/// Whether `cp` is a Unicode scalar value: at most U+10FFFF and not a surrogate (U+D800-DFFF).
inline bool is_unicode_scalar(char32_t cp) { return cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF); }

/// Decode UTF-8 into code points; throws `txl::error` at the first malformed byte, at an
/// overlong encoding (a code point written with more bytes than it needs), a surrogate, or a
/// value beyond U+10FFFF: none of them is valid UTF-8.
inline std::vector<char32_t> utf8_decode(const std::string& s) {
    std::vector<char32_t> out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        check<error>(len != 0 && i + len <= s.size(), "invalid UTF-8 at byte ", i);
        char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
        for (std::size_t k = 1; k < len; ++k) {
            const unsigned char cc = static_cast<unsigned char>(s[i + k]);
            check<error>((cc & 0xC0) == 0x80, "invalid UTF-8 at byte ", i + k);
            cp = (cp << 6) | (cc & 0x3F);
        }
        constexpr char32_t smallest[5] = {0, 0, 0x80, 0x800, 0x10000};  // by length
        check<error>(cp >= smallest[len], "invalid UTF-8 at byte ", i, " (an overlong encoding)");
        check<error>(is_unicode_scalar(cp), "invalid UTF-8 at byte ", i,
                     cp > 0x10FFFF ? " (beyond U+10FFFF)" : " (a UTF-16 surrogate)");
        out.push_back(cp);
        i += len;
    }
    return out;
}

inline std::string utf8_encode(char32_t cp) {
    std::string s;
    if (cp < 0x80) {
        s += char(cp);
    } else if (cp < 0x800) {
        s += char(0xC0 | (cp >> 6));
        s += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        s += char(0xE0 | (cp >> 12));
        s += char(0x80 | ((cp >> 6) & 0x3F));
        s += char(0x80 | (cp & 0x3F));
    } else {
        s += char(0xF0 | (cp >> 18));
        s += char(0x80 | ((cp >> 12) & 0x3F));
        s += char(0x80 | ((cp >> 6) & 0x3F));
        s += char(0x80 | (cp & 0x3F));
    }
    return s;
}

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
        check<error>(std::is_sorted(chars.begin(), chars.end()) &&
                         std::adjacent_find(chars.begin(), chars.end()) == chars.end(),
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
            m << "character '" << utf8_encode(c) << "' (U+" << std::hex << std::uppercase
              << std::uint32_t(c) << ") is not in the vocabulary of " << std::dec << size()
              << " characters";
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
            check<checkpoint_error>(!line.empty() && line.find_first_not_of("0123456789") == std::string::npos &&
                                        line.size() < 8,
                                    path, ": line ", chars.size() + 1, " is not a code point: '", line, "'");
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

/// labml's split: the first floor(0.9 n) ids train, the rest validate.
inline std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> split_train_valid(
    const std::vector<std::int64_t>& ids, double train_fraction = 0.9) {
    const std::size_t n = std::size_t(double(ids.size()) * train_fraction);
    return {std::vector<std::int64_t>(ids.begin(), ids.begin() + std::ptrdiff_t(n)),
            std::vector<std::int64_t>(ids.begin() + std::ptrdiff_t(n), ids.end())};
}

/// B contiguous streams stepped through T rows at a time (see the file comment).
class SequentialLoader {
public:
    SequentialLoader() = default;
    SequentialLoader(const std::vector<std::int64_t>& ids, std::size_t batch, std::size_t seq_len,
                     const std::string& what = "text")
        : B_(batch), T_(seq_len) {
        check(batch >= 1 && seq_len >= 1, what, ": batch and seq_len must be >= 1");
        n_ = ids.size() / batch;
        check(n_ >= 2, what, " has ", ids.size(), " characters: too short for one batch of ", batch,
              " streams (needs at least ", 2 * batch, ")");
        // Stream $b$ is the $b$-th run of $n$ consecutive ids: `data[t, b] = ids[b n + t]`
        // (labml's `ids[:n*B].view(B, n).t()`), `[n, B]`.
        data_ = tensor<std::int64_t, 2>::from_shape({n_, B_});
        for (std::size_t b = 0; b < B_; ++b)
            for (std::size_t t = 0; t < n_; ++t) data_(t, b) = ids[b * n_ + t];
    }

    std::size_t rows() const { return n_; }
    std::size_t batch() const { return B_; }
    std::size_t seq_len() const { return T_; }
    /// Batches in one epoch.
    std::size_t batches_per_epoch() const { return (n_ - 1 + T_ - 1) / T_; }

    /// Position: the row where the next batch starts, and the epoch.
    std::size_t position = 0;
    std::size_t epoch = 0;

    /// True when the next call to `next` starts a new epoch (the caller then clears memory).
    bool at_epoch_start() const { return position == 0; }

    /// Fill `x`, `y` (`[T', B]`, T' = min(T, rows left)) with the next batch and advance.
    void next(tensor<std::int64_t, 2>& x, tensor<std::int64_t, 2>& y) {
        // $x$ = rows $[p, p + T')$, $y$ = rows $[p + 1, p + 1 + T')$: each target is the next
        // character of the same stream.
        const std::size_t t = std::min(T_, n_ - 1 - position);
        ensure_shape(x, {t, B_});
        ensure_shape(y, {t, B_});
        std::copy(data_.data() + position * B_, data_.data() + (position + t) * B_, x.data());
        std::copy(data_.data() + (position + 1) * B_, data_.data() + (position + 1 + t) * B_, y.data());
        position += t;
        if (position >= n_ - 1) {
            position = 0;
            ++epoch;
        }
    }

private:
    std::size_t B_ = 0, T_ = 0, n_ = 0;
    tensor<std::int64_t, 2> data_;
};

}  // namespace txl
