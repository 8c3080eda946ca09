#pragma once
// Finite-difference gradient checks, shared by the tests.
//
// For every checked tensor the analytic gradient (from backward) is compared with the central
// difference (f(x + h) - f(x - h)) / 2h, element by element, in double precision. The error of a
// tensor is max|numeric - analytic| / max|analytic|; it must be <= 1e-6. A failure prints the
// tensor's name, both maxima and the worst element.

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <txl/txl.hpp>

namespace txl_test {

struct Checked {
    std::string name;
    double* value;          // perturbed in place
    const double* grad;     // analytic gradient, same length
    std::size_t n;
};

inline constexpr double kGradTol = 1e-6;

/// Every parameter of a module (anything with `visit`), as checked tensors.
template <class Module>
std::vector<Checked> parameters_of(Module& m) {
    std::vector<Checked> out;
    m.visit([&](const std::string& name, auto& p) {
        out.push_back({name, p.value.data(), p.grad.data(), p.value.size()});
    });
    return out;
}

/// Check every tensor in `checked` against central differences of `f`. Returns the largest
/// relative error seen.
inline double check_gradients(const std::vector<Checked>& checked, const std::function<double()>& f,
                              double h = 1e-5, double tol = kGradTol) {
    double worst = 0;
    for (const auto& c : checked) {
        double max_diff = 0, max_ana = 0;
        std::size_t at = 0;
        for (std::size_t i = 0; i < c.n; ++i) {
            const double v = c.value[i];
            c.value[i] = v + h;
            const double fp = f();
            c.value[i] = v - h;
            const double fm = f();
            c.value[i] = v;
            const double num = (fp - fm) / (2 * h);
            const double diff = std::abs(num - c.grad[i]);
            if (diff > max_diff) max_diff = diff, at = i;
            max_ana = std::max(max_ana, std::abs(c.grad[i]));
        }
        const double rel = max_ana > 0 ? max_diff / max_ana : max_diff;
        worst = std::max(worst, rel);
        INFO("tensor " << c.name << ": max|numeric - analytic| = " << max_diff
                       << " at element " << at << ", max|analytic| = " << max_ana
                       << ", relative error = " << rel << " (tolerance " << tol << ")");
        CHECK(rel <= tol);
        CHECK(max_ana > 0);  // a tensor whose gradient is all zero proves nothing
    }
    return worst;
}

/// Random values in [-a, a], seeded.
inline void fill_uniform(double* x, std::size_t n, unsigned seed, double a = 1.0) {
    std::mt19937_64 g(seed);
    std::uniform_real_distribution<double> u(-a, a);
    for (std::size_t i = 0; i < n; ++i) x[i] = u(g);
}

/// Fill every parameter of a module with random values (so zero-initialised tables are tested
/// too); LayerNorm-like weights near 1.
template <class Module>
void randomize(Module& m, unsigned seed) {
    for (auto& c : parameters_of(m)) {
        fill_uniform(c.value, c.n, seed++, 0.5);
        if (c.name.find("norm") != std::string::npos && c.name.find("weight") != std::string::npos)
            for (std::size_t i = 0; i < c.n; ++i) c.value[i] += 1.0;
    }
}

/// sum(out * w): a loss whose gradient with respect to `out` is `w`.
inline double dot(const double* out, const double* w, std::size_t n) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += out[i] * w[i];
    return s;
}

}  // namespace txl_test
