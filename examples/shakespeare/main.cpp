// txl_shakespeare: train a character-level Transformer-XL on Tiny Shakespeare, evaluate it with
// any memory length, and sample from it with memory.
//
//   txl_shakespeare train  --config practical --minutes 10 --out runs/practical
//   txl_shakespeare eval   --checkpoint runs/practical --mem-len 0
//   txl_shakespeare sample --checkpoint runs/practical --prompt "ROMEO:" --length 300
//
// Everything model-related is the library's (txl/txl.hpp). This program is the command line
// (this file), the presets and model sizes (presets.hpp), the text (text_source.hpp), the run
// directory it writes (run_dir.hpp) and the training run (train.hpp). Every option:
// examples/shakespeare/README.md.
#include <CLI/CLI.hpp>

#include <cmath>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include <txl/txl.hpp>
#ifdef TXL_WITH_MPI
#include <txl/distributed.hpp>
#endif

#include "console.hpp"
#include "presets.hpp"
#include "run_dir.hpp"
#include "text_source.hpp"
#include "train.hpp"

using namespace shakespeare;

namespace {

/// Open the checkpoint a run directory points at (`checkpoint_dir`), say which, and return
/// `f(model, config, vocabulary)` with the model type its config names and its weights.
template <class F>
int with_checkpoint(const fs::path& dir, bool latest, const Say& say, F&& f) {
    const fs::path ckpt = checkpoint_dir(dir, latest);
    txl::CharTokenizer vocab;
    RunConfig rc;
    load_run(ckpt, vocab, rc);
    say(describe_checkpoint(ckpt));
    return with_model(rc.model, rc.encoding, rc.size, [&](auto tag) {
        auto model = load_model<typename decltype(tag)::type>(ckpt, vocab.size());
        return f(*model, rc, vocab);
    });
}

struct EvalArgs {
    std::string checkpoint, data;
    bool latest = false, same_length = false;
    long mem_len = -1, clamp_len = -1;  ///< -1: the trained memory length; no clamp
};

/// `eval`: the validation loss of a checkpoint, with any memory length, the paper's
/// `same_length` mask and `clamp_len`. Its last line is `valid_loss <f> valid_acc <f>`.
int run_eval(const EvalArgs& a, const Say& say) {
    return with_checkpoint(a.checkpoint, a.latest, say, [&](auto& model, const RunConfig& rc, const auto& vocab) {
        using Model = std::decay_t<decltype(model)>;
        const std::size_t mem = a.mem_len >= 0 ? std::size_t(a.mem_len) : rc.train.mem_len;
        for (auto& l : model.transformer.layers) {
            // Distances beyond `clamp_len` use the encoding (sinusoidal) or the table rows
            // (learned) of `clamp_len`.
            if (a.clamp_len >= 0) l.self_attn.clamp_len = std::size_t(a.clamp_len);
            if (a.same_length) l.self_attn.same_length_span = mem;
        }
        txl::check<txl::error>(!a.same_length || (Model::has_memory && mem > 0),
                               "--same-length: needs a model with memory and --mem-len > 0");
        const Text text = load_text(find_text(a.data, say), &vocab);
        txl::check<txl::error>(mem + rc.train.seq_len <= C::P, "--mem-len ", mem,
                               ": mem_len + seq_len must be <= P = ", C::P);
        const auto r = txl::evaluate(model, text.valid, rc.train.batch, rc.train.seq_len, mem);
        say("evaluated " + std::to_string(r.tokens) + " validation characters, model " + rc.model + ", encoding " +
            rc.encoding + ", size " + rc.size + ", seq_len " + std::to_string(rc.train.seq_len) + ", batch " +
            std::to_string(rc.train.batch) +
            (Model::has_memory ? ", mem_len " + std::to_string(mem) : ", no memory (each segment alone)"));
        std::ostringstream bpc;
        bpc << std::fixed << std::setprecision(4) << "validation loss " << r.loss
            << " nats/char = " << r.loss / std::log(2.0) << " bits/char, accuracy " << r.accuracy;
        say(bpc.str());
        std::cout << std::fixed << std::setprecision(4) << "valid_loss " << r.loss << " valid_acc " << r.accuracy
                  << "\n";
        return 0;
    });
}

struct SampleArgs {
    std::string checkpoint, prompt;
    bool latest = false;
    std::size_t length = 0, top_k = 0;
    double temperature = 0.8;
    std::uint64_t seed = 1;
    long mem_len = -1;  ///< -1: the trained one
};

/// `sample`: the prompt, then `length` characters sampled after it. A model with memory
/// remembers `mem_len` positions; one without sees a window of the last `seq_len` characters,
/// the context it was trained on.
int run_sample(const SampleArgs& a, const Say& say) {
    return with_checkpoint(a.checkpoint, a.latest, say, [&](auto& model, const RunConfig& rc, const auto& vocab) {
        using Model = std::decay_t<decltype(model)>;
        const auto prompt = vocab.encode(a.prompt);  // throws on a character outside the vocabulary
        txl::SampleOptions so;
        so.mem_len =
            a.mem_len >= 0 ? std::size_t(a.mem_len) : (Model::has_memory ? rc.train.mem_len : rc.train.seq_len - 1);
        so.temperature = a.temperature, so.top_k = a.top_k, so.seed = a.seed;
        std::cout << a.prompt;
        txl::sample(model, prompt, a.length, so, [&](std::int64_t id) { std::cout << vocab.decode(id) << std::flush; });
        std::cout << "\n";
        return 0;
    });
}

/// The `train` subcommand's options, into `ta`.
CLI::App* add_train(CLI::App& app, TrainArgs& ta) {
    auto* train = app.add_subcommand("train", "Train a model (resumable), validate with memory, and print a sample");
    train->add_option("--data", ta.data,
                      "Text file, or - or a pipe (copied to a temporary file; one process only) (default: "
                      "$TXL_TINY_SHAKESPEARE, else data/tiny_shakespeare.txt in the source tree, else downloaded there)");
    train
        ->add_option(
            "--config", ta.config,
            "Built-in config: labml (labml's experiment: seq_len 2, mem_len 32, Noam) or practical (size ff512, "
            "seq_len 64, mem_len 64, batch 16, cosine to 3e-3 fitted to --minutes, dropout 0.05; for ten "
            "minutes) or long (the same at batch 32 with dropout 0.1; for an hour)")
        ->check(CLI::IsMember({"labml", "practical", "long"}))
        ->capture_default_str();
    train
        ->add_option("--model", ta.model,
                     "Model: xl (Transformer-XL, labml's) or vanilla (the same layers without memory)")
        ->check(CLI::IsMember({"xl", "vanilla"}))
        ->capture_default_str();
    train
        ->add_option("--encoding", ta.encoding,
                     "Relative encoding: learned (labml's) or sinusoidal (the paper's, with u and v)")
        ->check(CLI::IsMember({"learned", "sinusoidal"}))
        ->capture_default_str();
    train->add_option("--size", ta.size, size_help())->check(CLI::IsMember(size_names()));
    auto* steps =
        train->add_option("--steps", ta.steps, "Train until this total step count")->check(whole_in(1, 1'000'000'000));
    auto* minutes = train->add_option("--minutes", ta.minutes, "Train for this many minutes (of this run)")
                        ->check(number_in(0.001, 1e6));
    steps->excludes(minutes);
    train->add_option("--out", ta.out, "Run directory: checkpoint/, metrics.csv, loss.svg")->required();
    train->add_flag("--resume", ta.resume, "Continue the checkpoint in --out (bit-identical to an uninterrupted run)");
    train->add_flag("--force", ta.force, "Start over even if --out already holds a checkpoint (it is replaced)");
    train
        ->add_option("--dropout", ta.dropout,
                     "Residual and feed-forward dropout (default: the config's: labml 0, practical 0.05, long 0.1)")
        ->check(number_in(0.0, 0.99));
    train->add_option("--dropatt", ta.dropatt, "Dropout on the attention weights (default: as --dropout)")
        ->check(number_in(0.0, 0.99));
    train
        ->add_option("--schedule", ta.schedule,
                     "Learning-rate schedule: noam, constant or cosine (default: the config's); a cosine "
                     "schedule ends its decay at --total-steps, else at --steps, else where --minutes ends "
                     "(measured after warm-up; the run then ends there too)")
        ->check(CLI::IsMember({"noam", "constant", "cosine"}));
    train->add_option("--lr", ta.lr, "Peak learning rate (noam: the factor in front) (default: the config's)")
        ->check(number_in(1e-9, 1e3));
    train->add_option("--min-lr", ta.min_lr, "Cosine: the rate at the end (default: the config's)")
        ->check(number_in(0, 1e3));
    train->add_option("--warmup", ta.warmup, "Warm-up steps (default: the config's)")
        ->check(whole_in(0, 1'000'000'000));
    train
        ->add_option("--total-steps", ta.total_steps, "Cosine: the step where the decay ends (default: see --schedule)")
        ->check(whole_in(1, 1'000'000'000));
    train
        ->add_option("--weight-decay", ta.weight_decay,
                     "AdamW's decoupled weight decay on the weight matrices (default: the config's; 0 is labml's Adam)")
        ->check(number_in(0, 10));
    train->add_option("--batch", ta.batch, "Batch size (default: the config's)")->check(whole_in(1, 100'000));
    train->add_option("--seq-len", ta.seq_len, "Segment length T (default: the config's)")->check(whole_in(1, C::P));
    train->add_option("--mem-len", ta.mem_len, "Memory length M (default: the config's)")->check(whole_in(0, C::P));
    train
        ->add_option("--accumulate", ta.accumulate,
                     "Gradient accumulation: run each batch as this many micro-batches (must divide --batch; "
                     "the same gradient, the activations of batch/N streams at a time)")
        ->check(whole_in(1, 100'000));
    train
        ->add_option("--precision", ta.precision,
                     "Products in fp32, or bf16 (mixed precision: bf16 operands, fp32 sums, weights and Adam; "
                     "needs AMX or AVX512_BF16; checkpoints are fp32 either way and resume in either)")
        ->check(CLI::IsMember({"fp32", "bf16"}))
        ->capture_default_str();
    train->add_option("--seed", ta.seed, "Seed of the initial weights and of dropout")
        ->capture_default_str()
        ->check(whole_in(0, ~0ull));
    train
        ->add_option("--valid-every", ta.valid_every,
                     "Validate every N steps (default: labml 2000, practical and long 500)")
        ->check(whole_in(1, 1'000'000'000));
    train
        ->add_option("--save-every", ta.save_every,
                     "Checkpoint every N steps (default: labml 2000, practical and long 500)")
        ->check(whole_in(1, 1'000'000'000));
    train
        ->add_option("--log-every", ta.log_every,
                     "Log a line every N steps (default: labml 100, practical and long 50)")
        ->check(whole_in(1, 1'000'000'000));
    train->add_option("--sample-length", ta.sample_length, "Characters to sample at the end (0: none)")
        ->capture_default_str()
        ->check(whole_in(0, 10'000'000));
    train->add_option("--prompt", ta.prompt, "Prompt of the final sample")->capture_default_str();
    train
        ->add_option("--check-every", ta.check_every,
                     "Under mpirun: compare the processes' weights (a checksum) every N steps")
        ->capture_default_str()
        ->check(whole_in(1, 1'000'000'000));
    return train;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Train, evaluate and sample a character-level Transformer-XL (txl) on Tiny Shakespeare"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Print help for every subcommand");

    TrainArgs ta;
    CLI::App* train = add_train(app, ta);

    EvalArgs ea;
    auto* eval = app.add_subcommand("eval", "Validation loss and accuracy of a checkpoint, with any memory length");
    eval->add_option("--checkpoint", ea.checkpoint, "A run directory (its best/, else checkpoint/) or a checkpoint")
        ->required();
    eval->add_flag("--latest", ea.latest, "Use the run's latest checkpoint/, not best/");
    eval->add_option("--data", ea.data, "Text file (default: as for train)");
    eval->add_option("--mem-len", ea.mem_len, "Memory length (default: the trained one; 0 switches memory off)")
        ->check(whole_in(0, 1'000'000));
    eval->add_flag("--same-length", ea.same_length,
                   "Every query attends to the same number of keys (mem_len), the paper's evaluation mask");
    eval->add_option("--clamp-len", ea.clamp_len, "Distances beyond this use its encoding (both encodings; 0: off)")
        ->check(whole_in(0, 1'000'000'000));

    SampleArgs sa;
    auto* samp = app.add_subcommand("sample", "Print the prompt and text sampled after it, with memory");
    samp->add_option("--checkpoint", sa.checkpoint, "A run directory (its best/, else checkpoint/) or a checkpoint")
        ->required();
    samp->add_flag("--latest", sa.latest, "Use the run's latest checkpoint/, not best/");
    samp->add_option("--prompt", sa.prompt, "Text to start from")->required();
    samp->add_option("--length", sa.length, "Characters to sample")->required()->check(whole_in(0, 10'000'000));
    samp->add_option("--temperature", sa.temperature, "Softmax temperature; 0 is greedy")
        ->capture_default_str()
        ->check(number_in(0.0, 100.0));
    samp->add_option("--top-k", sa.top_k, "Sample among the k most likely characters (0: all)")
        ->capture_default_str()
        ->check(whole_in(0, 1'000'000));
    samp->add_option("--seed", sa.seed, "Seed of the sampler")->capture_default_str()->check(whole_in(0, ~0ull));
    samp->add_option("--mem-len", sa.mem_len, "Memory length (default: the trained one)")
        ->check(whole_in(0, 1'000'000));

#ifdef TXL_WITH_MPI
    // Started by mpirun: one process of a data-parallel run (`train`); rank 0 does the talking.
    std::unique_ptr<txl::MpiSession> mpi;
    std::unique_ptr<txl::MpiCommunicator> world;
    if (txl::MpiSession::launched()) {
        try {
            mpi = std::make_unique<txl::MpiSession>(argc, argv);
            world = std::make_unique<txl::MpiCommunicator>();
        } catch (const std::exception& e) {
            std::cerr << "error: " << e.what() << "\n";
            return 1;
        }
        if (world->rank() != 0) std::cout.rdbuf(nullptr);
    }
    txl::Communicator* comm = world.get();
#else
    txl::Communicator* comm = nullptr;
#endif
    const bool primary = !comm || comm->rank() == 0;

    CLI11_PARSE(app, argc, argv);

    const Say say = [primary](const std::string& s) {
        if (primary) std::cerr << s << "\n";
    };
    try {
        if (primary) note_openblas();
        if (*train)
            return with_model(ta.model, ta.encoding, train_size(ta, say, comm),
                              [&](auto tag) { return run_train<typename decltype(tag)::type>(ta, say, comm); });
        txl::check<txl::error>(!comm || comm->size() == 1, "eval and sample run as one process (not under mpirun -np ",
                               comm ? comm->size() : 1, ")");
        if (*eval) return run_eval(ea, say);
        if (*samp) return run_sample(sa, say);
    } catch (const std::exception& e) {
        std::cerr << (primary ? "" : "rank " + std::to_string(comm->rank()) + ": ") << "error: " << e.what() << "\n";
#ifdef TXL_WITH_MPI
        // The other processes may be waiting for this one in a collective call: end them all.
        if (comm && comm->size() > 1) txl::MpiSession::abort(1);
#endif
        return 1;
    }
    return 0;
}
