#pragma once
/// @file data/data.hpp
/// # Character-level text data
///
/// * `utf8_decode` / `utf8_encode` / `Utf8Stream`: text as Unicode code points (invalid UTF-8
///   is an error); `Utf8Stream` decodes a text that arrives in pieces.
/// * `CharTokenizer`: the vocabulary is the *sorted* set of code points of the whole text
///   (labml's `TextFileDataset`), so the same text always gives the same ids.
/// * `TokenIds`: the ids of a text, stored in 1, 2 or 4 bytes each (the fewest that hold the
///   vocabulary: one byte for Tiny Shakespeare's 65 characters), shared by its slices.
/// * `read_text_file`: a text file read and tokenised in chunks, two passes (the vocabulary,
///   then the ids), so memory stays near one byte per character however large the file; it can
///   be stopped between chunks and reports its progress.
/// * `split_train_valid`: labml's split, the first $\lfloor 0.9\, n \rfloor$ characters train,
///   the rest validate.
/// * `SequentialLoader`: the ids are cut into $B$ contiguous streams
///   (`ids[:n*B].view(B, n).t()`), and each batch is the next $T$ rows of all streams with
///   targets one row ahead. Stream $b$ continues in the same column from batch to batch, which is
///   what lets the memory of one segment be the true past of the next. The last batch of an
///   epoch may be shorter; an epoch ends when fewer than two rows remain.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../core/errors.hpp"
#include "../core/tensor.hpp"

namespace txl {

/// Whether `cp` is a Unicode scalar value: at most U+10FFFF and not a surrogate (U+D800-DFFF).
inline bool is_unicode_scalar(char32_t cp) { return cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF); }

namespace detail {
/// The UTF-8 sequence at `p` (`avail` bytes readable there; `at` is its offset in the whole text,
/// for messages): its length, with the code point in `cp`, or 0 when `avail` ends inside it
/// (the rest may come with the next piece). Throws `txl::error` at a byte that cannot be UTF-8,
/// an overlong encoding (a code point written with more bytes than it needs), a surrogate, or a
/// value beyond U+10FFFF: none of them is valid UTF-8.
inline std::size_t utf8_sequence(const unsigned char* p, std::size_t avail, std::uint64_t at, char32_t& cp) {
    const unsigned char c = p[0];
    const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    check<error>(len != 0, "invalid UTF-8 at byte ", at);
    cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (std::size_t k = 1; k < len; ++k) {
        if (k >= avail) return 0;
        const unsigned char cc = p[k];
        check<error>((cc & 0xC0) == 0x80, "invalid UTF-8 at byte ", at + k);
        cp = (cp << 6) | (cc & 0x3F);
    }
    constexpr char32_t smallest[5] = {0, 0, 0x80, 0x800, 0x10000};  // by length
    check<error>(cp >= smallest[len], "invalid UTF-8 at byte ", at, " (an overlong encoding)");
    check<error>(is_unicode_scalar(cp), "invalid UTF-8 at byte ", at,
                 cp > 0x10FFFF ? " (beyond U+10FFFF)" : " (a UTF-16 surrogate)");
    return len;
}
}  // namespace detail

/// Decodes UTF-8 that arrives in pieces: `feed` passes every complete character to `emit` and
/// keeps a character cut by the end of the piece for the next one; `finish` says whether the
/// text ended inside a character. Byte offsets in messages count from the first byte fed.
class Utf8Stream {
public:
    template <class Emit>
    void feed(const char* data, std::size_t n, Emit&& emit) {
        const auto* p = reinterpret_cast<const unsigned char*>(data);
        std::size_t i = 0;
        char32_t cp = 0;
        while (pending_ > 0 && i < n) {  // first complete the character the last piece cut
            cut_[pending_++] = p[i++];
            if (const std::size_t len = detail::utf8_sequence(cut_, pending_, offset_, cp)) {
                emit(cp);
                offset_ += len;
                pending_ = 0;
            }
        }
        while (i < n) {
            if (p[i] < 0x80) {  // ASCII, most of most texts
                emit(char32_t(p[i]));
                ++i, ++offset_;
                continue;
            }
            const std::size_t len = detail::utf8_sequence(p + i, n - i, offset_, cp);
            if (len == 0) {  // cut by the end of this piece: at most 3 bytes wait for the next
                pending_ = n - i;
                std::memcpy(cut_, p + i, pending_);
                return;
            }
            emit(cp);
            i += len, offset_ += len;
        }
    }
    /// Throws if the text ended inside a character.
    void finish() const {
        check<error>(pending_ == 0, "invalid UTF-8 at byte ", offset_, " (the text ends inside a character)");
    }

private:
    std::uint64_t offset_ = 0;  ///< offset of the next character's first byte
    unsigned char cut_[4] = {};
    std::size_t pending_ = 0;
};

/// Decode UTF-8 into code points; throws `txl::error` at the first malformed byte (see
/// `detail::utf8_sequence`).
inline std::vector<char32_t> utf8_decode(const std::string& s) {
    std::vector<char32_t> out;
    out.reserve(s.size());
    Utf8Stream d;
    d.feed(s.data(), s.size(), [&](char32_t cp) { out.push_back(cp); });
    d.finish();
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

/// The token ids of a text, `width()` bytes each: 1 for a vocabulary of at most 256
/// characters, 2 up to 65,536, else 4. Copies and slices share one buffer (a split and the
/// loaders reading it copy nothing), so fill the ids with `set` before handing them out.
class TokenIds {
public:
    TokenIds() = default;
    /// `n` ids, all 0, for a vocabulary of `vocab` ids.
    TokenIds(std::size_t n, std::size_t vocab)
        : width_(vocab <= 256     ? 1
                 : vocab <= 65536 ? 2
                                  : 4),
          size_(n),
          bytes_(std::make_shared<std::vector<std::uint8_t>>(n * width_)) {}
    /// From plain ids (small texts, tests), in the fewest bytes that hold the largest.
    TokenIds(const std::vector<std::int64_t>& ids)  // NOLINT: implicit, so APIs taking TokenIds take a vector too
    {
        std::int64_t most = 0;
        for (std::int64_t v : ids) {
            check(v >= 0, "token ids: ", v, " is negative");
            most = std::max(most, v);
        }
        check(most < (std::int64_t(1) << 32), "token ids: ", most, " does not fit 32 bits");
        *this = TokenIds(ids.size(), std::size_t(most) + 1);
        for (std::size_t i = 0; i < ids.size(); ++i) set(i, ids[i]);
    }

    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    std::size_t width() const { return width_; }
    /// Bytes of the buffer this view shares (its slices share it too).
    std::size_t storage_bytes() const { return bytes_ ? bytes_->size() : 0; }

    std::int64_t operator[](std::size_t i) const {
        const std::uint8_t* p = bytes_->data() + (begin_ + i) * width_;
        if (width_ == 1) return *p;
        if (width_ == 2) {
            std::uint16_t v;
            std::memcpy(&v, p, 2);
            return v;
        }
        std::uint32_t v;
        std::memcpy(&v, p, 4);
        return v;
    }
    void set(std::size_t i, std::int64_t id) {
        std::uint8_t* p = bytes_->data() + (begin_ + i) * width_;
        if (width_ == 1) {
            *p = std::uint8_t(id);
        } else if (width_ == 2) {
            const auto v = std::uint16_t(id);
            std::memcpy(p, &v, 2);
        } else {
            const auto v = std::uint32_t(id);
            std::memcpy(p, &v, 4);
        }
    }
    /// Ids `[begin, end)`, sharing this buffer.
    TokenIds slice(std::size_t begin, std::size_t end) const {
        check(begin <= end && end <= size_, "token ids: slice [", begin, ", ", end, ") of ", size_, " ids");
        TokenIds t = *this;
        t.begin_ += begin;
        t.size_ = end - begin;
        return t;
    }
    std::vector<std::int64_t> to_vector() const {
        std::vector<std::int64_t> v(size_);
        for (std::size_t i = 0; i < size_; ++i) v[i] = (*this)[i];
        return v;
    }

private:
    std::size_t width_ = 1, begin_ = 0, size_ = 0;
    std::shared_ptr<std::vector<std::uint8_t>> bytes_;
};

/// A text file as `read_text_file` returns it.
struct TextFile {
    CharTokenizer tokenizer;  ///< the text's own vocabulary, or the one it was read with
    TokenIds ids;
    std::uint64_t bytes = 0;  ///< the file's size
};

struct ReadTextOptions {
    /// Encode with this vocabulary (a character outside it is a `shape_error` naming it)
    /// instead of the text's own.
    const CharTokenizer* vocabulary = nullptr;
    /// Asked between chunks; `true` ends the read with `txl::interrupted`.
    std::function<bool()> stop;
    /// Told `(bytes done, bytes in all)` after every chunk; both passes count, so the total is
    /// twice the file's size.
    std::function<void(std::uint64_t, std::uint64_t)> progress;
    std::size_t chunk_bytes = std::size_t(1) << 20;
};

/// Read, check and tokenise a UTF-8 text file in chunks (see the file comment). The first
/// pass validates the UTF-8, counts the characters and collects the vocabulary (or checks
/// every character is in `o.vocabulary`); the second fills `TokenIds` of exactly that size.
/// Peak memory: the ids (1-4 bytes per character) plus one chunk. Throws `txl::error` with the
/// path for a missing, empty, unreadable or non-regular file (a device or a pipe would never
/// end), invalid UTF-8 (with its byte offset), or a file that changes while it is read.
inline TextFile read_text_file(const std::string& path, const ReadTextOptions& o = {}) {
    namespace fs = std::filesystem;
    std::error_code ec;
    check<error>(fs::exists(path, ec), path, ": no such file");
    check<error>(!fs::is_directory(path, ec), path, ": is a directory, expected a text file");
    check<error>(fs::is_regular_file(path, ec), path,
                 ": not a regular file (a device or a pipe?), expected a text file");
    TextFile out;
    out.bytes = fs::file_size(path, ec);
    check<error>(!ec, path, ": cannot be read (", ec.message(), ")");
    check<error>(out.bytes > 0, path, ": the file is empty");
    check<error>(o.chunk_bytes > 0, "read_text_file: chunk_bytes must be > 0");

    std::vector<char> chunk(o.chunk_bytes);
    std::uint64_t done = 0;
    // One pass over the file: `each(code point)` for every character, a chunk at a time.
    auto pass = [&](auto&& each) {
        std::ifstream in(path, std::ios::binary);
        check<error>(bool(in), path, ": cannot be read");
        Utf8Stream utf8;
        std::uint64_t got_all = 0;
        while (true) {
            if (o.stop && o.stop()) throw interrupted(path + ": reading stopped before the end");
            in.read(chunk.data(), std::streamsize(chunk.size()));
            check<error>(!in.bad(), path, ": read error");
            const auto got = std::size_t(in.gcount());
            if (got == 0) break;
            try {
                utf8.feed(chunk.data(), got, each);
            } catch (const shape_error& e) {  // a character outside the given vocabulary
                throw shape_error(path + ": " + e.what());
            } catch (const interrupted&) {
                throw;
            } catch (const error& e) {
                throw error(path + ": " + e.what());
            }
            got_all += got, done += got;
            if (o.progress) o.progress(done, 2 * out.bytes);
        }
        try {
            utf8.finish();
        } catch (const error& e) {
            throw error(path + ": " + e.what());
        }
        check<error>(got_all == out.bytes, path, ": changed while being read (", out.bytes, " bytes, then ", got_all,
                     ")");
    };

    // Pass 1: count the characters and collect the vocabulary, a bit per possible code point.
    std::vector<std::uint64_t> seen((0x110000 + 63) / 64, 0);
    std::size_t n = 0;
    pass([&](char32_t c) {
        seen[c >> 6] |= std::uint64_t(1) << (c & 63);
        ++n;
    });
    auto for_each_seen = [&](auto&& f) {  // in increasing order
        for (std::size_t w = 0; w < seen.size(); ++w)
            if (seen[w])
                for (std::size_t k = 0; k < 64; ++k)
                    if ((seen[w] >> k) & 1) f(char32_t(w * 64 + k));
    };
    if (o.vocabulary) {
        out.tokenizer = *o.vocabulary;
        for_each_seen([&](char32_t c) {  // every character of the text must have an id
            try {
                out.tokenizer.id(c);
            } catch (const shape_error& e) {
                throw shape_error(path + ": " + e.what());
            }
        });
    } else {
        std::vector<char32_t> chars;
        for_each_seen([&](char32_t c) { chars.push_back(c); });
        out.tokenizer = CharTokenizer::from_chars(std::move(chars));  // in order, so sorted
    }

    // Pass 2: the ids, ASCII through a table, the rest by binary search in the vocabulary.
    out.ids = TokenIds(n, out.tokenizer.size());
    std::array<std::int64_t, 128> ascii;
    ascii.fill(-1);
    for (std::size_t k = 0; k < out.tokenizer.size() && out.tokenizer.chars()[k] < 128; ++k)
        ascii[out.tokenizer.chars()[k]] = std::int64_t(k);
    std::size_t i = 0;
    pass([&](char32_t c) {
        check<error>(i < n, path, ": changed while being read (more characters than a moment ago)");
        const std::int64_t id = c < 128 ? ascii[c] : -1;
        out.ids.set(i++, id >= 0 ? id : out.tokenizer.id(c));  // id() throws for a character added since
    });
    check<error>(i == n, path, ": changed while being read (fewer characters than a moment ago)");
    return out;
}

/// labml's split: the first floor(0.9 n) ids train, the rest validate.
inline std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> split_train_valid(
    const std::vector<std::int64_t>& ids, double train_fraction = 0.9) {
    const std::size_t n = std::size_t(double(ids.size()) * train_fraction);
    return {std::vector<std::int64_t>(ids.begin(), ids.begin() + std::ptrdiff_t(n)),
            std::vector<std::int64_t>(ids.begin() + std::ptrdiff_t(n), ids.end())};
}
/// The same split as two slices of `ids` (no copy).
inline std::pair<TokenIds, TokenIds> split_train_valid(const TokenIds& ids, double train_fraction = 0.9) {
    const std::size_t n = std::size_t(double(ids.size()) * train_fraction);
    return {ids.slice(0, n), ids.slice(n, ids.size())};
}

/// B contiguous streams stepped through T rows at a time (see the file comment).
class SequentialLoader {
public:
    SequentialLoader() = default;
    /// Reads `ids` in place (they are shared, not copied).
    SequentialLoader(const TokenIds& ids, std::size_t batch, std::size_t seq_len, const std::string& what = "text")
        : ids_(ids), B_(batch), T_(seq_len) {
        check(batch >= 1 && seq_len >= 1, what, ": batch and seq_len must be >= 1");
        n_ = ids.size() / batch;
        check(n_ >= 2, what, " has ", ids.size(), " characters: too short for one batch of ", batch,
              " streams (needs at least ", 2 * batch, ")");
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
        // Stream $b$ is the $b$-th run of $n$ consecutive ids, row $t$ of it is `ids[b n + t]`
        // (labml's `ids[:n*B].view(B, n).t()`). $x$ = rows $[p, p + T')$, $y$ = rows
        // $[p + 1, p + 1 + T')$: each target is the next character of the same stream.
        const std::size_t t = std::min(T_, n_ - 1 - position);
        ensure_shape(x, {t, B_});
        ensure_shape(y, {t, B_});
        for (std::size_t b = 0; b < B_; ++b) {
            const std::size_t first = b * n_ + position;
            for (std::size_t i = 0; i < t; ++i) {
                x(i, b) = ids_[first + i];
                y(i, b) = ids_[first + i + 1];
            }
        }
        position += t;
        if (position >= n_ - 1) {
            position = 0;
            ++epoch;
        }
    }

private:
    TokenIds ids_;
    std::size_t B_ = 0, T_ = 0, n_ = 0;
};

}  // namespace txl
