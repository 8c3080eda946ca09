#pragma once
// Finite-difference gradient checks, shared by the tests: txl's installed checker
// (txl/testing/gradcheck.hpp) with each tensor's result turned into a doctest assertion.

#include <doctest/doctest.h>

#include <random>

#include <txl/testing/gradcheck.hpp>
#include <txl/txl.hpp>

namespace txl_test {

using txl::testing::Checked;
using txl::testing::dot;
using txl::testing::fill_uniform;
using txl::testing::kGradTol;
using txl::testing::parameters_of;
using txl::testing::randomize;

/// One CHECK per tensor of a report (relative error within `tol`, gradient not all zero), and
/// one that `visit` lists every parameter.
inline double expect_report(const txl::testing::GradReport& report, double tol = kGradTol) {
    for (const auto& t : report.tensors) {
        INFO("tensor " << t.name << ": max|numeric - analytic| = " << t.max_diff << " at element " << t.at
                       << ", max|analytic| = " << t.max_analytic << ", relative error = " << t.relative
                       << " (tolerance " << tol << ")");
        CHECK(t.relative <= tol);
        CHECK(t.max_analytic > 0);
    }
    CHECK(!report.tensors.empty());
    INFO(report.str());
    CHECK(report.visit_complete);
    return report.worst();
}

/// Check every tensor in `checked` against central differences of `f`, asserted per tensor.
/// Returns the largest relative error seen.
inline double expect_gradients(const std::vector<Checked>& checked, const std::function<double()>& f, double h = 1e-5,
                               double tol = kGradTol) {
    return expect_report(txl::testing::check_gradients(checked, f, h, tol), tol);
}

inline txl::tensor<std::int64_t, 2> random_tokens(std::size_t T, std::size_t B, std::size_t V, unsigned seed) {
    std::mt19937_64 g(seed);
    auto t = txl::tensor<std::int64_t, 2>::from_shape({T, B});
    for (auto& v : t) v = std::int64_t(g() % V);
    return t;
}

/// `txl::testing::check_model` (two segments over memory, the memory held fixed), asserted.
template <class Model>
void check_model_gradients(std::size_t T1, std::size_t T2, std::size_t B, std::size_t mem_len, std::size_t V = 7) {
    CAPTURE(T1);
    CAPTURE(T2);
    CAPTURE(B);
    CAPTURE(mem_len);
    const double worst = expect_report(txl::testing::check_model<Model>(T1, T2, B, mem_len, 400, V));
    MESSAGE("model gradient check: worst relative error " << worst);
}

}  // namespace txl_test
