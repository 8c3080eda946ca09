#pragma once
/// @file core/communicator.hpp
/// # Processes that train one model together: what the trainer asks of them
///
/// Data-parallel training runs $W$ processes (ranks $r = 0 .. W-1$), each with the whole model
/// and $b = B / W$ of the batch's $B$ streams: rank $r$ owns the streams
/// $[\,r b,\ (r + 1) b)$ and their memory. After each backward the ranks add up their gradients,
/// $$g = \sum_{r=0}^{W-1} g_r,$$
/// and since every rank then holds the same $g$ and the same weights, the same clipping and the
/// same Adam step keep the replicas equal without ever sending a weight.
///
/// `Communicator` is what `Trainer` and `evaluate` need of the transport, and nothing more.
/// The library itself knows no transport: `txl/training/distributed.hpp` implements this class on MPI
/// (built only where MPI is found); a single process passes no communicator at all.
///
/// **Sums are deterministic.** `sum` adds the ranks' values in rank order,
/// $((x_0 + x_1) + x_2) + \dots$, the same order at every step, and every rank receives the very
/// same bits: so the replicas stay bitwise equal, and a run repeats itself exactly.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "errors.hpp"
#include "random.hpp"

namespace txl {

class Communicator {
public:
    virtual ~Communicator() = default;
    virtual std::size_t rank() const = 0;
    virtual std::size_t size() const = 0;
    /// $x \leftarrow \sum_r x_r$ element-wise, added in rank order; the same bits on every rank.
    virtual void sum(float* x, std::size_t n) = 0;
    virtual void sum(double* x, std::size_t n) = 0;
    /// $x \leftarrow \max_r x_r$ element-wise (exact: integers).
    virtual void max(std::int64_t* x, std::size_t n) = 0;
    /// Every rank's `bytes` bytes at `local`, side by side in rank order, into `all`
    /// (`size() * bytes` bytes) on every rank.
    virtual void allgather(const void* local, std::size_t bytes, void* all) = 0;
    /// Rank `root`'s `bytes` bytes at `data` into `data` on every rank.
    virtual void broadcast(void* data, std::size_t bytes, std::size_t root) = 0;
    virtual void barrier() = 0;
};

/// The streams of a batch of `batch` that this process computes: all of them alone, else
/// rank $r$'s $[\,r b, (r + 1) b)$ with $b = B / W$ (which must divide evenly).
inline BatchColumns batch_columns(const Communicator* comm, std::size_t batch) {
    const std::size_t W = comm ? comm->size() : 1, r = comm ? comm->rank() : 0;
    check<error>(batch % W == 0, "batch ", batch, " cannot be split evenly across ", W,
                 " processes (the world size must divide the batch)");
    return {r * (batch / W), batch / W, batch};
}

/// FNV-1a, 64 bits: a fingerprint of bytes (of a text, a configuration, a model's weights),
/// to compare across processes. Not cryptographic; equal inputs give equal values.
inline std::uint64_t fingerprint(const void* data, std::size_t bytes, std::uint64_t h = 14695981039346656037ull) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}
inline std::uint64_t fingerprint(const std::string& s, std::uint64_t h = 14695981039346656037ull) {
    return fingerprint(s.data(), s.size(), h);
}

/// Throws on every rank unless all ranks hold the same `value` for `what`; the message names
/// the ranks that differ from rank 0. A no-op without a communicator.
inline void check_same_on_all_ranks(Communicator* comm, std::uint64_t value, const std::string& what) {
    if (!comm || comm->size() == 1) return;
    std::vector<std::uint64_t> all(comm->size());
    comm->allgather(&value, sizeof value, all.data());
    std::string differ;
    for (std::size_t r = 1; r < all.size(); ++r)
        if (all[r] != all[0]) differ += (differ.empty() ? "" : ", ") + std::to_string(r);
    check<error>(differ.empty(), "the processes disagree on ", what, ": rank(s) ", differ, " differ from rank 0");
}

}  // namespace txl
