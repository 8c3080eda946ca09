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

inline txl::tensor<std::int64_t, 2> random_tokens(std::size_t T, std::size_t B, std::size_t V,
                                                  unsigned seed) {
    std::mt19937_64 g(seed);
    auto t = txl::tensor<std::int64_t, 2>::from_shape({T, B});
    for (auto& v : t) v = std::int64_t(g() % V);
    return t;
}

/// Two consecutive segments, the second attending over the first's memory. The loss is
/// L1(theta) + L2(theta; mem), with mem the (constant) memory left by segment 1: exactly what
/// backward computes, since no gradient flows into the memory.
template <class Model>
void check_model_gradients(std::size_t T1, std::size_t T2, std::size_t B, std::size_t mem_len) {
    CAPTURE(T1);
    CAPTURE(T2);
    CAPTURE(B);
    CAPTURE(mem_len);
    const std::size_t V = 7;
    Model model(V, 1);
    randomize(model, 400);
    const auto x1 = random_tokens(T1, B, V, 1), y1 = random_tokens(T1, B, V, 2);
    const auto x2 = random_tokens(T2, B, V, 3), y2 = random_tokens(T2, B, V, 4);
    typename Model::Cache cache;
    txl::tensor<typename Model::S, 3> dlogits;

    model.zero_grad();
    txl::Memory<typename Model::S> empty, mem;
    model.forward(x1, empty, cache);
    dlogits.resize(cache.logits.shape());
    txl::cross_entropy(cache.logits.data(), y1.data(), T1 * B, V, dlogits.data());
    model.backward(dlogits.data(), cache);
    model.update_memory(mem, cache, mem_len);
    CHECK(mem.length() == (Model::has_memory ? std::min(mem_len, T1) : 0));
    model.forward(x2, mem, cache);
    dlogits.resize(cache.logits.shape());
    txl::cross_entropy(cache.logits.data(), y2.data(), T2 * B, V, dlogits.data());
    model.backward(dlogits.data(), cache);

    auto f = [&] {
        model.forward(x1, empty, cache);
        double l = txl::cross_entropy(cache.logits.data(), y1.data(), T1 * B, V).loss;
        model.forward(x2, mem, cache);
        return l + txl::cross_entropy(cache.logits.data(), y2.data(), T2 * B, V).loss;
    };
    const double worst = expect_gradients(parameters_of(model), f);
    MESSAGE("model gradient check: worst relative error " << worst);
}

}  // namespace txl_test
