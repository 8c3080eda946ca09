#pragma once
/// @file io/checkpoint.hpp
/// # Checkpoints: a directory of `.npy` files with labml's names
///
/// Every parameter is saved as `<name>.npy` (e.g. `transformer.layers.0.self_attn.key_pos_bias.npy`)
/// with PyTorch's shape and the model's dtype (`<f4` or `<f8`), so a labml `state_dict` dumped
/// with `numpy.save` loads into txl, and a txl checkpoint loads into PyTorch.
///
/// **Saving is atomic**: the files are written into a fresh sibling directory which is then
/// renamed into place; an interrupted save leaves the old checkpoint (or nothing), never half
/// of one. **Loading is all or nothing**: every file is read and checked (present, a valid
/// `.npy`, the right dtype, C order, shape and length, no unknown `.npy` names) before any
/// parameter is overwritten; a failure throws `txl::checkpoint_error` naming the file.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>
#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <stdio.h>  // renameat2 (glibc 2.28+, with _GNU_SOURCE, which g++ defines)
#include <unistd.h>
#endif

#if __has_include(<xtensor/io/xnpy.hpp>)  // xtensor >= 0.26 (see tensor.hpp)
#include <xtensor/io/xnpy.hpp>
#else
#include <xtensor/xnpy.hpp>
#endif

#include "../core/errors.hpp"
#include "../core/tensor.hpp"

namespace txl {

namespace fs = std::filesystem;

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

/// Flush and close `out` (written to `path`) and check that every byte made it: a full disk or
/// an I/O error shows up at the write, the flush or the close, so all three are checked.
inline void finish_file(std::ofstream& out, const std::string& path) {
    out.flush();
    check<checkpoint_error>(bool(out), path, ": write failed (disk full?)");
    out.close();
    check<checkpoint_error>(bool(out), path, ": write failed when closing (disk full?)");
}

/// Write `t` to `path` with `xt::dump_npy`; throws `checkpoint_error` if the write fails.
template <class T>
inline void write_npy(const std::string& path, const T& t) {
    std::ofstream out(path, std::ios::binary);
    check<checkpoint_error>(bool(out), path, ": cannot open for writing");
    xt::detail::dump_npy_stream(out, t);
    finish_file(out, path);
}

namespace detail {
/// FNV-1a (64 bit) of a file's bytes, as 16 hex digits: cheap, and any changed byte changes it.
inline std::string file_checksum(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    check<checkpoint_error>(bool(in), path.string(), ": missing or unreadable file");
    std::uint64_t h = 1469598103934665603ull;
    std::vector<char> buf(1 << 16);
    while (in) {
        in.read(buf.data(), std::streamsize(buf.size()));
        for (std::streamsize i = 0; i < in.gcount(); ++i)
            h = (h ^ std::uint8_t(buf[std::size_t(i)])) * 1099511628211ull;
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    return hex;
}

/// Every regular file under `dir` (sorted, paths relative to `dir`), but not `checksums.txt`.
inline std::vector<fs::path> files_under(const fs::path& dir) {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file() && e.path().filename() != "checksums.txt") files.push_back(fs::relative(e.path(), dir));
    std::sort(files.begin(), files.end());
    return files;
}

/// Flush `path` (a file or a directory) to the disk, so a power cut after it returns keeps it.
inline void sync_to_disk(const fs::path& path) {
#if defined(__unix__) || defined(__APPLE__)
    const int fd = ::open(path.c_str(), O_RDONLY);
    check<checkpoint_error>(fd >= 0, path.string(), ": cannot open to sync it to disk");
    const int r = ::fsync(fd);
    ::close(fd);
    check<checkpoint_error>(r == 0, path.string(), ": sync to disk failed (I/O error?)");
#else
    (void)path;
#endif
}

/// Finish a directory a save has filled: `checksums.txt` (one line per file: checksum, path),
/// then every file and directory in it synced to disk.
inline void seal_directory(const fs::path& dir) {
    const auto files = files_under(dir);
    {
        const std::string path = (dir / "checksums.txt").string();
        std::ofstream out(path);
        check<checkpoint_error>(bool(out), path, ": cannot open for writing");
        out << "# fnv1a64 of every file of this checkpoint, checked when it is loaded\n";
        for (const auto& f : files) out << file_checksum(dir / f) << " " << f.generic_string() << "\n";
        finish_file(out, path);
    }
    for (const auto& e : fs::recursive_directory_iterator(dir)) sync_to_disk(e.path());
    sync_to_disk(dir);
}

/// Swap two directory entries in one step (Linux `renameat2(RENAME_EXCHANGE)`): a reader sees
/// the old directory or the new one, never neither. False where the system cannot.
inline bool exchange_paths(const fs::path& a, const fs::path& b) {
#if defined(__linux__) && defined(RENAME_EXCHANGE)
    return ::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0;
#else
    (void)a, (void)b;
    return false;
#endif
}

inline fs::path sibling(const fs::path& dir, const char* suffix) {
    const fs::path target = fs::absolute(dir).lexically_normal();
    return target.parent_path() / ("." + target.filename().string() + suffix);
}
}  // namespace detail

/// If a save was interrupted between its two renames (where the system has no atomic
/// exchange), `dir` is missing and its previous version waits beside it as `.<name>.old`: put
/// it back. Returns whether it did. Loading calls this, so the surviving copy is never lost.
inline bool recover_interrupted_save(const fs::path& dir) {
    const fs::path old = detail::sibling(dir, ".old");
    std::error_code ec;
    if (fs::exists(dir, ec) || !fs::is_directory(old, ec)) return false;
    fs::rename(old, fs::absolute(dir).lexically_normal(), ec);
    check<checkpoint_error>(!ec, old.string(), ": cannot restore the previous checkpoint: ", ec.message());
    return true;
}

/// Check every file of a checkpoint directory against its `checksums.txt` (when it has one:
/// checkpoints written before checksums were added have none); throws `checkpoint_error`
/// naming the file that changed after it was saved.
inline void verify_checksums(const fs::path& dir) {
    std::ifstream in(dir / "checksums.txt");
    if (!in) return;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto sp = line.find(' ');
        check<checkpoint_error>(sp == 16, (dir / "checksums.txt").string(), ": malformed line '", line, "'");
        const fs::path file = dir / line.substr(sp + 1);
        check<checkpoint_error>(fs::is_regular_file(file), file.string(), ": listed in checksums.txt but missing");
        check<checkpoint_error>(detail::file_checksum(file) == line.substr(0, 16), file.string(),
                                ": checksum mismatch: the file changed after it was saved (damaged?)");
    }
}

/// Replace `dir` by a directory filled by `fill(tmp_dir)`, atomically: `fill` writes into a
/// fresh sibling, which gets a `checksums.txt`, is synced to disk and only then takes `dir`'s
/// place: in one exchange where the system has one (Linux), else by moving `dir` aside and
/// the new one in (a process killed between the two leaves `.<name>.old`, which
/// `recover_interrupted_save` puts back). If `dir` exists it is only replaced when `overwrite`
/// is true. Any failure leaves `dir` as it was and throws.
template <class Fill>
inline void write_directory_atomically(const fs::path& dir, bool overwrite, Fill&& fill) {
    const fs::path target = fs::absolute(dir).lexically_normal();
    const fs::path parent = target.parent_path();
    std::error_code ec;
    if (!parent.empty()) fs::create_directories(parent, ec);
    check<checkpoint_error>(!ec, parent.string(), ": cannot create directory: ", ec.message());
    check<checkpoint_error>(overwrite || !fs::exists(target), target.string(),
                            ": already exists (pass overwrite to replace it)");
    const fs::path tmp = parent / ("." + target.filename().string() + ".tmp");
    fs::remove_all(tmp, ec);
    fs::create_directory(tmp, ec);
    check<checkpoint_error>(!ec, tmp.string(), ": cannot create directory: ", ec.message());
    try {
        fill(tmp);
        detail::seal_directory(tmp);
    } catch (...) {
        fs::remove_all(tmp, ec);
        throw;
    }
    if (fs::exists(target) && detail::exchange_paths(tmp, target)) {
        fs::remove_all(tmp, ec);  // now the previous version
    } else {
        const fs::path old = parent / ("." + target.filename().string() + ".old");
        fs::remove_all(old, ec);
        if (fs::exists(target)) {
            fs::rename(target, old, ec);
            check<checkpoint_error>(!ec, target.string(), ": cannot move aside: ", ec.message());
        }
        fs::rename(tmp, target, ec);
        if (ec) {
            const std::string why = ec.message();
            fs::rename(old, target, ec);  // put the previous version back
            throw checkpoint_error(target.string() + ": cannot rename into place: " + why);
        }
        fs::remove_all(old, ec);
    }
    if (!parent.empty()) detail::sync_to_disk(parent);
}

/// Write every parameter of `module` (anything with `visit`) as `<dir>/<name>.npy`.
template <class Module>
inline void save_parameters(Module& module, const fs::path& dir) {
    module.visit([&](const std::string& name, auto& p) { write_npy((dir / (name + ".npy")).string(), p.value); });
}

/// Save `module`'s parameters as a checkpoint directory, atomically.
template <class Module>
inline void save_checkpoint(Module& module, const fs::path& dir, bool overwrite = false) {
    write_directory_atomically(dir, overwrite, [&](const fs::path& tmp) { save_parameters(module, tmp); });
}

/// Load every parameter of `module` from `<dir>/<name>.npy`. All files are read and checked
/// first; the parameters change only if every one of them is valid. A `.npy` file in `dir`
/// whose name is not a parameter of the module is an error too (a checkpoint of another model).
template <class Module>
inline void load_checkpoint(Module& module, const fs::path& dir, bool verify = true) {
    recover_interrupted_save(dir);
    check<checkpoint_error>(fs::is_directory(dir), dir.string(), ": checkpoint directory not found");
    if (verify) verify_checksums(dir);
    std::set<std::string> names;
    module.visit([&](const std::string& name, auto&) { names.insert(name + ".npy"); });
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string f = e.path().filename().string();
        if (e.is_regular_file() && e.path().extension() == ".npy")
            check<checkpoint_error>(names.count(f) == 1, e.path().string(),
                                    ": not a parameter of this model (unexpected name)");
    }
    // Pass 1: read everything into staging tensors; pass 2: move them in.
    std::vector<std::function<void()>> commit;
    module.visit([&](const std::string& name, auto& p) {
        using T = std::decay_t<decltype(p.value)>;
        constexpr std::size_t N = T::rank;
        std::array<std::size_t, N> shape{};
        std::copy(p.value.shape().begin(), p.value.shape().end(), shape.begin());
        auto staged = std::make_shared<T>();
        read_npy((dir / (name + ".npy")).string(), shape, *staged);
        // Weights that hold NaN or infinity (a diverged run saved by other means, a damaged file)
        // would only ever produce NaN: refused, naming the file.
        for (const auto& v : *staged)
            if (!std::isfinite(double(v)))  // (the message, a path, is built only then)
                throw checkpoint_error(detail::concat((dir / (name + ".npy")).string(),
                                                      ": holds a value that is not finite (", v,
                                                      "); refusing to load it"));
        // Copy into the existing storage: flat views (ParamRef) of the parameters stay valid.
        commit.push_back([&p, staged] { std::copy(staged->begin(), staged->end(), p.value.begin()); });
    });
    for (auto& c : commit) c();
}

}  // namespace txl
