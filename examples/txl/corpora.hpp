#pragma once
// The paper's corpora by name, fetched into a data directory when missing and read as the
// paper's scripts prepare them (kimiyoung/transformer-xl prep_enwik8.py, prep_text8.py,
// data_utils.py):
//
// | name | file at the address | read as | split | vocabulary |
// |---|---|---|---|---|
// | enwik8 | enwik8.zip (enwik8) | bytes | 90M / 5M / 5M | every byte of the file, by frequency |
// | text8 | text8.zip (text8) | characters | 90M / 5M / 5M | every character of the file |
// | wikitext-103 | wikitext-103-v1.zip (wiki.{train,valid,test}.tokens) | words, by spaces | the files | the training file's, by frequency |
// | wikitext-2 | wikitext-2-v1.zip (the same three) | words, by spaces | the files | all three files' (the paper's rule) |
// | shakespeare | tiny_shakespeare.txt | --tokens | 90% / 10% | the training part's |
//
// With neither `--data` nor `--corpus` the text is Tiny Shakespeare: `$TXL_TINY_SHAKESPEARE`,
// else `data/tiny_shakespeare.txt` in the source tree, else downloaded there.
//
// The 90M/5M/5M split is 90/5/5 percent of the file (the standard split of the 100,000,000-byte
// files, and the same proportions for a smaller file of the same layout). The addresses and
// SHA-256 sums are the corpora's public ones. `TXL_DATA_URL` points the downloads at a mirror of
// one's own (`$TXL_DATA_URL/<file>`), whose `SHA256SUMS` (sha256sum's format) vouches for its
// files instead; the tests serve small files of the same layouts that way.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "../common/download.hpp"
#include "text.hpp"

namespace txl_cli {

struct NamedCorpus {
    const char* name;
    const char* file;                  ///< what the address serves
    const char* url;                   ///< its public address
    const char* sha256;                ///< of `file`
    std::vector<std::string> members;  ///< the texts inside the zip (none: `file` is the text)
    Level level;
    bool vocab_from_all_files;  ///< wikitext-2: train, valid and test counted; wikitext-103: train only
};

inline const std::vector<NamedCorpus>& named_corpora() {
    static const std::vector<NamedCorpus> all{
        {"enwik8",
         "enwik8.zip",
         "http://mattmahoney.net/dc/enwik8.zip",
         "547994d9980ebed1288380d652999f38a14fe291a6247c157c3d33d4932534bc",
         {"enwik8"},
         Level::bytes,
         true},
        {"text8",
         "text8.zip",
         "http://mattmahoney.net/dc/text8.zip",
         "a6640522afe85d1963ad56c05b0ede0a0c000dddc9671758a6cc09b7a38e5232",
         {"text8"},
         Level::chars,
         true},
        {"wikitext-103",
         "wikitext-103-v1.zip",
         "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-103-v1.zip",
         "242ba0f20b329cfdf1ccc61e9e9e5b59becf189db7f7a81cd2a0e2fc31539590",
         {"wikitext-103/wiki.train.tokens", "wikitext-103/wiki.valid.tokens", "wikitext-103/wiki.test.tokens"},
         Level::words,
         false},
        {"wikitext-2",
         "wikitext-2-v1.zip",
         "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip",
         "92675f1d63015c1c8b51f1656a52d5bdbc33aafa60cc47a218a66e7ee817488c",
         {"wikitext-2/wiki.train.tokens", "wikitext-2/wiki.valid.tokens", "wikitext-2/wiki.test.tokens"},
         Level::words,
         true},
        {"shakespeare",
         "tiny_shakespeare.txt",
         "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
         "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
         {},
         Level::chars,
         false},
    };
    return all;
}

inline const NamedCorpus& find_corpus(const std::string& name) {
    std::string names;
    for (const auto& c : named_corpora()) {
        if (name == c.name) return c;
        names += std::string(names.empty() ? "" : ", ") + c.name;
    }
    throw txl::error("--corpus '" + name + "': expected one of " + names);
}

/// Where `c.file` comes from and the SHA-256 it must have: its public address, or the mirror's.
inline std::pair<std::string, std::string> source_of(const NamedCorpus& c, const fs::path& dir, double timeout) {
    const char* mirror = std::getenv("TXL_DATA_URL");
    if (!mirror || !*mirror) return {c.url, c.sha256};
    const std::string base = std::string(mirror) + (std::string(mirror).back() == '/' ? "" : "/");
    const fs::path sums = dir / ".SHA256SUMS";
    std::error_code ec;
    fs::create_directories(dir);
    const int code = examples::curl(base + "SHA256SUMS", sums, timeout);
    const bool got = code == 0;
    std::ifstream in(sums);
    std::map<std::string, std::string> sum;
    for (std::string hex, file; got && in >> hex >> file;) sum[file.front() == '*' ? file.substr(1) : file] = hex;
    fs::remove(sums, ec);
    txl::check<txl::error>(got, "could not get ", base, "SHA256SUMS from the mirror TXL_DATA_URL (",
                           examples::curl_reason(code, timeout), ")");
    txl::check<txl::error>(sum.count(c.file) > 0, "the mirror's SHA256SUMS (", base, ") does not list ", c.file);
    return {base + c.file, sum[c.file]};
}

/// The corpus's texts in `dir`, fetched and unpacked first if missing. Returns their paths.
inline std::vector<fs::path> prepare(const NamedCorpus& c, const fs::path& dir, double timeout,
                                     const std::function<void(const std::string&)>& say) {
    std::vector<fs::path> texts;
    for (const auto& m : c.members) texts.push_back(dir / m);
    if (c.members.empty()) texts.push_back(dir / c.file);
    bool ready = true;
    for (const auto& t : texts) ready = ready && fs::is_regular_file(t);
    if (ready) return texts;
    const fs::path archive = dir / c.file;
    if (!fs::is_regular_file(archive)) {
        const auto [url, sha] = source_of(c, dir, timeout);
        say("downloading " + std::string(c.name) + " from " + url + " to " + archive.string());
        examples::fetch(url, archive, sha, timeout,
                        "put " + std::string(c.file) + " (sha256 " + sha + ") in " + dir.string() +
                            ", or set TXL_DATA_URL to a mirror");
    }
    if (!c.members.empty()) {
        say("unpacking " + archive.string());
        examples::unzip(archive, dir, c.members);
    }
    return texts;
}

/// Read a named corpus as the paper does (see the file comment); `level` only for shakespeare.
/// With `given` (a trained model's vocabulary), encode with it instead of building one.
inline Corpus load_named(const NamedCorpus& c, const std::vector<fs::path>& texts, Level level, std::size_t min_count,
                         const Vocabulary* given = nullptr) {
    if (c.members.empty()) return load_corpus(texts[0].string(), level, min_count, given);
    Corpus out;
    out.vocab.level = c.level;
    if (c.level != Level::words) {  // one file: 90% / 5% / 5%
        const std::string text = read_all(texts[0].string());
        out.bytes = text.size();
        txl::TokenIds all(encode_whole(text, c.level, out.vocab, given));
        const std::size_t n = all.size(), part = n / 20;
        out.train = all.slice(0, n - 2 * part), out.valid = all.slice(n - 2 * part, n - part);
        out.test = all.slice(n - part, n);
        out.tokens = n;
        return out;
    }
    std::vector<std::vector<std::string>> split(3);
    for (std::size_t i = 0; i < 3; ++i) {
        const std::string text = read_all(texts[i].string());
        out.bytes += text.size();
        split[i] = txl::WordTokenizer::split(text, txl::WordSplit::whitespace);
    }
    if (given) {
        out.vocab.words = given->words;
    } else {
        std::vector<std::string> counted = split[0];
        if (c.vocab_from_all_files)
            for (std::size_t i = 1; i < 3; ++i) counted.insert(counted.end(), split[i].begin(), split[i].end());
        out.vocab.words = txl::WordTokenizer::build(counted, min_count);
    }
    out.train = out.vocab.words.encode(split[0]);
    out.valid = out.vocab.words.encode(split[1]);
    out.test = out.vocab.words.encode(split[2]);
    out.tokens = out.train.size() + out.valid.size() + out.test.size();
    return out;
}

}  // namespace txl_cli

namespace txl_cli {

/// Where the text comes from and how it is cut into tokens.
struct DataArgs {
    std::string data, corpus, data_dir = std::string(TXL_SOURCE_DIR) + "/data", tokens;
    double download_timeout = 600;
    std::size_t min_count = 0;  ///< 0: the text's default (2; 1 for WikiText, which has its own <unk>)
};

/// The default text's path: `$TXL_TINY_SHAKESPEARE`, else the data directory's copy, fetched if missing.
inline std::string default_text(const DataArgs& d, const std::function<void(const std::string&)>& say) {
    if (const char* env = std::getenv("TXL_TINY_SHAKESPEARE"); env && *env) {
        say(std::string("using $TXL_TINY_SHAKESPEARE = ") + env);
        return env;
    }
    return prepare(find_corpus("shakespeare"), d.data_dir, d.download_timeout, say)[0].string();
}

/// What fraction of a split `<unk>` stands for, in percent.
inline double unk_share(const Vocabulary& v, const txl::TokenIds& ids) {
    const std::int64_t unk = v.words.id(txl::WordTokenizer::unk);
    std::size_t n = 0;
    for (std::size_t i = 0; i < ids.size(); ++i) n += ids[i] == unk;
    return 100.0 * double(n) / double(std::max<std::size_t>(ids.size(), 1));
}

/// The text as `d` says, tokenised with `given` (a trained model's vocabulary) or its own, and a
/// line saying what was read: "NAME: B bytes, N chars, vocabulary V; training T, validation V".
inline Corpus load_text(DataArgs d, const Vocabulary* given, const std::function<void(const std::string&)>& say) {
    Level level = parse_level(d.tokens.empty() ? "chars" : d.tokens);
    std::string name = d.corpus.empty() ? d.data : d.corpus;
    Corpus corpus;
    if (!d.corpus.empty()) {
        const NamedCorpus& named = find_corpus(d.corpus);
        txl::check<txl::error>(d.tokens.empty() || named.members.empty() || level == named.level, d.corpus,
                               " is read as ", level_name(named.level), ", not --tokens ", d.tokens);
        if (!named.members.empty()) level = named.level;
        if (d.min_count == 0) d.min_count = level == Level::words && !named.members.empty() ? 1 : 2;
        corpus = load_named(named, prepare(named, d.data_dir, d.download_timeout, say), level, d.min_count, given);
    } else {
        if (d.data.empty()) name = d.data = default_text(d, say);
        corpus = load_corpus(d.data, level, d.min_count ? d.min_count : 2, given);
    }
    std::ostringstream m;
    m << name << ": " << corpus.bytes << " bytes, " << corpus.tokens << " " << level_name(level) << ", vocabulary "
      << corpus.vocab.size() << "; training " << corpus.train.size() << ", validation " << corpus.valid.size();
    if (!corpus.test.empty()) m << ", test " << corpus.test.size();
    if (level == Level::words && corpus.vocab.words.has_unk())
        m << std::fixed << std::setprecision(1) << "; <unk> " << unk_share(corpus.vocab, corpus.train)
          << "% of training, " << unk_share(corpus.vocab, corpus.valid) << "% of validation";
    say(m.str());
    return corpus;
}

}  // namespace txl_cli
