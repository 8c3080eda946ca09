#pragma once
// What the command line and the log share: the numeric options' validators, times as h:mm:ss,
// a progress line, the OpenBLAS note, and Ctrl-C / SIGTERM turned into "finish the step, save,
// exit".
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <unistd.h>

#include <txl/txl.hpp>

extern "C" char* openblas_get_corename(void);

namespace txl_cli {

/// Validators for numeric options, with the parsers config.txt is read with
/// (`txl/io/key_values.hpp`): a finite number in `[lo, hi]` (CLI11's own `Range` lets `nan`
/// through, and reads `-5` into an unsigned option as $2^{64} - 5$), or a whole number in `[lo, hi]`.
/// CLI11 puts the option's name in front of the message.
inline CLI::Validator number_in(double lo, double hi) {
    const std::string range = "[" + CLI::detail::to_string(lo) + ", " + CLI::detail::to_string(hi) + "]";
    return CLI::Validator(
        [lo, hi, range](std::string& v) -> std::string {
            double x = 0;
            return txl::parse_number(v, lo, hi, x) ? std::string()
                                                   : "expected a number in " + range + ", got '" + v + "'";
        },
        "NUMBER in " + range);
}
inline CLI::Validator whole_in(unsigned long long lo, unsigned long long hi) {
    const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    return CLI::Validator(
        [lo, hi, range](std::string& v) -> std::string {
            unsigned long long x = 0;
            return txl::parse_whole(v, lo, hi, x) ? std::string()
                                                  : "expected a whole number in " + range + ", got '" + v + "'";
        },
        "INT in " + range);
}

/// Seconds as "mm:ss", or "h:mm:ss" from an hour on.
inline std::string hms(double s) {
    const long t = long(s + 0.5);
    char b[32];
    if (t >= 3600)
        std::snprintf(b, sizeof b, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        std::snprintf(b, sizeof b, "%02ld:%02ld", t / 60, t % 60);
    return b;
}

/// A progress line on stderr for a long job of `total` units (`(done, total)` calls), at most one
/// a second: redrawn in place on a terminal, a line each otherwise; with the time taken.
class ProgressLine {
public:
    ProgressLine(std::string what, double total_bytes) : what_(std::move(what)), mb_(total_bytes / 1e6) {}
    void operator()(std::uint64_t done, std::uint64_t total) {
        const double now = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
        if (now - shown_ < 1.0 && done < total) return;
        shown_ = now;
        std::ostringstream m;
        m << what_ << ": " << std::fixed << std::setprecision(0) << 100.0 * double(done) / double(total) << "% of "
          << std::setprecision(1) << mb_ << " MB (" << (2 * done <= total ? "checking, vocabulary" : "token ids")
          << "), " << hms(now);
        if (isatty(STDERR_FILENO))
            std::cerr << "\r\033[K" << m.str() << (done == total ? "\n" : "") << std::flush;
        else
            std::cerr << m.str() << "\n";
    }

private:
    std::string what_;
    double mb_;
    std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
    double shown_ = -1;
};

/// Once, on stderr: OpenBLAS runs a generic kernel on a CPU that has AVX2 or AVX-512, and what
/// to set. Never when the user chose a kernel.
inline void note_openblas() {
    if (std::getenv("OPENBLAS_CORETYPE")) return;  // the user chose; never second-guess it
    const std::string core = openblas_get_corename();
    const bool generic = core == "Prescott" || core == "Core2" || core == "Nehalem" || core == "generic";
    if (generic && txl::cpu_supports(txl::GemmKernel::avx512))
        std::cerr << "note: OpenBLAS runs its generic '" << core << "' kernel on this AVX-512 CPU; "
                  << "export OPENBLAS_CORETYPE=SkylakeX for several times faster training\n";
    else if (generic && txl::cpu_supports(txl::GemmKernel::avx2))
        std::cerr << "note: OpenBLAS runs its generic '" << core << "' kernel on this AVX2 CPU; "
                  << "export OPENBLAS_CORETYPE=Haswell for several times faster training\n";
}

/// Ctrl-C (SIGINT) and SIGTERM (kill, timeout, a container stopping) while a run trains: the
/// step finishes, the run saves and exits non-zero. Before (reading and checking the text and
/// the checkpoint) and after (the final sample) they end the program at once, as by default.
/// A signal the program was started with ignored (`nohup`, a background job of a script) stays
/// ignored, as the shell meant.
struct Interrupts {
    static inline std::atomic<bool> raised{false};
    static inline std::atomic<int> signal{0};

    static void catch_them() {
        for (int sig : {SIGINT, SIGTERM}) {
            struct sigaction now {};
            if (sigaction(sig, nullptr, &now) == 0 && now.sa_handler == SIG_IGN) continue;
            std::signal(sig, [](int got) { signal = got, raised = true; });
        }
    }
    static void release_them() {
        for (int sig : {SIGINT, SIGTERM}) {
            struct sigaction now {};
            if (sigaction(sig, nullptr, &now) == 0 && now.sa_handler != SIG_IGN) std::signal(sig, SIG_DFL);
        }
    }
};

}  // namespace txl_cli
