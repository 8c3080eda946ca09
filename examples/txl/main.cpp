// txl: train Transformer-XL on a text (bytes, characters or words; Tiny Shakespeare by default,
// or one of the paper's corpora), evaluate it with any memory, and sample from it with memory.
//
//   txl train  --preset practical --minutes 10 --out runs/practical
//   txl eval   --checkpoint runs/practical --mem-len 0
//   txl sample --checkpoint runs/practical --prompt "ROMEO:" --length 300
//   txl train  --corpus wikitext-103 --preset wt103-base --minutes 600 --out runs/wt103
//
// Everything model-related is the library's (txl/txl.hpp). This program is the command line
// (this file and options.hpp), the presets (presets.hpp), the compiled models (models.hpp,
// models/*.cpp), the text (text.hpp, corpora.hpp), the run directory (run_dir.hpp), the training
// run (train.hpp), and evaluation and sampling (report.hpp, commands.hpp). Every option:
// examples/txl/README.md.
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <string>

#include <txl/txl.hpp>
#ifdef TXL_WITH_MPI
#include <txl/training/distributed.hpp>
#endif

#include "console.hpp"
#include "models.hpp"
#include "options.hpp"
#include "run_dir.hpp"
#include "train.hpp"

using namespace txl_cli;

namespace {

/// `eval` and `sample`: open the checkpoint a run directory points at, say which, and run the
/// subcommand of the model type its config names.
template <class Args, class Run>
int with_checkpoint(const Args& a, const Context& ctx, Run run) {
    const fs::path ckpt = checkpoint_dir(a.checkpoint, a.latest);
    const Checkpoint c = load_run(ckpt);
    ctx.say(describe_checkpoint(ckpt));
    const auto& r = c.rc;
    ctx.say("model " + r.model + ", encoding " + r.encoding + ", softmax " + r.softmax + ", size " + r.size + " (" +
            shape_of(r.size) + "), " + r.tokens + ", trained with seq_len " + std::to_string(r.train.seq_len) +
            ", mem_len " + std::to_string(r.train.mem_len) + ", batch " + std::to_string(r.train.batch));
    return run(find_model(r.size, r.model, r.encoding, r.softmax), c);
}

/// The subcommand the command line chose.
int dispatch(CLI::App* train, const TrainArgs& ta, CLI::App* eval, const EvalArgs& ea, const SampleArgs& sa,
             const Context& ctx) {
    if (!ctx.world || ctx.world->rank() == 0) note_openblas();
    if (*train) {
        recover_run(ta, ctx.say, ctx.world);
        return train_model(ta).train(ta, ctx);
    }
    txl::check<txl::error>(!ctx.world || ctx.world->size() == 1,
                           "eval and sample run as one process (not under mpirun -np ",
                           ctx.world ? ctx.world->size() : 1, ")");
    if (*eval) return with_checkpoint(ea, ctx, [&](const ModelEntry& m, const Checkpoint& c) { return m.eval(ea, ctx, c); });
    return with_checkpoint(sa, ctx, [&](const ModelEntry& m, const Checkpoint& c) { return m.sample(sa, ctx, c); });
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"txl: train, evaluate and sample Transformer-XL on bytes, characters or words"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Print help for every subcommand");
    TrainArgs ta;
    EvalArgs ea;
    SampleArgs sa;
    CLI::App* train = add_train(app, ta);
    CLI::App* eval = add_eval(app, ea);
    add_sample(app, sa);

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
    ta.prompt_given = train->get_option("--prompt")->count() > 0;

    const Context ctx{[primary](const std::string& s) {
                          if (primary) std::cerr << s << "\n";
                      },
                      comm};
    try {
        return dispatch(train, ta, eval, ea, sa, ctx);
    } catch (const std::exception& e) {
        std::cerr << (primary ? "" : "rank " + std::to_string(comm->rank()) + ": ") << "error: " << e.what() << "\n";
#ifdef TXL_WITH_MPI
        // The other processes may be waiting for this one in a collective call: end them all.
        if (comm && comm->size() > 1) txl::MpiSession::abort(1);
#endif
        return 1;
    }
}
