#pragma once
// The example's choices in one place: the model sizes it builds (one table drives the
// dispatch, the help text and the config check), the four model types of a size, and the
// built-in configs (labml, practical, long).
#include <string>
#include <tuple>
#include <utility>

#include <txl/txl.hpp>

namespace shakespeare {

// labml's model: d_model 128, 4 heads, d_ff 256, 6 layers, P = 4096 (`--size base`).
using C = txl::Config<float, 128, 4, 256, 6>;

/// One row of the size table: a compile-time Config, its `--size` name and what it is, and
/// whether every model type is built for it (the others: labml's Transformer-XL only).
template <class Cfg, bool AllModels>
struct Size {
    using config = Cfg;
    static constexpr bool all_models = AllModels;
    const char* name;
    const char* help;
};

/// The sizes, as the preset sweep trains them (bench/sweep_shakespeare.py); heads stay 32 wide.
inline const auto k_sizes =
    std::make_tuple(Size<C, true>{"base", "labml's: d_model 128, 4 heads, d_ff 256, 6 layers"},
                    Size<txl::Config<float, 128, 4, 512, 6>, true>{"ff512", "d_ff 512, 4 d_model: the usual ratio"},
                    Size<txl::Config<float, 128, 4, 256, 8>, false>{"deep", "8 layers"},
                    Size<txl::Config<float, 192, 6, 384, 6>, false>{"wide", "d_model 192, 6 heads, d_ff 384"},
                    Size<txl::Config<float, 96, 3, 192, 6>, false>{"narrow", "d_model 96, 3 heads, d_ff 192"});

/// `f(size)` for each row of the table, in order, until `f` returns true.
template <class F>
void for_each_size(F&& f) {
    std::apply([&](const auto&... size) { (void)(f(size) || ...); }, k_sizes);
}

/// How config.txt names a shape: "d_model=128 heads=4 d_ff=256 layers=6 P=4096".
template <class Cfg>
std::string shape_of() {
    return "d_model=" + std::to_string(Cfg::d_model) + " heads=" + std::to_string(Cfg::heads) +
           " d_ff=" + std::to_string(Cfg::d_ff) + " layers=" + std::to_string(Cfg::n_layers) +
           " P=" + std::to_string(Cfg::P);
}

/// The size names, "base, ff512, deep, wide or narrow", and the `--size` help.
inline std::vector<std::string> size_names() {
    std::vector<std::string> names;
    for_each_size([&](const auto& s) { return names.push_back(s.name), false; });
    return names;
}
inline std::string size_list() {
    const auto names = size_names();
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i)
        out += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
    return out;
}
inline std::string size_help() {
    std::string out = "Model shape: ";
    for_each_size([&](const auto& s) {
        out +=
            std::string(s.name) + " (" + s.help + (s.all_models ? "" : "; --model xl --encoding learned only") + "), ";
        return false;
    });
    return out + "default: the config's (labml base, practical and long ff512)";
}

/// The shape of a `--size` name; an unknown name is an error.
inline std::string shape_of(const std::string& size) {
    std::string shape;
    for_each_size([&](const auto& s) {
        using Cfg = typename std::decay_t<decltype(s)>::config;
        static_assert(Cfg::P == C::P, "the command line checks --seq-len and --mem-len against one P");
        return size == s.name && (shape = shape_of<Cfg>(), true);
    });
    txl::check<txl::error>(!shape.empty(), "unknown size '", size, "', expected ", size_list());
    return shape;
}

/// The four model types of one shape: labml's Transformer-XL or the same layers without memory
/// (`vanilla`), with labml's learned or the paper's sinusoidal relative attention.
template <class Cfg, class F>
int with_kind(bool vanilla, bool sinusoidal, F&& f) {
    using SinLayer = txl::XLLayer<txl::SinusoidalRelativeAttention<Cfg>, txl::FeedForward<Cfg>>;
    if (!vanilla)
        return sinusoidal ? f(txl::type_tag<txl::AutoregressiveModel<Cfg, SinLayer>>{})
                          : f(txl::type_tag<txl::TransformerXL<Cfg>>{});
    return sinusoidal ? f(txl::type_tag<txl::AutoregressiveModel<Cfg, SinLayer, txl::NoMemory<Cfg>>>{})
                      : f(txl::type_tag<txl::TransformerXLNoMemory<Cfg>>{});
}

/// Run `f(type_tag<Model>{})` with the model type of `--model`, `--encoding` and `--size`: the
/// one place where the run-time choice meets the compile-time types.
template <class F>
int with_model(const std::string& kind, const std::string& encoding, const std::string& size, F&& f) {
    txl::check<txl::error>(encoding == "learned" || encoding == "sinusoidal", "unknown encoding '", encoding,
                           "', expected learned or sinusoidal");
    txl::check<txl::error>(kind == "xl" || kind == "vanilla", "unknown model '", kind, "', expected xl or vanilla");
    shape_of(size);  // an unknown size is an error
    const bool vanilla = kind == "vanilla", sin = encoding == "sinusoidal";
    int rc = 0;
    for_each_size([&](const auto& s) {
        using Row = std::decay_t<decltype(s)>;
        using Cfg = typename Row::config;
        if (size != s.name) return false;
        if constexpr (Row::all_models) {
            rc = with_kind<Cfg>(vanilla, sin, f);
        } else {
            txl::check<txl::error>(!vanilla && !sin, "--size ", size,
                                   ": built for --model xl --encoding learned only (the sizes with every model: "
                                   "base and ff512)");
            rc = f(txl::type_tag<txl::TransformerXL<Cfg>>{});
        }
        return true;
    });
    return rc;
}

/// A run's settings: the built-in config, then the command line's overrides.
struct RunConfig {
    std::string name;
    std::string model = "xl";          ///< xl | vanilla
    std::string encoding = "learned";  ///< learned | sinusoidal
    std::string size = "base";         ///< a name of `k_sizes`
    txl::TrainOptions train;
    std::size_t valid_every = 0, save_every = 0, log_every = 0;
};

/// The built-in configs: labml's experiment, the ten-minute practical preset, the one-hour long one.
inline RunConfig builtin_config(const std::string& name) {
    RunConfig r;
    r.name = name;
    r.train.clip = 1.0;
    r.train.dropout = 0.0;
    if (name == "labml") {
        // labml's experiment: seq_len 2, mem_len 32, batch 32, Noam (lr 1, warm-up 2000).
        r.train.seq_len = 2, r.train.mem_len = 32, r.train.batch = 32;
        r.train.schedule = {txl::Schedule::Kind::noam, 1.0, 2000, C::d_model, 0, 0};
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
        r.train.schedule = {txl::Schedule::Kind::cosine, 3e-3, 200, C::d_model, 0, 1e-4};
        r.train.dropout = 0.05;
        r.valid_every = 500, r.save_every = 500, r.log_every = 50;
        if (name == "long") {
            // The one-hour preset, from the one-hour sweep: the same d_ff 512 at batch 32, with
            // more dropout (an hour is many passes over the text).
            r.train.batch = 32;
            r.train.dropout = 0.1;
        }
    } else {
        throw txl::error("unknown config '" + name + "', expected labml, practical or long");
    }
    return r;
}

}  // namespace shakespeare
