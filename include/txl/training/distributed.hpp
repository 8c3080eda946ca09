#pragma once
/// @file training/distributed.hpp
/// # Data-parallel training on MPI
///
/// The `Communicator` of `core/communicator.hpp` on MPI (Open MPI on Debian: `libopenmpi-dev`,
/// `openmpi-bin`), the way Horovod runs its CPU collectives. Optional: this header is the only
/// one in txl that includes `<mpi.h>`; link the CMake target `txl::distributed` (built where
/// `find_package(MPI)` finds MPI) and start the program with `mpirun`:
///
///     txl::MpiSession mpi(argc, argv);        // MPI_Init_thread ... MPI_Finalize
///     txl::MpiCommunicator world;             // MPI_COMM_WORLD, every call checked
///     txl::Trainer<Model> trainer(model, options, ids, &world);
///
/// **Threads.** Each rank runs txl's own thread pool (`TXL_NUM_THREADS`); only the thread that
/// started MPI calls it, so MPI is started at `MPI_THREAD_FUNNELED`. Open MPI binds each rank
/// to one core by default, which would squeeze a rank's threads onto that core: start ranks of
/// several threads with `mpirun --bind-to none` (or `--map-by slot:PE=<threads>`).
///
/// **Errors.** The communicator's error handler is `MPI_ERRORS_RETURN`, so a failing call
/// returns its code instead of ending the job, and `txl::error` names the call and MPI's
/// reason. A rank that cannot go on while others wait in a collective must end the whole job
/// (`MpiSession::abort`), never leave them waiting.
///
/// **The sum.** `sum` is a reduce-scatter and an all-gather, each rank reducing one segment:
/// 1. the buffer is cut into $W$ segments; `MPI_Alltoallv` sends segment $s$ of every rank to
///    rank $s$;
/// 2. rank $s$ adds the $W$ copies of its segment *in rank order*, $((x_0 + x_1) + x_2) \dots$;
/// 3. `MPI_Allgatherv` gives every rank every summed segment.
///
/// Each value is summed once, by one rank, in a fixed order, whatever algorithm the MPI
/// library picks: every rank gets the same bits, at every step. Each rank sends and receives
/// $2\frac{W-1}{W}$ times the buffer, as a ring all-reduce does.

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <type_traits>
#include <string>
#include <vector>

#include "../core/errors.hpp"
#include "../core/communicator.hpp"

namespace txl {

namespace detail {
/// Throws `txl::error` naming the MPI call unless `rc` is `MPI_SUCCESS`.
inline void mpi_check(int rc, const char* call) {
    if (rc == MPI_SUCCESS) return;
    char reason[MPI_MAX_ERROR_STRING] = {};
    int len = 0;
    MPI_Error_string(rc, reason, &len);
    throw error(std::string(call) + " failed: " + std::string(reason, std::size_t(len)));
}
template <class T>
MPI_Datatype mpi_type();
template <>
inline MPI_Datatype mpi_type<float>() {
    return MPI_FLOAT;
}
template <>
inline MPI_Datatype mpi_type<double>() {
    return MPI_DOUBLE;
}
}  // namespace detail

/// MPI for the life of this object: `MPI_Init_thread` at `MPI_THREAD_FUNNELED` (only this
/// thread will call MPI), errors returned rather than fatal on `MPI_COMM_WORLD`, and
/// `MPI_Finalize` at the end.
class MpiSession {
public:
    MpiSession(int& argc, char**& argv) {
        int provided = 0;
        detail::mpi_check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
        if (provided < MPI_THREAD_FUNNELED) {
            MPI_Finalize();
            throw error("MPI_Init_thread: this MPI provides no thread support (txl needs MPI_THREAD_FUNNELED)");
        }
        detail::mpi_check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    }
    ~MpiSession() { MPI_Finalize(); }
    MpiSession(const MpiSession&) = delete;
    MpiSession& operator=(const MpiSession&) = delete;

    /// True when an MPI launcher started this process (Open MPI's `mpirun`, or a PMI/PMIx one):
    /// a program may then start MPI, and otherwise run alone without it.
    static bool launched() {
        for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
            if (std::getenv(v)) return true;
        return false;
    }

    /// End every process of the job with `code` (after an error on this one: the others may
    /// be waiting for it in a collective call).
    [[noreturn]] static void abort(int code) {
        MPI_Abort(MPI_COMM_WORLD, code);
        std::_Exit(code);
    }
};

/// `Communicator` over an MPI communicator (`MPI_COMM_WORLD` by default), see [the file comment](#top).
class MpiCommunicator : public Communicator {
public:
    explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD) : comm_(comm) {
        detail::mpi_check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
        int r = 0, w = 0;
        detail::mpi_check(MPI_Comm_rank(comm_, &r), "MPI_Comm_rank");
        detail::mpi_check(MPI_Comm_size(comm_, &w), "MPI_Comm_size");
        rank_ = std::size_t(r), size_ = std::size_t(w);
    }

    std::size_t rank() const override { return rank_; }
    std::size_t size() const override { return size_; }
    void sum(float* x, std::size_t n) override { sum_in_rank_order(x, n); }
    void sum(double* x, std::size_t n) override { sum_in_rank_order(x, n); }

    void max(std::int64_t* x, std::size_t n) override {
        detail::mpi_check(MPI_Allreduce(MPI_IN_PLACE, x, count(n), MPI_INT64_T, MPI_MAX, comm_), "MPI_Allreduce");
    }
    void allgather(const void* local, std::size_t bytes, void* all) override {
        detail::mpi_check(MPI_Allgather(local, count(bytes), MPI_BYTE, all, count(bytes), MPI_BYTE, comm_),
                          "MPI_Allgather");
    }
    void broadcast(void* data, std::size_t bytes, std::size_t root) override {
        detail::mpi_check(MPI_Bcast(data, count(bytes), MPI_BYTE, int(root), comm_), "MPI_Bcast");
    }
    void barrier() override { detail::mpi_check(MPI_Barrier(comm_), "MPI_Barrier"); }

    MPI_Comm handle() const { return comm_; }

private:
    static int count(std::size_t n) {
        check<error>(n <= std::size_t(INT32_MAX), "MPI: a message of ", n, " elements is more than one call takes");
        return int(n);
    }

    /// Steps 1-3 of [the file comment](#top): segment $s$ is `[s * seg, min((s+1) * seg, n))`.
    template <class T>
    void sum_in_rank_order(T* x, std::size_t n) {
        const std::size_t W = size_, seg = (n + W - 1) / W;
        if (W == 1 || n == 0) return;
        counts_.assign(W, 0);
        displs_.assign(W, 0);
        for (std::size_t s = 0; s < W; ++s) {
            const std::size_t lo = std::min(n, s * seg), hi = std::min(n, (s + 1) * seg);
            counts_[s] = count(hi - lo), displs_[s] = count(lo);
        }
        const int mine = counts_[rank_];
        // 1. Segment $s$ of every rank to rank $s$: `recv` holds rank $q$'s copy of mine at $q\cdot$mine.
        recv_counts_.assign(W, mine);
        recv_displs_.resize(W);
        for (std::size_t q = 0; q < W; ++q) recv_displs_[q] = count(q * std::size_t(mine));
        std::vector<T>& recv = buffer<T>();
        recv.resize(W * std::size_t(mine));
        const MPI_Datatype type = detail::mpi_type<T>();
        detail::mpi_check(MPI_Alltoallv(x, counts_.data(), displs_.data(), type, recv.data(), recv_counts_.data(),
                                        recv_displs_.data(), type, comm_),
                          "MPI_Alltoallv");
        // 2. $\text{sum}_i = ((x_{0,i} + x_{1,i}) + \dots) + x_{W-1,i}$, rank order.
        T* out = x + displs_[rank_];
        for (int i = 0; i < mine; ++i) out[i] = recv[std::size_t(i)];
        for (std::size_t q = 1; q < W; ++q) {
            const T* from = recv.data() + q * std::size_t(mine);
            for (int i = 0; i < mine; ++i) out[i] += from[i];
        }
        // 3. Every summed segment to every rank.
        detail::mpi_check(MPI_Allgatherv(MPI_IN_PLACE, 0, type, x, counts_.data(), displs_.data(), type, comm_),
                          "MPI_Allgatherv");
    }

    template <class T>
    std::vector<T>& buffer() {
        if constexpr (std::is_same_v<T, float>)
            return recv_f_;
        else
            return recv_d_;
    }

    MPI_Comm comm_;
    std::size_t rank_ = 0, size_ = 1;
    std::vector<int> counts_, displs_, recv_counts_, recv_displs_;
    std::vector<float> recv_f_;
    std::vector<double> recv_d_;
};

}  // namespace txl
