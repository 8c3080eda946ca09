// Train labml's Transformer-XL on Tiny Shakespeare, one character at a time, through txl's
// public API only: the page to copy when you start a program of your own. Read it top to bottom
// as llm.c's train_gpt2.c is read: the text, the model, the loop, the evaluation, the sample.
// (`txl train`, examples/txl/, does the same with every option, resume, the run directory and
// data parallelism.)
//
//   build/examples/txl_shakespeare data/tiny_shakespeare.txt [steps]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include <txl/txl.hpp>

// The model: labml's shape (d_model 128, 4 heads, d_ff 512, 6 layers; labml's d_ff is 256, and
// 512 trains better in the same time: docs/results.md). `Config` fixes the shapes at compile time.
using C = txl::Config<float, /*d_model*/ 128, /*heads*/ 4, /*d_ff*/ 512, /*layers*/ 6>;
using Model = txl::TransformerXL<C>;

/// The prompt, then 300 characters drawn one at a time, each step feeding the last character
/// and the memory (`mem_len` positions) of everything before it.
void print_sample(const Model& model, const txl::CharTokenizer& tokenizer, const std::string& prompt,
                  std::size_t mem_len) {
    txl::SampleOptions so;
    so.mem_len = mem_len;
    so.temperature = 0.8;
    std::cout << "--- sample ---\n" << prompt;
    txl::sample(model, tokenizer.encode(prompt), 300, so,
                [&](std::int64_t id) { std::cout << tokenizer.decode(id) << std::flush; });
    std::cout << "\n";
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: txl_shakespeare TEXT_FILE [steps]   (e.g. data/tiny_shakespeare.txt 1000)\n";
        return 2;
    }
    const std::size_t steps = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1000;
    try {
        // 1. The text: every character a token. `read_text_file` checks the UTF-8, builds the
        // vocabulary (the sorted characters) and the ids; labml keeps the last 10% for validation.
        const txl::TextFile text = txl::read_text_file(argv[1]);
        const auto [train_ids, valid_ids] = txl::split_train_valid(text.ids);
        std::cout << "text: " << text.ids.size() << " characters, vocabulary " << text.tokenizer.size() << "\n";

        // 2. The model and its trainer. A step takes `batch` streams of `seq_len` characters,
        // runs the model over them with the memory of the earlier segments (`mem_len` positions
        // per layer), and updates the weights with Adam; the trainer keeps the memory and the
        // place in the text between steps.
        Model model(text.tokenizer.size(), /*seed*/ 1);
        txl::TrainOptions options;
        options.seq_len = 64, options.mem_len = 64, options.batch = 16;
        options.dropout = 0.05;
        // Warm up for 200 steps to 3e-3, then a cosine down to 1e-4 at the last step.
        options.schedule = {txl::Schedule::Kind::cosine, 3e-3, 200, C::d_model, steps, 1e-4};
        txl::Trainer<Model> trainer(model, options, train_ids);
        std::cout << "model: " << model.parameter_count() << " parameters\n";

        // 3. The loop: step, and every 100 steps the mean training loss and a validation.
        double sum = 0;
        for (std::size_t step = 1; step <= steps; ++step) {
            const txl::StepStats s = trainer.step();
            sum += s.loss;
            if (step % 100 == 0 || step == steps) {
                // Validation reads the held-out text in order with memory, as training does.
                const txl::EvalStats v =
                    txl::evaluate(model, valid_ids, options.batch, options.seq_len, options.mem_len);
                std::printf("step %5zu | lr %.2e | train %.4f | valid %.4f nats/char (%.3f bits/char)\n", step, s.lr,
                            sum / double(step % 100 ? step % 100 : 100), v.loss, v.loss / std::log(2.0));
                sum = 0;
            }
        }

        // 4. Save the weights (labml's parameter names, one .npy file each; checksummed).
        txl::save_checkpoint(model, "shakespeare_weights", /*overwrite*/ true);
        std::cout << "saved shakespeare_weights/\n";

        // 5. A sample after "ROMEO:".
        print_sample(model, text.tokenizer, "ROMEO:\n", options.mem_len);
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
