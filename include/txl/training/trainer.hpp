#pragma once
/// @file training/trainer.hpp
/// # The training loop
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
/// `save` and `load` write and read a training checkpoint (`training_checkpoint.hpp`: the
/// parameters, Adam's moments, the training memory, the loader's place and the dropout
/// generator's state). With all of that restored, a resumed run continues bit for bit as if it
/// had never stopped. Validation is `evaluate` (`inference/evaluate.hpp`).

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "../blocks/loss.hpp"
#include "../core/random.hpp"
#include "../data/loader.hpp"
#include "../io/key_values.hpp"
#include "../model/memory.hpp"
#include "optim.hpp"
#include "training_checkpoint.hpp"

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

    /// One training step (see [the file comment](#top)).
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

    /// Write a complete training checkpoint to `dir`, atomically (`training_checkpoint.hpp`).
    /// `extra(tmp_dir)` may add files of the caller's (a vocabulary, a config).
    template <class Extra>
    void save(const std::filesystem::path& dir, Extra&& extra) {
        save_training_checkpoint(dir, model_, adam_, memory_, progress(), std::forward<Extra>(extra));
    }

    /// Restore everything `save` wrote. The loader's shape (batch, seq_len) and mem_len must
    /// match this trainer's options; all files are checked before anything changes.
    void load(const std::filesystem::path& dir) {
        const TrainingProgress p = load_training_checkpoint(dir, model_, adam_, memory_, progress(), loader_.rows());
        tokens_ = p.tokens;
        loader_.epoch = p.epoch;
        loader_.position = p.position;
        rng_ = p.rng;
    }

    /// Deprecated: `txl::read_key_values` (`key_values.hpp`), kept for one release.
    static std::map<std::string, std::string> read_key_values(const std::string& path) {
        return txl::read_key_values(path);
    }

private:
    /// Where the run stands, as a training checkpoint records it.
    TrainingProgress progress() const {
        TrainingProgress p;
        p.step = adam_.t;
        p.tokens = tokens_;
        p.epoch = loader_.epoch;
        p.position = loader_.position;
        p.seq_len = options_.seq_len;
        p.mem_len = options_.mem_len;
        p.batch = options_.batch;
        p.rng = rng_;
        return p;
    }

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
            micro_memory_.states.resize(memory_.states.size());
            for (std::size_t l = 0; l < memory_.states.size(); ++l)
                take_columns(memory_.states[l], j * b, b, micro_memory_.states[l]);
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
            next_memory_.states.resize(micro_memory_.states.size());
            for (std::size_t l = 0; l < micro_memory_.states.size(); ++l)
                put_columns(micro_memory_.states[l], j * b, B, next_memory_.states[l]);
        }
        std::swap(memory_.states, next_memory_.states);
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
