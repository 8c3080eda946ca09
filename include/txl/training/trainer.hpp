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
/// without accumulation. The activations held at once are those of $B/k$ streams. Each
/// micro-batch draws its dropout masks as its columns of the whole batch would (`dropout.hpp`):
/// accumulation changes the order of additions, nothing else.
///
/// **Data parallel** (a `Communicator`, `core/communicator.hpp`): $W$ processes each run the
/// steps above on their $b = B/W$ streams and their memory, starting from $\frac1W
/// \partial L_r/\partial\text{logits}$ so that the gradients add up to the whole batch's:
/// $$\nabla_\theta L = \sum_{r} \tfrac1W \nabla_\theta L_r,\qquad L = \tfrac1W \sum_r L_r.$$
/// Between the backward and the clipping, one sum across the processes of every gradient,
/// packed into one buffer (the row-sparse tables only over the rows some process touched); then
/// every process clips and steps the same gradient. A stop flag any process raises travels with
/// the step's sums, so all stop after the same step.
///
/// `save` and `load` write and read a training checkpoint (`training_checkpoint.hpp`: the
/// parameters, Adam's moments, the training memory, the loader's place and the dropout
/// generator's state). With all of that restored, a resumed run continues bit for bit as if it
/// had never stopped. Validation is `evaluate` (`inference/evaluate.hpp`).

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "../core/random.hpp"
#include "../core/communicator.hpp"
#include "../core/precision.hpp"
#include "../blocks/loss.hpp"
#include "../model/memory.hpp"
#include "../data/loader.hpp"
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
    /// The products' precision (`core/precision.hpp`): bf16 multiplies bf16-rounded operands;
    /// weights, gradients, Adam's moments and the checkpoint stay fp32 in both.
    Precision precision = Precision::fp32;
};

struct StepStats {
    double loss = 0, accuracy = 0, lr = 0, grad_norm = 0;
    std::size_t tokens = 0;  ///< targets of the whole batch (all processes)
    std::size_t summed = 0;  ///< gradient values summed across processes this step (0 alone)
    bool stop = false;       ///< some process asked to stop after this step (`step(true)`)
};

/// @tparam Model an `AutoregressiveModel<...>`.
template <class Model>
class Trainer {
public:
    using S = typename Model::S;

    /// `train_ids` are shared, not copied (a `std::vector<std::int64_t>` converts). With `comm`
    /// this process trains its share of the batch's streams (see [the file comment](#top));
    /// `options.batch` is the whole batch.
    Trainer(Model& model, const TrainOptions& options, const TokenIds& train_ids, Communicator* comm = nullptr)
        : model_(model),
          options_(checked(options)),
          comm_(comm && comm->size() > 1 ? comm : nullptr),
          columns_(batch_columns(comm_, options.batch)),
          loader_(train_ids, options.batch, options.seq_len, "training text", columns_),
          rng_(options.seed) {
        check<error>(columns_.count % options.accumulate == 0, "TrainOptions: accumulate ", options.accumulate,
                     " must divide each process's ", columns_.count, " streams");
        rng_.columns = columns_;
        if (options.precision == Precision::bf16) {
            check<error>(std::is_same_v<S, float>, "TrainOptions: precision bf16 needs a float model");
            bf16_kernel();  // throws here, before training, where the CPU cannot run bf16 products
        }
        model_.set_dropout(S(options.dropout), S(options.dropatt < 0 ? options.dropout : options.dropatt));
        params_ = parameter_refs<S>(model_);
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

    /// The streams of the batch this process trains (all of them alone).
    const BatchColumns& columns() const { return columns_; }

    /// One training step (see [the file comment](#top)). `stop`: this process asks all to stop
    /// after this step; the result's `stop` says whether any did.
    StepStats step(bool stop = false) {
        PrecisionScope precision(options_.precision);  // the products of this step's forward and backward
        // 1. The next segment $x, y$ `[T, B]`; a new epoch starts from an empty memory.
        if (loader_.at_epoch_start()) memory_.clear();
        loader_.next(x_, y_);
        // 2. $L = \text{CE}(\text{model}(x;\ mem), y)$ and $\nabla_\theta L$ (none into $mem$).
        zero_grad(params_);
        Rng* rng = options_.dropout > 0 || options_.dropatt > 0 ? &rng_ : nullptr;
        LossResult<S> r;
        const S share = S(1) / S(world());  // $\frac1W$: this process's share of the mean
        if (options_.accumulate == 1) {
            model_.forward(x_, memory_, cache_, rng);
            r = model_.loss_backward(y_.data(), cache_, share);
        } else {
            r = accumulate_gradients(rng, share);  // the same, $k$ micro-batches in turn (see the file comment)
        }
        // $\nabla_\theta L = \sum_r \frac1W \nabla_\theta L_r$ and $L = \frac1W \sum_r L_r$ (data parallel).
        StepStats s;
        s.stop = stop;
        if (comm_) sum_across_processes(r, s);
        // 3. Clip $\lVert \nabla_\theta L \rVert$ to `clip`, one Adam step at $\eta_t$ = schedule($t$).
        s.grad_norm = clip_grad_norm(params_, options_.clip > 0 ? options_.clip : HUGE_VAL);  // HUGE_VAL: norm only
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
        s.tokens = y_.size() * world();
        tokens_ += s.tokens;
        return s;
    }

    /// Write a complete training checkpoint to `dir`, atomically (`training_checkpoint.hpp`).
    /// `extra(tmp_dir)` may add files of the caller's (a vocabulary, a config). Data parallel:
    /// every process calls it; the memory of all streams is gathered and rank 0 writes, so the
    /// checkpoint is the one a single process would write.
    template <class Extra>
    void save(const std::filesystem::path& dir, Extra&& extra) {
        if (!comm_)
            return save_training_checkpoint(dir, model_, adam_, memory_, progress(), std::forward<Extra>(extra));
        const Memory<S> all = memory_.gathered(*comm_);
        if (comm_->rank() == 0)
            save_training_checkpoint(dir, model_, adam_, all, progress(), std::forward<Extra>(extra));
    }

    /// Restore everything `save` wrote. The loader's shape (batch, seq_len) and mem_len must
    /// match this trainer's options; all files are checked before anything changes. Data
    /// parallel: every process reads it (the directory must be visible to all) and keeps its
    /// streams' memory; any world size that divides the batch resumes any checkpoint.
    void load(const std::filesystem::path& dir) {
        Memory<S> all;
        const TrainingProgress p = load_training_checkpoint(dir, model_, adam_, all, progress(), loader_.rows());
        all.take_columns(columns_.first, columns_.count, memory_);
        tokens_ = p.tokens;
        loader_.epoch = p.epoch;
        loader_.position = p.position;
        rng_ = p.rng;
        rng_.columns = columns_;
    }

    /// A fingerprint of the weights (`fingerprint`): equal on every process while the replicas
    /// agree. `check_same_on_all_ranks(comm, trainer.weights_fingerprint(), "the weights")`
    /// catches a silent divergence.
    std::uint64_t weights_fingerprint() const {
        std::uint64_t h = fingerprint(nullptr, 0);
        for (const auto& r : params_) h = fingerprint(r.value, r.size * sizeof(S), h);
        return h;
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

    std::size_t world() const { return comm_ ? comm_->size() : 1; }

    /// Data parallel, between the backward and the clipping: the sums across the processes of
    /// the stop flags, the losses and accuracies (their means: $\frac1W \sum_r$), and every
    /// gradient, packed into one buffer. A row-sparse table is summed over the union of the
    /// rows the processes touched (outside its own span a process's gradient is exactly 0).
    void sum_across_processes(LossResult<S>& r, StepStats& s) {
        const double W = double(comm_->size());
        double small[3] = {r.loss / W, r.accuracy / W, s.stop ? 1.0 : 0.0};
        comm_->sum(small, 3);
        r.loss = small[0], r.accuracy = small[1], s.stop = small[2] > 0;
        // The union of the sparse spans: $\max_r(-\text{begin}_r)$ and $\max_r \text{end}_r$.
        const std::int64_t none = std::numeric_limits<std::int64_t>::min();
        spans_.clear();
        for (const auto& p : params_)
            if (p.sparse) {
                spans_.push_back(p.touched->empty() ? none : -std::int64_t(p.touched->begin));
                spans_.push_back(p.touched->empty() ? none : std::int64_t(p.touched->end));
            }
        if (!spans_.empty()) comm_->max(spans_.data(), spans_.size());
        std::size_t k = 0, n = 0;
        for (auto& p : params_) {
            if (p.sparse) {
                if (spans_[k + 1] != none) p.touched->extend(std::size_t(-spans_[k]), std::size_t(spans_[k + 1]));
                k += 2;
            }
            n += p.touched->empty() ? 0 : p.touched->end - p.touched->begin;
        }
        // One buffer, one sum (tensor fusion), unpacked in place.
        fused_.resize(n);
        S* f = fused_.data();
        for (const auto& p : params_)
            if (!p.touched->empty()) f = std::copy(p.grad + p.touched->begin, p.grad + p.touched->end, f);
        comm_->sum(fused_.data(), n);
        f = fused_.data();
        for (const auto& p : params_)
            if (!p.touched->empty()) {
                std::copy(f, f + (p.touched->end - p.touched->begin), p.grad + p.touched->begin);
                f += p.touched->end - p.touched->begin;
            }
        s.summed = n;
    }

    /// Steps 2 and 4 for $k$ = `accumulate` micro-batches: for each, its columns of `x_`, `y_`
    /// and the memory; forward, $\frac1k \partial L_j / \partial \text{logits}$ (times `share`),
    /// backward (adding to the gradients), its memory update, written back into its columns.
    /// Every micro-batch draws from the same generator state, keyed by its columns of the whole
    /// batch, so its masks are those of the whole batch. Returns the mean loss and accuracy.
    LossResult<S> accumulate_gradients(Rng* rng, S share) {
        const std::size_t k = options_.accumulate, T = x_.shape()[0], B = x_.shape()[1], b = B / k;
        ensure_shape(x_micro_, {T, b});
        ensure_shape(y_micro_, {T, b});
        LossResult<S> total{};
        const Rng start = rng_;
        for (std::size_t j = 0; j < k; ++j) {
            Rng micro_rng = start;
            micro_rng.columns = {columns_.first + j * b, b, columns_.total};
            for (std::size_t t = 0; t < T; ++t)
                for (std::size_t i = 0; i < b; ++i) {
                    x_micro_(t, i) = x_(t, j * b + i);
                    y_micro_(t, i) = y_(t, j * b + i);
                }
            memory_.take_columns(j * b, b, micro_memory_);
            model_.forward(x_micro_, micro_memory_, cache_, rng ? &micro_rng : nullptr);
            if (rng && j + 1 == k) (rng_ = micro_rng).columns = columns_;  // advanced as by one forward
            // $\nabla_\theta L \mathrel{+}= \frac1k \nabla_\theta L_j$ (times `share`).
            const auto r = model_.loss_backward(y_micro_.data(), cache_, share / S(k));
            total.loss += r.loss / double(k);
            total.accuracy += r.accuracy / double(k);
            model_.update_memory(micro_memory_, cache_, options_.mem_len);
            next_memory_.put_columns(micro_memory_, j * b, B);
        }
        std::swap(memory_.states, next_memory_.states);
        return total;
    }

    Model& model_;
    TrainOptions options_;
    Communicator* comm_;    ///< null: this process trains alone
    BatchColumns columns_;  ///< the streams it trains
    SequentialLoader loader_;
    Rng rng_;
    Adam<S> adam_;
    std::vector<ParamRef<S>> params_;  ///< every parameter's value and gradient, flat (zeroed, clipped, summed)
    Memory<S> memory_;
    std::size_t tokens_ = 0;
    typename Model::Cache cache_;
    tensor<std::int64_t, 2> x_, y_;
    // Gradient accumulation only: a micro-batch's tokens and memory, the memory being built.
    tensor<std::int64_t, 2> x_micro_, y_micro_;
    Memory<S> micro_memory_, next_memory_;
    // Data parallel only: the gradients packed for the sum, the sparse spans' union.
    std::vector<S> fused_;
    std::vector<std::int64_t> spans_;
};

}  // namespace txl
