#pragma once
// `txl train`: the settings of a run (a preset, the command line's overrides, or a
// checkpoint's own on --resume), then the loop of llm.c's shape:
//   step; validate (keeping the best weights; fitting the cosine to --minutes); log; save.
// Under mpirun the run is one of N processes training data-parallel (txl/training/distributed.hpp):
// every decision that hangs on a clock or a signal (stop, the cosine's fitted end) is taken
// together, rank 0 writes the run directory and talks.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <typeinfo>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

#include <txl/txl.hpp>

#include "console.hpp"
#include "corpora.hpp"
#include "models.hpp"
#include "options.hpp"
#include "presets.hpp"
#include "report.hpp"
#include "run_dir.hpp"

namespace txl_cli {

/// A save interrupted between its two renames left the previous copy aside: put it back, and say so.
inline void recover(const fs::path& ckpt, const Say& say) {
    if (txl::recover_interrupted_save(ckpt))
        say("note: " + ckpt.string() + " was missing after an interrupted save; its previous version is restored");
}

/// Before a train command reads its run directory: a save interrupted between its two renames
/// is finished (once, by rank 0; the others wait for it).
inline void recover_run(const TrainArgs& a, const Say& say, txl::Communicator* world) {
    if (!world || world->rank() == 0) recover(fs::path(a.out) / "checkpoint", say);
    if (world) world->barrier();
}

/// The settings a train command starts from: its preset with the model options given, or
/// (`--resume`) its checkpoint's.
inline RunConfig starting_config(const TrainArgs& a) {
    const fs::path ckpt = fs::path(a.out) / "checkpoint";
    if (a.resume && fs::exists(ckpt / "config.txt")) return read_config(ckpt, nullptr);
    RunConfig r = builtin_config(a.preset);
    for (auto [given, field] : {std::pair{&a.model, &r.model}, {&a.encoding, &r.encoding}, {&a.softmax, &r.softmax},
                                {&a.size, &r.size}, {&a.data.tokens, &r.tokens}})
        if (!given->empty()) *field = *given;
    if (!a.data.corpus.empty() && a.data.tokens.empty()) {  // a corpus of the paper's is read at its own level
        const NamedCorpus& named = find_corpus(a.data.corpus);
        if (!named.members.empty()) r.tokens = level_name(named.level);
    }
    if (a.softmax.empty() && r.softmax == "adaptive" && r.tokens != "words") r.softmax = "full";
    return r;
}

/// The compiled model a train command runs.
inline const ModelEntry& train_model(const TrainArgs& a) {
    const RunConfig r = starting_config(a);
    return find_model(r.size, r.model, r.encoding, r.softmax);
}

/// The command line's overrides of a config, applied to `r`: (option, the value it replaced,
/// or "" when the same) for each option given.
inline std::vector<std::pair<std::string, std::string>> apply_overrides(const TrainArgs& a, RunConfig& r) {
    std::vector<std::pair<std::string, std::string>> given;
    auto set = [&](bool on, const char* opt, auto& field, auto value) {
        if (!on) return;
        std::ostringstream was, now;
        was << std::setprecision(17) << field;
        field = decltype(+field)(value);
        now << std::setprecision(17) << field;
        given.push_back({opt, was.str() == now.str() ? "" : was.str()});
    };
    auto& t = r.train;
    set(a.dropout >= 0, "--dropout", t.dropout, a.dropout);
    set(a.dropatt >= 0, "--dropatt", t.dropatt, a.dropatt);
    set(a.lr > 0, "--lr", t.schedule.lr, a.lr);
    set(a.min_lr >= 0, "--min-lr", t.schedule.min_lr, a.min_lr);
    set(a.warmup >= 0, "--warmup", t.schedule.warmup, a.warmup);
    set(a.total_steps >= 0, "--total-steps", t.schedule.total, a.total_steps);
    set(a.weight_decay >= 0, "--weight-decay", t.weight_decay, a.weight_decay);
    set(a.batch > 0, "--batch", t.batch, a.batch);
    set(a.seq_len > 0, "--seq-len", t.seq_len, a.seq_len);
    set(a.mem_len >= 0, "--mem-len", t.mem_len, a.mem_len);
    set(a.accumulate > 0, "--accumulate", t.accumulate, a.accumulate);
    if (!a.schedule.empty()) {
        const auto kind = txl::Schedule::parse(a.schedule);
        given.push_back({"--schedule", kind == t.schedule.kind ? "" : txl::Schedule::name(t.schedule.kind)});
        t.schedule.kind = kind;
    }
    return given;
}

/// A resumed run keeps its checkpoint's settings: the preset, model, encoding, softmax, size and
/// tokens it was trained with must be the ones asked for, and an override must not change anything (but
/// `--total-steps` may fix a cosine's end that was still open). Returns the settings.
inline RunConfig resumed_config(const TrainArgs& a, const fs::path& ckpt, std::uint64_t& seed) {
    const RunConfig saved = read_config(ckpt, &seed);
    auto same = [&](const std::string& opt, const std::string& was, const std::string& now) {
        txl::check<txl::checkpoint_error>(was == now, ckpt.string(), ": trained with ", opt, " ", was,
                                          ", this run asks for ", opt, " ", now);
    };
    same("--preset", saved.name, a.preset);
    for (auto [opt, given, was] : {std::tuple{"--model", &a.model, &saved.model}, {"--encoding", &a.encoding, &saved.encoding},
                                   {"--softmax", &a.softmax, &saved.softmax}, {"--size", &a.size, &saved.size},
                                   {"--tokens", &a.data.tokens, &saved.tokens}})
        if (!given->empty()) same(opt, *was, *given);
    RunConfig rc = saved, want = saved;
    for (const auto& [opt, was] : apply_overrides(a, want))
        txl::check<txl::checkpoint_error>(was.empty() || (opt == "--total-steps" && was == "0"), ckpt.string(),
                                          ": trained with ", opt, " ", was,
                                          "; a resumed run keeps its checkpoint's settings (--force starts over)");
    rc.train.schedule.total = want.train.schedule.total;
    return rc;
}

/// One training run of `Model`, from its settings to its final sample.
template <class Model>
class TrainingRun {
public:
    using S = typename Model::S;

    TrainingRun(const TrainArgs& a, const Say& say, txl::Communicator* world)
        : a_(a),
          say_(say),
          out_(a.out),
          ckpt_(out_ / "checkpoint"),
          world_(world && world->size() > 1 ? world : nullptr),
          primary_(!world || world->rank() == 0) {}

    int run() {
        prepare();
        Interrupts::catch_them();  // from here Ctrl-C and SIGTERM finish the step, save and exit
        t0_ = std::chrono::steady_clock::now();
        start_ = trainer_->step_count();
        if (a_.steps && start_ >= a_.steps) say_("already at step " + std::to_string(start_));
        std::string log_failure;  // a metrics.csv row that could not be written
        while (!done()) {
            const auto s = trainer_->step(asked_to_stop());  // any process's stop travels with the step
            stopping_ = s.stop;
            const std::size_t step = trainer_->step_count();
            if (world_ && step % a_.check_every == 0)  // a silent divergence of the replicas, caught
                txl::check_same_on_all_ranks(world_, trainer_->weights_fingerprint(),
                                             "the weights after step " + std::to_string(step));
            sum_loss_ += s.loss, sum_acc_ += s.accuracy, ++n_logged_;
            tokens_run_ += s.tokens, tokens_window_ += s.tokens;
            const bool last = done();
            const bool validated = validate(step, last);
            try {
                log(step, s.lr, validated);
            } catch (const txl::error& e) {  // a full disk: stop, try to save what was trained, say so
                log_failure = e.what();
                break;
            }
            if (step % rc_.save_every == 0 && !last) save();
        }
        save();
        txl::check<txl::error>(log_failure.empty(), log_failure, "; stopped training (checkpoint saved at step ",
                               trainer_->step_count(), ")");
        if (metrics_) write_loss_svg(metrics_->path(), out_ / "loss.svg");
        Interrupts::release_them();  // nothing left to save: the final sample may be long
        if (Interrupts::raised || (world_ && stopping_ && !budget_over())) {
            const int sig = Interrupts::raised ? Interrupts::signal.load() : SIGTERM;  // another process's signal
            say_(std::string(sig == SIGTERM ? "terminated" : "interrupted") + ": checkpoint saved at step " +
                 std::to_string(trainer_->step_count()) + "; continue with the same command and --resume");
            return 128 + sig;  // 130 for Ctrl-C, 143 for SIGTERM, as if killed, but saved
        }
        if (!primary_) return 0;  // rank 0 sums up and samples
        summary();
        final_sample();
        return 0;
    }

private:
    /// The settings, the text, the model and its trainer (resumed from the checkpoint), the log.
    void prepare() {
        const bool have = fs::exists(ckpt_);
        txl::check<txl::error>(a_.steps > 0 || a_.minutes > 0, "train: give --steps N or --minutes M");
        txl::check<txl::error>(!(have && !a_.resume && !a_.force), ckpt_.string(),
                               " already exists: pass --resume to continue it or --force to start over");
        txl::check<txl::error>(!(a_.resume && !have), "--resume: no checkpoint at ", ckpt_.string());
        seed_ = a_.seed;
        rc_ = starting_config(a_);
        apply_overrides(a_, rc_);
        std::unique_ptr<Vocabulary> saved_vocab;
        if (a_.resume) {
            rc_ = resumed_config(a_, ckpt_, seed_);
            saved_vocab = std::make_unique<Vocabulary>(
                Vocabulary::load(ckpt_ / "vocab.txt", parse_level(rc_.tokens)));
        }
        txl::parse_precision(a_.precision, rc_.train.precision);  // a resumed run may change it
        auto& sched = rc_.train.schedule;
        sched.d_model = Model::config::d_model;  // Noam's $d_{model}^{-1/2}$, of the size built
        // A cosine run for --steps N ends its decay at step N unless told otherwise; with
        // --minutes the end is fitted to the budget once warm-up is over (`txl::TimeBudget`).
        cosine_ = sched.kind == txl::Schedule::Kind::cosine;
        if (cosine_ && sched.total == 0 && a_.steps) sched.total = a_.steps;
        budget_.seconds = a_.minutes * 60;
        if (a_.valid_every) rc_.valid_every = a_.valid_every;
        if (a_.save_every) rc_.save_every = a_.save_every;
        if (a_.log_every) rc_.log_every = a_.log_every;
        load_data(saved_vocab.get());
        model_ = std::make_unique<Model>(text_.vocab.size(), seed_);
        rc_.train.seed = seed_;
        trainer_ = std::make_unique<txl::Trainer<Model>>(*model_, rc_.train, text_.train, world_);
        if (a_.resume) trainer_->load(ckpt_);
        check_processes_agree();
        // best/: a resumed run keeps its record; a new run starts one.
        best_ = a_.resume ? read_best(out_ / "best") : Best{};
        if (primary_) {
            fs::create_directories(out_);
            metrics_ = std::make_unique<MetricsLog>(out_, a_.resume, trainer_->step_count());
            if (!a_.resume) fs::remove_all(out_ / "best");
        }
        describe();
    }

    /// Data parallel: processes started on other data, settings or builds, or holding other
    /// weights (another checkpoint), are refused before the first step, on every process.
    void check_processes_agree() const {
        if (!world_) return;
        const auto ids = [](const txl::TokenIds& t) {
            std::uint64_t h = txl::fingerprint(nullptr, 0);
            for (std::size_t i = 0; i < t.size(); ++i) {
                const std::int64_t v = t[i];
                h = txl::fingerprint(&v, sizeof v, h);
            }
            return h;
        };
        std::uint64_t text = ids(text_.train);
        for (std::size_t i = 0; i < text_.vocab.size(); ++i) text = txl::fingerprint(text_.vocab.decode(std::int64_t(i)), text);
        txl::check_same_on_all_ranks(world_, text ^ ids(text_.valid), "the text (--data)");
        std::ostringstream settings;
        const auto& t = rc_.train;
        settings << std::setprecision(17) << rc_.name << rc_.model << rc_.encoding << rc_.size << seed_ << t.seq_len
                 << ' ' << t.mem_len << ' ' << t.batch << ' ' << t.accumulate << ' ' << t.dropout << ' ' << t.dropatt
                 << ' ' << t.weight_decay << ' ' << t.clip << ' ' << txl::Schedule::name(t.schedule.kind) << ' '
                 << t.schedule.lr << ' ' << t.schedule.min_lr << ' ' << t.schedule.warmup << ' ' << t.schedule.total
                 << ' ' << rc_.valid_every << ' ' << rc_.save_every << ' ' << a_.steps << ' ' << a_.minutes << ' '
                 << txl::precision_name(t.precision);
        txl::check_same_on_all_ranks(world_, txl::fingerprint(settings.str()), "the settings");
        std::ostringstream build;
        build << TXL_VERSION_MAJOR << '.' << TXL_VERSION_MINOR << '.' << TXL_VERSION_PATCH << ' ' << sizeof(S) << ' '
              << typeid(Model).name();
        model_->visit([&](const std::string& name, const auto& p) {
            build << ' ' << name;
            for (auto n : p.value.shape()) build << ' ' << n;
        });
        txl::check_same_on_all_ranks(world_, txl::fingerprint(build.str()),
                                     "the build (txl version, model type, parameter shapes)");
        txl::check_same_on_all_ranks(world_, trainer_->weights_fingerprint(), "the starting weights (the checkpoint)");
    }

    /// The text (its vocabulary must be the checkpoint's on --resume), the validation split's
    /// shape and the final sample's prompt, all checked before any training.
    void load_data(const Vocabulary* saved) {
        DataArgs d = a_.data;
        d.tokens = rc_.tokens;
        text_ = load_text(d, nullptr, say_);
        if (saved && !saved->same_as(text_.vocab))
            throw txl::checkpoint_error(ckpt_.string() + ": vocabulary of " + std::to_string(saved->size()) + " " +
                                        rc_.tokens + " differs from the text's " +
                                        std::to_string(text_.vocab.size()) + " (another text?)");
        txl::SequentialLoader check_valid(text_.valid, rc_.train.batch, rc_.train.seq_len,
                                          "the validation split");
        if (a_.sample_length) {
            txl::check<txl::error>(!a_.prompt_given || !a_.prompt.empty(),
                                   "--prompt: empty; give at least one character (or --sample-length 0)");
            prompt_ids_ = a_.prompt_given ? text_.vocab.encode(a_.prompt) : default_prompt();
        }
    }

    /// The final sample's prompt without --prompt: "ROMEO:\n" where the vocabulary has its
    /// characters (Tiny Shakespeare), else the training text's first 16 tokens.
    std::vector<std::int64_t> default_prompt() const {
        if (rc_.tokens != "words") try {
                return text_.vocab.encode("ROMEO:\n");
            } catch (const txl::error&) {
            }
        std::vector<std::int64_t> ids;
        for (std::size_t i = 0; i < std::min<std::size_t>(16, text_.train.size()); ++i) ids.push_back(text_.train[i]);
        return ids;
    }

    void describe() const {
        const auto& t = rc_.train;
        say_("preset " + rc_.name + ", model " + rc_.model + ", encoding " + rc_.encoding + ", softmax " + rc_.softmax + ", size " + rc_.size +
             " (" + shape_of(rc_.size) + "; memory: " + txl::block_name<typename Model::memory_block>("custom") +
             "): seq_len " + std::to_string(t.seq_len) + ", mem_len " + std::to_string(t.mem_len) + ", batch " +
             std::to_string(t.batch) + ", " + std::to_string(model_->parameter_count()) +
             " parameters, OpenBLAS kernel " + openblas_get_corename() + ", txl GEMM kernel " +
             txl::kernel_name(txl::gemm_kernel()) + ", products in " + txl::precision_name(t.precision) +
             (t.precision == txl::Precision::bf16 ? std::string(" (") + txl::kernel_name(txl::bf16_kernel()) + ")"
                                                  : "") +
             ", " + std::to_string(txl::max_threads()) + " threads" +
             (world_ ? " per process, " + std::to_string(world_->size()) + " processes (data parallel, " +
                           std::to_string(trainer_->columns().count) + " streams each)"
                     : ""));
        if (a_.resume) say_("resumed at step " + std::to_string(trainer_->step_count()));
    }

    double elapsed() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }

    /// This process would stop here: a signal, or --minutes used up.
    bool asked_to_stop() const { return Interrupts::raised || budget_over(); }
    bool budget_over() const { return a_.minutes > 0 && elapsed() >= a_.minutes * 60; }

    bool done() const {
        const std::size_t step = trainer_->step_count();
        // Alone, this process's own stop; data parallel, the one all took with the last step.
        if (world_ ? stopping_ : asked_to_stop()) return true;
        if (a_.steps && step >= a_.steps) return true;
        // With --minutes the run ends where the cosine decay does (with --steps, steps past the
        // end train at --min-lr).
        return a_.minutes > 0 && cosine_ && rc_.train.schedule.total && step >= rc_.train.schedule.total;
    }

    /// Rank 0's `value` on every process (alone: `value`): what a clock decides is decided once.
    template <class T>
    T from_rank0(T value) const {
        if (world_) world_->broadcast(&value, sizeof value, 0);
        return value;
    }

    double progress() const {  // the fraction of this run done
        double p = 0;
        const std::size_t step = trainer_->step_count();
        if (a_.steps)
            p = double(step - start_) / double(std::max<std::size_t>(a_.steps - std::min(a_.steps, start_), 1));
        if (a_.minutes > 0) p = std::max(p, elapsed() / (a_.minutes * 60));
        return std::min(p, 1.0);
    }

    /// Validate every `valid_every` steps, at the last step, and once to fit the cosine to the
    /// budget (`txl::TimeBudget`); keep the best weights. True if this step has a validation.
    bool validate(std::size_t step, bool last) {
        bool fit = budget_.ready(rc_.train.schedule, step, step - start_, elapsed());
        if (budget_.seconds > 0 && cosine_ && rc_.train.schedule.total == 0) fit = from_rank0(fit);
        if (!(step % rc_.valid_every == 0 || last || fit)) return false;
        const double v0 = elapsed();
        // Stops at the next batch on Ctrl-C / SIGTERM (a large text validates for minutes).
        const auto& t = rc_.train;
        txl::PrecisionScope precision(t.precision);  // validation at the training's precision
        const auto v = txl::evaluate(
            *model_, text_.valid, t.batch, t.seq_len, t.mem_len, [] { return Interrupts::raised.load(); }, world_);
        const double v_time = elapsed() - v0;
        if (!v.complete) return false;
        last_valid_ = v;
        if (v.loss < best_.loss) save_best(v, step);
        if (fit) {
            auto& sched = rc_.train.schedule;
            sched.total = from_rank0(budget_.fit(step, step - start_, v0, v_time, rc_.valid_every, elapsed()));
            trainer_->set_schedule_total(sched.total);
            std::ostringstream m;
            m << std::fixed << std::setprecision(3) << "schedule: the cosine decay ends at step " << sched.total
              << " (measured " << v0 / double(step - start_) << " s a step, " << v_time << " s a validation, "
              << std::setprecision(1) << (budget_.seconds - elapsed()) / 60 << " minutes left)";
            say_(m.str());
        }
        return true;
    }

    /// A line every `log_every` steps (and at each validation) on stdout and in metrics.csv;
    /// between them a progress bar on a terminal.
    void log(std::size_t step, double lr, bool validated) {
        if (!primary_) return;
        const bool tty = isatty(STDOUT_FILENO);
        if (!(step % rc_.log_every == 0 || validated)) {
            if (!tty) return;
            const int width = 30, fill = int(progress() * width);
            std::cout << "\r[" << std::string(std::size_t(fill), '#') << std::string(std::size_t(width - fill), '.')
                      << "] step " << step << std::flush;
            return;
        }
        const double now = elapsed(), p = progress();
        const double tps = double(tokens_window_) / std::max(now - window_start_, 1e-9),
                     eta = p > 0 ? now / p - now : 0;
        const double loss = sum_loss_ / double(n_logged_), acc = sum_acc_ / double(n_logged_);
        std::ostringstream line;
        line << std::fixed << "step " << step << " | tokens " << trainer_->tokens_seen() << " | lr " << std::scientific
             << std::setprecision(2) << lr << std::fixed << std::setprecision(3) << " | loss " << loss;
        if (validated) line << " | valid " << last_valid_.loss << " acc " << last_valid_.accuracy;
        line << std::setprecision(0) << " | " << tps << " tok/s | " << hms(now) << " elapsed | ETA " << hms(eta);
        if (tty) std::cout << "\r\033[K";
        std::cout << line.str() << std::endl;
        sum_loss_ = sum_acc_ = 0, n_logged_ = 0, tokens_window_ = 0, window_start_ = now;
        std::ostringstream row;
        row << step << "," << trainer_->tokens_seen() << "," << lr << "," << loss << "," << acc << ","
            << (validated ? std::to_string(last_valid_.loss) : "") << ","
            << (validated ? std::to_string(last_valid_.accuracy) : "") << "," << tps << "," << now;
        metrics_->append(row.str());
    }

    void save() {
        trainer_->save(ckpt_, [&](const fs::path& tmp) {
            text_.vocab.save(tmp / "vocab.txt");
            write_config(tmp, rc_, seed_);
        });
    }

    /// best/: the weights with the lowest validation loss so far (what eval and sample read),
    /// replaced atomically like checkpoint/.
    void save_best(const txl::EvalStats& v, std::size_t step) {
        if (primary_)
            txl::write_directory_atomically(out_ / "best", true, [&](const fs::path& tmp) {
                txl::save_parameters(*model_, tmp);
                text_.vocab.save(tmp / "vocab.txt");
                write_config(tmp, rc_, seed_);
                write_best(tmp, v, step);
            });
        best_ = {step, v.loss, v.accuracy, true};
    }

    /// What was trained, and the best checkpoint as people compare it: nats and bits per
    /// character, accuracy, and (a small validation text) with memory 0, the trained m and 2m.
    void summary() const {
        const std::size_t steps = trainer_->step_count();
        if (steps > start_)
            say_("trained " + std::to_string(steps - start_) + " steps (" + std::to_string(tokens_run_) +
                 " tokens) in " + hms(elapsed()) + "; checkpoint " + ckpt_.string() + ", curves " +
                 (out_ / "loss.svg").string());
        if (!best_.found) return;
        const fs::path best_dir = out_ / "best";
        std::ostringstream m;
        m << std::fixed << std::setprecision(4) << "best: step " << best_.step << " of " << steps
          << ", validation loss " << best_.loss << " nats/" << unit(rc_.tokens) << " = "
          << metric(rc_.tokens, best_.loss) << " " << metric_name(rc_.tokens) << ", accuracy " << best_.accuracy << " (" << best_dir.string() << ", what eval and sample read)";
        say_(m.str());
        const auto& t = rc_.train;
        if (Model::has_memory && text_.valid.size() <= 2'000'000) {
            Model bm(text_.vocab.size(), 0);
            txl::load_checkpoint(bm, best_dir);
            std::ostringstream line;
            line << std::fixed << std::setprecision(4) << "best, by memory length:";
            txl::PrecisionScope precision(t.precision);
            for (std::size_t mem : {std::size_t(0), t.mem_len, 2 * t.mem_len})
                if (mem + t.seq_len <= Model::config::P) {
                    const auto r = txl::evaluate(bm, text_.valid, t.batch, t.seq_len, mem);
                    line << " mem_len " << mem << ": " << r.loss << " (" << metric(rc_.tokens, r.loss) << " "
                         << metric_name(rc_.tokens) << ");";
                }
            say_(line.str());
        }
        if (rc_.eval.seq_len || !text_.test.empty()) {  // the preset's evaluation, and the test split
            EvalSettings e = rc_.eval;
            if (!e.seq_len) e = {t.seq_len, t.mem_len, 0, false};
            Model bm(text_.vocab.size(), 0);
            txl::load_checkpoint(bm, best_dir);
            report(bm, text_, rc_.tokens, t.batch, e, say_);
        }
        std::cout << std::fixed << std::setprecision(4) << "valid_loss " << best_.loss << " valid_acc "
                  << best_.accuracy << "\n";
    }

    void final_sample() {
        if (!a_.sample_length) return;
        txl::SampleOptions so;
        so.mem_len = Model::has_memory ? rc_.train.mem_len : rc_.train.seq_len - 1;
        so.temperature = 0.8;
        so.seed = seed_;
        so.top_k = rc_.tokens == "words" ? 40 : 0;
        std::cout << "--- sample (temperature 0.8, " << (Model::has_memory ? "mem_len " : "window ") << so.mem_len
                  << ") ---\n";
        for (auto id : prompt_ids_) std::cout << text_.vocab.decode(id);
        txl::sample(*model_, prompt_ids_, a_.sample_length, so,
                    [&](std::int64_t id) { std::cout << text_.vocab.decode(id) << std::flush; });
        std::cout << "\n";
    }

    const TrainArgs& a_;
    Say say_;
    fs::path out_, ckpt_;
    txl::Communicator* world_;  ///< data parallel (null: alone)
    bool primary_;              ///< rank 0, or alone: writes the run directory
    bool stopping_ = false;     ///< data parallel: the stop all processes took with the last step
    RunConfig rc_;
    std::uint64_t seed_ = 1;
    bool cosine_ = false;
    txl::TimeBudget budget_;
    Corpus text_;
    std::vector<std::int64_t> prompt_ids_;
    std::unique_ptr<Model> model_;
    std::unique_ptr<txl::Trainer<Model>> trainer_;
    std::unique_ptr<MetricsLog> metrics_;
    Best best_;
    std::chrono::steady_clock::time_point t0_;
    std::size_t start_ = 0, n_logged_ = 0, tokens_run_ = 0, tokens_window_ = 0;
    double sum_loss_ = 0, sum_acc_ = 0, window_start_ = 0;
    txl::EvalStats last_valid_{};
};

}  // namespace txl_cli
