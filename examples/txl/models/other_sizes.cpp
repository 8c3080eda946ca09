// The other shapes of the preset sweep (bench/sweep_shakespeare.py; heads stay 32 wide), each
// labml's Transformer-XL: deeper, wider and narrower than labml's.
#include "../commands.hpp"

namespace txl_cli {

std::vector<ModelEntry> other_sizes() {
    return {entry<txl::TransformerXL<txl::Config<float, 128, 4, 256, 8>>>("deep", "xl", "learned", "full"),
            entry<txl::TransformerXL<txl::Config<float, 192, 6, 384, 6>>>("wide", "xl", "learned", "full"),
            entry<txl::TransformerXL<txl::Config<float, 96, 3, 192, 6>>>("narrow", "xl", "learned", "full")};
}

}  // namespace txl_cli
