#pragma once
// A text that arrives through a pipe or standard input (`--data -`, `--data <(zcat text.gz)`),
// copied to a temporary file first: txl's text reader takes two passes over a file (the
// vocabulary, then the ids), which a pipe cannot give. A device (`/dev/zero`) is not copied: it
// may never end; the reader refuses it.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <unistd.h>

#include <txl/txl.hpp>

namespace examples {

/// `path` as a file the reader can read twice: itself, or a temporary copy of a pipe (removed
/// with this object).
class Spooled {
public:
    explicit Spooled(const std::string& path) : path_(path) {
        namespace fs = std::filesystem;
        std::error_code ec;
        if (path != "-" && !fs::is_fifo(path, ec)) return;
        const char* dir = std::getenv("TMPDIR");
        std::string name = std::string(dir && *dir ? dir : "/tmp") + "/txl-text-XXXXXX";
        const int fd = mkstemp(name.data());
        txl::check<txl::error>(fd >= 0, "cannot create a temporary file in ", name.substr(0, name.size() - 15),
                               " to hold the text from ", path == "-" ? std::string("standard input") : path);
        ::close(fd);
        path_ = name, temporary_ = true;
        std::ofstream out(path_, std::ios::binary);
        std::ifstream pipe;
        if (path != "-") pipe.open(path, std::ios::binary);
        std::istream& in = path == "-" ? std::cin : pipe;
        out << in.rdbuf();
        out.close();
        txl::check<txl::error>(!in.bad() && bool(out), "cannot copy the text from ",
                               path == "-" ? std::string("standard input") : path, " to ", path_, " (disk full?)");
    }
    ~Spooled() {
        if (temporary_) std::remove(path_.c_str());
    }
    Spooled(const Spooled&) = delete;
    Spooled& operator=(const Spooled&) = delete;

    const std::string& path() const { return path_; }

private:
    std::string path_;
    bool temporary_ = false;
};

}  // namespace examples
