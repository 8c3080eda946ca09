#pragma once
/// @file data/token_ids.hpp
/// # Token ids, stored compactly and shared by their slices
///
/// The ids of a text, stored in 1, 2 or 4 bytes each (the fewest that hold the vocabulary: one
/// byte for Tiny Shakespeare's 65 characters), so a text costs about one byte per character
/// however large. Slices (a train/validation split, a loader's view) share the buffer.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "../core/errors.hpp"

namespace txl {

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

}  // namespace txl
