#pragma once
// The compiled models: the one place where a run's names (size, model, encoding, softmax) meet
// the compile-time types. Each row holds a model type's three subcommands, compiled in a
// translation unit of its own (models/*.cpp), so that a new shape costs a file that builds in
// parallel with the others, not minutes more on one.
#include <string>
#include <vector>

#include <txl/txl.hpp>

#include "options.hpp"

namespace txl_cli {

/// One compiled model type and its subcommands.
struct ModelEntry {
    std::string size, model, encoding, softmax;  ///< the names a run gives (config.txt's keys)
    std::string shape;                           ///< "d_model=128 heads=4 d_ff=256 layers=6 P=4096"
    int (*train)(const TrainArgs&, const Context&);
    int (*eval)(const EvalArgs&, const Context&, const Checkpoint&);
    int (*sample)(const SampleArgs&, const Context&, const Checkpoint&);
};

// The rows, one function per translation unit (models/<file>.cpp).
std::vector<ModelEntry> base_models();     // labml's shape: xl and no-memory, learned and sinusoidal
std::vector<ModelEntry> ff512_models();    // d_ff 512: the same four
std::vector<ModelEntry> adaptive_models(); // d_ff 512 with adaptive input and softmax
std::vector<ModelEntry> other_sizes();     // deep, wide, narrow: labml's Transformer-XL
std::vector<ModelEntry> paper_models();    // the paper's enwik8 and WikiText-103 base models

/// Every row, in the order of the help text.
inline const std::vector<ModelEntry>& model_table() {
    static const std::vector<ModelEntry> all = [] {
        std::vector<ModelEntry> t;
        for (auto part : {base_models, ff512_models, adaptive_models, other_sizes, paper_models})
            for (auto& e : part()) t.push_back(std::move(e));
        return t;
    }();
    return all;
}

/// The shape of a size name; an unknown name is an error.
inline const std::string& shape_of(const std::string& size) {
    for (const auto& e : model_table())
        if (e.size == size) return e.shape;
    std::string names;
    for (const auto& [n, help] : size_list()) names += (names.empty() ? "" : ", ") + n;
    throw txl::error("unknown size '" + size + "' (--size), expected one of " + names);
}

/// The row of a run's names, or an error saying which combinations that size has.
inline const ModelEntry& find_model(const std::string& size, const std::string& model, const std::string& encoding,
                                    const std::string& softmax) {
    shape_of(size);
    std::string have;
    for (const auto& e : model_table()) {
        if (e.size != size) continue;
        if (e.model == model && e.encoding == encoding && e.softmax == softmax) return e;
        have += (have.empty() ? "" : "; ") + ("--model " + e.model + " --encoding " + e.encoding + " --softmax " +
                                               e.softmax);
    }
    throw txl::error("--size " + size + " is built with " + have + " only (asked: --model " + model +
                     " --encoding " + encoding + " --softmax " + softmax + ")");
}

}  // namespace txl_cli
