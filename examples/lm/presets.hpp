#pragma once
// txl_lm's models, each a compiled type, and the training and evaluation settings that go with
// them: `practical` (the Shakespeare example's shape, a full or an adaptive softmax) and the
// paper's base models for enwik8 and WikiText-103 (kimiyoung/transformer-xl run_enwik8_base.sh,
// run_wt103_base.sh), with its post-LayerNorm layer and sinusoidal attention.
#include <string>

#include <txl/txl.hpp>

namespace lm {

// `--preset practical`: d_model 128, 4 heads, d_ff 512, 6 layers, labml's layer; a full softmax,
// or adaptive input and softmax cut at the 1,000th and 3,000th word (div_val 1, tied tables).
using C = txl::Config<float, 128, 4, 512, 6>;
using Clusters = txl::AdaptiveClusters<1, 1000, 3000>;
using FullModel = txl::TransformerXL<C>;
using AdaptiveModel =
    txl::AutoregressiveModel<C, txl::TransformerXLLayer<C>, txl::XLMemory<C>, txl::AdaptiveEmbedding<C, Clusters>,
                             txl::AdaptiveSoftmax<C, Clusters, /*tie weights*/ true>>;

// `enwik8-base`: 12 layers, d_model 512, 8 heads, d_ff 2048, a full softmax over the bytes.
// `wt103-base`: 16 layers, d_model 410, 10 heads, d_ff 2100, adaptive input and softmax cut at
// 20k, 40k and 200k, div_val 1, tied tables.
template <class Cfg>
using PaperLayer = txl::PostNormXLLayer<txl::SinusoidalRelativeAttention<Cfg>, txl::FeedForward<Cfg>>;
using E8 = txl::Config<float, 512, 8, 2048, 12>;
using Enwik8Base = txl::AutoregressiveModel<E8, PaperLayer<E8>>;
using W103 = txl::Config<float, 410, 10, 2100, 16>;
using WT103Clusters = txl::AdaptiveClusters<1, 20000, 40000, 200000>;
using WT103Base =
    txl::AutoregressiveModel<W103, PaperLayer<W103>, txl::XLMemory<W103>, txl::AdaptiveEmbedding<W103, WT103Clusters>,
                             txl::AdaptiveSoftmax<W103, WT103Clusters, true, true>>;

/// How the final evaluation reads the text: segments, memory, `clamp_len` (0: none) and the
/// paper's `same_length` mask (every query sees `mem_len` keys).
struct EvalSettings {
    std::size_t seq_len = 64, mem_len = 64, clamp_len = 0;
    bool same_length = false;
};

/// A preset's training settings (each overridden by its option when given) and its evaluation.
struct Preset {
    std::size_t batch, seq_len, mem_len, warmup;
    double lr, dropout, dropatt;
    EvalSettings eval;
};
inline Preset preset_settings(const std::string& name) {
    if (name == "practical") return {16, 64, 64, 200, 3e-3, 0.1, -1, {64, 64, 0, false}};
    // The paper's: batch 22, segments and memory 512, lr 2.5e-4 without warm-up, dropout 0.1;
    // evaluated over segments of 80 with memory 2100, clamp_len 820 and the same_length mask.
    if (name == "enwik8-base") return {22, 512, 512, 0, 2.5e-4, 0.1, 0.0, {80, 2100, 820, true}};
    // The paper's: batch 60, segments and memory 150; evaluated over 64 with memory 640, clamp 400.
    if (name == "wt103-base") return {60, 150, 150, 0, 2.5e-4, 0.1, 0.0, {64, 640, 400, true}};
    throw txl::error("--preset '" + name + "': expected practical, enwik8-base or wt103-base");
}

/// `f(type_tag<Model>{})` with the model of a preset and softmax (a wrong pair is an error).
template <class F>
int with_model(const std::string& preset, const std::string& softmax, F&& f) {
    txl::check<txl::error>(softmax == "full" || softmax == "adaptive", "--softmax '", softmax,
                           "': expected full or adaptive");
    if (preset == "enwik8-base") {
        txl::check<txl::error>(softmax == "full", "--preset enwik8-base has a full softmax");
        return f(txl::type_tag<Enwik8Base>{});
    }
    if (preset == "wt103-base") {
        txl::check<txl::error>(softmax == "adaptive", "--preset wt103-base needs --softmax adaptive");
        return f(txl::type_tag<WT103Base>{});
    }
    preset_settings(preset);  // an unknown name is an error
    if (softmax == "adaptive") return f(txl::type_tag<AdaptiveModel>{});
    return f(txl::type_tag<FullModel>{});
}

}  // namespace lm
