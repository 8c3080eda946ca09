#pragma once
// Finite-difference gradient checks, shared by the tests: txl's installed checker
// (txl/testing/gradcheck.hpp) with each tensor's result turned into a doctest assertion.

#include <doctest/doctest.h>

#include <txl/testing/gradcheck.hpp>
#include <txl/txl.hpp>

namespace txl_test {

using txl::testing::Checked;
using txl::testing::dot;
using txl::testing::fill_uniform;
using txl::testing::kGradTol;
using txl::testing::parameters_of;
using txl::testing::randomize;

/// Check every tensor in `checked` against central differences of `f`; one CHECK per tensor
/// (relative error within `tol`, gradient not all zero), its figures in the failure message.
/// Returns the largest relative error seen.
inline double expect_gradients(const std::vector<Checked>& checked, const std::function<double()>& f,
                              double h = 1e-5, double tol = kGradTol) {
    const auto report = txl::testing::check_gradients(checked, f, h, tol);
    for (const auto& t : report.tensors) {
        INFO("tensor " << t.name << ": max|numeric - analytic| = " << t.max_diff << " at element "
                       << t.at << ", max|analytic| = " << t.max_analytic
                       << ", relative error = " << t.relative << " (tolerance " << tol << ")");
        CHECK(t.relative <= tol);
        CHECK(t.max_analytic > 0);  // a tensor whose gradient is all zero proves nothing
    }
    return report.worst();
}

}  // namespace txl_test
