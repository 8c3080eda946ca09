// The paper's base models (kimiyoung/transformer-xl run_enwik8_base.sh, run_wt103_base.sh), with
// its post-LayerNorm layer and sinusoidal attention:
// `enwik8-base`: 12 layers, d_model 512, 8 heads, d_ff 2048, a full softmax over the bytes;
// `wt103-base`: 16 layers, d_model 410, 10 heads, d_ff 2100, adaptive input and softmax cut at
// 20k, 40k and 200k, div_val 1, tied tables and projections.
#include "../commands.hpp"

namespace txl_cli {

template <class Cfg>
using PaperLayer = txl::PostNormXLLayer<txl::SinusoidalRelativeAttention<Cfg>, txl::FeedForward<Cfg>>;

std::vector<ModelEntry> paper_models() {
    using E8 = txl::Config<float, 512, 8, 2048, 12>;
    using W103 = txl::Config<float, 410, 10, 2100, 16>;
    using Clusters = txl::AdaptiveClusters<1, 20000, 40000, 200000>;
    using WT103Base = txl::AutoregressiveModel<W103, PaperLayer<W103>, txl::XLMemory<W103>,
                                               txl::AdaptiveEmbedding<W103, Clusters>,
                                               txl::AdaptiveSoftmax<W103, Clusters, true, true>>;
    return {entry<txl::AutoregressiveModel<E8, PaperLayer<E8>>>("enwik8-base", "xl", "sinusoidal", "full"),
            entry<WT103Base>("wt103-base", "xl", "sinusoidal", "adaptive")};
}

}  // namespace txl_cli
