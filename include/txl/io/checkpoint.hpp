#pragma once
/// @file io/checkpoint.hpp
/// # Checkpoints: a directory of `.npy` files with labml's names
///
/// Every parameter is saved as `<name>.npy` (e.g. `transformer.layers.0.self_attn.key_pos_bias.npy`)
/// with PyTorch's shape and the model's dtype (`<f4` or `<f8`), so a labml `state_dict` dumped
/// with `numpy.save` loads into txl, and a txl checkpoint loads into PyTorch (the format:
/// `io/npy.hpp`).
///
/// **Saving is atomic** (`io/durable.hpp`): the files are written into a fresh sibling directory
/// which then takes the checkpoint's place; an interrupted save leaves the old checkpoint (or
/// nothing), never half of one. **Loading is all or nothing**: every file is read and checked
/// (present, a valid `.npy`, the right dtype, C order, shape and length, finite, no unknown
/// `.npy` names) before any parameter is overwritten; a failure throws `txl::checkpoint_error`
/// naming the file.

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "../core/errors.hpp"
#include "npy.hpp"
#include "durable.hpp"

namespace txl {

/// Write every parameter of `module` (anything with `visit`) as `<dir>/<name>.npy`.
template <class Module>
inline void save_parameters(Module& module, const fs::path& dir) {
    module.visit([&](const std::string& name, auto& p) { write_npy((dir / (name + ".npy")).string(), p.value); });
}

/// Save `module`'s parameters as a checkpoint directory, atomically.
template <class Module>
inline void save_checkpoint(Module& module, const fs::path& dir, bool overwrite = false) {
    write_directory_atomically(dir, overwrite, [&](const fs::path& tmp) { save_parameters(module, tmp); });
}

/// Make `dir` a checkpoint that can be read: finish a save that was interrupted between its two
/// renames (`recover_interrupted_save`), then check that the directory exists and every file
/// matches its checksum. Every load does this once, first.
inline void open_checkpoint(const fs::path& dir) {
    recover_interrupted_save(dir);
    check<checkpoint_error>(fs::is_directory(dir), dir.string(), ": checkpoint directory not found");
    verify_checksums(dir);
}

/// Read every parameter of `module` from `<dir>/<name>.npy` of an opened checkpoint. All files
/// are read and checked first; the parameters change only if every one of them is valid. A
/// `.npy` file in `dir` whose name is not a parameter of the module is an error too (a
/// checkpoint of another model).
template <class Module>
inline void read_parameters(Module& module, const fs::path& dir) {
    std::set<std::string> names;
    module.visit([&](const std::string& name, auto&) { names.insert(name + ".npy"); });
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string f = e.path().filename().string();
        if (e.is_regular_file() && e.path().extension() == ".npy")
            check<checkpoint_error>(names.count(f) == 1, e.path().string(),
                                    ": not a parameter of this model (unexpected name)");
    }
    // Pass 1: read everything into staging tensors; pass 2: move them in.
    std::vector<std::function<void()>> commit;
    module.visit([&](const std::string& name, auto& p) {
        using T = std::decay_t<decltype(p.value)>;
        constexpr std::size_t N = T::rank;
        std::array<std::size_t, N> shape{};
        std::copy(p.value.shape().begin(), p.value.shape().end(), shape.begin());
        auto staged = std::make_shared<T>();
        read_npy((dir / (name + ".npy")).string(), shape, *staged);
        // Weights that hold NaN or infinity (a diverged run saved by other means, a damaged file)
        // would only ever produce NaN: refused, naming the file.
        for (const auto& v : *staged)
            if (!std::isfinite(double(v)))  // (the message, a path, is built only then)
                throw checkpoint_error(detail::concat((dir / (name + ".npy")).string(),
                                                      ": holds a value that is not finite (", v,
                                                      "); refusing to load it"));
        // Copy into the existing storage: flat views (ParamRef) of the parameters stay valid.
        commit.push_back([&p, staged] { std::copy(staged->begin(), staged->end(), p.value.begin()); });
    });
    for (auto& c : commit) c();
}

/// Load every parameter of `module` from the checkpoint `dir` (`open_checkpoint`, then
/// `read_parameters`).
template <class Module>
inline void load_checkpoint(Module& module, const fs::path& dir) {
    open_checkpoint(dir);
    read_parameters(module, dir);
}

}  // namespace txl
