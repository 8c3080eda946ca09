// txl_custom_blocks: put blocks of one's own into the model's slots, without touching txl.
//
//   txl_custom_blocks --data tiny_shakespeare.txt --steps 200
//
// 1. Checks the backward pass of the two blocks in blocks.hpp (a GELU feed-forward and a causal
//    attention with absolute positions) against finite differences, in double precision, with
//    txl/testing/gradcheck.hpp.
// 2. Composes five models from txl's blocks and these, trains each N steps on the text
//    (segments of 64, memory 64, batch 32), evaluates it on the validation
//    split with memory, samples from it, and prints one line per model.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <txl/txl.hpp>

#include "blocks.hpp"
#include <txl/testing/gradcheck.hpp>

namespace {

using C = txl::Config<float, 128, 4, 256, 6>;

// The five models: the slots filled five ways.
using LabmlXL = txl::TransformerXL<C>;
using GeluXL =
    txl::AutoregressiveModel<C, txl::XLLayer<txl::RelativeMultiHeadAttention<C>, custom::GeluFeedForward<C>>>;
using AbsoluteXL = txl::AutoregressiveModel<C, txl::XLLayer<custom::CausalSelfAttention<C>, txl::FeedForward<C>>>;
using Vanilla = txl::TransformerXLNoMemory<C>;
using StridedXL = txl::AutoregressiveModel<C, txl::TransformerXLLayer<C>, custom::StridedMemory<C>>;

struct Text {
    txl::CharTokenizer tokenizer;
    std::vector<std::int64_t> train, valid;
};

Text load_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    txl::check<txl::error>(bool(in), path,
                           ": no such file or not readable (give --data PATH or set TXL_TINY_SHAKESPEARE)");
    std::ostringstream s;
    s << in.rdbuf();
    txl::check<txl::error>(!s.str().empty(), path, ": the file is empty");
    const auto cps = txl::utf8_decode(s.str());
    Text t;
    t.tokenizer = txl::CharTokenizer(cps);
    std::tie(t.train, t.valid) = txl::split_train_valid(t.tokenizer.encode(cps));
    return t;
}

/// One model: train `steps` steps, evaluate with memory, sample; one line of results.
template <class Model>
void run(const std::string& label, const Text& text, std::size_t steps, std::size_t sample_length, std::uint64_t seed) {
    txl::TrainOptions o;
    o.seq_len = 64, o.mem_len = 64, o.batch = 32;
    o.schedule = {txl::Schedule::Kind::noam, 0.5, 400, C::d_model, 0, 0};
    o.clip = 1.0;
    o.seed = seed;
    Model model(text.tokenizer.size(), seed);
    txl::Trainer<Model> trainer(model, o, text.train);
    const auto t0 = std::chrono::steady_clock::now();
    double loss = 0;
    const std::size_t tail = std::max<std::size_t>(1, std::min<std::size_t>(steps, 20));
    for (std::size_t s = 0; s < steps; ++s) {
        const auto st = trainer.step();
        if (s + tail >= steps) loss += st.loss / double(tail);  // mean over the last steps
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto v = txl::evaluate(model, text.valid, o.batch, o.seq_len, o.mem_len);
    txl::SampleOptions so;
    so.mem_len = Model::has_memory ? o.mem_len : o.seq_len - 1;
    so.temperature = 0.8;
    so.seed = seed;
    std::string sample;
    for (auto id : txl::sample(model, text.tokenizer.encode(std::string("ROMEO:")), sample_length, so))
        sample += text.tokenizer.decode(id);
    std::string shown;
    for (char ch : sample) shown += ch == '\n' ? std::string("\\n") : std::string(1, ch);
    std::cout << std::fixed << std::setprecision(3) << std::left << std::setw(40) << label << " | "
              << model.parameter_count() << " parameters | " << steps << " steps, " << std::setprecision(0)
              << double(trainer.tokens_seen()) / std::max(secs, 1e-9) << " tok/s" << std::setprecision(3)
              << " | train loss " << loss << " | valid loss " << v.loss << " acc " << v.accuracy
              << (Model::has_memory ? " (mem_len 64)" : " (no memory)") << " | sample \"ROMEO:" << shown << "\""
              << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Train models composed from txl's blocks and blocks of one's own (blocks.hpp)"};
    std::string data;
    std::size_t steps = 0, sample_length = 80;
    std::uint64_t seed = 1;
    app.add_option("--data", data, "Text file (default: $TXL_TINY_SHAKESPEARE)");
    app.add_option("--steps", steps, "Training steps per model")
        ->required()
        ->check(CLI::Range(std::size_t(1), std::size_t(1) << 40));
    app.add_option("--sample-length", sample_length, "Characters to sample per model")->capture_default_str();
    app.add_option("--seed", seed, "Seed of the weights, dropout and sampling")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    try {
        if (data.empty()) {
            const char* env = std::getenv("TXL_TINY_SHAKESPEARE");
            txl::check<txl::error>(env && *env, "no text: give --data PATH or set TXL_TINY_SHAKESPEARE");
            data = env;
        }
        // 1. The blocks' backward passes against finite differences (double, small sizes; with
        //    memory longer than the segment, M > T).
        using D = txl::Config<double, 8, 2, 12, 1, 16>;
        const auto ff = txl::testing::check_feed_forward<custom::GeluFeedForward<D>>(6);
        const auto attn = txl::testing::check_attention<custom::CausalSelfAttention<D>>(4, 3, 2);
        std::cout << std::scientific << std::setprecision(1) << "gradcheck GeluFeedForward: worst relative error "
                  << ff.worst() << " over " << ff.tensors.size() << " tensors: " << (ff.ok() ? "ok" : "FAILED") << "\n"
                  << "gradcheck CausalSelfAttention: worst relative error " << attn.worst() << " over "
                  << attn.tensors.size() << " tensors: " << (attn.ok() ? "ok" : "FAILED") << "\n";
        if (!ff.ok() || !attn.ok()) {
            std::cout << std::flush;
            std::cerr << ff.str() << attn.str() << "error: a gradient check failed\n";
            return 1;
        }
        // 2. Four models, each trained, evaluated and sampled.
        const Text text = load_text(data);
        run<LabmlXL>("labml Transformer-XL", text, steps, sample_length, seed);
        run<GeluXL>("relative attention + GeluFeedForward", text, steps, sample_length, seed);
        run<AbsoluteXL>("CausalSelfAttention (absolute) + FFN", text, steps, sample_length, seed);
        run<Vanilla>("labml layers, NoMemory", text, steps, sample_length, seed);
        run<StridedXL>("labml layers, StridedMemory", text, steps, sample_length, seed);
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
