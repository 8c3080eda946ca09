#pragma once
// What each subcommand is given: its options (the structs) and their command line (CLI11), with
// what a subcommand is run with (`Context`) and what `eval` and `sample` read (`Checkpoint`).
#include <CLI/CLI.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <txl/txl.hpp>

#include "console.hpp"
#include "corpora.hpp"
#include "presets.hpp"

namespace txl_cli {

namespace fs = std::filesystem;
using Say = std::function<void(const std::string&)>;

/// What every subcommand runs with: where it talks (rank 0's stderr), and the processes of a
/// data-parallel run (null: one process).
struct Context {
    Say say;
    txl::Communicator* world = nullptr;
};

/// A checkpoint `eval` and `sample` read: its directory, its settings and its vocabulary.
struct Checkpoint {
    fs::path dir;
    RunConfig rc;
    Vocabulary vocab;
};

struct TrainArgs {
    DataArgs data;
    std::string preset = "practical", out, prompt;
    bool prompt_given = false;
    std::string model, encoding, softmax, size;  ///< unset: the checkpoint's (--resume), else the preset's
    std::size_t steps = 0, sample_length = 300;
    double minutes = 0, dropout = -1, dropatt = -1;
    // Overrides of the preset's schedule and shapes (unset: the preset's).
    std::string schedule;
    double lr = -1, min_lr = -1, weight_decay = -1;
    long warmup = -1, total_steps = -1, batch = -1, seq_len = -1, mem_len = -1, accumulate = -1;
    bool resume = false, force = false;
    std::uint64_t seed = 1;
    std::size_t valid_every = 0, save_every = 0, log_every = 0;
    std::size_t check_every = 100;   ///< data parallel: compare the replicas' weights every N steps
    std::string precision = "fp32";  ///< the products': fp32 or bf16 (a choice of this run, not saved)
};

struct EvalArgs {
    std::string checkpoint;
    DataArgs data;
    bool latest = false;
    long seq_len = -1, mem_len = -1, clamp_len = -1, batch = -1;  ///< -1: the trained ones; no clamp
    bool same_length = false;
};

struct SampleArgs {
    std::string checkpoint, prompt;
    bool latest = false;
    std::size_t length = 0, top_k = 0;
    double temperature = 0.8;
    std::uint64_t seed = 1;
    long mem_len = -1;  ///< -1: the trained one
};

/// `--data`, `--corpus`, `--data-dir`, `--tokens`, `--min-count`, `--download-timeout`.
inline void add_data_options(CLI::App* app, DataArgs& d) {
    auto* data = app->add_option("--data", d.data,
                                 "A text file, or - or a pipe, split 90/10 (default: Tiny Shakespeare: "
                                 "$TXL_TINY_SHAKESPEARE, else <data-dir>/tiny_shakespeare.txt, else downloaded there)");
    auto* corpus = app->add_option("--corpus", d.corpus,
                                   "enwik8, text8, wikitext-103, wikitext-2 or shakespeare, from --data-dir "
                                   "(downloaded there if missing; $TXL_DATA_URL: a mirror)");
    data->excludes(corpus);
    app->add_option("--data-dir", d.data_dir, "Where --corpus lives (and is downloaded to)")->capture_default_str();
    app->add_option("--download-timeout", d.download_timeout, "Seconds a download may take")
        ->capture_default_str()
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
        ->check(number_in(1, 1e6));
    app->add_option("--tokens", d.tokens, "bytes, chars or words (default: the preset's; a named corpus has its own)")
        ->check(CLI::IsMember({"bytes", "chars", "words"}));
    app->add_option("--min-count", d.min_count, "Words seen fewer times in training are <unk> (default 2; WikiText 1)")
        ->check(whole_in(1, 1'000'000'000));
}

/// The model's options of `train`: preset, model, encoding, softmax, size.
inline void add_model_options(CLI::App* train, TrainArgs& ta) {
    std::string presets = "Preset: ";
    for (const auto& [name, help] : preset_list()) presets += name + " (" + help + "), ";
    train->add_option("--preset", ta.preset, presets + "default")->capture_default_str();
    train->add_option("--model", ta.model, "xl (Transformer-XL) or no-memory (the same layers without memory)")
        ->check(CLI::IsMember({"xl", "no-memory"}));
    train->add_option("--encoding", ta.encoding,
                      "Relative encoding: learned (labml's) or sinusoidal (the paper's, with u and v)")
        ->check(CLI::IsMember({"learned", "sinusoidal"}));
    train->add_option("--softmax", ta.softmax, "full, or adaptive (the paper's adaptive input and softmax; words)")
        ->check(CLI::IsMember({"full", "adaptive"}));
    std::string sizes = "Model shape: ";
    for (const auto& [name, help] : size_list()) sizes += name + " (" + help + "), ";
    train->add_option("--size", ta.size, sizes + "default: the preset's");
}

/// The schedule's and the shapes' overrides of `train` (each unset: the preset's).
inline void add_schedule_options(CLI::App* train, TrainArgs& ta) {
    train->add_option("--dropout", ta.dropout, "Residual and feed-forward dropout (default: the preset's)")
        ->check(number_in(0.0, 0.99));
    train->add_option("--dropatt", ta.dropatt, "Dropout on the attention weights (default: as --dropout)")
        ->check(number_in(0.0, 0.99));
    train
        ->add_option("--schedule", ta.schedule,
                     "Learning-rate schedule: noam, constant or cosine (default: the preset's); a cosine "
                     "schedule ends its decay at --total-steps, else at --steps, else where --minutes ends "
                     "(measured after warm-up; the run then ends there too)")
        ->check(CLI::IsMember({"noam", "constant", "cosine"}));
    train->add_option("--lr", ta.lr, "Peak learning rate (noam: the factor in front)")->check(number_in(1e-9, 1e3));
    train->add_option("--min-lr", ta.min_lr, "Cosine: the rate at the end")->check(number_in(0, 1e3));
    train->add_option("--warmup", ta.warmup, "Warm-up steps")->check(whole_in(0, 1'000'000'000));
    train->add_option("--total-steps", ta.total_steps, "Cosine: the step where the decay ends (see --schedule)")
        ->check(whole_in(1, 1'000'000'000));
    train
        ->add_option("--weight-decay", ta.weight_decay,
                     "AdamW's decoupled weight decay on the weight matrices (0 is labml's Adam)")
        ->check(number_in(0, 10));
    train->add_option("--batch", ta.batch, "Batch size")->check(whole_in(1, 100'000));
    train->add_option("--seq-len", ta.seq_len, "Segment length T")->check(whole_in(1, 4096));
    train->add_option("--mem-len", ta.mem_len, "Memory length M")->check(whole_in(0, 4096));
    train
        ->add_option("--accumulate", ta.accumulate,
                     "Gradient accumulation: run each batch as this many micro-batches (must divide --batch; "
                     "the same gradient, the activations of batch/N streams at a time)")
        ->check(whole_in(1, 100'000));
}

/// `train`'s options, into `ta`.
inline CLI::App* add_train(CLI::App& app, TrainArgs& ta) {
    auto* train = app.add_subcommand("train", "Train a model (resumable), validate with memory, and print a sample");
    add_data_options(train, ta.data);
    add_model_options(train, ta);
    add_schedule_options(train, ta);
    auto* steps =
        train->add_option("--steps", ta.steps, "Train until this total step count")->check(whole_in(1, 1'000'000'000));
    auto* minutes = train->add_option("--minutes", ta.minutes, "Train for this many minutes (of this run)")
                        ->check(number_in(0.001, 1e6));
    steps->excludes(minutes);
    train->add_option("--out", ta.out, "Run directory: checkpoint/, best/, metrics.csv, loss.svg")->required();
    train->add_flag("--resume", ta.resume, "Continue the checkpoint in --out (bit-identical to an uninterrupted run)");
    train->add_flag("--force", ta.force, "Start over even if --out already holds a checkpoint (it is replaced)");
    train
        ->add_option("--precision", ta.precision,
                     "Products in fp32, or bf16 (mixed precision: bf16 operands, fp32 sums, weights and Adam; "
                     "needs AMX or AVX512_BF16; checkpoints are fp32 either way and resume in either)")
        ->check(CLI::IsMember({"fp32", "bf16"}))
        ->capture_default_str();
    train->add_option("--seed", ta.seed, "Seed of the initial weights and of dropout")
        ->capture_default_str()
        ->check(whole_in(0, ~0ull));
    train->add_option("--valid-every", ta.valid_every, "Validate every N steps (default: the preset's)")
        ->check(whole_in(1, 1'000'000'000));
    train->add_option("--save-every", ta.save_every, "Checkpoint every N steps (default: the preset's)")
        ->check(whole_in(1, 1'000'000'000));
    train->add_option("--log-every", ta.log_every, "Log a line every N steps (default: the preset's)")
        ->check(whole_in(1, 1'000'000'000));
    train->add_option("--sample-length", ta.sample_length, "Tokens to sample at the end (0: none)")
        ->capture_default_str()
        ->check(whole_in(0, 10'000'000));
    train->add_option("--prompt", ta.prompt,
                      "Prompt of the final sample (default: \"ROMEO:\\n\" for characters and bytes, the training "
                      "text's first 16 words for words)");
    train->add_option("--check-every", ta.check_every,
                      "Under mpirun: compare the processes' weights (a checksum) every N steps")
        ->capture_default_str()
        ->check(whole_in(1, 1'000'000'000));
    return train;
}

/// `eval`'s options, into `ea`.
inline CLI::App* add_eval(CLI::App& app, EvalArgs& ea) {
    auto* eval = app.add_subcommand("eval", "Loss and accuracy of a checkpoint on the validation (and test) text, "
                                            "with any memory");
    eval->add_option("--checkpoint", ea.checkpoint, "A run directory (its best/, else checkpoint/) or a checkpoint")
        ->required();
    eval->add_flag("--latest", ea.latest, "Use the run's latest checkpoint/, not best/");
    add_data_options(eval, ea.data);
    eval->add_option("--seq-len", ea.seq_len, "Segment length (default: the trained one)")->check(whole_in(1, 4096));
    eval->add_option("--mem-len", ea.mem_len, "Memory length (default: the trained one; 0 switches memory off)")
        ->check(whole_in(0, 1'000'000));
    eval->add_flag("--same-length", ea.same_length,
                   "Every query attends to the same number of keys (mem_len), the paper's evaluation mask");
    eval->add_option("--clamp-len", ea.clamp_len, "Distances beyond this use its encoding (both encodings; 0: off)")
        ->check(whole_in(0, 1'000'000'000));
    eval->add_option("--batch", ea.batch, "Streams (default: the trained batch)")->check(whole_in(1, 100'000));
    return eval;
}

/// `sample`'s options, into `sa`.
inline CLI::App* add_sample(CLI::App& app, SampleArgs& sa) {
    auto* samp = app.add_subcommand("sample", "Print the prompt and text sampled after it, with memory");
    samp->add_option("--checkpoint", sa.checkpoint, "A run directory (its best/, else checkpoint/) or a checkpoint")
        ->required();
    samp->add_flag("--latest", sa.latest, "Use the run's latest checkpoint/, not best/");
    samp->add_option("--prompt", sa.prompt, "Text to start from")->required();
    samp->add_option("--length", sa.length, "Tokens to sample")->required()->check(whole_in(0, 10'000'000));
    samp->add_option("--temperature", sa.temperature, "Softmax temperature; 0 is greedy")
        ->capture_default_str()
        ->check(number_in(0.0, 100.0));
    samp->add_option("--top-k", sa.top_k, "Sample among the k most likely tokens (0: all)")
        ->capture_default_str()
        ->check(whole_in(0, 1'000'000));
    samp->add_option("--seed", sa.seed, "Seed of the sampler")->capture_default_str()->check(whole_in(0, ~0ull));
    samp->add_option("--mem-len", sa.mem_len, "Memory length (default: the trained one)")
        ->check(whole_in(0, 1'000'000));
    return samp;
}

}  // namespace txl_cli
