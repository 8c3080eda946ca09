#pragma once
// The text: finding Tiny Shakespeare (--data PATH, else $TXL_TINY_SHAKESPEARE, else
// <source>/data/tiny_shakespeare.txt, else a download from the char-rnn repository with curl,
// verified against its SHA-256 before it is used), then reading, tokenising and splitting it.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <chrono>
#include <iomanip>
#include <iostream>
#include <unistd.h>

#include <txl/txl.hpp>

#include "console.hpp"

namespace shakespeare {

inline constexpr const char* kUrl =
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt";
inline constexpr const char* kSha256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed";

/// SHA-256 (FIPS 180-4) of a byte string, as lowercase hex.
inline std::string sha256(const std::string& data) {
    static const std::uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    std::uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                          0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    auto rotr = [](std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
    std::string m = data;
    const std::uint64_t bits = std::uint64_t(data.size()) * 8;
    m += char(0x80);
    while (m.size() % 64 != 56) m += char(0);
    for (int i = 7; i >= 0; --i) m += char((bits >> (8 * i)) & 0xff);
    for (std::size_t off = 0; off < m.size(); off += 64) {
        std::uint32_t w[64];
        for (int i = 0; i < 16; ++i)
            w[i] = std::uint32_t(std::uint8_t(m[off + 4 * i])) << 24 |
                   std::uint32_t(std::uint8_t(m[off + 4 * i + 1])) << 16 |
                   std::uint32_t(std::uint8_t(m[off + 4 * i + 2])) << 8 |
                   std::uint32_t(std::uint8_t(m[off + 4 * i + 3]));
        for (int i = 16; i < 64; ++i) {
            const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int i = 0; i < 64; ++i) {
            const std::uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
            const std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
    }
    std::ostringstream out;
    for (auto v : h) {
        char buf[9];
        std::snprintf(buf, sizeof buf, "%08x", v);
        out << buf;
    }
    return out.str();
}

/// The bytes of the file a download just wrote (a text given by the user is read, checked and
/// tokenised by `txl::read_text_file`).
inline std::string read_download(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    txl::check<txl::error>(bool(in) && !in.bad(), path, ": the download cannot be read back");
    return s.str();
}

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
    std::filesystem::create_directories(local.parent_path());
    const std::string tmp = local.string() + ".part";
    const std::string cmd = "curl -fsSL --max-time 120 -o '" + tmp + "' '" + kUrl + "'";
    const int rc = std::system(cmd.c_str());
    const std::string help = std::string("put the file there (") + kUrl + ", sha256 " + kSha256 +
                             "), or pass --data PATH, or set TXL_TINY_SHAKESPEARE";
    if (rc != 0) {
        std::filesystem::remove(tmp);
        throw txl::error("could not download Tiny Shakespeare (offline? no curl?): " + help);
    }
    const std::string got = sha256(read_download(tmp));
    if (got != kSha256) {
        std::filesystem::remove(tmp);
        throw txl::error("the download's sha256 is " + got + ", expected " + kSha256 + ": " + help);
    }
    std::filesystem::rename(tmp, local);
    return local.string();
}

/// A text, tokenised and split as labml splits it.
struct Text {
    txl::CharTokenizer tokenizer;
    txl::TokenIds train, valid;  // two slices of one buffer, a byte per character for Tiny Shakespeare
};

/// Read, tokenise and split the text in chunks (`txl::read_text_file`: memory near one byte per
/// character), with a progress line for a large file. With `vocab`, encode with it (a character
/// outside it is an error).
inline Text load_text(const std::string& path, const txl::CharTokenizer* vocab) {
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
