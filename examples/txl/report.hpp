#pragma once
// An evaluation as people compare them: a model's loss on each split of a text, read with the
// given segments, memory, clamp_len and same_length mask (the paper evaluates longer than it
// trains), in nats per token and in the figure of the text's level.
#include <iomanip>
#include <sstream>
#include <string>

#include <txl/txl.hpp>

#include "options.hpp"
#include "presets.hpp"
#include "text.hpp"

namespace txl_cli {

/// "valid (segments 64, memory 640, clamp_len 400, same_length): 3.1234 nats/word = 22.79 perplexity"
/// for each split of `text` (validation, then test where the text has one); the last line is
/// Returns the validation split's figures.
template <class Model>
txl::EvalStats report(Model& model, const Corpus& text, const std::string& tokens, std::size_t batch, const EvalSettings& e,
              const Say& say) {
    txl::check<txl::error>(!e.same_length || (Model::has_memory && e.mem_len > 0),
                           "--same-length: needs a model with memory and --mem-len > 0");
    txl::check<txl::error>(e.seq_len + e.mem_len <= Model::config::P, "--seq-len + --mem-len = ",
                           e.seq_len + e.mem_len, " must be <= P = ", Model::config::P);
    model.set_evaluation(e.clamp_len, e.same_length ? e.mem_len : 0);
    txl::EvalStats valid{};
    for (const auto* split : {&text.valid, &text.test}) {
        if (split->empty()) continue;
        const auto r = txl::evaluate(model, *split, batch, e.seq_len, Model::has_memory ? e.mem_len : 0);
        if (split == &text.valid) valid = r;
        std::ostringstream m;
        m << (split == &text.valid ? "valid" : "test") << " (segments " << e.seq_len << ", "
          << (Model::has_memory ? "memory " + std::to_string(e.mem_len) : std::string("no memory"))
          << (e.clamp_len ? ", clamp_len " + std::to_string(e.clamp_len) : "") << (e.same_length ? ", same_length" : "")
          << ", batch " << batch << "): " << std::fixed << std::setprecision(4) << r.loss << " nats/" << unit(tokens)
          << " = " << metric(tokens, r.loss) << " " << metric_name(tokens) << ", accuracy " << r.accuracy << " ("
          << r.tokens << " " << tokens << ")";
        say(m.str());
    }
    return valid;
}

}  // namespace txl_cli
