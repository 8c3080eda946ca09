#pragma once
/// @file training/training_checkpoint.hpp
/// # A training checkpoint: everything a run needs to continue bit for bit
///
/// A directory, written atomically and verified when read (`io/durable.hpp`):
/// - the model's parameters, `<name>.npy` with labml's names (`io/checkpoint.hpp`);
/// - `optimizer/<name>.m.npy`, `optimizer/<name>.v.npy`: Adam's moments $m$ and $v$ of every
///   parameter, flat;
/// - `memory/layer_<l>.npy`: the training memory $mem_l$ `[M, B, d_model]` of each layer;
/// - `trainer.txt`, one `key value` per line: `format 1` (any other is refused), `step` (Adam's $t$), `tokens`
///   (targets trained on), `epoch` and `position` (the sequential loader's place), `seq_len`,
///   `mem_len`, `batch` (the shape it was trained with, checked on resume), `memory_layers`,
///   `rng` (the dropout generator's state).
///
/// With all of it restored, the next step draws the same batch, the same dropout masks and
/// the same update as the run that wrote it would have. A caller may add files of its own
/// (the example adds its vocabulary and its configuration). Loading is all or nothing: every
/// file is read and checked (shapes, finite values, a non-negative second moment) before the
/// model, the optimizer or the memory changes.

#include <array>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "../core/errors.hpp"
#include "../core/tensor.hpp"
#include "../core/random.hpp"
#include "../model/memory.hpp"
#include "../io/npy.hpp"
#include "../io/durable.hpp"
#include "../io/checkpoint.hpp"
#include "../io/key_values.hpp"
#include "optim.hpp"

namespace txl {

/// The `format` this program writes into `trainer.txt`, and the only one it reads.
inline constexpr unsigned long long kTrainingCheckpointFormat = 1;

/// Where a training run stands: what `trainer.txt` records besides the files.
struct TrainingProgress {
    std::size_t step = 0;                             ///< optimizer steps taken (Adam's $t$)
    std::size_t tokens = 0;                           ///< target tokens trained on
    std::size_t epoch = 0, position = 0;              ///< the sequential loader's place
    std::size_t seq_len = 0, mem_len = 0, batch = 0;  ///< the shape trained with
    Rng rng;                                          ///< the dropout generator's state
};

/// Write the training checkpoint of `model`, `adam` (its moments and step), `memory` and
/// `p` to `dir`, atomically; `extra(tmp_dir)` may add files. Weights or moments that are not
/// finite never replace a checkpoint (they could only come from a bug or a fault, since a
/// training step stops before a non-finite update): the old one is left as it was.
template <class Model, class S, class Extra>
void save_training_checkpoint(const std::filesystem::path& dir, Model& model, const Adam<S>& adam,
                              const Memory<S>& memory, const TrainingProgress& p, Extra&& extra) {
    adam.check_finite("Trainer::save", "the checkpoint in " + dir.string() + " was left as it was");
    write_directory_atomically(dir, true, [&](const std::filesystem::path& tmp) {
        save_parameters(model, tmp);
        std::filesystem::create_directory(tmp / "optimizer");
        adam.write_state(tmp / "optimizer");
        std::filesystem::create_directory(tmp / "memory");
        for (std::size_t l = 0; l < memory.states.size(); ++l)
            write_npy((tmp / "memory" / ("layer_" + std::to_string(l) + ".npy")).string(), memory.states[l]);
        const std::string trainer_txt = (tmp / "trainer.txt").string();
        std::ofstream t(trainer_txt);
        t << "format " << kTrainingCheckpointFormat << "\n"
          << "step " << p.step << "\n"
          << "tokens " << p.tokens << "\n"
          << "epoch " << p.epoch << "\n"
          << "position " << p.position << "\n"
          << "seq_len " << p.seq_len << "\n"
          << "mem_len " << p.mem_len << "\n"
          << "batch " << p.batch << "\n"
          << "memory_layers " << memory.states.size() << "\n"
          << "rng " << p.rng << "\n";
        finish_file(t, trainer_txt);
        extra(tmp);
    });
}

namespace detail {
/// The training memory from `dir/memory/`: `layers` tensors `[M <= mem_len, batch, d_model]`.
template <class S>
Memory<S> read_training_memory(const std::filesystem::path& dir, std::size_t layers, std::size_t mem_len,
                               std::size_t batch, std::size_t d_model) {
    Memory<S> mem;
    for (std::size_t l = 0; l < layers; ++l) {
        const std::string p = (dir / "memory" / ("layer_" + std::to_string(l) + ".npy")).string();
        std::ifstream in(p, std::ios::binary);
        check<checkpoint_error>(bool(in), p, ": missing or unreadable file");
        const auto h = read_npy_header(in, p);
        check<checkpoint_error>(
            h.shape.size() == 3 && h.shape[0] <= mem_len && h.shape[1] == batch && h.shape[2] == d_model, p,
            ": memory of the wrong shape");
        tensor<S, 3> t;
        read_npy(p, std::array<std::size_t, 3>{h.shape[0], h.shape[1], h.shape[2]}, t);
        mem.states.push_back(std::move(t));
    }
    return mem;
}
}  // namespace detail

/// Read the training checkpoint in `dir` into `model`, `adam` and `memory`, and return where
/// the run stood. `expected` gives the shape this run trains with (`seq_len`, `mem_len`,
/// `batch`), which must be the checkpoint's; `text_rows` is the training text's length in
/// loader rows (the saved position must lie inside it). All files are checked first; on any
/// error nothing changes and `checkpoint_error` names the file.
template <class Model, class S>
TrainingProgress load_training_checkpoint(const std::filesystem::path& dir, Model& model, Adam<S>& adam,
                                          Memory<S>& memory, const TrainingProgress& expected, std::size_t text_rows) {
    open_checkpoint(dir);
    const KeyValues kv((dir / "trainer.txt").string());
    auto num = [&](const std::string& k) -> std::size_t { return std::size_t(kv.whole(k, 0, ~0ull)); };
    const std::string where = (dir / "trainer.txt").string();
    // A later format may add state this program would silently drop: refused, never guessed.
    const auto format = kv.whole("format", 1, ~0ull);
    check<checkpoint_error>(format == kTrainingCheckpointFormat, where, ": format ", format,
                            " was written by a newer txl; this program reads format ", kTrainingCheckpointFormat);
    TrainingProgress p;
    p.seq_len = num("seq_len");
    p.batch = num("batch");
    p.mem_len = num("mem_len");
    check<checkpoint_error>(p.seq_len == expected.seq_len && p.batch == expected.batch && p.mem_len == expected.mem_len,
                            where, ": trained with seq_len ", p.seq_len, ", batch ", p.batch, ", mem_len ", p.mem_len,
                            "; this run has ", expected.seq_len, ", ", expected.batch, ", ", expected.mem_len);
    p.position = num("position");
    check<checkpoint_error>(p.position < text_rows, where, ": data position ", p.position, " is beyond the text (",
                            text_rows, " rows)");
    check<checkpoint_error>(kv.has("rng"), where, ": no 'rng' (the random generator's state)");
    std::istringstream r(kv.text("rng"));
    r >> p.rng;
    check<checkpoint_error>(!r.fail(), where, ": unreadable generator state");
    p.step = num("step");
    p.tokens = num("tokens");
    p.epoch = num("epoch");
    // Stage the optimizer moments and the memory, then the model (all or nothing).
    auto moments = adam.read_state(dir / "optimizer");
    Memory<S> mem = detail::read_training_memory<S>(dir, num("memory_layers"), p.mem_len, p.batch, Model::d_model);
    read_parameters(model, dir);
    adam.restore(std::move(moments), p.step);
    memory = std::move(mem);
    return p;
}

}  // namespace txl
