#pragma once
/// @file io/durable.hpp
/// # Durable directories: all of a save or none of it, on the disk
///
/// A checkpoint is a directory of files, and a process can die (kill -9, a power cut, a full
/// disk) at any byte of writing it. The rules that keep the previous checkpoint safe:
/// - **every write is checked** (`finish_file`: the write, the flush and the close);
/// - **a save is atomic**: the files go into a fresh sibling `.<name>.tmp`, which gets a
///   `checksums.txt` (FNV-1a of every file), is synced to disk (files, then directories) and
///   only then takes the old directory's place, in one exchange where the system has one
///   (Linux `renameat2`), else in two renames that `recover_interrupted_save` can finish;
/// - **a load verifies** every file against `checksums.txt` before anything is read into a
///   model, so a file damaged after it was saved is refused, named, and nothing changes.
///
/// `io/checkpoint.hpp` uses these for the model's parameters, `training/training_checkpoint.hpp`
/// for a whole training state; any program can use `write_directory_atomically` for its own.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <stdio.h>  // renameat2 (glibc 2.28+, with _GNU_SOURCE, which g++ defines)
#include <unistd.h>
#endif

#include "../core/errors.hpp"

namespace txl {

namespace fs = std::filesystem;

/// Flush and close `out` (written to `path`) and check that every byte made it: a full disk or
/// an I/O error shows up at the write, the flush or the close, so all three are checked.
inline void finish_file(std::ofstream& out, const std::string& path) {
    out.flush();
    check<checkpoint_error>(bool(out), path, ": write failed (disk full?)");
    out.close();
    check<checkpoint_error>(bool(out), path, ": write failed when closing (disk full?)");
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

}  // namespace txl
