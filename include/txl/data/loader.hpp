#pragma once
/// @file data/loader.hpp
/// # The sequential loader: B streams, T rows at a time
///
/// The ids are cut into $B$ contiguous streams (`ids[:n*B].view(B, n).t()`), and each batch
/// is the next $T$ rows of all streams with targets one row ahead:
/// $$x_{t,b} = \text{ids}[b\,n + p + t],\qquad y_{t,b} = \text{ids}[b\,n + p + t + 1],\qquad t < T,$$
/// with $n = \lfloor \lvert\text{ids}\rvert / B \rfloor$ rows per stream and $p$ the loader's position. Stream $b$
/// continues in the same column from batch to batch, which is what lets the memory of one
/// segment be the true past of the next. The last batch of an epoch may be shorter; an epoch
/// ends when fewer than two rows remain.

#include <cstddef>
#include <cstdint>
#include <string>

#include "../core/errors.hpp"
#include "../core/tensor.hpp"
#include "token_ids.hpp"

namespace txl {

/// B contiguous streams stepped through T rows at a time (see [the file comment](#top)).
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
