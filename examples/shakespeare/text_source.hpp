#pragma once
// The text: finding Tiny Shakespeare (--data PATH, else $TXL_TINY_SHAKESPEARE, else
// <source>/data/tiny_shakespeare.txt, else a download from the char-rnn repository with curl,
// verified against its SHA-256 before it is used: examples/common/download.hpp), then reading,
// tokenising and splitting it.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <unistd.h>

#include <txl/txl.hpp>

#include "../common/download.hpp"
#include "../common/spool.hpp"
#include "console.hpp"

namespace shakespeare {

inline constexpr const char* kUrl =
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt";
inline constexpr const char* kSha256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed";

/// Resolve the text's path (see [the file comment](#top)); `log` reports what was chosen.
template <class Log>
std::string find_text(const std::string& flag, Log&& log) {
    if (!flag.empty()) return flag;
    if (const char* env = std::getenv("TXL_TINY_SHAKESPEARE"); env && *env) {
        log(std::string("using $TXL_TINY_SHAKESPEARE = ") + env);
        return env;
    }
    const std::filesystem::path local = std::filesystem::path(TXL_SOURCE_DIR) / "data" / "tiny_shakespeare.txt";
    if (std::filesystem::exists(local)) return local.string();
    log(std::string("downloading Tiny Shakespeare to ") + local.string());
    examples::fetch(kUrl, local, kSha256, 120,
                    std::string("put the file there (") + kUrl + ", sha256 " + kSha256 +
                        "), or pass --data PATH, or set TXL_TINY_SHAKESPEARE");
    return local.string();
}

/// A text, tokenised and split as labml splits it.
struct Text {
    txl::CharTokenizer tokenizer;
    txl::TokenIds train, valid;  // two slices of one buffer, a byte per character for Tiny Shakespeare
};

/// Read, tokenise and split the text in chunks (`txl::read_text_file`: memory near one byte per
/// character), with a progress line for a large file. With `vocab`, encode with it (a character
/// outside it is an error). A pipe or `-` (standard input) is read from a temporary copy.
inline Text load_text(const std::string& given, const txl::CharTokenizer* vocab) {
    const examples::Spooled spooled(given);  // a pipe or standard input: a temporary copy
    const std::string& path = spooled.path();
    txl::ReadTextOptions o;
    o.vocabulary = vocab;
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    const auto t0 = std::chrono::steady_clock::now();
    double shown = -1;
    const bool tty = isatty(STDERR_FILENO);
    if (!ec && size >= (std::uintmax_t(32) << 20))  // a line a second while a large file loads
        o.progress = [&](std::uint64_t done, std::uint64_t total) {
            const double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (now - shown < 1.0 && done < total) return;
            shown = now;
            std::ostringstream m;
            m << "reading " << path << ": " << std::fixed << std::setprecision(0)
              << 100.0 * double(done) / double(total) << "% of " << std::setprecision(1) << double(size) / 1e6
              << " MB (" << (2 * done <= total ? "checking, vocabulary" : "token ids") << "), " << hms(now);
            if (tty)
                std::cerr << "\r\033[K" << m.str() << (done == total ? "\n" : "") << std::flush;
            else
                std::cerr << m.str() << "\n";
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

}  // namespace shakespeare
