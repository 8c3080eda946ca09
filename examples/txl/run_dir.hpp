#pragma once
// The run directory a `train --out DIR` writes, and what `eval` and `sample` read back:
//   checkpoint/   the latest training checkpoint (parameters as labml-named .npy files,
//                 optimizer moments, memory, data position, RNG state, vocab.txt, config.txt)
//                 (config.txt: `config` is the preset; `tokens` and `softmax` are written when
//                 not chars and full, so a character model's directory is the layout of every
//                 run before them)
//   best/         the weights with the lowest validation loss so far, with best.txt
//   metrics.csv   one row per log interval
//   loss.svg      the loss curves, written at the end of a run
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <txl/txl.hpp>

#include "models.hpp"
#include "options.hpp"
#include "presets.hpp"

namespace txl_cli {

/// The checkpoint `eval` and `sample` read from `dir`: a run directory's `best/`, or its
/// `checkpoint/` (the latest) with `latest` or when there is no `best/` yet; `dir` itself if it
/// is a checkpoint.
inline fs::path checkpoint_dir(const fs::path& dir, bool latest = false) {
    for (const char* sub : {"best", "checkpoint"}) txl::recover_interrupted_save(dir / sub);
    if (!latest && fs::exists(dir / "best" / "config.txt")) return dir / "best";
    if (fs::exists(dir / "checkpoint" / "config.txt")) return dir / "checkpoint";
    return dir;
}

/// What `best/best.txt` records: the step and its validation loss and accuracy.
struct Best {
    std::size_t step = 0;
    double loss = HUGE_VAL, accuracy = 0;
    bool found = false;
};
inline Best read_best(const fs::path& dir) {
    Best b;
    std::ifstream in(dir / "best.txt");
    std::string key;
    while (in >> key) {
        if (key == "step")
            in >> b.step;
        else if (key == "valid_loss")
            in >> b.loss;
        else if (key == "valid_acc")
            in >> b.accuracy;
    }
    b.found = b.step > 0 && std::isfinite(b.loss);
    return b;
}
inline void write_best(const fs::path& dir, const txl::EvalStats& v, std::size_t step) {
    const std::string path = (dir / "best.txt").string();
    std::ofstream o(path);
    o << std::setprecision(17) << "step " << step << "\nvalid_loss " << v.loss << "\nvalid_acc " << v.accuracy << "\n";
    txl::finish_file(o, path);
}

/// "loaded DIR (the best so far: step N, validation loss L)" for eval and sample.
inline std::string describe_checkpoint(const fs::path& ckpt) {
    const Best b = read_best(ckpt);
    std::ostringstream m;
    m << "loaded " << ckpt.string();
    if (b.found)
        m << " (the best so far: step " << b.step << ", validation loss " << std::fixed << std::setprecision(4)
          << b.loss << ")";
    else if (ckpt.filename() == "checkpoint")
        m << " (the latest)";
    return m.str();
}

/// config.txt: the run's settings, beside the checkpoint's tensors.
inline void write_config(const fs::path& dir, const RunConfig& r, std::uint64_t seed) {
    const std::string path = (dir / "config.txt").string();
    std::ofstream o(path);
    const auto& t = r.train;
    o << "config " << r.name << "\narchitecture " << r.model << "\nencoding " << r.encoding << "\nsize " << r.size
      << "\nmodel " << shape_of(r.size) << "\nseed " << seed << "\nseq_len " << t.seq_len << "\nmem_len " << t.mem_len
      << "\nbatch " << t.batch << "\nschedule " << txl::Schedule::name(t.schedule.kind) << "\nlr "
      << std::setprecision(17) << t.schedule.lr << "\nwarmup " << t.schedule.warmup << "\ntotal " << t.schedule.total
      << "\nmin_lr " << t.schedule.min_lr << "\nclip " << t.clip << "\ndropout " << t.dropout << "\ndropatt "
      << t.dropatt << "\nweight_decay " << t.weight_decay << "\naccumulate " << t.accumulate << "\n";
    if (r.tokens != "chars") o << "tokens " << r.tokens << "\n";
    if (r.softmax != "full") o << "softmax " << r.softmax << "\n";
    txl::finish_file(o, path);
}

/// The size a config.txt names (before `--size` existed: labml's shape).
inline std::string saved_size(const fs::path& dir) {
    return txl::KeyValues((dir / "config.txt").string()).text_or("size", "base");
}

/// Read config.txt back (a checkpoint's own settings win on resume and eval). Keys that older
/// runs did not write take the value those runs had.
inline RunConfig read_config(const fs::path& dir, std::uint64_t* seed) {
    const txl::KeyValues kv((dir / "config.txt").string());
    const std::string& where = kv.path();
    const std::string size = kv.text_or("size", "base");
    std::string shape;
    try {
        shape = shape_of(size);
    } catch (const txl::error& e) {  // a size this program does not build
        throw txl::checkpoint_error(where + ": " + e.what());
    }
    txl::check<txl::checkpoint_error>(kv.text("model") == shape, where, ": model '", kv.text("model"),
                                      "', this program builds size ", size, " as '", shape, "'");
    RunConfig r;
    try {
        r = builtin_config(kv.text("config"));
        r.size = size;
        r.model = kv.text_or("architecture", "xl");
        if (r.model == "vanilla") r.model = "no-memory";  // its name before 0.1
        r.encoding = kv.text_or("encoding", "learned");
        r.tokens = kv.text_or("tokens", "chars");
        r.softmax = kv.text_or("softmax", "full");
        parse_level(r.tokens);
        find_model(r.size, r.model, r.encoding, r.softmax);
    } catch (const txl::checkpoint_error&) {
        throw;
    } catch (const std::exception& e) {
        throw txl::checkpoint_error(where + ": " + e.what());
    }
    auto& t = r.train;
    t.seq_len = kv.whole("seq_len", 1, P);
    t.mem_len = kv.whole("mem_len", 0, P);
    t.batch = kv.whole("batch", 1, 1'000'000);
    try {
        t.schedule.kind = txl::Schedule::parse(kv.text("schedule"));
    } catch (const txl::checkpoint_error&) {
        throw;
    } catch (const std::exception& e) {
        throw txl::checkpoint_error(where + ": " + e.what());
    }
    t.schedule.lr = kv.number("lr", 0, 1e6);
    t.schedule.warmup = kv.whole("warmup", 0, 1'000'000'000);
    t.schedule.total = kv.whole("total", 0, 1'000'000'000'000);
    t.schedule.min_lr = kv.number("min_lr", 0, 1e6);
    t.clip = kv.number("clip", 0, 1e12);
    t.dropout = kv.number("dropout", 0, 0.99);
    t.dropatt = kv.has("dropatt") ? kv.number("dropatt", -1, 0.99) : -1.0;             // -1: as dropout
    t.weight_decay = kv.has("weight_decay") ? kv.number("weight_decay", 0, 10) : 0.0;  // labml's Adam
    t.accumulate = kv.has("accumulate") ? kv.whole("accumulate", 1, t.batch) : 1;
    if (seed) *seed = kv.whole("seed", 0, ~0ull);
    return r;
}

/// The settings and vocabulary of a checkpoint directory (its config says which model type).
inline Checkpoint load_run(const fs::path& ckpt) {
    txl::open_checkpoint(ckpt);  // before reading any of it
    Checkpoint c;
    c.dir = ckpt;
    c.rc = read_config(ckpt, nullptr);
    c.vocab = Vocabulary::load(ckpt / "vocab.txt", parse_level(c.rc.tokens));
    return c;
}

/// A model of type `Model` with the parameters of a checkpoint directory.
template <class Model>
std::unique_ptr<Model> load_model(const Checkpoint& c) {
    auto model = std::make_unique<Model>(c.vocab.size(), 0);
    txl::read_parameters(*model, c.dir);  // load_run opened the checkpoint
    return model;
}

/// metrics.csv: one row per log interval. A resumed run drops the rows logged after its
/// checkpoint (a run killed between saves replays those steps), so every step appears once.
class MetricsLog {
public:
    static constexpr const char* header =
        "step,tokens,lr,train_loss,train_acc,valid_loss,valid_acc,tokens_per_s,elapsed_s";

    MetricsLog(const fs::path& dir, bool resume, std::size_t step) : path_(dir / "metrics.csv") {
        std::string kept = std::string(header) + "\n";
        if (resume && fs::exists(path_)) {
            std::ifstream in(path_);
            std::string line;
            std::getline(in, line);
            while (std::getline(in, line))
                if (std::strtoull(line.c_str(), nullptr, 10) <= step) kept += line + "\n";
        }
        const fs::path tmp = dir / "metrics.csv.tmp";
        std::ofstream o(tmp);
        o << kept;
        txl::finish_file(o, tmp.string());
        fs::rename(tmp, path_);
    }

    /// One row; a row that cannot be written (a full disk) throws `txl::error`.
    void append(const std::string& row) const {
        std::ofstream o(path_, std::ios::app);
        o << row << "\n";
        txl::finish_file(o, path_.string());
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

/// Loss curves as SVG, from metrics.csv: the training loss of every row, the validation loss
/// where a row has one.
inline void write_loss_svg(const fs::path& csv, const fs::path& svg) {
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
          << "' stroke='#ddd'/><text x='" << L - 8 << "' y='" << py(y) + 4 << "' text-anchor='end'>" << y
          << "</text>\n";
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

}  // namespace txl_cli
