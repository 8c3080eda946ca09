#pragma once
/// @file core/tensor.hpp
/// # Tensors, parameters, and the one product every block calls
///
/// xtensor holds the data (contiguous, row-major) and gives shapes, views and `.npy` I/O.
/// Activations are stored in labml's order `[time, batch, feature]`; for a product they are
/// read as a matrix of `T * B` rows (row `t * B + b`).
///
/// Every matrix product is one call,
/// $$C \leftarrow \alpha\, op(A)\, op(B) + \beta C \qquad \texttt{gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)},$$
/// with leading dimensions, so that a head's slice $Q_{b,h}$ of an activation stored as
/// `[T, B, d_model]` is the matrix that starts at `q + b * d_model + h * d_k` with rows
/// `B * d_model` apart. How it runs (txl's own `float` kernel or BLAS, split over threads) is
/// machinery, kept off the reading path in `detail/gemm.hpp`; `gemm_naive` there is the triple
/// loop it stands for. So are the thread helpers (`detail/threads.hpp`).

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>
// xtensor 0.26 moved its headers into folders (containers/, views/, io/, ...): txl builds on
// both layouts (Debian 12's 0.24 and the current 0.27).
#if __has_include(<xtensor/containers/xtensor.hpp>)
#include <xtensor/containers/xtensor.hpp>
#include <xtensor/views/xview.hpp>
#else
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>
#endif

#include "../detail/gemm.hpp"
#include "../detail/threads.hpp"

namespace txl {

template <class S, std::size_t N>
using tensor = xt::xtensor<S, N>;

/// Where a gradient may be non-zero: the elements `[begin, end)` of the flat tensor.
struct Span {
    std::size_t begin = 0, end = 0;
    bool empty() const { return begin >= end; }
    /// Grow to cover `[b, e)` too.
    void extend(std::size_t b, std::size_t e) {
        if (b >= e) return;
        if (empty()) {
            begin = b, end = e;
        } else {
            begin = std::min(begin, b), end = std::max(end, e);
        }
    }
};

/// A learnable tensor and the gradient of the loss with respect to it (same shape).
/// Gradients accumulate (`+=`) in `backward`; `zero_grad` clears them.
///
/// `touched` says where the gradient may be non-zero. For a dense parameter that is all of it,
/// always. A *row-sparse* parameter (the relative position tables, of which a step reads only
/// a window of rows) starts with an empty span; its block's backward extends it over the rows
/// it writes and `zero_grad` clears only those and empties it again. Optimizers and clipping
/// skip what lies outside: there the gradient is exactly zero.
template <class S, std::size_t N>
struct Param {
    tensor<S, N> value;
    tensor<S, N> grad;
    bool sparse = false;
    Span touched;

    template <class Shape>
    void resize(const Shape& shape) {
        value = tensor<S, N>::from_shape(shape);
        grad = tensor<S, N>::from_shape(shape);
        value.fill(S(0));
        grad.fill(S(0));
        touched = {0, value.size()};
    }
    /// Declare the parameter row-sparse (see above). Its gradient is all zero at this point.
    void make_sparse() {
        sparse = true;
        touched = {};
    }
};

/// Resize a workspace only if its shape changes, so a step with the same lengths as the
/// last one allocates nothing.
template <class S, std::size_t N, class Shape>
inline void ensure_shape(tensor<S, N>& t, const Shape& shape) {
    bool same = t.dimension() == N;
    for (std::size_t i = 0; same && i < N; ++i) same = t.shape()[i] == shape[i];
    if (!same) t.resize(shape);
}
template <class S, std::size_t N>
inline void ensure_shape(tensor<S, N>& t, std::initializer_list<std::size_t> shape) {
    std::array<std::size_t, N> s{};
    std::copy(shape.begin(), shape.end(), s.begin());
    ensure_shape(t, s);
}

/// A parameter seen as flat memory: what optimizers, clipping and zeroing need, without
/// names or shapes. Valid while the parameter's storage lives (txl never reallocates it:
/// loading a checkpoint copies into place).
template <class S>
struct ParamRef {
    S* value;
    S* grad;
    std::size_t size;
    Span* touched;  ///< where `grad` may be non-zero (see `Param`)
    bool sparse;
};

/// The flat view of every parameter of a module (anything with `visit`), in visiting order.
/// Building it walks the names once; hot loops keep the vector and skip the walk.
template <class S, class Module>
inline std::vector<ParamRef<S>> parameter_refs(Module& m) {
    std::vector<ParamRef<S>> out;
    m.visit([&](const auto&, auto& p) {
        out.push_back({p.value.data(), p.grad.data(), p.value.size(), &p.touched, p.sparse});
    });
    return out;
}

/// Set every gradient to zero (only where it may be non-zero; sparse spans are emptied).
template <class S>
inline void zero_grad(std::vector<ParamRef<S>>& refs) {
    for (const auto& r : refs) {
        std::fill(r.grad + r.touched->begin, r.grad + std::max(r.touched->begin, r.touched->end), S(0));
        if (r.sparse) *r.touched = {};
    }
}
template <class Module>
inline void zero_grad(Module& m) {
    m.visit([](const auto&, auto& p) {
        p.grad.fill(0);
        if (p.sparse) p.touched = {};
    });
}

}  // namespace txl
