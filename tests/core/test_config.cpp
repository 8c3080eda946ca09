#include <doctest/doctest.h>

#include <txl/core/config.hpp>
#include <txl/core/errors.hpp>

// Config's derived sizes are compile-time constants: checked when this file compiles.
namespace {
using C = txl::Config<float, 128, 4, 256, 6>;
static_assert(C::d_k == 32);
static_assert(C::P == 4096);  // labml's 2^12
static_assert(C::n_layers == 6);
static_assert(std::is_same_v<C::scalar, float>);
// txl::Config<float, 130, 4, 256, 6> fails to compile: d_model % heads != 0.
}  // namespace

TEST_CASE("errors: check joins its message and throws the requested type") {
    CHECK_THROWS_WITH_AS(txl::check(false, "value ", 3, ", expected ", 4.5), "value 3, expected 4.5", txl::shape_error);
    CHECK_THROWS_AS(txl::check<txl::checkpoint_error>(false, "x"), txl::checkpoint_error);
    CHECK_THROWS_AS(txl::check<txl::checkpoint_error>(false, "x"), std::runtime_error);
    CHECK_NOTHROW(txl::check(true, "never"));
}
