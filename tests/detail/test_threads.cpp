// txl's thread pool (detail/threads.hpp): every task runs exactly once, loops inside a task run
// on that thread, a second caller runs its loop alone, and thousands of back-to-back loops (the
// pattern of a training step) neither lose nor repeat a task.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <txl/core/tensor.hpp>

TEST_CASE("parallel_tasks: every task exactly once, many loops back to back, nested loops serial") {
    for (std::size_t tasks : {1, 2, 3, 7, 64, 1000}) {
        std::vector<int> hits(tasks, 0);
        txl::parallel_tasks(tasks, [&](std::size_t t) { ++hits[t]; });
        for (std::size_t t = 0; t < tasks; ++t) CHECK(hits[t] == 1);
    }
    // Back-to-back loops of varied sizes: the job of one must never leak into the next.
    std::vector<std::atomic<int>> count(97);
    for (int round = 0; round < 5000; ++round) {
        const std::size_t tasks = 1 + std::size_t(round % 97);
        txl::parallel_tasks(tasks, [&](std::size_t t) { count[t].fetch_add(1, std::memory_order_relaxed); });
    }
    long total = 0;
    for (auto& c : count) total += c.load();
    long expect = 0;
    for (int round = 0; round < 5000; ++round) expect += 1 + round % 97;
    CHECK(total == expect);
    // A loop inside a task runs on the task's thread, whole.
    std::vector<int> inner(8 * 16, 0);
    txl::parallel_tasks(8, [&](std::size_t t) {
        CHECK(txl::in_parallel());
        const auto me = std::this_thread::get_id();
        txl::for_range(16, true, [&](std::size_t i) {
            CHECK(std::this_thread::get_id() == me);
            ++inner[t * 16 + i];
        });
    });
    for (int v : inner) CHECK(v == 1);
    CHECK_FALSE(txl::in_parallel());
}

TEST_CASE("parallel_tasks: two callers at once each get all their tasks done") {
    std::vector<int> a(500, 0), b(500, 0);
    std::thread other([&] {
        for (int r = 0; r < 200; ++r) txl::parallel_tasks(a.size(), [&](std::size_t t) { ++a[t]; });
    });
    for (int r = 0; r < 200; ++r) txl::parallel_tasks(b.size(), [&](std::size_t t) { ++b[t]; });
    other.join();
    for (std::size_t t = 0; t < a.size(); ++t) {
        CHECK(a[t] == 200);
        CHECK(b[t] == 200);
    }
}

TEST_CASE("for_range and for_joined_spans cover their ranges once, whatever the thread count") {
    std::vector<int> seen(10007, 0);
    txl::for_range(seen.size(), true, [&](std::size_t i) { ++seen[i]; });
    for (int v : seen) CHECK(v == 1);
    struct Span {
        std::size_t begin, end;
        bool empty() const { return begin == end; }
    };
    const std::vector<Span> spans = {{0, 5}, {5, 5}, {5, 4000}, {4000, 4001}, {4001, 9000}};
    std::vector<int> cover(9000, 0);
    txl::for_joined_spans(spans, 9000, true, [&](std::size_t k, std::size_t lo, std::size_t hi) {
        CHECK(lo >= spans[k].begin);
        CHECK(hi <= spans[k].end);
        for (std::size_t i = lo; i < hi; ++i) ++cover[i];
    });
    for (int v : cover) CHECK(v == 1);
    CHECK(txl::max_threads() >= 1);
}
