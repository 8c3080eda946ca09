// labml's shape (`--size base`: d_model 128, 4 heads, d_ff 256, 6 layers): labml's
// Transformer-XL and the same layers without memory, with labml's learned or the paper's
// sinusoidal relative attention.
#include "../commands.hpp"

namespace txl_cli {

std::vector<ModelEntry> base_models() {
    using C = txl::Config<float, 128, 4, 256, 6>;
    using Sin = txl::XLLayer<txl::SinusoidalRelativeAttention<C>, txl::FeedForward<C>>;
    return {entry<txl::TransformerXL<C>>("base", "xl", "learned", "full"),
            entry<txl::TransformerXLNoMemory<C>>("base", "no-memory", "learned", "full"),
            entry<txl::AutoregressiveModel<C, Sin>>("base", "xl", "sinusoidal", "full"),
            entry<txl::AutoregressiveModel<C, Sin, txl::NoMemory<C>>>("base", "no-memory", "sinusoidal", "full")};
}

}  // namespace txl_cli
