#pragma once
// The three subcommands for one model type, and the row of models.hpp's table that holds them:
// `train` (train.hpp), `eval` (the loss of a checkpoint on a text, with any memory, clamp_len
// and same_length) and `sample` (text after a prompt, with memory).
#include <iostream>
#include <string>
#include <vector>

#include <txl/txl.hpp>

#include "models.hpp"
#include "options.hpp"
#include "report.hpp"
#include "run_dir.hpp"
#include "train.hpp"

namespace txl_cli {

/// `eval`: the validation (and test) loss of a checkpoint. Its last line, on standard output, is
/// `valid_loss <f> valid_acc <f>`.
template <class Model>
int run_eval(const EvalArgs& a, const Context& ctx, const Checkpoint& c) {
    auto model = load_model<Model>(c);
    const auto& t = c.rc.train;
    EvalSettings e;
    e.seq_len = a.seq_len > 0 ? std::size_t(a.seq_len) : t.seq_len;
    e.mem_len = a.mem_len >= 0 ? std::size_t(a.mem_len) : t.mem_len;
    e.clamp_len = a.clamp_len > 0 ? std::size_t(a.clamp_len) : 0;
    e.same_length = a.same_length;
    DataArgs d = a.data;
    txl::check<txl::error>(d.tokens.empty() || d.tokens == c.rc.tokens, "--tokens ", d.tokens, ": the model reads ",
                           c.rc.tokens);
    d.tokens = c.rc.tokens;
    const Corpus text = load_text(d, &c.vocab, ctx.say);
    const std::size_t batch = a.batch > 0 ? std::size_t(a.batch) : t.batch;
    const auto r = report(*model, text, c.rc.tokens, batch, e, ctx.say);
    std::cout << std::fixed << std::setprecision(4) << "valid_loss " << r.loss << " valid_acc " << r.accuracy << "\n";
    return 0;
}

/// `sample`: the prompt, then `length` tokens sampled after it. A model with memory remembers
/// `mem_len` positions; one without sees a window of the last `seq_len` tokens, the context it
/// was trained on.
template <class Model>
int run_sample(const SampleArgs& a, const Context&, const Checkpoint& c) {
    auto model = load_model<Model>(c);
    const auto prompt = c.vocab.encode(a.prompt);  // throws on a character outside the vocabulary
    const auto& t = c.rc.train;
    txl::SampleOptions so;
    so.mem_len = a.mem_len >= 0 ? std::size_t(a.mem_len) : (Model::has_memory ? t.mem_len : t.seq_len - 1);
    so.temperature = a.temperature, so.top_k = a.top_k, so.seed = a.seed;
    std::cout << a.prompt;
    txl::sample(*model, prompt, a.length, so, [&](std::int64_t id) { std::cout << c.vocab.decode(id) << std::flush; });
    std::cout << "\n";
    return 0;
}

template <class Model>
int run_train(const TrainArgs& a, const Context& ctx) {
    return TrainingRun<Model>(a, ctx.say, ctx.world).run();
}

/// The row of `Model`, named as a run names it.
template <class Model>
ModelEntry entry(std::string size, std::string model, std::string encoding, std::string softmax) {
    using Cfg = typename Model::config;
    static_assert(Cfg::P == P, "the command line checks --seq-len and --mem-len against one P");
    const std::string shape = "d_model=" + std::to_string(Cfg::d_model) + " heads=" + std::to_string(Cfg::heads) +
                              " d_ff=" + std::to_string(Cfg::d_ff) + " layers=" + std::to_string(Cfg::n_layers) +
                              " P=" + std::to_string(Cfg::P);
    return {std::move(size), std::move(model), std::move(encoding), std::move(softmax), shape,
            &run_train<Model>,       &run_eval<Model>,  &run_sample<Model>};
}

/// The four rows of a shape that has every model: labml's Transformer-XL and the same layers
/// without memory, with labml's learned or the paper's sinusoidal relative attention.
template <class C>
std::vector<ModelEntry> every_model(const std::string& size) {
    using Sin = txl::XLLayer<txl::SinusoidalRelativeAttention<C>, txl::FeedForward<C>>;
    return {entry<txl::TransformerXL<C>>(size, "xl", "learned", "full"),
            entry<txl::TransformerXLNoMemory<C>>(size, "no-memory", "learned", "full"),
            entry<txl::AutoregressiveModel<C, Sin>>(size, "xl", "sinusoidal", "full"),
            entry<txl::AutoregressiveModel<C, Sin, txl::NoMemory<C>>>(size, "no-memory", "sinusoidal", "full")};
}

}  // namespace txl_cli
