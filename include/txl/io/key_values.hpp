#pragma once
/// @file io/key_values.hpp
/// # Key-value files: `trainer.txt`, `config.txt`
///
/// The small text files beside a checkpoint's tensors hold one `key value` per line
/// (`step 4000`, `schedule cosine`). `KeyValues` reads one and hands out its values checked:
/// a missing key, or a value that is not what it should be (a whole number in a range, a finite
/// number in a range), is a `checkpoint_error` naming the file, the key and the value. The same
/// two parsers check command-line options (the txl program's validators), so a number means the
/// same thing wherever it is read: no sign where none belongs, no trailing text, nothing
/// infinite or `nan`.

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "../core/errors.hpp"

namespace txl {

/// A whole number in `[lo, hi]`, written as decimal digits only; false (and `out` unchanged) otherwise.
inline bool parse_whole(const std::string& v, unsigned long long lo, unsigned long long hi, unsigned long long& out) {
    const bool digits = !v.empty() && v.size() <= 20 && v.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) return false;
    errno = 0;
    const unsigned long long x = std::strtoull(v.c_str(), nullptr, 10);
    if (errno == ERANGE || x < lo || x > hi) return false;
    out = x;
    return true;
}

/// A finite number in `[lo, hi]`, the whole string read (no space before it either, which
/// `strtod` would skip); false (and `out` unchanged) otherwise.
inline bool parse_number(const std::string& v, double lo, double hi, double& out) {
    if (v.empty() || std::isspace(static_cast<unsigned char>(v[0]))) return false;
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(x) || x < lo || x > hi) return false;
    out = x;
    return true;
}

/// The `key value` lines of a file (the value is the rest of the line after the first space).
class KeyValues {
public:
    /// Reads `path`; a missing or unreadable file is a `checkpoint_error`.
    explicit KeyValues(std::string path) : path_(std::move(path)) {
        std::ifstream in(path_);
        check<checkpoint_error>(bool(in), path_, ": missing or unreadable file");
        std::string line;
        while (std::getline(in, line)) {
            const auto sp = line.find(' ');
            if (sp == std::string::npos) continue;
            map_[line.substr(0, sp)] = line.substr(sp + 1);
        }
    }

    bool has(const std::string& key) const { return map_.count(key) != 0; }
    const std::string& path() const { return path_; }
    const std::map<std::string, std::string>& map() const { return map_; }

    /// The value of `key`; a `checkpoint_error` if there is none.
    const std::string& text(const std::string& key) const {
        const auto it = map_.find(key);
        check<checkpoint_error>(it != map_.end(), path_, ": no '", key, "'");
        return it->second;
    }
    /// The value of `key`, or `fallback` when the file has none (an older file).
    std::string text_or(const std::string& key, const std::string& fallback) const {
        return has(key) ? map_.at(key) : fallback;
    }
    /// `key` as a whole number in `[lo, hi]`.
    unsigned long long whole(const std::string& key, unsigned long long lo, unsigned long long hi) const {
        unsigned long long x = 0;
        check<checkpoint_error>(parse_whole(text(key), lo, hi, x), path_, ": ", key, " '", text(key),
                                "', expected a whole number in [", lo, ", ", hi, "]");
        return x;
    }
    /// `key` as a finite number in `[lo, hi]`.
    double number(const std::string& key, double lo, double hi) const {
        double x = 0;
        check<checkpoint_error>(parse_number(text(key), lo, hi, x), path_, ": ", key, " '", text(key),
                                "', expected a number in [", lo, ", ", hi, "]");
        return x;
    }

private:
    std::string path_;
    std::map<std::string, std::string> map_;
};

/// The `key value` lines of `path` as a map; a missing file is a `checkpoint_error`.
inline std::map<std::string, std::string> read_key_values(const std::string& path) { return KeyValues(path).map(); }

}  // namespace txl
