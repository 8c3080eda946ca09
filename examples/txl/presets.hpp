#pragma once
// The program's choices in one place: the settings of a run (`RunConfig`), the built-in presets
// (labml's experiment, the ten-minute and one-hour Tiny Shakespeare runs, the paper's base
// models for enwik8 and WikiText-103), and the names of the model shapes `--size` picks from.
// Which compiled model a run uses is models.hpp's table.
#include <string>
#include <vector>

#include <txl/txl.hpp>

namespace txl_cli {

/// Every compiled shape's relative-position table: segment plus memory at most (`Config::P`).
inline constexpr std::size_t P = 4096;

/// How an evaluation reads a text: segments, memory, `clamp_len` (0: none) and the paper's
/// `same_length` mask (every query sees `mem_len` keys). Zero lengths: the training's.
struct EvalSettings {
    std::size_t seq_len = 0, mem_len = 0, clamp_len = 0;
    bool same_length = false;
};

/// A run's settings: a preset, then the command line's overrides.
struct RunConfig {
    std::string name;                  ///< the preset (config.txt: `config`)
    std::string model = "xl";          ///< xl | no-memory
    std::string encoding = "learned";  ///< learned | sinusoidal
    std::string size = "base";         ///< a shape of models.hpp's table
    std::string tokens = "chars";      ///< bytes | chars | words
    std::string softmax = "full";      ///< full | adaptive (adaptive input and softmax)
    txl::TrainOptions train;
    std::size_t valid_every = 0, save_every = 0, log_every = 0;
    EvalSettings eval;  ///< the final evaluation of the best weights (the paper's protocol)
};

/// The presets' names and what each is, for the help and the errors.
inline const std::vector<std::pair<std::string, std::string>>& preset_list() {
    static const std::vector<std::pair<std::string, std::string>> all{
        {"labml", "labml's experiment: seq_len 2, mem_len 32, batch 32, Noam"},
        {"practical", "size ff512, seq_len 64, mem_len 64, batch 16, cosine to 3e-3 fitted to --minutes, "
                      "dropout 0.05; for ten minutes"},
        {"long", "practical at batch 32 with dropout 0.1; for an hour"},
        {"enwik8-base", "the paper's enwik8 base model: bytes, 12 layers of 512, segments and memory 512"},
        {"wt103-base", "the paper's WikiText-103 base model: words, 16 layers of 410, adaptive softmax"},
    };
    return all;
}

/// What each size is (the `--size` help).
inline const std::vector<std::pair<std::string, std::string>>& size_list() {
    static const std::vector<std::pair<std::string, std::string>> all{
        {"base", "labml's: d_model 128, 4 heads, d_ff 256, 6 layers"},
        {"ff512", "d_ff 512, 4 d_model: the usual ratio"},
        {"deep", "8 layers"},
        {"wide", "d_model 192, 6 heads, d_ff 384"},
        {"narrow", "d_model 96, 3 heads, d_ff 192"},
        {"enwik8-base", "the paper's: d_model 512, 8 heads, d_ff 2048, 12 layers, post-LN, sinusoidal"},
        {"wt103-base", "the paper's: d_model 410, 10 heads, d_ff 2100, 16 layers, post-LN, sinusoidal"},
    };
    return all;
}

/// The paper's base models: its scripts' settings (kimiyoung/transformer-xl run_enwik8_base.sh,
/// run_wt103_base.sh): lr 2.5e-4 without warm-up, a cosine to 0, clip 0.25, dropout 0.1 and
/// none on the attention weights; evaluated longer than trained, as the paper evaluates.
inline void paper_base(RunConfig& r, const std::string& name) {
    r.size = name;
    r.encoding = "sinusoidal";
    r.train.schedule = {txl::Schedule::Kind::cosine, 2.5e-4, 0, 0, 0, 0.0};
    r.train.clip = 0.25;
    r.train.dropout = 0.1, r.train.dropatt = 0.0;
    r.valid_every = 4000, r.save_every = 4000, r.log_every = 200;
    if (name == "enwik8-base") {
        r.tokens = "bytes";
        r.train.seq_len = 512, r.train.mem_len = 512, r.train.batch = 22;
        r.eval = {80, 2100, 820, true};
    } else {
        r.tokens = "words", r.softmax = "adaptive";
        r.train.seq_len = 150, r.train.mem_len = 150, r.train.batch = 60;
        r.eval = {64, 640, 400, true};
    }
}

/// The built-in presets (`--preset`).
inline RunConfig builtin_config(const std::string& name) {
    RunConfig r;
    r.name = name;
    r.train.clip = 1.0;
    r.train.dropout = 0.0;
    if (name == "labml") {
        // labml's experiment: seq_len 2, mem_len 32, batch 32, Noam (lr 1, warm-up 2000).
        r.train.seq_len = 2, r.train.mem_len = 32, r.train.batch = 32;
        r.train.schedule = {txl::Schedule::Kind::noam, 1.0, 2000, 0, 0, 0};
        r.valid_every = 2000, r.save_every = 2000, r.log_every = 100;
    } else if (name == "practical" || name == "long") {
        // Longer segments give each step 32x more tokens: far fewer, better-used steps on a CPU.
        // Schedule and dropout chosen by a ten-minute sweep (bench/sweep_shakespeare.py,
        // docs/results.md): warm-up 200 steps to 3e-3, a cosine down to 1e-4 that ends with the
        // run (with --minutes, where the budget ends), dropout 0.05. Then shapes: batch 16 and
        // d_ff 512 (`--size ff512`) each beat labml's shape at batch 32 in the same ten minutes.
        // Validation every 500 steps: as many characters between validations as 250 at batch 32.
        r.size = "ff512";
        r.train.seq_len = 64, r.train.mem_len = 64, r.train.batch = 16;
        r.train.schedule = {txl::Schedule::Kind::cosine, 3e-3, 200, 0, 0, 1e-4};
        r.train.dropout = 0.05;
        r.valid_every = 500, r.save_every = 500, r.log_every = 50;
        if (name == "long") {
            // The one-hour preset, from the one-hour sweep: the same d_ff 512 at batch 32, with
            // more dropout (an hour is many passes over the text).
            r.train.batch = 32;
            r.train.dropout = 0.1;
        }
    } else if (name == "enwik8-base" || name == "wt103-base") {
        paper_base(r, name);
    } else {
        std::string names;
        for (const auto& [n, help] : preset_list()) names += (names.empty() ? "" : ", ") + n;
        throw txl::error("unknown preset '" + name + "', expected one of " + names);
    }
    return r;
}

/// The figure a level reports: bits per byte or character ($L / \ln 2$), or perplexity ($e^L$).
inline double metric(const std::string& tokens, double nats) {
    return tokens == "words" ? std::exp(nats) : nats / std::log(2.0);
}
inline std::string metric_name(const std::string& tokens) {
    return tokens == "words" ? "perplexity" : tokens == "bytes" ? "bits/byte" : "bits/char";
}
/// What one token is, in the program's lines: "char", "byte" or "word".
inline std::string unit(const std::string& tokens) { return tokens.substr(0, tokens.size() - 1); }

}  // namespace txl_cli
