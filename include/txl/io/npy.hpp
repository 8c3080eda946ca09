#pragma once
/// @file io/npy.hpp
/// # The `.npy` format: one array per file
///
/// NumPy's format, the one `numpy.save` writes and `numpy.load` reads: a magic string, a
/// version, a Python-literal header `{'descr': '<f4', 'fortran_order': False, 'shape': (33, 128)}`
/// and the raw little-endian elements in C order. txl writes it through xtensor's `dump_npy`
/// and reads it with its own reader, which checks everything a damaged or foreign file could get
/// wrong (magic, version, dtype, order, shape, length) and throws `txl::checkpoint_error` naming
/// the file, so that no array is ever filled from a file that does not hold exactly it.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#if __has_include(<xtensor/io/xnpy.hpp>)  // xtensor >= 0.26 (see tensor.hpp)
#include <xtensor/io/xnpy.hpp>
#else
#include <xtensor/xnpy.hpp>
#endif

#include "../core/errors.hpp"
#include "../core/tensor.hpp"
#include "durable.hpp"

namespace txl {

/// The `.npy` dtype string of the element types txl reads and writes.
template <class S>
inline const char* npy_dtype() {
    static_assert(std::is_same_v<S, float> || std::is_same_v<S, double> || std::is_same_v<S, std::int64_t>,
                  "npy_dtype: float, double or int64 (token ids)");
    return std::is_same_v<S, float> ? "<f4" : std::is_same_v<S, double> ? "<f8" : "<i8";
}

/// The header of a `.npy` file and where its data starts.
struct NpyHeader {
    std::string descr;
    bool fortran_order = false;
    std::vector<std::size_t> shape;
    std::size_t data_offset = 0;
};

namespace detail {
inline std::string npy_field(const std::string& h, const std::string& key, const std::string& path) {
    const auto k = h.find("'" + key + "'");
    check<checkpoint_error>(k != std::string::npos, path, ": not a valid .npy header (no '", key, "')");
    const auto colon = h.find(':', k);
    check<checkpoint_error>(colon != std::string::npos, path, ": not a valid .npy header");
    return h.substr(colon + 1);
}
}  // namespace detail

/// Read and check the header of the `.npy` file at `path` (versions 1.0, 2.0, 3.0).
inline NpyHeader read_npy_header(std::istream& in, const std::string& path) {
    char magic[8];
    in.read(magic, 8);
    check<checkpoint_error>(in.gcount() == 8 && std::memcmp(magic, "\x93NUMPY", 6) == 0, path,
                            ": not a .npy file (bad magic string)");
    const int major = static_cast<unsigned char>(magic[6]);
    check<checkpoint_error>(major >= 1 && major <= 3, path, ": unsupported .npy version ", major);
    std::size_t len = 0;
    unsigned char b[4] = {0, 0, 0, 0};
    const std::streamsize nlen = major == 1 ? 2 : 4;
    in.read(reinterpret_cast<char*>(b), nlen);
    check<checkpoint_error>(in.gcount() == nlen, path, ": truncated .npy header");
    len = std::size_t(b[0]) | std::size_t(b[1]) << 8 | std::size_t(b[2]) << 16 | std::size_t(b[3]) << 24;
    check<checkpoint_error>(len > 0 && len < (1u << 20), path, ": implausible .npy header length ", len);
    std::string h(len, '\0');
    in.read(h.data(), std::streamsize(len));
    check<checkpoint_error>(in.gcount() == std::streamsize(len), path, ": truncated .npy header");

    NpyHeader out;
    out.data_offset = 8 + std::size_t(nlen) + len;
    std::string d = detail::npy_field(h, "descr", path);
    const auto q1 = d.find('\''), q2 = d.find('\'', q1 + 1);
    check<checkpoint_error>(q1 != std::string::npos && q2 != std::string::npos, path,
                            ": not a valid .npy header (descr)");
    out.descr = d.substr(q1 + 1, q2 - q1 - 1);
    std::string f = detail::npy_field(h, "fortran_order", path);
    f = f.substr(f.find_first_not_of(' '), std::string::npos);
    check<checkpoint_error>(f.rfind("True", 0) == 0 || f.rfind("False", 0) == 0, path,
                            ": not a valid .npy header (fortran_order is neither True nor False)");
    out.fortran_order = f.rfind("True", 0) == 0;
    std::string s = detail::npy_field(h, "shape", path);
    const auto p1 = s.find('('), p2 = s.find(')');
    check<checkpoint_error>(p1 != std::string::npos && p2 != std::string::npos && p1 < p2, path,
                            ": not a valid .npy header (shape)");
    std::string dims = s.substr(p1 + 1, p2 - p1 - 1);
    std::size_t pos = 0;
    while (pos < dims.size()) {
        while (pos < dims.size() && (dims[pos] == ' ' || dims[pos] == ',')) ++pos;
        if (pos >= dims.size()) break;
        check<checkpoint_error>(dims[pos] >= '0' && dims[pos] <= '9', path, ": not a valid .npy header (shape '", dims,
                                "')");
        std::size_t v = 0;
        while (pos < dims.size() && dims[pos] >= '0' && dims[pos] <= '9') {
            const std::size_t digit = std::size_t(dims[pos++] - '0');
            check<checkpoint_error>(v <= (std::size_t(1) << 48) / 10, path,
                                    ": not a valid .npy header (a dimension of '", dims, "' is implausibly large)");
            v = v * 10 + digit;
        }
        out.shape.push_back(v);
    }
    return out;
}

/// Read `path` into `out`, checking dtype, order, shape (`expected`) and length.
template <class S, std::size_t N>
inline void read_npy(const std::string& path, const std::array<std::size_t, N>& expected, tensor<S, N>& out) {
    std::error_code ec;
    check<checkpoint_error>(!fs::exists(path, ec) || fs::is_regular_file(path, ec), path,
                            ": not a regular file (a device, a pipe, a directory?)");
    std::ifstream in(path, std::ios::binary);
    check<checkpoint_error>(bool(in), path, ": missing or unreadable file");
    const NpyHeader h = read_npy_header(in, path);
    check<checkpoint_error>(h.descr == npy_dtype<S>(), path, ": dtype '", h.descr, "', expected '", npy_dtype<S>(),
                            "'");
    check<checkpoint_error>(!h.fortran_order, path, ": Fortran order, expected C order");
    bool same = h.shape.size() == N;
    for (std::size_t i = 0; same && i < N; ++i) same = h.shape[i] == expected[i];
    if (!same) {
        std::ostringstream got, want;
        for (std::size_t i = 0; i < h.shape.size(); ++i) got << (i ? ", " : "") << h.shape[i];
        for (std::size_t i = 0; i < N; ++i) want << (i ? ", " : "") << expected[i];
        throw checkpoint_error(path + ": shape [" + got.str() + "], expected [" + want.str() + "]");
    }
    std::size_t count = 1;
    for (auto e : expected) count *= e;
    in.seekg(0, std::ios::end);
    const std::size_t size = std::size_t(in.tellg());
    check<checkpoint_error>(size == h.data_offset + count * sizeof(S), path, ": ", size, " bytes, expected ",
                            h.data_offset + count * sizeof(S), " (header + ", count, " values): truncated or padded");
    in.seekg(std::streamoff(h.data_offset));
    out = tensor<S, N>::from_shape(expected);
    in.read(reinterpret_cast<char*>(out.data()), std::streamsize(count * sizeof(S)));
    check<checkpoint_error>(bool(in), path, ": read error");
}

/// Write `t` to `path` with `xt::dump_npy`; throws `checkpoint_error` if the write fails.
template <class T>
inline void write_npy(const std::string& path, const T& t) {
    std::ofstream out(path, std::ios::binary);
    check<checkpoint_error>(bool(out), path, ": cannot open for writing");
    xt::detail::dump_npy_stream(out, t);
    finish_file(out, path);
}

}  // namespace txl
