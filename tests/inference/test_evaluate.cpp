#include "../fixtures.hpp"
#include "../gradcheck.hpp"

using namespace txl_test;

namespace {
using C = txl::Config<float, 16, 2, 32, 2, 64>;
using Model = txl::TransformerXL<C>;
}  // namespace

TEST_CASE("evaluate: a stop request ends the pass at the next batch, marked incomplete") {
    const auto ids = synthetic_ids(400, 9);
    Model model(9, 3);
    const auto whole = txl::evaluate(model, ids, 3, 5, 7);
    CHECK(whole.complete);
    int calls = 0;
    const auto part = txl::evaluate(model, ids, 3, 5, 7, [&] { return ++calls > 2; });  // after two batches
    CHECK_FALSE(part.complete);
    CHECK(part.tokens == 2 * 5 * 3);
    CHECK(part.tokens < whole.tokens);
}
