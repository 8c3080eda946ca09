#pragma once
/// @file training/trainer.hpp
/// # Training loop, evaluation with memory, and resumable training checkpoints
///
/// One training step, exactly labml's experiment:
/// 1. the next batch `x, y` `[T, B]` from the sequential loader (memory cleared when an epoch
///    starts);
/// 2. forward with the memory, mean cross-entropy, backward (no gradient into the memory);
/// 3. clip the global gradient norm, one Adam step with the schedule's rate $\eta_t$;
/// 4. the segment's layer inputs merged into the memory (last `mem_len` rows).
///
/// **Gradient accumulation** (`accumulate` $= k > 1$), for a batch whose activations do not fit:
/// the $B$ streams are cut into $k$ micro-batches of $B/k$ streams, each run forward and
/// backward in turn with its own columns of the memory, the gradients adding up. With the loss
/// of micro-batch $j$ the mean $L_j$ over its $T B/k$ targets, the batch's loss is
/// $L = \frac1k \sum_j L_j$, so each backward starts from $\frac1k \partial L_j/\partial\text{logits}$
/// and the sum of the $k$ backward passes is exactly $\nabla_\theta L$ of the whole batch (up to
/// the order of float additions); clipping and the Adam step then see the same gradient as
/// without accumulation. The activations held at once are those of $B/k$ streams.
///
/// A training checkpoint is a directory: the model's `.npy` files (see `checkpoint.hpp`),
/// `optimizer/` (Adam's $m$ and $v$ for every parameter), `memory/` (the training memory),
/// and `trainer.txt` (step, data position, options, the dropout generator's state). With all
/// of that restored, a resumed run continues bit for bit as if it had never stopped.

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../io/checkpoint.hpp"
#include "../data/data.hpp"
#include "../io/key_values.hpp"
#include "../blocks/loss.hpp"
#include "../model/memory.hpp"
#include "optim.hpp"
#include "../core/random.hpp"

namespace txl {

struct TrainOptions {
    std::size_t seq_len = 2, mem_len = 32, batch = 32;
    Schedule schedule;
    double clip = 1.0;  ///< global gradient-norm limit (0: no clipping)
    double dropout = 0;
    double dropatt = -1;         ///< dropout on the attention weights; < 0: the same as `dropout` (labml)
    double weight_decay = 0;     ///< AdamW's decoupled $\lambda$ (0: labml's Adam, see `optim.hpp`)
    std::uint64_t seed = 1;      ///< dropout masks
    std::size_t accumulate = 1;  ///< micro-batches per step (gradient accumulation); must divide `batch`
};

struct StepStats {
    double loss = 0, accuracy = 0, lr = 0, grad_norm = 0;
    std::size_t tokens = 0;
};

struct EvalStats {
    double loss = 0, accuracy = 0;
    std::size_t tokens = 0;
    bool complete = true;  ///< false when `stop` ended the pass early (the figures cover `tokens` only)
};

/// Loss and accuracy over all of `ids`, read sequentially as `batch` streams of `seq_len`
/// steps with a memory of `mem_len` (its own, starting empty). Dropout off.
template <class Model>
EvalStats evaluate(const Model& model, const TokenIds& ids, std::size_t batch, std::size_t seq_len, std::size_t mem_len,
                   const std::function<bool()>& stop = nullptr) {
    using S = typename Model::S;
    SequentialLoader loader(ids, batch, seq_len, "validation text");
    typename Model::Cache cache;
    Memory<S> mem;
    mem.kv_cache = true;  // evaluation: the memory's keys and values are reused, not recomputed
    tensor<std::int64_t, 2> x, y;
    EvalStats out;
    double loss_sum = 0, hit_sum = 0;
    do {
        if (stop && stop()) {  // asked to stop (Ctrl-C): a partial pass, marked as such
            out.complete = false;
            break;
        }
        loader.next(x, y);
        model.forward(x, mem, cache);
        const auto r = cross_entropy(cache.logits.data(), y.data(), y.size(), model.n_vocab());
        loss_sum += r.loss * double(y.size());
        hit_sum += r.accuracy * double(y.size());
        out.tokens += y.size();
        model.update_memory(mem, cache, mem_len);
    } while (!loader.at_epoch_start());
    out.loss = out.tokens ? loss_sum / double(out.tokens) : 0.0;
    out.accuracy = out.tokens ? hit_sum / double(out.tokens) : 0.0;
    return out;
}

/// @tparam Model an `AutoregressiveModel<...>`.
template <class Model>
class Trainer {
public:
    using S = typename Model::S;

    /// `train_ids` are shared, not copied (a `std::vector<std::int64_t>` converts).
    Trainer(Model& model, const TrainOptions& options, const TokenIds& train_ids)
        : model_(model),
          options_(checked(options)),
          loader_(train_ids, options.batch, options.seq_len, "training text"),
          rng_(options.seed) {
        model_.set_dropout(S(options.dropout), S(options.dropatt < 0 ? options.dropout : options.dropatt));
        adam_.attach(model_);
        adam_.weight_decay = options.weight_decay;
    }

    /// `o` if every option is in its range, else a `txl::error` naming the option and the range.
    static const TrainOptions& checked(const TrainOptions& o) {
        check<error>(o.seq_len >= 1 && o.batch >= 1, "TrainOptions: seq_len ", o.seq_len, " and batch ", o.batch,
                     " must be >= 1");
        check<error>(o.accumulate >= 1 && o.batch % o.accumulate == 0, "TrainOptions: accumulate ", o.accumulate,
                     " must be >= 1 and divide batch ", o.batch);
        check<error>(!Model::has_memory || o.seq_len + o.mem_len <= Model::config::P,
                     "TrainOptions: seq_len + mem_len = ", o.seq_len + o.mem_len, " must be <= P = ", Model::config::P);
        check<error>(std::isfinite(o.clip) && o.clip >= 0, "TrainOptions: clip ", o.clip, " must be finite and >= 0");
        check<error>(o.dropout >= 0 && o.dropout < 1, "TrainOptions: dropout ", o.dropout, " must be in [0, 1)");
        check<error>(o.dropatt < 1 && !std::isnan(o.dropatt), "TrainOptions: dropatt ", o.dropatt,
                     " must be below 1 (< 0: as dropout)");
        const Schedule& sc = o.schedule;
        check<error>(std::isfinite(sc.lr) && sc.lr > 0, "TrainOptions: schedule lr ", sc.lr, " must be finite and > 0");
        check<error>(std::isfinite(sc.min_lr) && sc.min_lr >= 0 && sc.min_lr <= sc.lr, "TrainOptions: schedule min_lr ",
                     sc.min_lr, " must be in [0, lr]");
        check<error>(sc.d_model >= 1, "TrainOptions: schedule d_model must be >= 1");
        check<error>(std::isfinite(o.weight_decay) && o.weight_decay >= 0 && o.weight_decay * sc.lr < 1,
                     "TrainOptions: weight_decay ", o.weight_decay, " must be finite, >= 0 and below 1 / lr");
        return o;
    }

    const TrainOptions& options() const { return options_; }
    /// Fix the step at which a decaying schedule ends (`Schedule::total`), e.g. once the
    /// steps that fit a time budget are known. Only the rates of later steps change.
    void set_schedule_total(std::size_t total) { options_.schedule.total = total; }
    std::size_t step_count() const { return adam_.t; }
    /// Target characters trained on so far (the last batch of an epoch is shorter).
    std::size_t tokens_seen() const { return tokens_; }
    const SequentialLoader& loader() const { return loader_; }
    const Memory<S>& memory() const { return memory_; }
    Adam<S>& optimizer() { return adam_; }

    /// One training step (see the file comment).
    StepStats step() {
        // 1. The next segment $x, y$ `[T, B]`; a new epoch starts from an empty memory.
        if (loader_.at_epoch_start()) memory_.clear();
        loader_.next(x_, y_);
        // 2. $L = \text{CE}(\text{model}(x;\ mem), y)$ and $\nabla_\theta L$ (none into $mem$).
        zero_grad(adam_.refs);
        Rng* rng = options_.dropout > 0 || options_.dropatt > 0 ? &rng_ : nullptr;
        LossResult<S> r;
        if (options_.accumulate == 1) {
            model_.forward(x_, memory_, cache_, rng);
            ensure_shape(dlogits_, cache_.logits.shape());
            r = cross_entropy(cache_.logits.data(), y_.data(), y_.size(), model_.n_vocab(), dlogits_.data());
            model_.backward(dlogits_.data(), cache_);
        } else {
            r = accumulate_gradients(rng);  // the same, $k$ micro-batches in turn (see the file comment)
        }
        // 3. Clip $\lVert \nabla_\theta L \rVert$ to `clip`, one Adam step at $\eta_t$ = schedule($t$).
        StepStats s;
        s.grad_norm = clip_grad_norm(adam_.refs, options_.clip > 0 ? options_.clip : HUGE_VAL);  // HUGE_VAL: norm only
        // A loss or gradient that is not finite (a diverged run) would put NaN into every weight
        // with the update: stop before it, weights, moments and memory as they were.
        check<error>(std::isfinite(r.loss) && std::isfinite(s.grad_norm), "training step ", adam_.t + 1,
                     ": the loss is ", r.loss, " and the gradient norm ", s.grad_norm,
                     " (not finite: the run diverged); stopped before the update, so the weights are those after step ",
                     adam_.t);
        s.lr = options_.schedule(adam_.t + 1);
        adam_.step(s.lr);
        // 4. $mem_l \leftarrow$ the last `mem_len` rows of $[\,mem_l;\ x_l\,]$ (the memory block's rule;
        // with accumulation each micro-batch did it for its own columns).
        if (options_.accumulate == 1) model_.update_memory(memory_, cache_, options_.mem_len);
        s.loss = r.loss;
        s.accuracy = r.accuracy;
        s.tokens = y_.size();
        tokens_ += s.tokens;
        return s;
    }

    /// Write a complete training checkpoint to `dir`, atomically. `extra(tmp_dir)` may add
    /// files of the caller's (a vocabulary, a config).
    template <class Extra>
    void save(const std::filesystem::path& dir, Extra&& extra) {
        // Never replace a checkpoint with weights or moments that are not finite (they could only
        // come from a bug or a fault, since `step` stops before a non-finite update).
        for (std::size_t k = 0; k < adam_.refs.size(); ++k) {
            const auto& r = adam_.refs[k];
            const auto& mv = adam_.moments[k];
            for (std::size_t i = 0; i < r.size; ++i)
                if (!(std::isfinite(double(r.value[i])) && std::isfinite(double(mv.first[i])) &&
                      std::isfinite(double(mv.second[i]))))
                    throw error(detail::concat("Trainer::save: ", adam_.names[k], " element ", i,
                                               " (or its Adam moments) is not finite; the checkpoint in ", dir.string(),
                                               " was left as it was"));
        }
        write_directory_atomically(dir, true, [&](const std::filesystem::path& tmp) {
            save_parameters(model_, tmp);
            std::filesystem::create_directory(tmp / "optimizer");
            for (std::size_t k = 0; k < adam_.names.size(); ++k) {
                const auto& mv = adam_.moments[k];
                write_npy((tmp / "optimizer" / (adam_.names[k] + ".m.npy")).string(),
                          xt::adapt(mv.first, std::vector<std::size_t>{mv.first.size()}));
                write_npy((tmp / "optimizer" / (adam_.names[k] + ".v.npy")).string(),
                          xt::adapt(mv.second, std::vector<std::size_t>{mv.second.size()}));
            }
            std::filesystem::create_directory(tmp / "memory");
            for (std::size_t l = 0; l < memory_.layers.size(); ++l)
                write_npy((tmp / "memory" / ("layer_" + std::to_string(l) + ".npy")).string(), memory_.layers[l]);
            const std::string trainer_txt = (tmp / "trainer.txt").string();
            std::ofstream t(trainer_txt);
            t << "format 1\n"
              << "step " << adam_.t << "\n"
              << "tokens " << tokens_ << "\n"
              << "epoch " << loader_.epoch << "\n"
              << "position " << loader_.position << "\n"
              << "seq_len " << options_.seq_len << "\n"
              << "mem_len " << options_.mem_len << "\n"
              << "batch " << options_.batch << "\n"
              << "memory_layers " << memory_.layers.size() << "\n"
              << "rng " << rng_ << "\n";
            finish_file(t, trainer_txt);
            extra(tmp);
        });
    }

    /// Restore everything `save` wrote. The loader's shape (batch, seq_len) and mem_len must
    /// match this trainer's options; all files are checked before anything changes.
    void load(const std::filesystem::path& dir) {
        recover_interrupted_save(dir);
        check<checkpoint_error>(std::filesystem::is_directory(dir), dir.string(), ": checkpoint directory not found");
        verify_checksums(dir);
        const KeyValues kv((dir / "trainer.txt").string());
        auto num = [&](const std::string& k) -> std::size_t { return std::size_t(kv.whole(k, 0, ~0ull)); };
        const std::string where = (dir / "trainer.txt").string();
        check<checkpoint_error>(
            num("seq_len") == options_.seq_len && num("batch") == options_.batch && num("mem_len") == options_.mem_len,
            where, ": trained with seq_len ", num("seq_len"), ", batch ", num("batch"), ", mem_len ", num("mem_len"),
            "; this run has ", options_.seq_len, ", ", options_.batch, ", ", options_.mem_len);
        check<checkpoint_error>(num("position") < loader_.rows(), where, ": data position ", num("position"),
                                " is beyond the text (", loader_.rows(), " rows)");
        Rng rng;
        {
            check<checkpoint_error>(kv.has("rng"), where, ": no 'rng' (the random generator's state)");
            std::istringstream r(kv.text("rng"));
            r >> rng;
            check<checkpoint_error>(!r.fail(), where, ": unreadable generator state");
        }
        // Stage the optimizer moments and the memory, then the model (all or nothing).
        std::vector<std::pair<std::vector<S>, std::vector<S>>> moments(adam_.names.size());
        for (std::size_t k = 0; k < adam_.names.size(); ++k) {
            const std::array<std::size_t, 1> n{adam_.moments[k].first.size()};
            tensor<S, 1> m, v;
            read_npy((dir / "optimizer" / (adam_.names[k] + ".m.npy")).string(), n, m);
            read_npy((dir / "optimizer" / (adam_.names[k] + ".v.npy")).string(), n, v);
            // Moments that are not finite, or a negative second moment, would put NaN into the
            // weights with the first update: refuse them as `load_checkpoint` refuses such weights.
            for (std::size_t i = 0; i < m.size(); ++i)
                if (!(std::isfinite(double(m(i))) && std::isfinite(double(v(i))) && v(i) >= S(0)))  // message only then
                    throw checkpoint_error(detail::concat(
                        (dir / "optimizer" / adam_.names[k]).string(), ".{m,v}.npy: element ", i, " holds m = ", m(i),
                        ", v = ", v(i), " (not finite, or a negative second moment); refusing to load it"));
            moments[k] = {std::vector<S>(m.begin(), m.end()), std::vector<S>(v.begin(), v.end())};
        }
        Memory<S> mem;
        const std::size_t layers = num("memory_layers");
        for (std::size_t l = 0; l < layers; ++l) {
            const std::string p = (dir / "memory" / ("layer_" + std::to_string(l) + ".npy")).string();
            std::ifstream in(p, std::ios::binary);
            check<checkpoint_error>(bool(in), p, ": missing or unreadable file");
            const auto h = read_npy_header(in, p);
            check<checkpoint_error>(h.shape.size() == 3 && h.shape[0] <= options_.mem_len &&
                                        h.shape[1] == options_.batch && h.shape[2] == Model::d_model,
                                    p, ": memory of the wrong shape");
            tensor<S, 3> t;
            read_npy(p, std::array<std::size_t, 3>{h.shape[0], h.shape[1], h.shape[2]}, t);
            mem.layers.push_back(std::move(t));
        }
        load_checkpoint(model_, dir, /*verify*/ false);  // verified above
        adam_.moments = std::move(moments);
        adam_.recompute_active();
        adam_.t = num("step");
        tokens_ = num("tokens");
        loader_.epoch = num("epoch");
        loader_.position = num("position");
        memory_ = std::move(mem);
        rng_ = rng;
    }

    /// Deprecated: `txl::read_key_values` (`key_values.hpp`), kept for one release.
    static std::map<std::string, std::string> read_key_values(const std::string& path) {
        return txl::read_key_values(path);
    }

private:
    /// Columns `[b0, b0 + b)` of `[rows, B, d]` tensors, to and from `[rows, b, d]`.
    static void take_columns(const tensor<S, 3>& from, std::size_t b0, std::size_t b, tensor<S, 3>& to) {
        const std::size_t rows = from.shape()[0], B = from.shape()[1], d = from.shape()[2];
        ensure_shape(to, {rows, b, d});
        for (std::size_t i = 0; i < rows; ++i)
            std::copy(from.data() + (i * B + b0) * d, from.data() + (i * B + b0 + b) * d, to.data() + i * b * d);
    }
    static void put_columns(const tensor<S, 3>& from, std::size_t b0, std::size_t B, tensor<S, 3>& to) {
        const std::size_t rows = from.shape()[0], b = from.shape()[1], d = from.shape()[2];
        ensure_shape(to, {rows, B, d});
        for (std::size_t i = 0; i < rows; ++i)
            std::copy(from.data() + i * b * d, from.data() + (i + 1) * b * d, to.data() + (i * B + b0) * d);
    }

    /// Steps 2 and 4 for $k$ = `accumulate` micro-batches: for each, its columns of `x_`, `y_`
    /// and the memory; forward, $\frac1k \partial L_j / \partial \text{logits}$, backward (adding to
    /// the gradients), its memory update, written back into its columns. Returns the mean loss
    /// and accuracy over the whole batch.
    LossResult<S> accumulate_gradients(Rng* rng) {
        const std::size_t k = options_.accumulate, T = x_.shape()[0], B = x_.shape()[1], b = B / k;
        ensure_shape(x_micro_, {T, b});
        ensure_shape(y_micro_, {T, b});
        LossResult<S> total{};
        for (std::size_t j = 0; j < k; ++j) {
            for (std::size_t t = 0; t < T; ++t)
                for (std::size_t i = 0; i < b; ++i) {
                    x_micro_(t, i) = x_(t, j * b + i);
                    y_micro_(t, i) = y_(t, j * b + i);
                }
            micro_memory_.layers.resize(memory_.layers.size());
            for (std::size_t l = 0; l < memory_.layers.size(); ++l)
                take_columns(memory_.layers[l], j * b, b, micro_memory_.layers[l]);
            model_.forward(x_micro_, micro_memory_, cache_, rng);
            ensure_shape(dlogits_, cache_.logits.shape());
            const auto r = cross_entropy(cache_.logits.data(), y_micro_.data(), y_micro_.size(), model_.n_vocab(),
                                         dlogits_.data());
            // $\partial L / \partial \text{logits}_j = \frac1k \partial L_j / \partial \text{logits}_j$.
            const S inv_k = S(1) / S(k);
            for (auto& g : dlogits_) g *= inv_k;
            model_.backward(dlogits_.data(), cache_);
            total.loss += r.loss / double(k);
            total.accuracy += r.accuracy / double(k);
            model_.update_memory(micro_memory_, cache_, options_.mem_len);
            next_memory_.layers.resize(micro_memory_.layers.size());
            for (std::size_t l = 0; l < micro_memory_.layers.size(); ++l)
                put_columns(micro_memory_.layers[l], j * b, B, next_memory_.layers[l]);
        }
        std::swap(memory_.layers, next_memory_.layers);
        return total;
    }

    Model& model_;
    TrainOptions options_;
    SequentialLoader loader_;
    Rng rng_;
    Adam<S> adam_;
    Memory<S> memory_;
    std::size_t tokens_ = 0;
    typename Model::Cache cache_;
    tensor<std::int64_t, 2> x_, y_;
    tensor<S, 3> dlogits_;
    // Gradient accumulation only: a micro-batch's tokens and memory, the memory being built.
    tensor<std::int64_t, 2> x_micro_, y_micro_;
    Memory<S> micro_memory_, next_memory_;
};

}  // namespace txl
