#pragma once
// Small pieces several test files share: a temporary directory, the message a checkpoint
// error carries, two tensors or two models' parameters compared bit for bit, a product's result
// against its reference, and a short synthetic text with the training options the trainer tests use.

#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <txl/txl.hpp>

namespace txl_test {

/// A fresh directory under the system's temporary one, removed with everything in it.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        path = std::filesystem::temp_directory_path() /
               ("txl_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    static int& counter() {
        static int c = 0;
        return c;
    }
};

/// The message of the `checkpoint_error` that `f` throws, or "(no checkpoint_error)".
inline std::string checkpoint_error_text(const std::function<void()>& f) {
    try {
        f();
    } catch (const txl::checkpoint_error& e) {
        return e.what();
    }
    return "(no checkpoint_error)";
}

/// Whether two tensors hold the same shape and values, bit for bit. A plain bool for doctest: a
/// `CHECK(a == b)` on tensors would have doctest print both through xtensor's printer, which
/// GCC 12 warns about (a false `stringop-overflow` in std::string, fatal under TXL_WERROR).
template <class A, class B>
bool identical(const A& a, const B& b) {
    return a == b;
}

/// Every parameter of `m`, in visiting order, as one flat vector.
template <class Model>
std::vector<typename Model::S> flat_parameters(Model& m) {
    std::vector<typename Model::S> v;
    m.visit([&](const std::string&, auto& p) { v.insert(v.end(), p.value.begin(), p.value.end()); });
    return v;
}

/// Whether two models hold the same parameters, bit for bit.
template <class Model>
bool same_parameters(Model& a, Model& b) {
    return flat_parameters(a) == flat_parameters(b);
}

/// `n` ids over a vocabulary of `V` with a pattern a small model can learn.
inline std::vector<std::int64_t> synthetic_ids(std::size_t n, std::size_t V) {
    std::vector<std::int64_t> ids(n);
    for (std::size_t i = 0; i < n; ++i) ids[i] = std::int64_t((i * 7 + i / 5) % V);
    return ids;
}

/// The trainer tests' run: segments of 5, memory of 7, batch 3, Noam's schedule.
template <class C>
txl::TrainOptions small_train_options(double dropout) {
    txl::TrainOptions o;
    o.seq_len = 5, o.mem_len = 7, o.batch = 3, o.dropout = dropout, o.seed = 11;
    o.schedule = {txl::Schedule::Kind::noam, 1.0, 10, C::d_model, 0, 0};
    return o;
}

/// A product's result `c` (`m x n`, rows `ldc` apart) against `ref`: the largest
/// $|c_{ij} - \text{ref}_{ij}|$ (a NaN counts as 1e30), and whether the columns between `n` and
/// `ldc` still hold what `before` held (a product must not write past its columns).
inline double worst_product_error(const std::vector<float>& c, const std::vector<float>& before,
                                  const std::vector<double>& ref, std::size_t m, std::size_t n, std::size_t ldc,
                                  bool& padding_untouched) {
    double worst = 0;
    padding_untouched = true;
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < ldc; ++j) {
            if (j >= n) {
                padding_untouched = padding_untouched && c[i * ldc + j] == before[i * ldc + j];
                continue;
            }
            const double e = std::abs(double(c[i * ldc + j]) - ref[i * ldc + j]);
            worst = std::isnan(e) ? 1e30 : std::max(worst, e);
        }
    return worst;
}

}  // namespace txl_test
