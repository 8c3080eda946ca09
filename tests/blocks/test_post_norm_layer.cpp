#include "../gradcheck.hpp"

using namespace txl_test;

using C = txl::Config<double, 8, 2, 12, 1, 8>;

using PostNorm = txl::PostNormXLLayer<txl::RelativeMultiHeadAttention<C>, txl::FeedForward<C>>;
using PostNormSin = txl::PostNormXLLayer<txl::SinusoidalRelativeAttention<C>, txl::FeedForward<C>>;
TEST_CASE("PostNormXLLayer: gradients (M = 0, M > T, dropout with fixed masks), both attentions") {
    expect_report(txl::testing::check_layer<PostNorm>(0, 3, 2, 200, 0.0));
    expect_report(txl::testing::check_layer<PostNorm>(4, 2, 2, 204, 0.0));
    expect_report(txl::testing::check_layer<PostNorm>(2, 3, 2, 202, 0.2));
    expect_report(txl::testing::check_layer<PostNormSin>(4, 2, 2, 204, 0.0));
}

TEST_CASE("PostNormXLLayer in a model: gradients over two segments") {
    using D = txl::Config<double, 8, 2, 12, 2, 16>;
    check_model_gradients<
        txl::AutoregressiveModel<D, txl::PostNormXLLayer<txl::SinusoidalRelativeAttention<D>, txl::FeedForward<D>>>>(
        3, 2, 2, 4);
}
