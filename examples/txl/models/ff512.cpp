// The practical presets' shape (`--size ff512`: labml's with d_ff 512): labml's
// Transformer-XL and the same layers without memory, with labml's learned or the paper's
// sinusoidal relative attention.
#include "../commands.hpp"

namespace txl_cli {

std::vector<ModelEntry> ff512_models() {
    using C = txl::Config<float, 128, 4, 512, 6>;
    using Sin = txl::XLLayer<txl::SinusoidalRelativeAttention<C>, txl::FeedForward<C>>;
    return {entry<txl::TransformerXL<C>>("ff512", "xl", "learned", "full"),
            entry<txl::TransformerXLNoMemory<C>>("ff512", "no-memory", "learned", "full"),
            entry<txl::AutoregressiveModel<C, Sin>>("ff512", "xl", "sinusoidal", "full"),
            entry<txl::AutoregressiveModel<C, Sin, txl::NoMemory<C>>>("ff512", "no-memory", "sinusoidal", "full")};
}

}  // namespace txl_cli
