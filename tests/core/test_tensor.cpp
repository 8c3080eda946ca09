#include "../gradcheck.hpp"

using namespace txl_test;

TEST_CASE("ensure_shape: reallocates only when the shape changes") {
    txl::tensor<float, 2> t;
    txl::ensure_shape(t, {3, 4});
    const float* p = t.data();
    txl::ensure_shape(t, {3, 4});
    CHECK(t.data() == p);
    txl::ensure_shape(t, {2, 5});
    CHECK(t.shape()[1] == 5);
}

TEST_CASE("add_column_sums and zero_grad") {
    const double x[6] = {1, 2, 3, 4, 5, 6};
    double y[3] = {1, 0, 0};
    txl::add_column_sums(x, 2, 3, y);
    CHECK(y[0] == 6);
    CHECK(y[2] == 9);
    txl::Linear<double> lin(2, 2, true);
    lin.weight.grad.fill(3);
    txl::zero_grad(lin);
    CHECK(lin.weight.grad(1, 1) == 0);
}
