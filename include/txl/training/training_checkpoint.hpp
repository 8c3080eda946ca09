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
    for (std::size_t k = 0; k < adam.refs.size(); ++k) {
        const auto& r = adam.refs[k];
        const auto& mv = adam.moments[k];
        for (std::size_t i = 0; i < r.size; ++i)
            if (!(std::isfinite(double(r.value[i])) && std::isfinite(double(mv.first[i])) &&
                  std::isfinite(double(mv.second[i]))))
                throw error(detail::concat("Trainer::save: ", adam.names[k], " element ", i,
                                           " (or its Adam moments) is not finite; the checkpoint in ", dir.string(),
                                           " was left as it was"));
    }
    write_directory_atomically(dir, true, [&](const std::filesystem::path& tmp) {
        save_parameters(model, tmp);
        std::filesystem::create_directory(tmp / "optimizer");
        for (std::size_t k = 0; k < adam.names.size(); ++k) {
            const auto& mv = adam.moments[k];
            write_npy((tmp / "optimizer" / (adam.names[k] + ".m.npy")).string(),
                      xt::adapt(mv.first, std::vector<std::size_t>{mv.first.size()}));
            write_npy((tmp / "optimizer" / (adam.names[k] + ".v.npy")).string(),
                      xt::adapt(mv.second, std::vector<std::size_t>{mv.second.size()}));
        }
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
/// Adam's moments of every attached parameter from `dir/optimizer/`, checked, not yet applied.
template <class S>
std::vector<std::pair<std::vector<S>, std::vector<S>>> read_moments(const std::filesystem::path& dir,
                                                                    const Adam<S>& adam) {
    std::vector<std::pair<std::vector<S>, std::vector<S>>> moments(adam.names.size());
    for (std::size_t k = 0; k < adam.names.size(); ++k) {
        const std::array<std::size_t, 1> n{adam.moments[k].first.size()};
        tensor<S, 1> m, v;
        read_npy((dir / "optimizer" / (adam.names[k] + ".m.npy")).string(), n, m);
        read_npy((dir / "optimizer" / (adam.names[k] + ".v.npy")).string(), n, v);
        // Moments that are not finite, or a negative second moment, would put NaN into the
        // weights with the first update: refused as `load_checkpoint` refuses such weights.
        for (std::size_t i = 0; i < m.size(); ++i)
            if (!(std::isfinite(double(m(i))) && std::isfinite(double(v(i))) && v(i) >= S(0)))  // message only then
                throw checkpoint_error(detail::concat(
                    (dir / "optimizer" / adam.names[k]).string(), ".{m,v}.npy: element ", i, " holds m = ", m(i),
                    ", v = ", v(i), " (not finite, or a negative second moment); refusing to load it"));
        moments[k] = {std::vector<S>(m.begin(), m.end()), std::vector<S>(v.begin(), v.end())};
    }
    return moments;
}

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
    recover_interrupted_save(dir);
    check<checkpoint_error>(std::filesystem::is_directory(dir), dir.string(), ": checkpoint directory not found");
    verify_checksums(dir);
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
    auto moments = detail::read_moments(dir, adam);
    Memory<S> mem = detail::read_training_memory<S>(dir, num("memory_layers"), p.mem_len, p.batch, Model::d_model);
    load_checkpoint(model, dir, /*verify*/ false);  // verified above
    adam.moments = std::move(moments);
    adam.recompute_active();
    adam.t = p.step;
    memory = std::move(mem);
    return p;
}

}  // namespace txl
