// A program that puts a wrong block into a slot must not compile, and the compiler's message
// must name the slot and what is missing. ctest builds this file once per TXL_CF_* case and
// matches the message (tests/CMakeLists.txt); TXL_CF_NONE is the control that must compile.
#include <txl/model/model.hpp>

using C = txl::Config<float, 32, 2, 64, 2, 64>;

/// A feed-forward block with every member but the ones a case leaves out.
template <class Cfg>
struct MyFeedForward {
#ifndef TXL_CF_MISSING_CONFIG
    using config = Cfg;
#endif
    using S = typename Cfg::scalar;
    struct Cache {};
    void init(txl::Rng&) {}
    void forward(const S*, std::size_t, S*, Cache&, txl::Rng*) const {}
#ifndef TXL_CF_MISSING_BACKWARD
    void backward(const S*, const S*, std::size_t, S*, Cache&) {}
#endif
    template <class F>
    void visit(F&&, const std::string& = "") {}
};

/// An attention block, likewise.
template <class Cfg>
struct MyAttention {
    using config = Cfg;
    using S = typename Cfg::scalar;
    struct Cache {};
    void init(txl::Rng&) {}
    void forward(const S*, std::size_t, std::size_t, std::size_t, S*, Cache&, txl::Rng*) const {}
    void backward(const S*, const S*, S*, Cache&) {}
#ifndef TXL_CF_MISSING_VISIT
    template <class F>
    void visit(F&&, const std::string& = "") {}
#endif
};

/// A memory block without `update`.
template <class Cfg>
struct ForgetfulMemory {
    using config = Cfg;
    static constexpr bool remembers = false;
};

#if defined(TXL_CF_MISSING_BACKWARD)
using Model = txl::AutoregressiveModel<C, txl::XLLayer<txl::RelativeMultiHeadAttention<C>, MyFeedForward<C>>>;
#elif defined(TXL_CF_MISSING_CONFIG)
using Model = txl::AutoregressiveModel<C, txl::XLLayer<txl::RelativeMultiHeadAttention<C>, MyFeedForward<C>>>;
#elif defined(TXL_CF_MISSING_VISIT)
using Model = txl::AutoregressiveModel<C, txl::XLLayer<MyAttention<C>, txl::FeedForward<C>>>;
#elif defined(TXL_CF_D_MODEL)
using C16 = txl::Config<float, 16, 2, 64, 2, 64>;  // d_model 16 against 32
using Model = txl::AutoregressiveModel<C, txl::XLLayer<txl::RelativeMultiHeadAttention<C>, txl::FeedForward<C16>>>;
#elif defined(TXL_CF_SCALAR)
using Cd = txl::Config<double, 32, 2, 64, 2, 64>;  // double against float
using Model = txl::AutoregressiveModel<C, txl::XLLayer<txl::RelativeMultiHeadAttention<C>, txl::FeedForward<Cd>>>;
#elif defined(TXL_CF_LAYER_CONFIG)
using C4 = txl::Config<float, 32, 4, 64, 2, 64>;  // a layer of 4 heads in a model of 2
using Model = txl::AutoregressiveModel<C, txl::TransformerXLLayer<C4>>;
#elif defined(TXL_CF_MEMORY)
using Model = txl::AutoregressiveModel<C, txl::TransformerXLLayer<C>, ForgetfulMemory<C>>;
#else  // TXL_CF_NONE: the same blocks, complete
using Model = txl::AutoregressiveModel<C, txl::XLLayer<MyAttention<C>, MyFeedForward<C>>>;
#endif

int main() {
    Model model(10, 1);
    return int(model.parameter_count() == 0);
}
