/* A failing disk, injected: an LD_PRELOAD library that makes one write(2) (or writev, or fsync)
 * to a chosen file fail, so a test can make each write of a save fail in turn.
 *
 *   TXL_FAIL_UNDER=S   only files whose path contains S count (default: every regular file)
 *   TXL_FAIL_WRITE=N   the N-th counted write or writev fails with ENOSPC (disk full)
 *   TXL_FAIL_FSYNC=N   the N-th counted fsync fails with EIO
 *   TXL_FAIL_REPORT=1  print "failwrite: W writes, F fsyncs" on stderr at exit (to learn N's range)
 *
 * Used by tests/reliability/reliability.py (`--failwrite`). Linux only. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static long writes, fsyncs;

static long env_long(const char* name) {
    const char* s = getenv(name);
    return s ? atol(s) : 0;
}

/* Whether `fd` is a regular file (or, with `dirs`, a directory) whose path contains TXL_FAIL_UNDER. */
static int counted(int fd, int dirs) {
    struct stat st;
    if (fd <= 2 || fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || (dirs && S_ISDIR(st.st_mode)))) return 0;
    const char* under = getenv("TXL_FAIL_UNDER");
    if (!under || !*under) return 1;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    const ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return 0;
    path[n] = '\0';
    return strstr(path, under) != NULL;
}

ssize_t write(int fd, const void* buf, size_t n) {
    static ssize_t (*real)(int, const void*, size_t);
    if (!real) real = (ssize_t(*)(int, const void*, size_t))dlsym(RTLD_NEXT, "write");
    if (counted(fd, 0) && ++writes == env_long("TXL_FAIL_WRITE")) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd, buf, n);
}

ssize_t writev(int fd, const struct iovec* iov, int cnt) {
    static ssize_t (*real)(int, const struct iovec*, int);
    if (!real) real = (ssize_t(*)(int, const struct iovec*, int))dlsym(RTLD_NEXT, "writev");
    if (counted(fd, 0) && ++writes == env_long("TXL_FAIL_WRITE")) {
        errno = ENOSPC;
        return -1;
    }
    return real(fd, iov, cnt);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (counted(fd, 1) && ++fsyncs == env_long("TXL_FAIL_FSYNC")) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}

__attribute__((destructor)) static void report(void) {
    if (getenv("TXL_FAIL_REPORT")) fprintf(stderr, "failwrite: %ld writes, %ld fsyncs\n", writes, fsyncs);
}
