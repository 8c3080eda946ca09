// `--size ff512 --softmax adaptive`: labml's Transformer-XL with the paper's adaptive input and
// adaptive softmax, cut at the 1,000th and 3,000th word (div_val 1, tied tables): a word model
// of the practical presets' shape.
#include "../commands.hpp"

namespace txl_cli {

std::vector<ModelEntry> adaptive_models() {
    using C = txl::Config<float, 128, 4, 512, 6>;
    using Clusters = txl::AdaptiveClusters<1, 1000, 3000>;
    using Model = txl::AutoregressiveModel<C, txl::TransformerXLLayer<C>, txl::XLMemory<C>,
                                           txl::AdaptiveEmbedding<C, Clusters>,
                                           txl::AdaptiveSoftmax<C, Clusters, /*tie weights*/ true>>;
    return {entry<Model>("ff512", "xl", "learned", "adaptive")};
}

}  // namespace txl_cli
