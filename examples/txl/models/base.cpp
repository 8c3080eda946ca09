// labml's shape (`--size base`: d_model 128, 4 heads, d_ff 256, 6 layers), every model.
#include "../commands.hpp"

namespace txl_cli {

std::vector<ModelEntry> base_models() { return every_model<txl::Config<float, 128, 4, 256, 6>>("base"); }

}  // namespace txl_cli
