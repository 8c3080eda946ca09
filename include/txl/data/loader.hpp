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
///
/// A process of a data-parallel run (`core/communicator.hpp`) reads only its own streams,
/// `columns` $[\,b_0, b_0 + b)$ of the $B$: the same rows of the same streams one process would
/// read for them, so $x$ and $y$ are columns $b_0 ..$ of the whole batch.

#include <cstddef>
#include <cstdint>
#include <string>

#include "../core/errors.hpp"
#include "../core/tensor.hpp"
#include "../core/random.hpp"
#include "token_ids.hpp"

namespace txl {

/// B contiguous streams stepped through T rows at a time (see [the file comment](#top)).
class SequentialLoader {
public:
    SequentialLoader() = default;
    /// Reads `ids` in place (they are shared, not copied). `columns`: the streams this loader
    /// yields (unset: all `batch` of them).
    SequentialLoader(const TokenIds& ids, std::size_t batch, std::size_t seq_len, const std::string& what = "text",
                     BatchColumns columns = {})
        : ids_(ids), B_(batch), T_(seq_len) {
        check(batch >= 1 && seq_len >= 1, what, ": batch and seq_len must be >= 1");
        n_ = ids.size() / batch;
        check(n_ >= 2, what, " has ", ids.size(), " characters: too short for one batch of ", batch,
              " streams (needs at least ", 2 * batch, ")");
        if (columns.count == 0) columns = {0, batch, batch};
        check(columns.total == batch && columns.first + columns.count <= batch, what, ": streams [", columns.first,
              ", ", columns.first + columns.count, ") are not streams of a batch of ", batch);
        b0_ = columns.first, b_ = columns.count;
    }

    std::size_t rows() const { return n_; }
    std::size_t batch() const { return B_; }
    /// The streams this loader yields: `[first_stream(), first_stream() + streams())`.
    std::size_t first_stream() const { return b0_; }
    std::size_t streams() const { return b_; }
    std::size_t seq_len() const { return T_; }
    /// Batches in one epoch.
    std::size_t batches_per_epoch() const { return (n_ - 1 + T_ - 1) / T_; }

    /// Position: the row where the next batch starts, and the epoch.
    std::size_t position = 0;
    std::size_t epoch = 0;

    /// True when the next call to `next` starts a new epoch (the caller then clears memory).
    bool at_epoch_start() const { return position == 0; }

    /// Fill `x`, `y` (`[T', b]`, T' = min(T, rows left), $b$ its streams) with the next batch and advance.
    void next(tensor<std::int64_t, 2>& x, tensor<std::int64_t, 2>& y) {
        // Stream $b$ is the $b$-th run of $n$ consecutive ids, row $t$ of it is `ids[b n + t]`
        // (labml's `ids[:n*B].view(B, n).t()`). $x$ = rows $[p, p + T')$, $y$ = rows
        // $[p + 1, p + 1 + T')$: each target is the next character of the same stream.
        const std::size_t t = std::min(T_, n_ - 1 - position);
        ensure_shape(x, {t, b_});
        ensure_shape(y, {t, b_});
        for (std::size_t j = 0; j < b_; ++j) {
            const std::size_t first = (b0_ + j) * n_ + position;  // stream $b_0 + j$
            for (std::size_t i = 0; i < t; ++i) {
                x(i, j) = ids_[first + i];
                y(i, j) = ids_[first + i + 1];
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
    std::size_t B_ = 0, T_ = 0, n_ = 0, b0_ = 0, b_ = 0;
};

}  // namespace txl
