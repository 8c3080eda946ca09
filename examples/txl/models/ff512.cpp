// The practical presets' shape (`--size ff512`: labml's with d_ff 512), every model.
#include "../commands.hpp"

namespace txl_cli {

std::vector<ModelEntry> ff512_models() { return every_model<txl::Config<float, 128, 4, 512, 6>>("ff512"); }

}  // namespace txl_cli
