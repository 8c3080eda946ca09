#pragma once
/// @file data/utf8.hpp
/// # UTF-8: text as Unicode code points
///
/// A text is read as a sequence of Unicode code points, and invalid UTF-8 is an error, never a
/// silent replacement: a byte that cannot start or continue a sequence, an overlong encoding, a
/// surrogate or a value beyond U+10FFFF is reported with its byte offset. `utf8_decode` and
/// `utf8_encode` convert a whole string or one code point; `Utf8Stream` decodes a text that
/// arrives in pieces (a sequence may be cut between two chunks).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../core/errors.hpp"

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

}  // namespace txl
