// txl_lm: Transformer-XL on any text, at the level of bytes (the paper's enwik8 path),
// characters or words, with a full softmax or the paper's adaptive input and adaptive softmax.
// Reports bits per character (bytes, characters) or perplexity (words).
//
//   txl_lm train --data tiny_shakespeare.txt --tokens words --softmax adaptive --minutes 10 --out runs/words
//   txl_lm train --corpus enwik8 --data-dir data --steps 2000 --out runs/enwik8
//
// The model is the Shakespeare example's practical shape (d_model 128, 4 heads, d_ff 512, 6
// layers); the adaptive one replaces its embedding and generator with AdaptiveEmbedding and
// AdaptiveSoftmax (the paper's WikiText-103 arrangement: div_val 1, tied tables), clusters cut
// at the 1,000th and 3,000th most frequent word. The run directory gets log.csv, the best
// model (weights, vocab.txt, config.txt) and a sample.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <csignal>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>

#include <txl/txl.hpp>

#include "corpora.hpp"

namespace lm {

// `--preset practical`: the Shakespeare example's practical shape, labml's layer; a full softmax,
// or adaptive input and softmax cut at the 1,000th and 3,000th word.
using C = txl::Config<float, 128, 4, 512, 6>;
using Clusters = txl::AdaptiveClusters<1, 1000, 3000>;
using FullModel = txl::TransformerXL<C>;
using AdaptiveModel =
    txl::AutoregressiveModel<C, txl::TransformerXLLayer<C>, txl::XLMemory<C>, txl::AdaptiveEmbedding<C, Clusters>,
                             txl::AdaptiveSoftmax<C, Clusters, /*tie weights*/ true>>;

// The paper's base models (kimiyoung/transformer-xl run_enwik8_base.sh, run_wt103_base.sh), with
// its post-LayerNorm layer and sinusoidal attention. enwik8: 12 layers, d_model 512, 8 heads,
// d_ff 2048, a full softmax over the bytes. WikiText-103: 16 layers, d_model 410, 10 heads,
// d_ff 2100, adaptive input and softmax cut at 20k, 40k and 200k, div_val 1, tied tables.
template <class Cfg>
using PaperLayer = txl::PostNormXLLayer<txl::SinusoidalRelativeAttention<Cfg>, txl::FeedForward<Cfg>>;
using E8 = txl::Config<float, 512, 8, 2048, 12>;
using Enwik8Base = txl::AutoregressiveModel<E8, PaperLayer<E8>>;
using W103 = txl::Config<float, 410, 10, 2100, 16>;
using WT103Clusters = txl::AdaptiveClusters<1, 20000, 40000, 200000>;
using WT103Base =
    txl::AutoregressiveModel<W103, PaperLayer<W103>, txl::XLMemory<W103>, txl::AdaptiveEmbedding<W103, WT103Clusters>,
                             txl::AdaptiveSoftmax<W103, WT103Clusters, true, true>>;

/// A preset's training settings (each overridden by its option when given).
struct Preset {
    std::size_t batch, seq_len, mem_len, warmup;
    double lr, dropout, dropatt;
    /// The final evaluation: segment, memory, clamp_len (0: none), the same_length mask.
    std::size_t eval_seq_len, eval_mem_len, clamp_len;
    bool same_length;
};
inline Preset preset_settings(const std::string& name) {
    if (name == "practical") return {16, 64, 64, 200, 3e-3, 0.1, -1, 64, 64, 0, false};
    // The paper's: batch 22, segments and memory 512, lr 2.5e-4 without warm-up, dropout 0.1;
    // evaluated over segments of 80 with memory 2100, clamp_len 820 and the same_length mask.
    if (name == "enwik8-base") return {22, 512, 512, 0, 2.5e-4, 0.1, 0.0, 80, 2100, 820, true};
    // The paper's: batch 60, segments and memory 150; evaluated over 64 with memory 640, clamp 400.
    if (name == "wt103-base") return {60, 150, 150, 0, 2.5e-4, 0.1, 0.0, 64, 640, 400, true};
    throw txl::error("--preset '" + name + "': expected practical, enwik8-base or wt103-base");
}

struct Args {
    std::string data, corpus, data_dir = "data", out, tokens, softmax = "full", prompt, preset = "practical";
    double minutes = 0, download_timeout = 600;
    std::size_t steps = 0, min_count = 0, valid_every = 250, sample_length = 200;
    Preset preset_values{};
    std::uint64_t seed = 1;
    txl::TrainOptions train;
};

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_signal(int) { g_stop = 1; }

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

/// Train `Model` on the corpus: steps until the budget (minutes or steps), validation every
/// `valid_every` steps with the training memory length, the best model kept, saved and sampled.
template <class Model>
int train(const Args& a, const Corpus& corpus) {
    const Level level = corpus.vocab.level;
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
    // The best model evaluated as the preset says (the paper: shorter segments, a longer memory,
    // clamp_len and same_length), on the validation text and the test text where there is one.
    const Preset& p = a.preset_values;
    if (p.eval_seq_len != a.train.seq_len || p.eval_mem_len != a.train.mem_len || !corpus.test.empty()) {
        Model judged = *best;
        for (auto& l : judged.transformer.layers) {
            if (p.clamp_len) l.self_attn.clamp_len = p.clamp_len;
            if (p.same_length) l.self_attn.same_length_span = p.eval_mem_len;
        }
        for (const auto* split : {&corpus.valid, &corpus.test}) {
            if (split->empty()) continue;
            const auto e = txl::evaluate(judged, *split, a.train.batch, p.eval_seq_len, p.eval_mem_len);
            std::cout << (split == &corpus.valid ? "valid" : "test") << " (segments " << p.eval_seq_len << ", memory "
                      << p.eval_mem_len << (p.clamp_len ? ", clamp_len " + std::to_string(p.clamp_len) : "")
                      << (p.same_length ? ", same_length" : "") << "): " << e.loss
                      << " nats/token = " << metric(level, e.loss) << " " << metric_name(level) << " (" << split->size()
                      << " " << level_name(level) << ")\n";
        }
    }
    const fs::path dir = fs::path(a.out) / "best";
    txl::save_checkpoint(*best, dir, /*overwrite*/ true);
    corpus.vocab.save(dir / "vocab.txt");
    std::ofstream(dir / "config.txt") << "tokens=" << level_name(level) << "\nsoftmax=" << a.softmax
                                      << "\nstep=" << best_step << "\nvalid_loss=" << std::setprecision(17) << best_loss
                                      << "\n";
    if (a.sample_length > 0) {
        txl::SampleOptions so;
        so.mem_len = a.train.mem_len;
        so.top_k = level == Level::words ? 40 : 0;
        // The prompt given, else the training text's first tokens.
        std::vector<std::int64_t> prompt = corpus.vocab.encode(a.prompt);
        for (std::size_t i = 0; a.prompt.empty() && i < std::min<std::size_t>(16, corpus.train.size()); ++i)
            prompt.push_back(corpus.train[i]);
        std::cout << "sample:\n";
        for (auto id : prompt) std::cout << corpus.vocab.decode(id);
        txl::sample(*best, prompt, a.sample_length, so,
                    [&](std::int64_t id) { std::cout << corpus.vocab.decode(id) << std::flush; });
        std::cout << "\n";
    }
    return 0;
}

}  // namespace lm

int main(int argc, char** argv) {
    using namespace lm;
    CLI::App app{"txl_lm: Transformer-XL on bytes, characters or words, with a full or an adaptive softmax"};
    app.require_subcommand(1);
    Args a;
    auto* tr = app.add_subcommand("train", "Train on a text file and report bits/char or perplexity");
    auto* data = tr->add_option("--data", a.data, "A text file (or - for standard input), split 90/10");
    auto* corpus = tr->add_option("--corpus", a.corpus,
                                  "enwik8, text8, wikitext-103, wikitext-2 or shakespeare (fetched if missing)");
    data->excludes(corpus);
    tr->add_option("--data-dir", a.data_dir, "Where --corpus lives (and is downloaded to)")->capture_default_str();
    tr->add_option("--download-timeout", a.download_timeout, "Seconds a download may take")
        ->capture_default_str()
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    tr->add_option("--out", a.out, "The run directory (log.csv, best/)")->required();
    tr->add_option("--preset", a.preset, "practical, enwik8-base or wt103-base (the paper's base models)")
        ->capture_default_str();
    tr->add_option("--tokens", a.tokens, "bytes | chars | words (default: chars; a named corpus has its own)");
    tr->add_option("--softmax", a.softmax, "full | adaptive (adaptive input and softmax; words)")
        ->capture_default_str();
    tr->add_option("--minutes", a.minutes, "Train for this long (the cosine schedule ends with it)");
    tr->add_option("--steps", a.steps, "Train this many steps");
    tr->add_option("--min-count", a.min_count, "Words seen fewer times in training are <unk> (default 2; WikiText 1)");
    tr->add_option("--valid-every", a.valid_every, "Validate every N steps")->capture_default_str();
    // The preset's value unless given (see preset_settings).
    auto* batch = tr->add_option("--batch", a.train.batch, "Streams per batch (practical: 16)");
    auto* seq_len = tr->add_option("--seq-len", a.train.seq_len, "Segment length (practical: 64)");
    auto* mem_len = tr->add_option("--mem-len", a.train.mem_len, "Memory length (practical: 64)");
    auto* dropout = tr->add_option("--dropout", a.train.dropout, "Dropout (practical: 0.1)");
    auto* lr = tr->add_option("--lr", a.train.schedule.lr, "Peak learning rate (practical: 3e-3)");
    tr->add_option("--seed", a.seed, "Initialisation seed")->capture_default_str();
    tr->add_option("--prompt", a.prompt, "The sample's prompt (empty: the start of the text)");
    tr->add_option("--sample-length", a.sample_length, "Tokens sampled at the end")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    try {
        txl::check<txl::error>(!a.data.empty() || !a.corpus.empty(), "give --data FILE or --corpus NAME");
        Level level = parse_level(a.tokens.empty() ? "chars" : a.tokens);
        txl::check<txl::error>(a.softmax == "full" || a.softmax == "adaptive", "--softmax '", a.softmax,
                               "': expected full or adaptive");
        txl::check<txl::error>(a.steps > 0 || a.minutes > 0, "give --steps or --minutes");
        txl::check<txl::error>(a.valid_every > 0, "--valid-every must be >= 1");
        const Preset p = preset_settings(a.preset);
        if (!batch->count()) a.train.batch = p.batch;
        if (!seq_len->count()) a.train.seq_len = p.seq_len;
        if (!mem_len->count()) a.train.mem_len = p.mem_len;
        if (!dropout->count()) a.train.dropout = p.dropout;
        if (!lr->count()) a.train.schedule.lr = p.lr;
        a.preset_values = p;
        a.train.dropatt = p.dropatt;
        a.train.schedule = {txl::Schedule::Kind::cosine, a.train.schedule.lr, p.warmup, C::d_model, a.steps,
                            a.train.schedule.lr / 30};
        std::signal(SIGINT, on_signal);
        std::signal(SIGTERM, on_signal);
        Corpus corpus;
        if (!a.corpus.empty()) {
            const NamedCorpus& named = find_corpus(a.corpus);
            txl::check<txl::error>(a.tokens.empty() || named.members.empty() || level == named.level, a.corpus,
                                   " is read as ", level_name(named.level), ", not --tokens ", a.tokens);
            if (!named.members.empty()) level = named.level;
            if (a.min_count == 0) a.min_count = level == Level::words && !named.members.empty() ? 1 : 2;
            const auto texts = prepare(named, a.data_dir, a.download_timeout,
                                       [](const std::string& m) { std::cout << m << std::endl; });
            corpus = load_named(named, texts, level, a.min_count);
        } else {
            corpus = load_corpus(a.data, level, a.min_count ? a.min_count : 2);
        }
        std::cout << (a.corpus.empty() ? a.data : a.corpus) << ": " << corpus.bytes << " bytes, " << corpus.tokens
                  << " " << level_name(level) << ", vocabulary " << corpus.vocab.size() << "; training "
                  << corpus.train.size() << ", validation " << corpus.valid.size()
                  << (corpus.test.empty() ? "" : ", test ")
                  << (corpus.test.empty() ? std::string() : std::to_string(corpus.test.size())) << "\n";
        if (a.preset == "enwik8-base") {
            txl::check<txl::error>(a.softmax == "full", "--preset enwik8-base has a full softmax");
            return train<Enwik8Base>(a, corpus);
        }
        if (a.preset == "wt103-base") {
            txl::check<txl::error>(a.softmax == "adaptive", "--preset wt103-base needs --softmax adaptive");
            return train<WT103Base>(a, corpus);
        }
        if (a.softmax == "adaptive") return train<AdaptiveModel>(a, corpus);
        return train<FullModel>(a, corpus);
    } catch (const std::exception& e) {
        std::cerr << "txl_lm: " << e.what() << "\n";
        return 1;
    }
}
