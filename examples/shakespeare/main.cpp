// txl_shakespeare: train a character-level Transformer-XL on Tiny Shakespeare, evaluate it with
// any memory length, and sample from it with memory.
//
//   txl_shakespeare train  --config practical --minutes 10 --out runs/practical
//   txl_shakespeare eval   --checkpoint runs/practical --mem-len 0
//   txl_shakespeare sample --checkpoint runs/practical --prompt "ROMEO:" --length 300
//
// Everything model-related is the library's (txl/txl.hpp); this file is the command line,
// the log and the files a run writes into its --out directory:
//   checkpoint/   the latest training checkpoint (parameters as labml-named .npy files,
//                 optimizer moments, memory, data position, RNG state, vocabulary, config)
//   metrics.csv   one row per log interval
//   loss.svg      the loss curves, written at the end of a run
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <unistd.h>
#include <vector>

#include <txl/txl.hpp>

#include "text_source.hpp"

extern "C" char* openblas_get_corename(void);

namespace {

namespace fs = std::filesystem;

// labml's model: d_model 128, 4 heads, d_ff 256, 6 layers, P = 4096 (`--size base`). `--model`
// picks the model type: labml's Transformer-XL, or the same layers without memory (a plain causal
// Transformer over each segment, the baseline the paper compares against). `--encoding` picks the
// attention: labml's learned relative encoding, or the paper's own (sinusoidal distances
// projected per layer, biases u and v).
using C = txl::Config<float, 128, 4, 256, 6>;
using XL = txl::TransformerXL<C>;

// `--size`: the other shapes the preset sweep trains (bench/sweep_shakespeare.py), each a
// compile-time Config; heads stay 32 wide. The practical preset's ff512 has all four model
// types, like base; deep, wide and narrow are built as labml's Transformer-XL only.
//   ff512   d_ff 512 (4 d_model, the usual ratio): a wider feed-forward, same attention
//   deep    8 layers instead of 6
//   wide    d_model 192, 6 heads, d_ff 384: everything 1.5x wider
//   narrow  d_model 96, 3 heads, d_ff 192: cheaper steps, more of them in a budget
using CFF512 = txl::Config<float, 128, 4, 512, 6>;
using CDeep = txl::Config<float, 128, 4, 256, 8>;
using CWide = txl::Config<float, 192, 6, 384, 6>;
using CNarrow = txl::Config<float, 96, 3, 192, 6>;
static_assert(CFF512::P == C::P && CDeep::P == C::P && CWide::P == C::P && CNarrow::P == C::P,
              "the command line checks --seq-len and --mem-len against one P");
const std::vector<std::string> k_sizes = {"base", "ff512", "deep", "wide", "narrow"};

/// How config.txt names a shape: "d_model=128 heads=4 d_ff=256 layers=6 P=4096".
template <class Cfg>
std::string shape_of() {
    return "d_model=" + std::to_string(Cfg::d_model) + " heads=" + std::to_string(Cfg::heads) +
           " d_ff=" + std::to_string(Cfg::d_ff) + " layers=" + std::to_string(Cfg::n_layers) +
           " P=" + std::to_string(Cfg::P);
}

/// The shape of a `--size` name.
std::string shape_of(const std::string& size) {
    if (size == "base") return shape_of<C>();
    if (size == "ff512") return shape_of<CFF512>();
    if (size == "deep") return shape_of<CDeep>();
    if (size == "wide") return shape_of<CWide>();
    if (size == "narrow") return shape_of<CNarrow>();
    throw txl::error("unknown size '" + size + "', expected base, ff512, deep, wide or narrow");
}

/// The four model types of one shape: labml's Transformer-XL or the same layers without memory,
/// with labml's learned or the paper's sinusoidal relative attention.
template <class Cfg, class F>
int with_kind(bool vanilla, bool sinusoidal, F&& f) {
    using SinLayer = txl::XLLayer<txl::SinusoidalRelativeAttention<Cfg>, txl::FeedForward<Cfg>>;
    if (!vanilla)
        return sinusoidal ? f(txl::type_tag<txl::AutoregressiveModel<Cfg, SinLayer>>{})
                          : f(txl::type_tag<txl::TransformerXL<Cfg>>{});
    return sinusoidal ? f(txl::type_tag<txl::AutoregressiveModel<Cfg, SinLayer, txl::NoMemory<Cfg>>>{})
                      : f(txl::type_tag<txl::VanillaTransformer<Cfg>>{});
}

/// Run `f` with the model type of `--model`, `--encoding` and `--size` (`f(type_tag<Model>{})`):
/// the one place where the runtime choice meets the compile-time types.
template <class F>
int with_model(const std::string& kind, const std::string& encoding, const std::string& size, F&& f) {
    txl::check<txl::error>(encoding == "learned" || encoding == "sinusoidal", "unknown encoding '", encoding,
                           "', expected learned or sinusoidal");
    txl::check<txl::error>(kind == "xl" || kind == "vanilla", "unknown model '", kind, "', expected xl or vanilla");
    shape_of(size);  // an unknown size is an error
    const bool vanilla = kind == "vanilla", sin = encoding == "sinusoidal";
    // labml's shape and the practical preset's have every model; the other sweep shapes are
    // built as labml's model only (each model type is compiled in).
    if (size == "base") return with_kind<C>(vanilla, sin, f);
    if (size == "ff512") return with_kind<CFF512>(vanilla, sin, f);
    txl::check<txl::error>(!vanilla && !sin, "--size ", size,
                           ": built for --model xl --encoding learned only (--size base and ff512 have every model)");
    if (size == "deep") return f(txl::type_tag<txl::TransformerXL<CDeep>>{});
    if (size == "wide") return f(txl::type_tag<txl::TransformerXL<CWide>>{});
    return f(txl::type_tag<txl::TransformerXL<CNarrow>>{});
}

/// Distances beyond `clamp_len` use the encoding (sinusoidal) or the table rows (learned) of
/// `clamp_len`.
template <class Model>
void set_clamp_len(Model& model, long clamp_len) {
    if (clamp_len < 0) return;
    for (auto& l : model.transformer.layers) l.self_attn.clamp_len = std::size_t(clamp_len);
}

struct RunConfig {
    std::string name;
    std::string model = "xl";  ///< xl | vanilla
    std::string encoding = "learned";  ///< learned | sinusoidal
    std::string size = "base";  ///< base | ff512 | deep | wide | narrow
    txl::TrainOptions train;
    std::size_t valid_every, save_every, log_every;
};

RunConfig builtin_config(const std::string& name) {
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
        // Schedule and dropout chosen by a ten-minute sweep (bench/sweep_shakespeare.py, README):
        // warm-up 200 steps to 3e-3, a cosine down to 1e-4 that ends with the run (with --minutes,
        // where the budget ends), dropout 0.05 (0.1 and 0.15 regularise too much for ten minutes).
        // Then shapes: batch 16 (twice the steps of batch 32, each half the characters) and
        // d_ff 512 (`--size ff512`) each beat labml's shape at batch 32 in the same ten minutes.
        // Validation every 500 steps: as many characters between validations as 250 at batch 32.
        r.size = "ff512";
        r.train.seq_len = 64, r.train.mem_len = 64, r.train.batch = 16;
        r.train.schedule = {txl::Schedule::Kind::cosine, 3e-3, 200, C::d_model, 0, 1e-4};
        r.train.dropout = 0.05;
        r.valid_every = 500, r.save_every = 500, r.log_every = 50;
        if (name == "long") {
            // The one-hour preset, from the one-hour sweep: the same d_ff 512 at batch 32 (about
            // 19,000 steps, 39 passes over the text). Without dropout ten minutes already overfit,
            // so the hour gets more (0.1). d_ff 512 reached 1.4466 nats/char in the hour; labml's
            // shape with the same settings 1.4556 (d_ff 512 was below that from minute 38 on).
            r.train.batch = 32;
            r.train.dropout = 0.1;
        }
    } else {
        throw txl::error("unknown config '" + name + "', expected labml, practical or long");
    }
    return r;
}

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0};  // SIGINT (Ctrl-C) or SIGTERM (kill, timeout, a container stopping)

/// Validators for numeric options: a finite number in `[lo, hi]` (CLI11's own `Range` lets `nan`
/// through, and reads `-5` into an unsigned option as 2^64 - 5), or a whole number in `[lo, hi]`.
/// CLI11 puts the option's name in front of the message.
CLI::Validator number_in(double lo, double hi) {
    const std::string range = "[" + CLI::detail::to_string(lo) + ", " + CLI::detail::to_string(hi) + "]";
    return CLI::Validator(
        [lo, hi, range](std::string& v) -> std::string {
            char* end = nullptr;
            const double x = std::strtod(v.c_str(), &end);
            if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(x) || x < lo || x > hi)
                return "expected a number in " + range + ", got '" + v + "'";
            return {};
        },
        "NUMBER in " + range);
}
CLI::Validator whole_in(unsigned long long lo, unsigned long long hi) {
    const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    return CLI::Validator(
        [lo, hi, range](std::string& v) -> std::string {
            const bool digits = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
            errno = 0;
            const unsigned long long x = digits ? std::strtoull(v.c_str(), nullptr, 10) : 0;
            if (!digits || errno == ERANGE || x < lo || x > hi)
                return "expected a whole number in " + range + ", got '" + v + "'";
            return {};
        },
        "INT in " + range);
}

void note_openblas() {
    if (std::getenv("OPENBLAS_CORETYPE")) return;  // the user chose; never second-guess it
    const std::string core = openblas_get_corename();
    const bool generic = core == "Prescott" || core == "Core2" || core == "Nehalem" || core == "generic";
    if (generic && txl::cpu_supports(txl::GemmKernel::avx512))
        std::cerr << "note: OpenBLAS runs its generic '" << core << "' kernel on this AVX-512 CPU; "
                  << "export OPENBLAS_CORETYPE=SkylakeX for several times faster training\n";
    else if (generic && txl::cpu_supports(txl::GemmKernel::avx2))
        std::cerr << "note: OpenBLAS runs its generic '" << core << "' kernel on this AVX2 CPU; "
                  << "export OPENBLAS_CORETYPE=Haswell for several times faster training\n";
}

std::string hms(double s) {
    const long t = long(s + 0.5);
    char b[32];
    if (t >= 3600) std::snprintf(b, sizeof b, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else std::snprintf(b, sizeof b, "%02ld:%02ld", t / 60, t % 60);
    return b;
}

/// The checkpoint `eval` and `sample` read from `dir`: a run directory's `best/` (the weights
/// with the lowest validation loss so far), or its `checkpoint/` (the latest) with `latest` or
/// when there is no `best/` yet; `dir` itself if it is a checkpoint.
fs::path checkpoint_dir(const fs::path& dir, bool latest = false) {
    for (const char* sub : {"best", "checkpoint"})
        txl::recover_interrupted_save(dir / sub);  // a save interrupted between its renames
    if (!latest && fs::exists(dir / "best" / "src_embed.weight.npy")) return dir / "best";
    if (fs::exists(dir / "checkpoint" / "src_embed.weight.npy")) return dir / "checkpoint";
    return dir;
}

/// What `best/best.txt` records: the step and its validation loss and accuracy.
struct Best {
    std::size_t step = 0;
    double loss = HUGE_VAL, accuracy = 0;
    bool found = false;
};
Best read_best(const fs::path& dir) {
    Best b;
    std::ifstream in(dir / "best.txt");
    std::string key;
    while (in >> key) {
        if (key == "step") in >> b.step;
        else if (key == "valid_loss") in >> b.loss;
        else if (key == "valid_acc") in >> b.accuracy;
    }
    b.found = b.step > 0 && std::isfinite(b.loss);
    return b;
}

/// "loaded DIR (the best, step N, validation loss L)" for eval and sample.
std::string describe_checkpoint(const fs::path& ckpt) {
    const Best b = read_best(ckpt);
    std::ostringstream m;
    m << "loaded " << ckpt.string();
    if (b.found) m << " (the best so far: step " << b.step << ", validation loss " << std::fixed << std::setprecision(4) << b.loss << ")";
    else if (ckpt.filename() == "checkpoint") m << " (the latest)";
    return m.str();
}

struct Text {
    txl::CharTokenizer tokenizer;
    txl::TokenIds train, valid;  // two slices of one buffer, a byte per character for Tiny Shakespeare
};

/// Read, tokenise and split the text in chunks (`txl::read_text_file`: memory near one byte per
/// character), with a progress line for a large file. With `vocab`, encode with it (a character
/// outside it is an error).
Text load_text(const std::string& path, const txl::CharTokenizer* vocab) {
    txl::ReadTextOptions o;
    o.vocabulary = vocab;
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    const auto t0 = std::chrono::steady_clock::now();
    double shown = -1;
    const bool tty = isatty(STDERR_FILENO);
    if (!ec && size >= (std::uintmax_t(32) << 20))  // a line a second while a large file loads
        o.progress = [&](std::uint64_t done, std::uint64_t total) {
            const double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (now - shown < 1.0 && done < total) return;
            shown = now;
            std::ostringstream m;
            m << "reading " << path << ": " << std::fixed << std::setprecision(0) << 100.0 * double(done) / double(total)
              << "% of " << std::setprecision(1) << double(size) / 1e6 << " MB ("
              << (2 * done <= total ? "checking, vocabulary" : "token ids") << "), " << hms(now);
            if (tty) std::cerr << "\r\033[K" << m.str() << (done == total ? "\n" : "") << std::flush;
            else std::cerr << m.str() << "\n";
        };
    txl::TextFile file;
    try {
        file = txl::read_text_file(path, o);
    } catch (const txl::shape_error& e) {  // a character outside the checkpoint's vocabulary
        throw txl::error(std::string(e.what()) + " (the checkpoint was trained on another text)");
    }
    Text t;
    t.tokenizer = file.tokenizer;
    std::tie(t.train, t.valid) = txl::split_train_valid(file.ids);
    return t;
}

void write_config(const fs::path& dir, const RunConfig& r, std::uint64_t seed) {
    const std::string path = (dir / "config.txt").string();
    std::ofstream o(path);
    o << "config " << r.name << "\n"
      << "architecture " << r.model << "\n"
      << "encoding " << r.encoding << "\n"
      << "size " << r.size << "\n"
      << "model " << shape_of(r.size) << "\n"
      << "seed " << seed << "\n"
      << "seq_len " << r.train.seq_len << "\nmem_len " << r.train.mem_len << "\nbatch " << r.train.batch << "\n"
      << "schedule " << txl::Schedule::name(r.train.schedule.kind) << "\n"
      << "lr " << std::setprecision(17) << r.train.schedule.lr << "\nwarmup " << r.train.schedule.warmup << "\n"
      << "total " << r.train.schedule.total << "\nmin_lr " << r.train.schedule.min_lr << "\n"
      << "clip " << r.train.clip << "\ndropout " << r.train.dropout << "\ndropatt " << r.train.dropatt << "\n"
      << "weight_decay " << r.train.weight_decay << "\naccumulate " << r.train.accumulate << "\n";
    txl::finish_file(o, path);
}

/// Read config.txt back into a RunConfig (a checkpoint's own settings win on resume and eval).
RunConfig read_config(const fs::path& dir, std::uint64_t* seed) {
    const auto kv = txl::Trainer<XL>::read_key_values((dir / "config.txt").string());
    auto get = [&](const std::string& k) {
        auto it = kv.find(k);
        txl::check<txl::checkpoint_error>(it != kv.end(), (dir / "config.txt").string(), ": no '", k, "'");
        return it->second;
    };
    // Checkpoints from before --size existed are labml's shape.
    const std::string size = kv.count("size") ? kv.at("size") : "base";
    std::string shape;
    try {
        shape = shape_of(size);
    } catch (const txl::error& e) {  // a size this program does not build
        throw txl::checkpoint_error((dir / "config.txt").string() + ": " + e.what());
    }
    txl::check<txl::checkpoint_error>(get("model") == shape, (dir / "config.txt").string(), ": model '", get("model"),
                                      "', this program builds size ", size, " as '", shape, "'");
    RunConfig r = builtin_config(get("config"));
    r.size = size;
    // Checkpoints from before --model existed are Transformer-XL.
    r.model = kv.count("architecture") ? kv.at("architecture") : "xl";
    txl::check<txl::checkpoint_error>(r.model == "xl" || r.model == "vanilla", (dir / "config.txt").string(),
                                      ": architecture '", r.model, "', expected xl or vanilla");
    r.encoding = kv.count("encoding") ? kv.at("encoding") : "learned";
    txl::check<txl::checkpoint_error>(r.encoding == "learned" || r.encoding == "sinusoidal",
                                      (dir / "config.txt").string(), ": encoding '", r.encoding,
                                      "', expected learned or sinusoidal");
    // Every value read whole: no sign where none belongs, no trailing text, finite numbers.
    const std::string where = (dir / "config.txt").string();
    auto whole = [&](const std::string& k, unsigned long long lo, unsigned long long hi) {
        const std::string v = get(k);
        const bool digits = !v.empty() && v.size() <= 20 && v.find_first_not_of("0123456789") == std::string::npos;
        errno = 0;
        const unsigned long long x = digits ? std::strtoull(v.c_str(), nullptr, 10) : 0;
        txl::check<txl::checkpoint_error>(digits && errno == 0 && x >= lo && x <= hi, where, ": ", k, " '", v,
                                          "', expected a whole number in [", lo, ", ", hi, "]");
        return x;
    };
    auto number = [&](const std::string& k, const std::string& v, double lo, double hi) {
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        txl::check<txl::checkpoint_error>(!v.empty() && end == v.c_str() + v.size() && std::isfinite(x) && x >= lo &&
                                              x <= hi,
                                          where, ": ", k, " '", v, "', expected a number in [", lo, ", ", hi, "]");
        return x;
    };
    r.train.seq_len = whole("seq_len", 1, C::P);
    r.train.mem_len = whole("mem_len", 0, C::P);
    r.train.batch = whole("batch", 1, 1'000'000);
    try {
        r.train.schedule.kind = txl::Schedule::parse(get("schedule"));
    } catch (const std::exception& e) {
        throw txl::checkpoint_error(where + ": " + e.what());
    }
    r.train.schedule.lr = number("lr", get("lr"), 0, 1e6);
    r.train.schedule.warmup = whole("warmup", 0, 1'000'000'000);
    r.train.schedule.total = whole("total", 0, 1'000'000'000'000);
    r.train.schedule.min_lr = number("min_lr", get("min_lr"), 0, 1e6);
    r.train.clip = number("clip", get("clip"), 0, 1e12);
    r.train.dropout = number("dropout", get("dropout"), 0, 0.99);
    // Older checkpoints have no dropatt (-1: as dropout).
    r.train.dropatt = kv.count("dropatt") ? number("dropatt", kv.at("dropatt"), -1, 0.99) : -1.0;
    // ... and no weight decay (labml's Adam).
    r.train.weight_decay = kv.count("weight_decay") ? number("weight_decay", kv.at("weight_decay"), 0, 10) : 0.0;
    r.train.accumulate = kv.count("accumulate") ? whole("accumulate", 1, r.train.batch) : 1;
    if (seed) *seed = whole("seed", 0, ~0ull);
    return r;
}

/// The vocabulary and config of a checkpoint directory (its config says which model type).
void load_run(const fs::path& ckpt, txl::CharTokenizer& vocab, RunConfig& rc) {
    txl::check<txl::checkpoint_error>(fs::is_directory(ckpt), ckpt.string(), ": checkpoint directory not found");
    txl::verify_checksums(ckpt);  // before reading any of it
    vocab = txl::CharTokenizer::load((ckpt / "vocab.txt").string());
    rc = read_config(ckpt, nullptr);
}

/// A model of type `Model` with the parameters of a checkpoint directory.
template <class Model>
std::unique_ptr<Model> load_model(const fs::path& ckpt, std::size_t n_vocab) {
    auto model = std::make_unique<Model>(n_vocab, 0);
    txl::load_checkpoint(*model, ckpt, /*verify*/ false);  // load_run verified the checksums
    return model;
}

/// Sampling options for a checkpoint: a model with memory remembers `mem_len` positions; one
/// without sees a window of the last `seq_len` characters, the context it was trained on.
template <class Model>
txl::SampleOptions sample_options(const RunConfig& rc, long mem_len) {
    txl::SampleOptions so;
    so.mem_len = mem_len >= 0 ? std::size_t(mem_len)
                              : (Model::has_memory ? rc.train.mem_len : rc.train.seq_len - 1);
    return so;
}

// ---------------------------------------------------------------------------------------------
// Loss curves as SVG, from metrics.csv
// ---------------------------------------------------------------------------------------------
void write_loss_svg(const fs::path& csv, const fs::path& svg) {
    std::ifstream in(csv);
    std::string line;
    std::getline(in, line);  // header
    std::vector<std::pair<double, double>> train, valid;
    while (std::getline(in, line)) {
        std::vector<std::string> f;
        std::stringstream ss(line);
        for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
        if (f.size() < 6) continue;
        const double step = std::stod(f[0]);
        if (!f[3].empty()) train.emplace_back(step, std::stod(f[3]));
        if (!f[5].empty()) valid.emplace_back(step, std::stod(f[5]));
    }
    if (train.empty()) return;
    double x1 = 1, y0 = 1e9, y1 = 0;
    for (auto* s : {&train, &valid})
        for (auto [x, y] : *s) x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    y0 = std::floor(y0 * 2) / 2, y1 = std::ceil(y1 * 2) / 2;
    if (y1 <= y0) y1 = y0 + 0.5;
    const double W = 760, H = 380, L = 60, T = 20, R = 20, B = 40;
    auto px = [&](double x) { return L + (W - L - R) * x / x1; };
    auto py = [&](double y) { return T + (H - T - B) * (1 - (y - y0) / (y1 - y0)); };
    std::ofstream o(svg);
    o << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H
      << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n";
    for (double y = y0; y <= y1 + 1e-9; y += 0.5)
        o << "<line x1='" << L << "' x2='" << W - R << "' y1='" << py(y) << "' y2='" << py(y)
          << "' stroke='#ddd'/><text x='" << L - 8 << "' y='" << py(y) + 4 << "' text-anchor='end'>" << y << "</text>\n";
    o << "<text x='" << (W + L) / 2 << "' y='" << H - 8 << "' text-anchor='middle'>step (last: " << x1
      << ")</text>\n<text x='14' y='" << H / 2 << "' transform='rotate(-90 14 " << H / 2
      << ")' text-anchor='middle'>cross-entropy (nats/char)</text>\n";
    auto poly = [&](const std::vector<std::pair<double, double>>& s, const char* color) {
        o << "<polyline fill='none' stroke='" << color << "' stroke-width='1.5' points='";
        for (auto [x, y] : s) o << px(x) << "," << py(y) << " ";
        o << "'/>\n";
    };
    poly(train, "#1f77b4");
    if (!valid.empty()) {
        poly(valid, "#ff7f0e");
        for (auto [x, y] : valid) o << "<circle cx='" << px(x) << "' cy='" << py(y) << "' r='3' fill='#ff7f0e'/>\n";
    }
    o << "<text x='" << W - R - 150 << "' y='" << T + 15 << "' fill='#1f77b4'>train loss</text>\n"
      << "<text x='" << W - R - 150 << "' y='" << T + 32 << "' fill='#ff7f0e'>validation loss</text>\n</svg>\n";
    txl::finish_file(o, svg.string());
}

// ---------------------------------------------------------------------------------------------
// train
// ---------------------------------------------------------------------------------------------
struct TrainArgs {
    std::string data, config = "practical", model = "xl", encoding = "learned", out, prompt = "ROMEO:\n";
    std::string size;  ///< unset: the checkpoint's (--resume), else the config's
    std::size_t steps = 0, sample_length = 300;
    double minutes = 0, dropout = -1, dropatt = -1;
    // Overrides of the config's schedule and shapes (unset: the config's).
    std::string schedule;
    double lr = -1, min_lr = -1, weight_decay = -1;
    long warmup = -1, total_steps = -1, batch = -1, seq_len = -1, mem_len = -1, accumulate = -1;
    bool resume = false, force = false;
    std::uint64_t seed = 1;
    std::size_t valid_every = 0, save_every = 0, log_every = 0;
};

/// The size a train command builds: `--size`, else (`--resume`) its checkpoint's, else its config's.
std::string train_size(const TrainArgs& a, const std::function<void(const std::string&)>& say) {
    if (!a.size.empty()) return a.size;
    const fs::path ckpt = fs::path(a.out) / "checkpoint";
    if (a.resume) {
        if (txl::recover_interrupted_save(ckpt))
            say("note: " + ckpt.string() + " was missing after an interrupted save; its previous version is restored");
        if (fs::exists(ckpt / "config.txt")) {
            const auto kv = txl::Trainer<XL>::read_key_values((ckpt / "config.txt").string());
            return kv.count("size") ? kv.at("size") : "base";  // before --size: labml's shape
        }
    }
    return builtin_config(a.config).size;
}

template <class Model>
int run_train(const TrainArgs& a, const std::function<void(const std::string&)>& say) {
    const fs::path out = a.out, ckpt = out / "checkpoint";
    if (txl::recover_interrupted_save(ckpt))
        say("note: " + ckpt.string() + " was missing after an interrupted save; its previous version is restored");
    const bool have = fs::exists(ckpt);
    txl::check<txl::error>(a.steps > 0 || a.minutes > 0, "train: give --steps N or --minutes M");
    txl::check<txl::error>(!(have && !a.resume && !a.force), ckpt.string(),
                           " already exists: pass --resume to continue it or --force to start over");
    txl::check<txl::error>(!(a.resume && !have), "--resume: no checkpoint at ", ckpt.string());

    RunConfig rc = builtin_config(a.config);
    rc.model = a.model;
    rc.encoding = a.encoding;
    if (!a.size.empty()) rc.size = a.size;
    // The command line's overrides of the config, as (option, value in rc) pairs: applied to a new
    // run; a resumed run keeps its checkpoint's, and an override that differs is an error.
    auto overrides = [&](RunConfig& r) {
        std::vector<std::pair<std::string, std::string>> given;
        auto set = [&](bool on, const char* opt, auto& field, auto value) {
            if (!on) return;
            std::ostringstream was, now;
            was << std::setprecision(17) << field;
            field = decltype(+field)(value);
            now << std::setprecision(17) << field;
            given.push_back({opt, was.str() == now.str() ? "" : was.str()});
        };
        set(a.dropout >= 0, "--dropout", r.train.dropout, a.dropout);
        set(a.dropatt >= 0, "--dropatt", r.train.dropatt, a.dropatt);
        set(a.lr > 0, "--lr", r.train.schedule.lr, a.lr);
        set(a.min_lr >= 0, "--min-lr", r.train.schedule.min_lr, a.min_lr);
        set(a.warmup >= 0, "--warmup", r.train.schedule.warmup, a.warmup);
        set(a.total_steps >= 0, "--total-steps", r.train.schedule.total, a.total_steps);
        set(a.weight_decay >= 0, "--weight-decay", r.train.weight_decay, a.weight_decay);
        set(a.batch > 0, "--batch", r.train.batch, a.batch);
        set(a.seq_len > 0, "--seq-len", r.train.seq_len, a.seq_len);
        set(a.mem_len >= 0, "--mem-len", r.train.mem_len, a.mem_len);
        set(a.accumulate > 0, "--accumulate", r.train.accumulate, a.accumulate);
        if (!a.schedule.empty()) {
            const auto kind = txl::Schedule::parse(a.schedule);
            given.push_back({"--schedule", kind == r.train.schedule.kind ? "" : txl::Schedule::name(r.train.schedule.kind)});
            r.train.schedule.kind = kind;
        }
        return given;
    };
    overrides(rc);
    std::uint64_t seed = a.seed;
    std::unique_ptr<txl::CharTokenizer> saved_vocab;
    if (a.resume) {
        const RunConfig saved = read_config(ckpt, &seed);
        txl::check<txl::checkpoint_error>(saved.name == a.config, ckpt.string(), ": trained with --config ",
                                          saved.name, ", this run asks for --config ", a.config);
        txl::check<txl::checkpoint_error>(saved.model == a.model, ckpt.string(), ": trained with --model ",
                                          saved.model, ", this run asks for --model ", a.model);
        txl::check<txl::checkpoint_error>(saved.encoding == a.encoding, ckpt.string(), ": trained with --encoding ",
                                          saved.encoding, ", this run asks for --encoding ", a.encoding);
        txl::check<txl::checkpoint_error>(a.size.empty() || saved.size == a.size, ckpt.string(),
                                          ": trained with --size ", saved.size, ", this run asks for --size ", a.size);
        rc = saved;  // train_size() built the checkpoint's size
        RunConfig want = saved;
        for (const auto& [opt, was] : overrides(want))
            txl::check<txl::checkpoint_error>(was.empty() || (opt == "--total-steps" && was == "0"), ckpt.string(),
                                              ": trained with ", opt, " ", was,
                                              "; a resumed run keeps its checkpoint's settings (--force starts over)");
        if (want.train.schedule.total != saved.train.schedule.total) rc.train.schedule.total = want.train.schedule.total;
        saved_vocab = std::make_unique<txl::CharTokenizer>(txl::CharTokenizer::load((ckpt / "vocab.txt").string()));
    }
    rc.train.schedule.d_model = Model::config::d_model;  // Noam's d_model^{-1/2}, of the size built
    // A cosine schedule run for --steps N ends its decay at step N unless told otherwise; with
    // --minutes, the end is measured once warm-up is over (below).
    const bool cosine = rc.train.schedule.kind == txl::Schedule::Kind::cosine;
    if (cosine && rc.train.schedule.total == 0 && a.steps) rc.train.schedule.total = a.steps;
    if (a.valid_every) rc.valid_every = a.valid_every;
    if (a.save_every) rc.save_every = a.save_every;
    if (a.log_every) rc.log_every = a.log_every;

    const std::string path = shakespeare::find_text(a.data, say);
    Text text = load_text(path, nullptr);
    if (saved_vocab && saved_vocab->chars() != text.tokenizer.chars())
        throw txl::checkpoint_error(ckpt.string() + ": vocabulary of " + std::to_string(saved_vocab->size()) +
                                    " characters differs from the text's " + std::to_string(text.tokenizer.size()) +
                                    " (another text?)");
    txl::SequentialLoader check_valid(text.valid, rc.train.batch, rc.train.seq_len, "the validation split of " + path);
    // The final sample's prompt is checked now, not after the whole run.
    std::vector<std::int64_t> prompt_ids;
    if (a.sample_length) {
        txl::check<txl::error>(!a.prompt.empty(), "--prompt: empty; give at least one character (or --sample-length 0)");
        prompt_ids = text.tokenizer.encode(a.prompt);  // throws on a character outside the vocabulary
    }

    Model model(text.tokenizer.size(), seed);
    rc.train.seed = seed;
    txl::Trainer<Model> trainer(model, rc.train, text.train);
    if (a.resume) trainer.load(ckpt);
    fs::create_directories(out);
    const fs::path csv = out / "metrics.csv";
    const std::string header = "step,tokens,lr,train_loss,train_acc,valid_loss,valid_acc,tokens_per_s,elapsed_s";
    if (!a.resume || !fs::exists(csv)) {
        std::ofstream o(csv);
        o << header << "\n";
        txl::finish_file(o, csv.string());
    } else {
        // Rows logged after the checkpoint (a run killed between saves) are replayed by this
        // run: drop them, so that every step appears once.
        std::ifstream in(csv);
        std::string line, kept = header + "\n";
        std::getline(in, line);
        while (std::getline(in, line))
            if (std::strtoull(line.c_str(), nullptr, 10) <= trainer.step_count()) kept += line + "\n";
        in.close();
        const fs::path tmp_csv = out / "metrics.csv.tmp";
        std::ofstream o(tmp_csv);
        o << kept;
        txl::finish_file(o, tmp_csv.string());
        fs::rename(tmp_csv, csv);
    }

    say("text " + path + ": " + std::to_string(text.train.size() + text.valid.size()) + " characters, vocabulary " +
        std::to_string(text.tokenizer.size()) + " (ids of " + std::to_string(text.train.width()) + " byte" +
        (text.train.width() > 1 ? "s" : "") + "), train " + std::to_string(text.train.size()) + " / valid " +
        std::to_string(text.valid.size()));
    say("config " + rc.name + ", model " + rc.model + ", encoding " + rc.encoding + ", size " + rc.size + " (" +
        shape_of(rc.size) + "; memory: " + txl::block_name<typename Model::memory_block>("custom") +
        "): seq_len " + std::to_string(rc.train.seq_len) + ", mem_len " + std::to_string(rc.train.mem_len) + ", batch " + std::to_string(rc.train.batch) + ", " +
        std::to_string(model.parameter_count()) + " parameters, OpenBLAS kernel " + openblas_get_corename() +
        ", txl GEMM kernel " + txl::kernel_name(txl::gemm_kernel()) + ", " + std::to_string(txl::max_threads()) +
        " threads");
    if (a.resume) say("resumed at step " + std::to_string(trainer.step_count()));

    auto save = [&] {
        trainer.save(ckpt, [&](const fs::path& tmp) {
            text.tokenizer.save((tmp / "vocab.txt").string());
            write_config(tmp, rc, seed);
        });
    };
    // best/: the weights with the lowest validation loss so far (what eval and sample read),
    // replaced atomically like checkpoint/. A resumed run keeps its record; a new run starts one.
    const fs::path best_dir = out / "best";
    Best best = a.resume ? read_best(best_dir) : Best{};
    if (!a.resume) fs::remove_all(best_dir);
    auto save_best = [&](const txl::EvalStats& v, std::size_t step) {
        txl::write_directory_atomically(best_dir, true, [&](const fs::path& tmp) {
            txl::save_parameters(model, tmp);
            text.tokenizer.save((tmp / "vocab.txt").string());
            write_config(tmp, rc, seed);
            const std::string path = (tmp / "best.txt").string();
            std::ofstream o(path);
            o << std::setprecision(17) << "step " << step << "\nvalid_loss " << v.loss << "\nvalid_acc " << v.accuracy
              << "\n";
            txl::finish_file(o, path);
        });
        best = {step, v.loss, v.accuracy, true};
    };
    // From here on Ctrl-C and SIGTERM finish the step, save and exit non-zero. Before (reading
    // and checking the text and the checkpoint) there is nothing to save: they end the program at
    // once, as by default.
    // A signal the program was started with ignored (SIGINT for `nohup` or a background job of a
    // script) stays ignored, as the shell meant.
    for (int sig : {SIGINT, SIGTERM}) {
        struct sigaction now {};
        if (sigaction(sig, nullptr, &now) == 0 && now.sa_handler == SIG_IGN) continue;
        std::signal(sig, [](int got) { g_signal = got, g_interrupted = true; });
    }
    const bool tty = isatty(STDOUT_FILENO);
    const auto t0 = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    const std::size_t start = trainer.step_count();
    auto done = [&] {
        if (g_interrupted) return true;
        if (a.steps && trainer.step_count() >= a.steps) return true;
        // With --minutes the run ends where the cosine decay does (with --steps, steps past the
        // end train at --min-lr).
        if (a.minutes > 0 && cosine && rc.train.schedule.total && trainer.step_count() >= rc.train.schedule.total)
            return true;
        return a.minutes > 0 && elapsed() >= a.minutes * 60;
    };
    auto progress = [&]() -> double {  // fraction of this run done
        double p = 0;
        if (a.steps) p = double(trainer.step_count() - start) / double(std::max<std::size_t>(a.steps - std::min(a.steps, start), 1));
        if (a.minutes > 0) p = std::max(p, elapsed() / (a.minutes * 60));
        return std::min(p, 1.0);
    };
    double sum_loss = 0, sum_acc = 0;
    std::size_t n_logged = 0, tokens_run = 0, tokens_window = 0;
    double window_start = 0;
    txl::EvalStats last_valid{};
    std::size_t last_valid_step = std::size_t(-1);
    std::string log_failure;  // a metrics.csv row that could not be written
    if (a.steps && trainer.step_count() >= a.steps) say("already at step " + std::to_string(trainer.step_count()));
    while (!done()) {
        const auto s = trainer.step();
        sum_loss += s.loss, sum_acc += s.accuracy, ++n_logged;
        tokens_run += s.tokens, tokens_window += s.tokens;
        const std::size_t step = trainer.step_count();
        // Fitting a cosine schedule to --minutes: when warm-up is over (and this run has taken 20
        // steps, or 2 steps and a tenth of the budget: slow steps on a busy machine, a short budget),
        // validate once and time it, then fix the step where the decay ends so that the
        // steps and validations left fill the time left:
        //   total = step + (left - valid) / (per_step + valid / valid_every),
        // with 2% spare. The end is saved with the checkpoint: a resumed run decays to the same step.
        const bool calibrate = cosine && rc.train.schedule.total == 0 && a.minutes > 0 &&
                               step >= std::max<std::size_t>(rc.train.schedule.warmup, 1) &&
                               (step - start >= 20 || (step - start >= 2 && elapsed() >= 0.1 * a.minutes * 60));
        const bool last = done();
        const bool validate = step % rc.valid_every == 0 || last || calibrate;
        if (validate) {  // stops at the next batch on Ctrl-C / SIGTERM (a large text validates for minutes)
            const double v0 = elapsed();
            const auto v = txl::evaluate(model, text.valid, rc.train.batch, rc.train.seq_len, rc.train.mem_len,
                                         [] { return g_interrupted.load(); });
            const double v_time = elapsed() - v0;
            if (v.complete) {
                last_valid = v, last_valid_step = step;
                if (v.loss < best.loss) save_best(v, step);
            }
            if (calibrate && v.complete) {
                const double per_step = v0 / double(step - start), left = a.minutes * 60 - elapsed();
                const double more = std::max(0.0, 0.98 * left / (per_step + v_time / double(rc.valid_every)));
                rc.train.schedule.total = step + std::max<std::size_t>(std::size_t(more), 1);
                trainer.set_schedule_total(rc.train.schedule.total);
                std::ostringstream m;
                m << std::fixed << std::setprecision(3) << "schedule: the cosine decay ends at step "
                  << rc.train.schedule.total << " (measured " << per_step << " s a step, " << v_time
                  << " s a validation, " << std::setprecision(1) << left / 60 << " minutes left)";
                say(m.str());
            }
        }
        const bool validated = validate && last_valid_step == step;
        if (step % rc.log_every == 0 || validated) {
            const double now = elapsed();
            const double tps = double(tokens_window) / std::max(now - window_start, 1e-9);
            const double p = progress();
            const double eta = p > 0 ? now / p - now : 0;
            std::ostringstream line;
            line << std::fixed << "step " << step << " | tokens " << trainer.tokens_seen()
                 << " | lr " << std::scientific << std::setprecision(2) << s.lr << std::fixed << std::setprecision(3)
                 << " | loss " << sum_loss / double(n_logged);
            if (validated) line << " | valid " << last_valid.loss << " acc " << last_valid.accuracy;
            line << std::setprecision(0) << " | " << tps << " tok/s | " << hms(now) << " elapsed | ETA " << hms(eta);
            if (tty) std::cout << "\r\033[K";
            std::cout << line.str() << std::endl;
            std::ofstream row(csv, std::ios::app);
            row << step << "," << trainer.tokens_seen() << "," << s.lr << ","
                << sum_loss / double(n_logged) << "," << sum_acc / double(n_logged) << ","
                << (validated ? std::to_string(last_valid.loss) : "") << ","
                << (validated ? std::to_string(last_valid.accuracy) : "") << "," << tps << "," << now << "\n";
            sum_loss = sum_acc = 0, n_logged = 0, tokens_window = 0, window_start = now;
            try {
                txl::finish_file(row, csv.string());
            } catch (const txl::error& e) {  // a full disk: stop, try to save what was trained, say so
                log_failure = e.what();
                break;
            }
        } else if (tty) {
            const int width = 30, fill = int(progress() * width);
            std::cout << "\r[" << std::string(std::size_t(fill), '#') << std::string(std::size_t(width - fill), '.')
                      << "] step " << step << std::flush;
        }
        if (step % rc.save_every == 0 && !last) save();
    }
    save();
    if (!log_failure.empty())
        throw txl::error(log_failure + "; stopped training (checkpoint saved at step " +
                         std::to_string(trainer.step_count()) + ")");
    write_loss_svg(csv, out / "loss.svg");
    // Nothing left to save: from here Ctrl-C and SIGTERM end the program at once again (the
    // final sample may be long).
    for (int sig : {SIGINT, SIGTERM}) {
        struct sigaction now {};
        if (sigaction(sig, nullptr, &now) == 0 && now.sa_handler != SIG_IGN) std::signal(sig, SIG_DFL);
    }
    if (g_interrupted) {
        say(std::string(g_signal == SIGTERM ? "terminated" : "interrupted") + ": checkpoint saved at step " +
            std::to_string(trainer.step_count()) + "; continue with the same command and --resume");
        return 128 + g_signal;  // 130 for Ctrl-C, 143 for SIGTERM, as if killed, but saved
    }
    if (trainer.step_count() > start) {
        say("trained " + std::to_string(trainer.step_count() - start) + " steps (" + std::to_string(tokens_run) +
            " tokens) in " + hms(elapsed()) + "; checkpoint " + ckpt.string() + ", curves " + (out / "loss.svg").string());
    }
    if (best.found) {
        // The best checkpoint, as people compare it: nats and bits per character, accuracy, and
        // (a small validation text) with memory 0, the trained m and 2m.
        std::ostringstream m;
        m << std::fixed << std::setprecision(4) << "best: step " << best.step << " of " << trainer.step_count()
          << ", validation loss " << best.loss << " nats/char = " << best.loss / std::log(2.0) << " bits/char, accuracy "
          << best.accuracy << " (" << best_dir.string() << ", what eval and sample read)";
        say(m.str());
        if (Model::has_memory && text.valid.size() <= 2'000'000) {
            Model bm(text.tokenizer.size(), 0);
            txl::load_checkpoint(bm, best_dir);
            std::ostringstream t;
            t << std::fixed << std::setprecision(4) << "best, by memory length:";
            for (std::size_t mem : {std::size_t(0), rc.train.mem_len, 2 * rc.train.mem_len})
                if (mem + rc.train.seq_len <= C::P) {
                    const auto r = txl::evaluate(bm, text.valid, rc.train.batch, rc.train.seq_len, mem);
                    t << " mem_len " << mem << ": " << r.loss << " (" << r.loss / std::log(2.0) << " bits/char);";
                }
            say(t.str());
        }
        std::cout << std::fixed << std::setprecision(4) << "valid_loss " << best.loss << " valid_acc " << best.accuracy
                  << "\n";
    }
    if (a.sample_length) {
        txl::SampleOptions so = sample_options<Model>(rc, -1);
        so.temperature = 0.8;
        so.seed = seed;
        std::cout << "--- sample (temperature 0.8, " << (Model::has_memory ? "mem_len " : "window ")
                  << so.mem_len << ") ---\n" << a.prompt;
        txl::sample(model, prompt_ids, a.sample_length, so,
                    [&](std::int64_t id) { std::cout << text.tokenizer.decode(id) << std::flush; });
        std::cout << "\n";
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Train, evaluate and sample a character-level Transformer-XL (txl) on Tiny Shakespeare"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Print help for every subcommand");

    TrainArgs ta;
    auto* train = app.add_subcommand("train", "Train a model (resumable), validate with memory, and print a sample");
    train->add_option("--data", ta.data,
                      "Text file (default: $TXL_TINY_SHAKESPEARE, else data/tiny_shakespeare.txt in the source tree, "
                      "else downloaded there)");
    train->add_option("--config", ta.config, "Built-in config: labml (labml's experiment: seq_len 2, mem_len 32, Noam) or practical (size ff512, "
                      "seq_len 64, mem_len 64, batch 16, cosine to 3e-3 fitted to --minutes, dropout 0.05; for ten "
                      "minutes) or long (the same at batch 32 with dropout 0.1; for an hour)")
        ->check(CLI::IsMember({"labml", "practical", "long"}))
        ->capture_default_str();
    train->add_option("--model", ta.model,
                      "Model: xl (Transformer-XL, labml's) or vanilla (the same layers without memory)")
        ->check(CLI::IsMember({"xl", "vanilla"}))
        ->capture_default_str();
    train->add_option("--encoding", ta.encoding,
                      "Relative encoding: learned (labml's) or sinusoidal (the paper's, with u and v)")
        ->check(CLI::IsMember({"learned", "sinusoidal"}))
        ->capture_default_str();
    train->add_option("--size", ta.size,
                      "Model shape: base (labml's: d_model 128, 4 heads, d_ff 256, 6 layers), ff512 (d_ff 512), "
                      "deep (8 layers), wide (d_model 192, 6 heads, d_ff 384) or narrow (d_model 96, 3 heads, "
                      "d_ff 192); sizes other than base and ff512 are built for --model xl --encoding learned (default: the "
                      "config's: labml base, practical and long ff512)")
        ->check(CLI::IsMember(k_sizes));
    auto* steps = train->add_option("--steps", ta.steps, "Train until this total step count")->check(whole_in(1, 1'000'000'000));
    auto* minutes = train->add_option("--minutes", ta.minutes, "Train for this many minutes (of this run)")
                        ->check(number_in(0.001, 1e6));
    steps->excludes(minutes);
    train->add_option("--out", ta.out, "Run directory: checkpoint/, metrics.csv, loss.svg")->required();
    train->add_flag("--resume", ta.resume, "Continue the checkpoint in --out (bit-identical to an uninterrupted run)");
    train->add_flag("--force", ta.force, "Start over even if --out already holds a checkpoint (it is replaced)");
    train->add_option("--dropout", ta.dropout, "Residual and feed-forward dropout (default: the config's: labml 0, practical 0.05, long 0.1)")
        ->check(number_in(0.0, 0.99));
    train->add_option("--dropatt", ta.dropatt, "Dropout on the attention weights (default: as --dropout)")
        ->check(number_in(0.0, 0.99));
    train->add_option("--schedule", ta.schedule,
                      "Learning-rate schedule: noam, constant or cosine (default: the config's); a cosine "
                      "schedule ends its decay at --total-steps, else at --steps, else where --minutes ends "
                      "(measured after warm-up; the run then ends there too)")
        ->check(CLI::IsMember({"noam", "constant", "cosine"}));
    train->add_option("--lr", ta.lr, "Peak learning rate (noam: the factor in front) (default: the config's)")
        ->check(number_in(1e-9, 1e3));
    train->add_option("--min-lr", ta.min_lr, "Cosine: the rate at the end (default: the config's)")->check(number_in(0, 1e3));
    train->add_option("--warmup", ta.warmup, "Warm-up steps (default: the config's)")->check(whole_in(0, 1'000'000'000));
    train->add_option("--total-steps", ta.total_steps, "Cosine: the step where the decay ends (default: see --schedule)")
        ->check(whole_in(1, 1'000'000'000));
    train->add_option("--weight-decay", ta.weight_decay,
                      "AdamW's decoupled weight decay on the weight matrices (default: the config's; 0 is labml's Adam)")
        ->check(number_in(0, 10));
    train->add_option("--batch", ta.batch, "Batch size (default: the config's)")->check(whole_in(1, 100'000));
    train->add_option("--seq-len", ta.seq_len, "Segment length T (default: the config's)")->check(whole_in(1, C::P));
    train->add_option("--mem-len", ta.mem_len, "Memory length M (default: the config's)")->check(whole_in(0, C::P));
    train->add_option("--accumulate", ta.accumulate,
                      "Gradient accumulation: run each batch as this many micro-batches (must divide --batch; "
                      "the same gradient, the activations of batch/N streams at a time)")
        ->check(whole_in(1, 100'000));
    train->add_option("--seed", ta.seed, "Seed of the initial weights and of dropout")->capture_default_str()
        ->check(whole_in(0, ~0ull));
    train->add_option("--valid-every", ta.valid_every, "Validate every N steps (default: labml 2000, practical and long 500)")
        ->check(whole_in(1, 1'000'000'000));
    train->add_option("--save-every", ta.save_every, "Checkpoint every N steps (default: labml 2000, practical and long 500)")
        ->check(whole_in(1, 1'000'000'000));
    train->add_option("--log-every", ta.log_every, "Log a line every N steps (default: labml 100, practical and long 50)")
        ->check(whole_in(1, 1'000'000'000));
    train->add_option("--sample-length", ta.sample_length, "Characters to sample at the end (0: none)")->capture_default_str()
        ->check(whole_in(0, 10'000'000));
    train->add_option("--prompt", ta.prompt, "Prompt of the final sample")->capture_default_str();

    std::string ev_ckpt, ev_data;
    long ev_mem = -1;
    auto* eval = app.add_subcommand("eval", "Validation loss and accuracy of a checkpoint, with any memory length");
    bool ev_latest = false, sa_latest = false;
    eval->add_option("--checkpoint", ev_ckpt, "A run directory (its best/, else checkpoint/) or a checkpoint")->required();
    eval->add_flag("--latest", ev_latest, "Use the run's latest checkpoint/, not best/");
    eval->add_option("--data", ev_data, "Text file (default: as for train)");
    eval->add_option("--mem-len", ev_mem, "Memory length (default: the trained one; 0 switches memory off)")
        ->check(whole_in(0, 1'000'000));
    long ev_clamp = -1;
    bool ev_same = false;
    eval->add_flag("--same-length", ev_same, "Every query attends to the same number of keys (mem_len), the paper's evaluation mask");
    eval->add_option("--clamp-len", ev_clamp, "Distances beyond this use its encoding (both encodings; 0: off)")
        ->check(whole_in(0, 1'000'000'000));

    std::string sa_ckpt, sa_prompt;
    std::size_t sa_len = 0, sa_topk = 0;
    double sa_temp = 0.8;
    std::uint64_t sa_seed = 1;
    long sa_mem = -1;
    auto* samp = app.add_subcommand("sample", "Print the prompt and text sampled after it, with memory");
    samp->add_option("--checkpoint", sa_ckpt, "A run directory (its best/, else checkpoint/) or a checkpoint")->required();
    samp->add_flag("--latest", sa_latest, "Use the run's latest checkpoint/, not best/");
    samp->add_option("--prompt", sa_prompt, "Text to start from")->required();
    samp->add_option("--length", sa_len, "Characters to sample")->required()->check(whole_in(0, 10'000'000));
    samp->add_option("--temperature", sa_temp, "Softmax temperature; 0 is greedy")->capture_default_str()
        ->check(number_in(0.0, 100.0));
    samp->add_option("--top-k", sa_topk, "Sample among the k most likely characters (0: all)")->capture_default_str()
        ->check(whole_in(0, 1'000'000));
    samp->add_option("--seed", sa_seed, "Seed of the sampler")->capture_default_str()->check(whole_in(0, ~0ull));
    samp->add_option("--mem-len", sa_mem, "Memory length (default: the trained one)")->check(whole_in(0, 1'000'000));

    CLI11_PARSE(app, argc, argv);

    auto say = [](const std::string& s) { std::cerr << s << "\n"; };
    try {
        note_openblas();
        if (*train) {
            return with_model(ta.model, ta.encoding, train_size(ta, say), [&](auto tag) { return run_train<typename decltype(tag)::type>(ta, say); });
        }
        txl::CharTokenizer vocab;
        RunConfig rc;
        if (*eval) {
            const fs::path ckpt = checkpoint_dir(ev_ckpt, ev_latest);
            load_run(ckpt, vocab, rc);
            say(describe_checkpoint(ckpt));
            return with_model(rc.model, rc.encoding, rc.size, [&](auto tag) {
                using Model = typename decltype(tag)::type;
                auto model = load_model<Model>(ckpt, vocab.size());
                set_clamp_len(*model, ev_clamp);
                const std::size_t mem_for_mask = ev_mem >= 0 ? std::size_t(ev_mem) : rc.train.mem_len;
                if (ev_same) {
                    txl::check<txl::error>(Model::has_memory && mem_for_mask > 0,
                                           "--same-length: needs a model with memory and --mem-len > 0");
                    for (auto& l : model->transformer.layers) l.self_attn.same_length = mem_for_mask;
                }
                const std::string path = shakespeare::find_text(ev_data, say);
                const Text text = load_text(path, &vocab);
                const std::size_t mem = ev_mem >= 0 ? std::size_t(ev_mem) : rc.train.mem_len;
                txl::check<txl::error>(mem + rc.train.seq_len <= C::P, "--mem-len ", mem,
                                       ": mem_len + seq_len must be <= P = ", C::P);
                const auto r = txl::evaluate(*model, text.valid, rc.train.batch, rc.train.seq_len, mem);
                say("evaluated " + std::to_string(r.tokens) + " validation characters, model " + rc.model +
                    ", encoding " + rc.encoding + ", size " + rc.size + ", seq_len " + std::to_string(rc.train.seq_len) + ", batch " + std::to_string(rc.train.batch) +
                    (Model::has_memory ? ", mem_len " + std::to_string(mem) : ", no memory (each segment alone)"));
                std::ostringstream bpc;
                bpc << std::fixed << std::setprecision(4) << "validation loss " << r.loss << " nats/char = "
                    << r.loss / std::log(2.0) << " bits/char, accuracy " << r.accuracy;
                say(bpc.str());
                std::cout << std::fixed << std::setprecision(4) << "valid_loss " << r.loss << " valid_acc "
                          << r.accuracy << "\n";
                return 0;
            });
        }
        if (*samp) {
            const fs::path ckpt = checkpoint_dir(sa_ckpt, sa_latest);
            load_run(ckpt, vocab, rc);
            say(describe_checkpoint(ckpt));
            return with_model(rc.model, rc.encoding, rc.size, [&](auto tag) {
                using Model = typename decltype(tag)::type;
                auto model = load_model<Model>(ckpt, vocab.size());
                const auto prompt = vocab.encode(sa_prompt);  // throws on a character outside the vocabulary
                txl::SampleOptions so = sample_options<Model>(rc, sa_mem);
                so.temperature = sa_temp, so.top_k = sa_topk, so.seed = sa_seed;
                std::cout << sa_prompt;
                txl::sample(*model, prompt, sa_len, so,
                            [&](std::int64_t id) { std::cout << vocab.decode(id) << std::flush; });
                std::cout << "\n";
                return 0;
            });
        }
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
