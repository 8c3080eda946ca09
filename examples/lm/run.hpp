#pragma once
// A txl_lm run: training with validation and the best model kept (`train`), the final
// evaluation as the preset says (`report`), and the run's files: log.csv and best/ (the
// weights, vocab.txt and config.txt, which `txl_lm eval` reads back).
#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include <txl/txl.hpp>

#include "corpora.hpp"
#include "presets.hpp"

namespace lm {

struct TrainArgs {
    std::string out, softmax = "full", prompt, preset = "practical";
    double minutes = 0;
    std::size_t steps = 0, valid_every = 250, sample_length = 200;
    std::uint64_t seed = 1;
    txl::TrainOptions train;
    EvalSettings eval;
};

inline volatile std::sig_atomic_t g_stop = 0;
extern "C" inline void on_signal(int) { g_stop = 1; }

using Clock = std::chrono::steady_clock;
inline double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// Evaluate `model` on each non-empty split as `e` says, one line each; returns the first's loss.
template <class Model>
double report(const Model& model, const Corpus& corpus, std::size_t batch, const EvalSettings& e) {
    const Level level = corpus.vocab.level;
    Model judged = model;  // the settings below are the evaluation's, not the model's
    for (auto& l : judged.transformer.layers) {
        if (e.clamp_len) l.self_attn.clamp_len = e.clamp_len;
        if (e.same_length) l.self_attn.same_length_span = e.mem_len;
    }
    double first = NAN;
    for (const auto* split : {&corpus.valid, &corpus.test}) {
        if (split->empty()) continue;
        const auto r = txl::evaluate(judged, *split, batch, e.seq_len, e.mem_len);
        if (std::isnan(first)) first = r.loss;
        std::cout << (split == &corpus.valid ? "valid" : "test") << " (segments " << e.seq_len << ", memory "
                  << e.mem_len << (e.clamp_len ? ", clamp_len " + std::to_string(e.clamp_len) : "")
                  << (e.same_length ? ", same_length" : "") << "): " << std::fixed << std::setprecision(4) << r.loss
                  << " nats/token = " << metric(level, r.loss) << " " << metric_name(level) << " (" << split->size()
                  << " " << level_name(level) << ")" << std::endl;
    }
    return first;
}

/// best/: the weights, the vocabulary and what `txl_lm eval` needs to rebuild the model, written
/// as one directory atomically (a crash leaves the previous one whole).
template <class Model>
void save_best(Model& model, const Corpus& corpus, const TrainArgs& a, std::size_t step, double loss) {
    txl::write_directory_atomically(fs::path(a.out) / "best", /*overwrite*/ true, [&](const fs::path& tmp) {
        txl::save_parameters(model, tmp);
        corpus.vocab.save(tmp / "vocab.txt");
        std::ofstream config(tmp / "config.txt");
        config << "tokens=" << level_name(corpus.vocab.level) << "\nsoftmax=" << a.softmax << "\npreset=" << a.preset
               << "\nbatch=" << a.train.batch << "\nseq_len=" << a.train.seq_len << "\nmem_len=" << a.train.mem_len
               << "\nstep=" << step << "\nvalid_loss=" << std::setprecision(17) << loss << "\n";
        txl::finish_file(config, (tmp / "config.txt").string());
    });
}

/// config.txt as key=value pairs; a missing or malformed file is a checkpoint error.
inline std::map<std::string, std::string> read_config(const fs::path& path) {
    std::ifstream in(path);
    txl::check<txl::checkpoint_error>(bool(in), path.string(), ": missing (not a txl_lm best/ directory?)");
    std::map<std::string, std::string> kv;
    for (std::string line; std::getline(in, line);) {
        const auto eq = line.find('=');
        txl::check<txl::checkpoint_error>(eq != std::string::npos, path.string(), ": '", line, "' is not key=value");
        kv[line.substr(0, eq)] = line.substr(eq + 1);
    }
    for (const char* key : {"tokens", "softmax", "preset", "batch", "seq_len", "mem_len"})
        txl::check<txl::checkpoint_error>(kv.count(key) > 0, path.string(), ": no ", key);
    return kv;
}

/// Train `Model` on the corpus: steps until the budget (minutes or steps), validation every
/// `valid_every` steps with the training memory, the best model kept, evaluated, saved, sampled.
template <class Model>
int train(const TrainArgs& a, const Corpus& corpus) {
    const Level level = corpus.vocab.level;
    // The sample's prompt: the one given (checked now, not after training), else the text's first tokens.
    std::vector<std::int64_t> prompt = corpus.vocab.encode(a.prompt);
    for (std::size_t i = 0; a.prompt.empty() && i < std::min<std::size_t>(16, corpus.train.size()); ++i)
        prompt.push_back(corpus.train[i]);
    Model model(corpus.vocab.size(), a.seed);
    std::cout << model.describe();
    txl::Trainer<Model> trainer(model, a.train, corpus.train);
    fs::create_directories(a.out);
    std::ofstream log(fs::path(a.out) / "log.csv");
    log << "step,seconds,train_loss,valid_loss," << (level == Level::words ? "valid_ppl" : "valid_bpc")
        << ",tokens_per_s\n";
    std::unique_ptr<Model> best;
    double best_loss = HUGE_VAL, train_sum = 0, train_seconds = 0;
    std::size_t best_step = 0, n_sum = 0, tokens = 0;
    const auto t0 = Clock::now();
    const double budget = a.minutes * 60;
    for (std::size_t step = 1;; ++step) {
        const auto ts = Clock::now();
        const auto s = trainer.step();
        train_seconds += since(ts);
        train_sum += s.loss, ++n_sum, tokens += s.tokens;
        // With --minutes the cosine ends where the budget is expected to: fixed from the first 50 steps' pace.
        if (budget > 0 && step == 50)
            trainer.set_schedule_total(std::size_t(50 + (budget - since(t0)) / (since(t0) / 50.0) * 0.95));
        const bool last = g_stop || (a.steps && step >= a.steps) || (budget > 0 && since(t0) >= budget);
        if (step % a.valid_every == 0 || last) {
            const auto v = txl::evaluate(model, corpus.valid, a.train.batch, a.train.seq_len, a.train.mem_len);
            const double tps = double(tokens) / train_seconds;
            std::cout << "step " << step << " | " << std::fixed << std::setprecision(1) << since(t0) << " s | train "
                      << std::setprecision(4) << train_sum / double(n_sum) << " | valid " << v.loss << " ("
                      << std::setprecision(level == Level::words ? 2 : 4) << metric(level, v.loss) << " "
                      << metric_name(level) << ") | " << std::setprecision(0) << tps << " tokens/s" << std::endl;
            log << step << "," << since(t0) << "," << train_sum / double(n_sum) << "," << v.loss << ","
                << metric(level, v.loss) << "," << tps << "\n";
            train_sum = 0, n_sum = 0;
            if (v.loss < best_loss) best_loss = v.loss, best_step = step, best = std::make_unique<Model>(model);
        }
        if (last) break;
    }
    if (!best) best = std::make_unique<Model>(model);  // no finite validation loss: the last weights
    std::cout << std::setprecision(4) << "best: step " << best_step << ", validation " << best_loss
              << " nats/token = " << metric(level, best_loss) << " " << metric_name(level) << " ("
              << corpus.valid.size() << " " << level_name(level) << ")\n";
    const EvalSettings& e = a.eval;
    if (e.seq_len != a.train.seq_len || e.mem_len != a.train.mem_len || e.clamp_len || e.same_length ||
        !corpus.test.empty())
        report(*best, corpus, a.train.batch, e);
    save_best(*best, corpus, a, best_step, best_loss);
    if (a.sample_length > 0) {
        txl::SampleOptions so;
        so.mem_len = a.train.mem_len;
        so.top_k = level == Level::words ? 40 : 0;
        std::cout << "sample:\n";
        for (auto id : prompt) std::cout << corpus.vocab.decode(id);
        txl::sample(*best, prompt, a.sample_length, so,
                    [&](std::int64_t id) { std::cout << corpus.vocab.decode(id) << std::flush; });
        std::cout << "\n";
    }
    return 0;
}

}  // namespace lm
