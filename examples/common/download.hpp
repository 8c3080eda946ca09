#pragma once
// Getting data files the examples ask for: SHA-256 (FIPS 180-4, streaming), a download with curl
// that leaves nothing half-written (a `.part` file until its checksum matches), and unpacking a
// zip archive with unzip into a scratch directory first. Used by the txl program (examples/txl).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>

#include <txl/txl.hpp>

namespace examples {

namespace fs = std::filesystem;

/// SHA-256 of a byte stream: `update` with the bytes in order, then `hex`.
class Sha256 {
public:
    void update(const char* p, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) {
            block_[fill_++] = std::uint8_t(p[i]);
            if (fill_ == 64) compress(), fill_ = 0;
        }
        bytes_ += n;
    }
    /// The digest as lowercase hex (the object is spent afterwards).
    std::string hex() {
        const std::uint64_t bits = bytes_ * 8;
        const char one = char(0x80), zero = 0;
        update(&one, 1);
        while (fill_ != 56) update(&zero, 1);
        for (int i = 7; i >= 0; --i) {
            const char b = char((bits >> (8 * i)) & 0xff);
            update(&b, 1);
        }
        std::string out;
        char buf[9];
        for (auto v : h_) std::snprintf(buf, sizeof buf, "%08x", v), out += buf;
        return out;
    }

private:
    static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
    void compress() {
        static const std::uint32_t k[64] = {
            0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
            0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
            0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
            0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
            0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
            0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
            0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
            0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
        std::uint32_t w[64];
        for (int i = 0; i < 16; ++i)
            w[i] = std::uint32_t(block_[4 * i]) << 24 | std::uint32_t(block_[4 * i + 1]) << 16 |
                   std::uint32_t(block_[4 * i + 2]) << 8 | std::uint32_t(block_[4 * i + 3]);
        for (int i = 16; i < 64; ++i) {
            const std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
            const std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], hh = h_[7];
        for (int i = 0; i < 64; ++i) {
            const std::uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
            const std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        h_[0] += a, h_[1] += b, h_[2] += c, h_[3] += d, h_[4] += e, h_[5] += f, h_[6] += g, h_[7] += hh;
    }

    std::uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                           0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::uint8_t block_[64] = {};
    std::size_t fill_ = 0;
    std::uint64_t bytes_ = 0;
};

inline std::string sha256(const std::string& data) {
    Sha256 h;
    h.update(data.data(), data.size());
    return h.hex();
}

/// SHA-256 of a file, read in 1 MiB pieces.
inline std::string sha256_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    txl::check<txl::error>(bool(in), path.string(), ": cannot be read back");
    Sha256 h;
    std::vector<char> buf(1 << 20);
    while (in) {
        in.read(buf.data(), std::streamsize(buf.size()));
        h.update(buf.data(), std::size_t(in.gcount()));
    }
    txl::check<txl::error>(!in.bad(), path.string(), ": cannot be read back");
    return h.hex();
}

/// `s` as one argument of a POSIX shell command.
inline std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

/// `curl` fetching `url` into `path` within `timeout_s` seconds (to connect, and in all); its exit code.
inline int curl(const std::string& url, const fs::path& path, double timeout_s) {
    const std::string t = std::to_string(timeout_s > 0 ? timeout_s : 1.0);
    const std::string cmd = "curl -fsL --connect-timeout " + t + " --max-time " + t + " -o " +
                            shell_quote(path.string()) + " " + shell_quote(url);
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/// What a curl exit code means, in words.
inline std::string curl_reason(int code, double timeout_s) {
    std::ostringstream t;
    t << timeout_s;
    return code == 28    ? "no answer within " + t.str() + " s"
           : code == 18  ? "the transfer ended early"
           : code == 22  ? "the server refused it (HTTP error)"
           : code == 7   ? "cannot connect"
           : code == 6   ? "unknown host"
           : code == 127 ? "curl is not installed"
                         : "curl exit code " + std::to_string(code);
}

/// Download `url` to `dest` with curl within `timeout_s` seconds, then check its SHA-256; until
/// both succeed the bytes live in `dest.part`, which any failure removes. Errors end with `help`.
inline void fetch(const std::string& url, const fs::path& dest, const std::string& sha256, double timeout_s,
                  const std::string& help) {
    const fs::path part = dest.string() + ".part";
    fs::create_directories(dest.parent_path());
    const int code = curl(url, part, timeout_s);
    if (code != 0) {
        std::error_code ec;
        fs::remove(part, ec);
        throw txl::error("could not download " + url + " (" + curl_reason(code, timeout_s) + "): " + help);
    }
    const std::string got = sha256_file(part);
    if (got != sha256) {
        std::error_code ec;
        fs::remove(part, ec);
        throw txl::error("the download of " + url + " has sha256 " + got + ", expected " + sha256 + ": " + help);
    }
    fs::rename(part, dest);
}

/// Unpack the zip `archive` into `dir`, moving only `members` (paths inside the archive) into
/// place, each after all were extracted; a failure leaves `dir` as it was.
inline void unzip(const fs::path& archive, const fs::path& dir, const std::vector<std::string>& members) {
    const fs::path scratch = dir / (".unpack-" + archive.filename().string());
    std::error_code ec;
    fs::remove_all(scratch, ec);
    fs::create_directories(scratch);
    const std::string cmd =
        "unzip -q -o " + shell_quote(archive.string()) + " -d " + shell_quote(scratch.string()) + " >/dev/null 2>&1";
    const int rc = std::system(cmd.c_str());
    for (const auto& m : members)
        if (rc != 0 || !fs::is_regular_file(scratch / m)) {
            fs::remove_all(scratch, ec);
            throw txl::error(
                archive.string() + ": " +
                (rc != 0 ? "unzip failed (is unzip installed? a damaged archive?)" : "the archive has no " + m));
        }
    for (const auto& m : members) {
        fs::create_directories((dir / m).parent_path());
        fs::rename(scratch / m, dir / m);
    }
    fs::remove_all(scratch, ec);
}

}  // namespace examples
