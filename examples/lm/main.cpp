// txl_lm: Transformer-XL on any text, at the level of bytes (the paper's enwik8 path),
// characters or words, with a full softmax or the paper's adaptive input and adaptive softmax;
// the paper's corpora by name and its base models. Reports bits per character (bytes,
// characters) or perplexity (words).
//
//   txl_lm train --data tiny_shakespeare.txt --tokens words --softmax adaptive --minutes 10 --out runs/words
//   txl_lm train --corpus enwik8 --data-dir data --preset enwik8-base --minutes 600 --out runs/enwik8
//   txl_lm eval  --checkpoint runs/words/best --data tiny_shakespeare.txt --mem-len 256
//
// This file is the command line and the text; the models and their settings are presets.hpp,
// the run is run.hpp, the corpora corpora.hpp. Every option: examples/lm/README.md.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iomanip>
#include <iostream>
#include <string>

#include <txl/txl.hpp>

#include "corpora.hpp"
#include "presets.hpp"
#include "run.hpp"

namespace lm {

/// Where the text comes from and how it is cut into tokens.
struct DataArgs {
    std::string data, corpus, data_dir = "data", tokens;
    double download_timeout = 600;
    std::size_t min_count = 0;  ///< 0: the text's default (2; 1 for WikiText, which has its own <unk>)
};

void add_data_options(CLI::App* app, DataArgs& d) {
    auto* data = app->add_option("--data", d.data, "A text file (or - or a pipe), split 90/10 by tokens");
    auto* corpus = app->add_option("--corpus", d.corpus,
                                   "enwik8, text8, wikitext-103, wikitext-2 or shakespeare (fetched if missing)");
    data->excludes(corpus);
    app->add_option("--data-dir", d.data_dir, "Where --corpus lives (and is downloaded to)")->capture_default_str();
    app->add_option("--download-timeout", d.download_timeout, "Seconds a download may take")
        ->capture_default_str()
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app->add_option("--tokens", d.tokens, "bytes | chars | words (default: chars; a named corpus has its own)");
    app->add_option("--min-count", d.min_count, "Words seen fewer times in training are <unk> (default 2; WikiText 1)");
}

/// The text as `d` says, tokenised with `given` (a trained model's vocabulary) or its own; a
/// line saying what was read.
Corpus load_data(DataArgs d, const Vocabulary* given) {
    txl::check<txl::error>(!d.data.empty() || !d.corpus.empty(), "give --data FILE or --corpus NAME");
    Level level = parse_level(d.tokens.empty() ? "chars" : d.tokens);
    Corpus corpus;
    if (!d.corpus.empty()) {
        const NamedCorpus& named = find_corpus(d.corpus);
        txl::check<txl::error>(d.tokens.empty() || named.members.empty() || level == named.level, d.corpus,
                               " is read as ", level_name(named.level), ", not --tokens ", d.tokens);
        if (!named.members.empty()) level = named.level;
        if (d.min_count == 0) d.min_count = level == Level::words && !named.members.empty() ? 1 : 2;
        const auto texts =
            prepare(named, d.data_dir, d.download_timeout, [](const std::string& m) { std::cout << m << std::endl; });
        corpus = load_named(named, texts, level, d.min_count, given);
    } else {
        corpus = load_corpus(d.data, level, d.min_count ? d.min_count : 2, given);
    }
    std::cout << (d.corpus.empty() ? d.data : d.corpus) << ": " << corpus.bytes << " bytes, " << corpus.tokens << " "
              << level_name(level) << ", vocabulary " << corpus.vocab.size() << "; training " << corpus.train.size()
              << ", validation " << corpus.valid.size();
    if (!corpus.test.empty()) std::cout << ", test " << corpus.test.size();
    if (level == Level::words && corpus.vocab.words.has_unk()) {  // how much of the text <unk> stands for
        const std::int64_t unk = corpus.vocab.words.id(txl::WordTokenizer::unk);
        auto share = [&](const txl::TokenIds& ids) {
            std::size_t n = 0;
            for (std::size_t i = 0; i < ids.size(); ++i) n += ids[i] == unk;
            return 100.0 * double(n) / double(std::max<std::size_t>(ids.size(), 1));
        };
        std::cout << std::fixed << std::setprecision(1) << "; <unk> " << share(corpus.train) << "% of training, "
                  << share(corpus.valid) << "% of validation";
    }
    std::cout << std::endl;
    return corpus;
}

/// Where an option was given, its value; else the preset's.
template <class T>
void unless_given(const CLI::Option* o, T& value, T preset) {
    if (!o->count()) value = preset;
}

}  // namespace lm

int main(int argc, char** argv) {
    using namespace lm;
    CLI::App app{"txl_lm: Transformer-XL on bytes, characters or words, with a full or an adaptive softmax"};
    app.require_subcommand(1);

    TrainArgs a;
    DataArgs d;
    auto* tr = app.add_subcommand("train", "Train, validate, evaluate the best model, save it and sample");
    add_data_options(tr, d);
    tr->add_option("--out", a.out, "The run directory (log.csv, best/)")->required();
    tr->add_option("--preset", a.preset, "practical, enwik8-base or wt103-base (the paper's base models)")
        ->capture_default_str();
    tr->add_option("--softmax", a.softmax, "full | adaptive (adaptive input and softmax; words)")
        ->capture_default_str();
    tr->add_option("--minutes", a.minutes, "Train for this long (the cosine schedule ends with it)");
    tr->add_option("--steps", a.steps, "Train this many steps");
    tr->add_option("--valid-every", a.valid_every, "Validate every N steps")->capture_default_str();
    // The preset's value unless given (presets.hpp).
    auto* batch = tr->add_option("--batch", a.train.batch, "Streams per batch (practical: 16)");
    auto* seq_len = tr->add_option("--seq-len", a.train.seq_len, "Segment length (practical: 64)");
    auto* mem_len = tr->add_option("--mem-len", a.train.mem_len, "Memory length (practical: 64)");
    auto* dropout = tr->add_option("--dropout", a.train.dropout, "Dropout (practical: 0.1)");
    auto* lr = tr->add_option("--lr", a.train.schedule.lr, "Peak learning rate (practical: 3e-3)");
    auto* eval_seq = tr->add_option("--eval-seq-len", a.eval.seq_len, "The final evaluation's segments");
    auto* eval_mem = tr->add_option("--eval-mem-len", a.eval.mem_len, "The final evaluation's memory");
    auto* clamp = tr->add_option("--clamp-len", a.eval.clamp_len, "The final evaluation's clamp_len (0: none)");
    auto* same = tr->add_flag("--same-length", a.eval.same_length, "The final evaluation's same_length mask");
    tr->add_option("--accumulate", a.train.accumulate,
                   "Micro-batches per step (the same step in 1/k of the activations' memory)")
        ->capture_default_str();
    tr->add_option("--seed", a.seed, "Initialisation seed")->capture_default_str();
    tr->add_option("--prompt", a.prompt, "The sample's prompt (empty: the start of the text)");
    tr->add_option("--sample-length", a.sample_length, "Tokens sampled at the end")->capture_default_str();

    std::string checkpoint;
    DataArgs ed;
    EvalSettings es;
    std::size_t eval_batch = 0;
    auto* ev = app.add_subcommand("eval", "Evaluate a trained model (best/) on a text, with any memory");
    ev->add_option("--checkpoint", checkpoint, "A run's best/ directory (or the run directory)")->required();
    add_data_options(ev, ed);
    auto* ev_seq = ev->add_option("--seq-len", es.seq_len, "Segment length (default: training's)");
    auto* ev_mem = ev->add_option("--mem-len", es.mem_len, "Memory length (default: training's)");
    ev->add_option("--clamp-len", es.clamp_len, "Distances beyond this use its encoding (0: none)");
    ev->add_flag("--same-length", es.same_length, "Every query sees mem_len keys (the paper's evaluation)");
    ev->add_option("--batch", eval_batch, "Streams (default: training's)");
    CLI11_PARSE(app, argc, argv);

    try {
        std::signal(SIGINT, on_signal);
        std::signal(SIGTERM, on_signal);
        if (ev->parsed()) {
            fs::path dir = checkpoint;
            if (fs::is_directory(dir / "best")) dir /= "best";
            if (fs::exists(dir / "checksums.txt")) txl::verify_checksums(dir);  // config and vocabulary too
            const auto cfg = read_config(dir / "config.txt");
            txl::check<txl::error>(ed.tokens.empty() || ed.tokens == cfg.at("tokens"), "--tokens ", ed.tokens,
                                   ": the model reads ", cfg.at("tokens"));
            ed.tokens = cfg.at("tokens");
            const Vocabulary vocab = Vocabulary::load(dir / "vocab.txt", parse_level(ed.tokens));
            const Corpus corpus = load_data(ed, &vocab);
            if (!ev_seq->count()) es.seq_len = std::stoul(cfg.at("seq_len"));
            if (!ev_mem->count()) es.mem_len = std::stoul(cfg.at("mem_len"));
            if (!eval_batch) eval_batch = std::stoul(cfg.at("batch"));
            return with_model(cfg.at("preset"), cfg.at("softmax"), [&](auto tag) {
                using Model = typename decltype(tag)::type;
                Model model(vocab.size(), 0);
                txl::load_checkpoint(model, dir);
                txl::check<txl::error>(es.seq_len + es.mem_len <= Model::config::P,
                                       "--seq-len + --mem-len = ", es.seq_len + es.mem_len,
                                       " must be <= P = ", Model::config::P);
                report(model, corpus, eval_batch, es);
                return 0;
            });
        }
        txl::check<txl::error>(a.steps > 0 || a.minutes > 0, "give --steps or --minutes");
        txl::check<txl::error>(a.valid_every > 0, "--valid-every must be >= 1");
        const Preset p = preset_settings(a.preset);
        unless_given(batch, a.train.batch, p.batch);
        unless_given(seq_len, a.train.seq_len, p.seq_len);
        unless_given(mem_len, a.train.mem_len, p.mem_len);
        unless_given(dropout, a.train.dropout, p.dropout);
        unless_given(lr, a.train.schedule.lr, p.lr);
        // The final evaluation: the preset's, or as trained when the segments or memory were changed.
        const bool shape_given = seq_len->count() || mem_len->count();
        unless_given(eval_seq, a.eval.seq_len, shape_given ? a.train.seq_len : p.eval.seq_len);
        unless_given(eval_mem, a.eval.mem_len, shape_given ? a.train.mem_len : p.eval.mem_len);
        unless_given(clamp, a.eval.clamp_len, shape_given ? 0 : p.eval.clamp_len);
        unless_given(same, a.eval.same_length, shape_given ? false : p.eval.same_length);
        a.train.dropatt = p.dropatt;
        a.train.schedule = {txl::Schedule::Kind::cosine, a.train.schedule.lr, p.warmup, C::d_model, a.steps,
                            a.train.schedule.lr / 30};
        const Corpus corpus = load_data(d, nullptr);
        return with_model(a.preset, a.softmax,
                          [&](auto tag) { return train<typename decltype(tag)::type>(a, corpus); });
    } catch (const std::exception& e) {
        std::cerr << "txl_lm: " << e.what() << "\n";
        return 1;
    }
}
