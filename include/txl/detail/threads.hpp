#pragma once
/// @file detail/threads.hpp
/// # Threads (machinery, off the reading path)
///
/// txl runs its own threads: large products are split into bands of rows of $C$ (`gemm`),
/// the attention's per-(b, h) loops run in parallel, and element-wise loops over many rows use
/// `for_range`. `TXL_NUM_THREADS` (or `OMP_NUM_THREADS`) sets how many threads txl uses; by
/// default, as many as the CPUs this process may run on.
///
/// **Why not OpenMP's parallel regions.** A training step runs a few hundred parallel loops,
/// each ending in a barrier. On a machine that is doing something else (a laptop, a shared
/// server, a second training run) one of the threads is regularly descheduled for a few
/// milliseconds, and every barrier then waits for it: OpenMP's threads spin while they wait, so
/// the step ran several times slower than on one thread (`docs/performance.md` has the
/// figures). So txl has a small pool
/// of its own, built for that case:
/// - **Tasks, claimed one by one.** A loop is cut into more tasks than threads (fixed by the
///   sizes, never by timing, so results do not depend on it). Each thread, the caller
///   included, runs its own share in order (on an idle machine a thread then works on the same
///   rows loop after loop, which stay in its cache, where first come, first served does not),
///   then takes what is left of the others'. A slow thread simply does
///   fewer.
/// - **Nobody waits for a thread that has not started.** The caller waits only for tasks that
///   another thread claimed and is still running, never for a thread to arrive, so a worker
///   that is descheduled between loops costs nothing.
/// - **Waiting that yields.** Idle workers spin for up to a millisecond (the gap between
///   two loops of a step), then sleep until the next loop; on a busy machine (a worker that
///   gets less than 85% of its core while awake) they sleep at once. The caller spins briefly
///   on a running task, then yields its core.
/// - **A thread count that adapts.** When the caller spends more than a quarter of a loop's
///   time waiting for tasks still running on descheduled workers (a busy machine), the pool
///   runs alone for a while (a tenth of a second, doubled while the machine stays busy, up to
///   two seconds) and then tries the workers again.
///
/// BLAS is called from inside the tasks, one thread per call (`openblas_set_num_threads(1)`,
/// see detail/gemm.hpp): many of a model's products are small, and OpenBLAS's own threads
/// spend more time waking and waiting than computing on them.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <time.h>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#if defined(__linux__)
#include <sched.h>
#endif

#include "../core/precision.hpp"
#include "isa.hpp"

namespace txl {

namespace detail {

/// A short pause inside a spin loop (lets the other hyper-thread run, saves power).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
}

/// The thread count: `TXL_NUM_THREADS`, else `OMP_NUM_THREADS` (its first number), else the CPUs
/// this process may run on (its affinity mask, which `taskset` and containers restrict).
inline int threads_from_environment() {
    for (const char* name : {"TXL_NUM_THREADS", "OMP_NUM_THREADS"})
        if (const char* v = std::getenv(name)) {
            char* end = nullptr;
            const long n = std::strtol(v, &end, 10);
            if (end != v && n >= 1) return int(std::min(n, 1024L));
        }
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
    return int(std::max(1u, std::thread::hardware_concurrency()));
}

/// How much of a core a thread gets while it is awake (working or spinning): its CPU time over
/// the wall-clock time, over windows of 20 ms. Below 85%, other programs are taking turns on
/// its core: the machine is busy.
class ShareOfCore {
public:
    void begin() { wall0_ = std::chrono::steady_clock::now(), cpu0_ = cpu_now(); }
    void end() {
        wall_ += std::chrono::steady_clock::now() - wall0_;
        cpu_ += cpu_now() - cpu0_;
        if (wall_ < std::chrono::milliseconds(20)) return;
        contended_ = cpu_.count() < 0.85 * double(std::chrono::duration_cast<std::chrono::nanoseconds>(wall_).count());
        wall_ = {}, cpu_ = {};
    }
    bool contended() const { return contended_; }

private:
    static std::chrono::nanoseconds cpu_now() {
#if defined(CLOCK_THREAD_CPUTIME_ID)
        timespec t{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
#else
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::steady_clock::now().time_since_epoch());
#endif
    }
    std::chrono::steady_clock::time_point wall0_{};
    std::chrono::nanoseconds cpu0_{}, cpu_{};
    std::chrono::steady_clock::duration wall_{};
    bool contended_ = false;
};

/// The pool: `threads - 1` workers plus the thread that calls `run`.
class Pool {
public:
    static Pool& instance() {
        static Pool pool(threads_from_environment());
        return pool;
    }
    int threads() const { return threads_; }
    /// Whether the calling thread is running one of the pool's tasks (a loop inside it runs
    /// on this thread alone).
    static bool in_task() { return in_task_flag(); }
    /// Whether the pool is currently running alone because the machine is busy.
    bool solo() const { return std::chrono::steady_clock::now() < solo_until_; }

    /// `f(t)` for every `t < tasks`, on this thread and the workers; returns when all are done.
    /// Thread `i` owns tasks `[i * tasks / threads, (i + 1) * tasks / threads)` and runs them
    /// in order, so on an idle machine each thread works on the same rows loop after loop (they
    /// stay in its cache); a thread that finishes early takes tasks from the others' ends.
    /// Tasks must write disjoint outputs: which thread runs which task depends on timing.
    template <class F>
    void run(std::size_t tasks, F&& f) {
        using Fn = std::remove_reference_t<F>;
        if (tasks == 0) return;
        std::unique_lock<std::mutex> one_caller(caller_, std::try_to_lock);
        if (tasks == 1 || workers_.empty() || in_task() || !one_caller.owns_lock() || solo()) {
            Guard g;
            for (std::size_t t = 0; t < tasks; ++t) f(t);
            return;
        }
        const auto start = std::chrono::steady_clock::now();
        // Publish the job (a seqlock): every claim counter is first closed (nobody can claim
        // from it), then the job's fields are written, then each counter opens at its owner's
        // first task of the new generation. A thread that read half-old fields fails its claim.
        if ((++generation_ & closed) == 0) ++generation_;  // generation 0 is the workers' start
        const std::uint64_t gen = generation_ & closed;
        for (int i = 0; i < threads_; ++i) slots_[i].claim.store((gen << 32) | closed, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
        call_.store(&trampoline<Fn>, std::memory_order_relaxed);
        ctx_.store(const_cast<void*>(static_cast<const void*>(&f)), std::memory_order_relaxed);
        tasks_.store(tasks, std::memory_order_relaxed);
        done_.store(0, std::memory_order_relaxed);
        for (int i = 0; i < threads_; ++i)
            slots_[i].claim.store((gen << 32) | first_task(i, tasks), std::memory_order_release);
        published_.store(gen, std::memory_order_seq_cst);
        if (sleepers_.load(std::memory_order_seq_cst) > 0) {
            std::lock_guard<std::mutex> lock(sleep_mutex_);
            wake_.notify_all();
        }
        // Work alongside the workers, then wait for the tasks they still run.
        work(gen, 0);
        const auto own_done = std::chrono::steady_clock::now();
        for (int spin = 0; done_.load(std::memory_order_acquire) < tasks; ++spin) {
            if (spin < 4096)
                cpu_relax();
            else
                std::this_thread::yield();
        }
        adapt(start, own_done, std::chrono::steady_clock::now());
    }

    ~Pool() {
        {
            std::lock_guard<std::mutex> lock(sleep_mutex_);
            stop_.store(true);
        }
        wake_.notify_all();
        for (auto& w : workers_) w.join();
    }

private:
    using Call = void (*)(void*, std::size_t);
    static constexpr std::uint64_t closed = 0xffffffffu;  ///< a claim index no job reaches
    struct alignas(64) Slot {                             ///< one thread's claim counter, on a cache line of its own
        std::atomic<std::uint64_t> claim{closed};         ///< generation << 32 | next task
    };

    explicit Pool(int threads) : threads_(threads), slots_(new Slot[std::size_t(threads)]) {
        for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker(i); });
    }
    std::size_t first_task(int i, std::size_t tasks) const { return std::size_t(i) * tasks / std::size_t(threads_); }
    template <class Fn>
    static void trampoline(void* ctx, std::size_t t) {
        (*static_cast<Fn*>(ctx))(t);
    }
    static bool& in_task_flag() {
        thread_local bool flag = false;
        return flag;
    }
    struct Guard {  // marks this thread as inside a task for the guard's lifetime
        bool before = in_task_flag();
        Guard() { in_task_flag() = true; }
        ~Guard() { in_task_flag() = before; }
    };

    /// Thread `self` runs the tasks of generation `gen` it can claim: its own first, then the
    /// others' (thread `self + 1` first), until none is left.
    void work(std::uint64_t gen, int self) {
        Guard g;
        for (int k = 0; k < threads_; ++k) {
            const int owner = (self + k) % threads_;
            std::atomic<std::uint64_t>& claim = slots_[owner].claim;
            for (;;) {
                std::uint64_t c = claim.load(std::memory_order_acquire);
                if ((c >> 32) != gen || (c & closed) == closed) return;  // a newer job, or not yet open
                const Call call = call_.load(std::memory_order_relaxed);
                void* ctx = ctx_.load(std::memory_order_relaxed);
                const std::size_t tasks = tasks_.load(std::memory_order_relaxed);
                std::atomic_thread_fence(std::memory_order_acquire);
                const std::size_t t = std::size_t(c & closed);
                if (owner + 1 < threads_ ? t >= first_task(owner + 1, tasks) : t >= tasks) break;  // owner's range done
                if (!claim.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
                call(ctx, t);
                done_.fetch_add(1, std::memory_order_release);
            }
        }
    }

    void worker(int self) {
        std::uint64_t seen = 0;
        ShareOfCore share;
        while (!stop_.load(std::memory_order_relaxed)) {
            // Spin a while for the next job (the next loop of a step usually comes within
            // microseconds, and a short step pays for every sleep), then sleep until one is
            // published. But not on a busy machine: a spinning worker takes the core from the
            // threads doing the work. (The two settings' figures: `docs/performance.md`.)
            share.begin();
            const auto spin = std::chrono::microseconds(share.contended() ? 0 : 1000);
            const auto spin_until = std::chrono::steady_clock::now() + spin;
            std::uint64_t g = published_.load(std::memory_order_acquire);
            for (int i = 0; g == seen && spin.count() > 0; ++i) {
                if ((i & 63) == 63 && std::chrono::steady_clock::now() > spin_until) break;
                cpu_relax();
                g = published_.load(std::memory_order_acquire);
            }
            if (g == seen) {
                share.end();
                std::unique_lock<std::mutex> lock(sleep_mutex_);
                sleepers_.fetch_add(1, std::memory_order_seq_cst);
                wake_.wait(lock, [&] { return published_.load(std::memory_order_seq_cst) != seen || stop_.load(); });
                sleepers_.fetch_sub(1, std::memory_order_relaxed);
                continue;
            }
            seen = g;
            if (stop_.load()) return;
            work(seen, self);
            share.end();
        }
    }

    /// After a parallel loop: if the caller waited for running tasks for more than a quarter of
    /// the loop (workers descheduled by other programs), run alone for a while.
    void adapt(std::chrono::steady_clock::time_point start, std::chrono::steady_clock::time_point own_done,
               std::chrono::steady_clock::time_point end) {
        using namespace std::chrono;
        busy_ns_ += duration_cast<nanoseconds>(end - start).count();
        wait_ns_ += duration_cast<nanoseconds>(end - own_done).count();
        if (busy_ns_ < 20'000'000) return;  // judge windows of 20 ms of parallel loops
        if (wait_ns_ * 4 > busy_ns_) {
            solo_until_ = end + backoff_;
            backoff_ = std::min(backoff_ * 2, milliseconds(2000));
        } else {
            backoff_ = milliseconds(100);
        }
        busy_ns_ = wait_ns_ = 0;
    }

    const int threads_;
    std::unique_ptr<Slot[]> slots_;
    std::vector<std::thread> workers_;
    std::mutex caller_;  ///< one caller at a time; another caller's loops run serially
    std::uint64_t generation_ = 0;
    std::atomic<std::uint64_t> published_{0};  ///< the latest job's generation (workers wait on it)
    std::atomic<Call> call_{nullptr};
    std::atomic<void*> ctx_{nullptr};
    std::atomic<std::size_t> tasks_{0};
    alignas(64) std::atomic<std::size_t> done_{0};
    std::atomic<int> sleepers_{0};
    std::atomic<bool> stop_{false};
    std::mutex sleep_mutex_;
    std::condition_variable wake_;
    std::int64_t busy_ns_ = 0, wait_ns_ = 0;
    std::chrono::milliseconds backoff_{100};
    std::chrono::steady_clock::time_point solo_until_{};
};

}  // namespace detail

/// How many threads txl uses (`TXL_NUM_THREADS`, else `OMP_NUM_THREADS`, else the CPUs this
/// process may use).
inline int max_threads() { return detail::Pool::instance().threads(); }
/// Whether the calling thread runs one of txl's parallel tasks (loops inside run serially).
inline bool in_parallel() { return detail::Pool::in_task(); }

/// `f(t)` for every `t < tasks`, spread over txl's threads (tasks claimed one at a time; each
/// must write its own outputs). Inside a task, or with one thread, a plain loop.
/// The tasks run at the caller's product precision (`core/precision.hpp`), on whichever thread.
template <class F>
inline void parallel_tasks(std::size_t tasks, F&& f) {
    const Precision precision = gemm_precision();
    if (precision == Precision::fp32) return detail::Pool::instance().run(tasks, f);  // the workers' own
    auto task = [&](std::size_t t) {
        PrecisionScope scope(precision);
        f(t);
    };
    detail::Pool::instance().run(tasks, task);
}

/// `f(i)` for `i < n`: split over the threads when `parallel` (and not already inside a
/// parallel task), else a plain loop on this thread. Tasks are contiguous chunks of `i`, four
/// per thread, so that a slow thread can be covered by the others. The loop runs through
/// `vectorized` (detail/isa.hpp): compiled for the widest vectors the CPU has, whatever the
/// program's flags; `f` should be element-wise work, not a call into a product.
template <class F>
inline void for_range(std::size_t n, bool parallel, F&& f) {
    if (!parallel || in_parallel() || max_threads() == 1) {
        vectorized([&] {
            for (std::size_t i = 0; i < n; ++i) f(i);
        });
        return;
    }
    const std::size_t tasks = std::min(n, std::size_t(4 * max_threads()));
    parallel_tasks(tasks, [&](std::size_t t) {
        vectorized([&] {
            for (std::size_t i = t * n / tasks, e = (t + 1) * n / tasks; i < e; ++i) f(i);
        });
    });
}

/// $\sum_{i<n} f(i)$ with 16 running partial sums, added up at the end: the loop vectorises
/// without `-ffast-math`, and the order of the additions depends on `n` alone.
template <class S, class F>
inline S partial_sums16(std::size_t n, F&& f) {
    constexpr std::size_t L = 16;
    const std::size_t full = n / L * L;
    S part[L] = {};
    for (std::size_t i = 0; i < full; i += L)
        for (std::size_t l = 0; l < L; ++l) part[l] += f(i + l);
    for (std::size_t i = full; i < n; ++i) part[0] += f(i);
    S sum = 0;
    for (std::size_t l = 0; l < L; ++l) sum += part[l];
    return sum;
}

/// `f(k, lo, hi)` over the spans `spans[k]` (`begin`, `end`, `empty()`) laid end to end
/// (`total` elements in all) and cut into equal pieces, four per thread, in one parallel loop
/// when `parallel`: for elementwise updates over many tensors, most too small to be worth a
/// loop of their own (Adam: one loop per step instead of one per tensor).
/// Each call's `[lo, hi)` lies inside one span; the calls cover every span exactly once.
template <class Spans, class F>
inline void for_joined_spans(const Spans& spans, std::size_t total, bool parallel, F&& f) {
    const std::size_t pieces = parallel && !in_parallel() ? std::size_t(4 * max_threads()) : 1;
    parallel_tasks(pieces, [&](std::size_t piece) {
        const std::size_t mine_lo = piece * total / pieces, mine_hi = (piece + 1) * total / pieces;
        std::size_t at = 0;  // where span k starts in the joined order
        for (std::size_t k = 0; k < spans.size() && at < mine_hi; ++k) {
            const std::size_t n = spans[k].empty() ? 0 : spans[k].end - spans[k].begin;
            const std::size_t from = std::max(at, mine_lo), to = std::min(at + n, mine_hi);
            if (from < to) f(k, spans[k].begin + (from - at), spans[k].begin + (to - at));
            at += n;
        }
    });
}

}  // namespace txl
