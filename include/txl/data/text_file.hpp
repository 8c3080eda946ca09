#pragma once
/// @file data/text_file.hpp
/// # Reading a text file: checked, tokenised in chunks, split
///
/// `read_text_file` reads and tokenises a text file in chunks, in two passes (the vocabulary,
/// then the ids), so memory stays near one byte per character however large the file; it can be
/// stopped between chunks and reports its progress. `split_train_valid` is labml's split: the
/// first $\lfloor 0.9\, n \rfloor$ characters train, the rest validate.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "../core/errors.hpp"
#include "char_tokenizer.hpp"
#include "token_ids.hpp"
#include "utf8.hpp"

namespace txl {

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

namespace detail {

/// The size of the text file at `path`, after checking it is one (not missing, a directory, a
/// device or a pipe, nor empty).
inline std::uint64_t text_file_size(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    check<error>(fs::exists(path, ec), path, ": no such file");
    check<error>(!fs::is_directory(path, ec), path, ": is a directory, expected a text file");
    check<error>(fs::is_regular_file(path, ec), path,
                 ": not a regular file (a device or a pipe?), expected a text file");
    const std::uint64_t bytes = fs::file_size(path, ec);
    check<error>(!ec, path, ": cannot be read (", ec.message(), ")");
    check<error>(bytes > 0, path, ": the file is empty");
    return bytes;
}

/// One pass over the file of `bytes` bytes: `each(code point)` for every character, a chunk at
/// a time. `done` counts the bytes read over both passes, for `o.progress`. Errors name the path.
template <class Each>
void text_pass(const std::string& path, const ReadTextOptions& o, std::uint64_t bytes, std::vector<char>& chunk,
               std::uint64_t& done, Each&& each) {
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
        if (o.progress) o.progress(done, 2 * bytes);
    }
    try {
        utf8.finish();
    } catch (const error& e) {
        throw error(path + ": " + e.what());
    }
    check<error>(got_all == bytes, path, ": changed while being read (", bytes, " bytes, then ", got_all, ")");
}

/// The vocabulary of the characters marked in `seen` (a bit per code point): sorted, or
/// `given`, which must hold every one of them.
inline CharTokenizer text_vocabulary(const std::vector<std::uint64_t>& seen, const CharTokenizer* given,
                                     const std::string& path) {
    std::vector<char32_t> chars;  // in increasing order
    for (std::size_t w = 0; w < seen.size(); ++w)
        if (seen[w])
            for (std::size_t k = 0; k < 64; ++k)
                if ((seen[w] >> k) & 1) chars.push_back(char32_t(w * 64 + k));
    if (!given) return CharTokenizer::from_chars(std::move(chars));
    for (char32_t c : chars) {  // every character of the text must have an id
        try {
            given->id(c);
        } catch (const shape_error& e) {
            throw shape_error(path + ": " + e.what());
        }
    }
    return *given;
}

}  // namespace detail

/// Read, check and tokenise a UTF-8 text file in chunks (see [the file comment](#top)). The first
/// pass validates the UTF-8, counts the characters and collects the vocabulary (or checks
/// every character is in `o.vocabulary`); the second fills `TokenIds` of exactly that size.
/// Peak memory: the ids (1-4 bytes per character) plus one chunk. Throws `txl::error` with the
/// path for a missing, empty, unreadable or non-regular file (a device or a pipe would never
/// end), invalid UTF-8 (with its byte offset), or a file that changes while it is read.
inline TextFile read_text_file(const std::string& path, const ReadTextOptions& o = {}) {
    TextFile out;
    out.bytes = detail::text_file_size(path);
    check<error>(o.chunk_bytes > 0, "read_text_file: chunk_bytes must be > 0");
    std::vector<char> chunk(o.chunk_bytes);
    std::uint64_t done = 0;

    // Pass 1: count the characters and collect the vocabulary, a bit per possible code point.
    std::vector<std::uint64_t> seen((0x110000 + 63) / 64, 0);
    std::size_t n = 0;
    detail::text_pass(path, o, out.bytes, chunk, done, [&](char32_t c) {
        seen[c >> 6] |= std::uint64_t(1) << (c & 63);
        ++n;
    });
    out.tokenizer = detail::text_vocabulary(seen, o.vocabulary, path);

    // Pass 2: the ids, ASCII through a table, the rest by binary search in the vocabulary.
    out.ids = TokenIds(n, out.tokenizer.size());
    std::array<std::int64_t, 128> ascii;
    ascii.fill(-1);
    for (std::size_t k = 0; k < out.tokenizer.size() && out.tokenizer.chars()[k] < 128; ++k)
        ascii[out.tokenizer.chars()[k]] = std::int64_t(k);
    std::size_t i = 0;
    detail::text_pass(path, o, out.bytes, chunk, done, [&](char32_t c) {
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

}  // namespace txl
