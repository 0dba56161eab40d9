/* envtwin's time-shift shim: the file-time half of the `time` variation.
 *
 * libfaketime moves build B's clock, but the kernel stamps the files B
 * writes with the real time, and Debian's libfaketime (0.9.10) fakes only
 * the old stat symbols: not stat64, fstatat64 or statx, which glibc >= 2.33
 * programs (Python, coreutils, Rust's std) call. So a build that copies a
 * source file's mtime into its output (a .pyc) sees the same mtimes in A
 * and B. Preloaded before libfaketime, this shim adds ENVTWIN_STAT_SHIFT
 * seconds to every time from B's start on (ENVTWIN_STAT_SINCE) that the stat
 * family reports, and takes it off again from explicit times given to the
 * utime family, so the files B makes live in one consistent world as far
 * ahead as its clock, while older files look as they do to A.
 * See src/timeshift.rs. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

static long long env_num(const char *name)
{
    const char *s = getenv(name);
    long long v = s ? atoll(s) : 0;
    return v > 0 ? v : 0;
}

/* Seconds added to the times of files B made. */
static long long shift(void)
{
    static long long cached = -1;
    if (cached < 0) cached = env_num("ENVTWIN_STAT_SHIFT");
    return cached;
}

/* When build B started, as real epoch nanoseconds (ENVTWIN_STAT_SINCE is
 * "SECONDS.NANOSECONDS"): older times (the sources in $src, the host's
 * /usr, a time pinned to SOURCE_DATE_EPOCH) are what A sees too, and stay
 * as they are. */
static long long since_ns(void)
{
    static long long cached = -1;
    if (cached < 0) {
        const char *s = getenv("ENVTWIN_STAT_SINCE");
        long long sec = 0, ns = 0;
        if (s) {
            char *dot;
            sec = strtoll(s, &dot, 10);
            if (*dot == '.') ns = strtoll(dot + 1, NULL, 10);
        }
        cached = sec > 0 ? sec * 1000000000LL + ns : 0;
    }
    return cached;
}

static void shift_sec(time_t *sec, long long nsec)
{
    if ((long long)*sec * 1000000000LL + nsec >= since_ns()) *sec += shift();
}

/* B's frame to the real one: the inverse of shift_sec. */
static void unshift_sec(time_t *sec, long long nsec)
{
    if (((long long)*sec - shift()) * 1000000000LL + nsec >= since_ns()) *sec -= shift();
}

static void *next(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

#define SHIFT3(st)                     \
    do {                               \
        shift_sec(&(st)->st_atim.tv_sec, (st)->st_atim.tv_nsec); \
        shift_sec(&(st)->st_mtim.tv_sec, (st)->st_mtim.tv_nsec); \
        shift_sec(&(st)->st_ctim.tv_sec, (st)->st_ctim.tv_nsec); \
    } while (0)

#define WRAP_PATH(name, type)                                            \
    int name(const char *path, type *buf)                                \
    {                                                                    \
        static int (*real)(const char *, type *);                        \
        if (!real) real = (int (*)(const char *, type *))next(#name);    \
        int r = real(path, buf);                                         \
        if (r == 0) SHIFT3(buf);                                         \
        return r;                                                        \
    }

#define WRAP_FD(name, type)                                              \
    int name(int fd, type *buf)                                          \
    {                                                                    \
        static int (*real)(int, type *);                                 \
        if (!real) real = (int (*)(int, type *))next(#name);             \
        int r = real(fd, buf);                                           \
        if (r == 0) SHIFT3(buf);                                         \
        return r;                                                        \
    }

#define WRAP_AT(name, type)                                                      \
    int name(int dirfd, const char *path, type *buf, int flags)                  \
    {                                                                            \
        static int (*real)(int, const char *, type *, int);                      \
        if (!real) real = (int (*)(int, const char *, type *, int))next(#name);  \
        int r = real(dirfd, path, buf, flags);                                   \
        if (r == 0) SHIFT3(buf);                                                 \
        return r;                                                                \
    }

#define WRAP_VER_PATH(name, type)                                              \
    int name(int ver, const char *path, type *buf)                             \
    {                                                                          \
        static int (*real)(int, const char *, type *);                         \
        if (!real) real = (int (*)(int, const char *, type *))next(#name);     \
        int r = real(ver, path, buf);                                          \
        if (r == 0) SHIFT3(buf);                                               \
        return r;                                                              \
    }

#define WRAP_VER_FD(name, type)                                                \
    int name(int ver, int fd, type *buf)                                       \
    {                                                                          \
        static int (*real)(int, int, type *);                                  \
        if (!real) real = (int (*)(int, int, type *))next(#name);              \
        int r = real(ver, fd, buf);                                            \
        if (r == 0) SHIFT3(buf);                                               \
        return r;                                                              \
    }

#define WRAP_VER_AT(name, type)                                                          \
    int name(int ver, int dirfd, const char *path, type *buf, int flags)                 \
    {                                                                                    \
        static int (*real)(int, int, const char *, type *, int);                         \
        if (!real) real = (int (*)(int, int, const char *, type *, int))next(#name);     \
        int r = real(ver, dirfd, path, buf, flags);                                      \
        if (r == 0) SHIFT3(buf);                                                         \
        return r;                                                                        \
    }

WRAP_PATH(stat, struct stat)
WRAP_PATH(stat64, struct stat64)
WRAP_PATH(lstat, struct stat)
WRAP_PATH(lstat64, struct stat64)
WRAP_FD(fstat, struct stat)
WRAP_FD(fstat64, struct stat64)
WRAP_AT(fstatat, struct stat)
WRAP_AT(fstatat64, struct stat64)

int __xstat(int, const char *, struct stat *);
int __xstat64(int, const char *, struct stat64 *);
int __lxstat(int, const char *, struct stat *);
int __lxstat64(int, const char *, struct stat64 *);
int __fxstat(int, int, struct stat *);
int __fxstat64(int, int, struct stat64 *);
int __fxstatat(int, int, const char *, struct stat *, int);
int __fxstatat64(int, int, const char *, struct stat64 *, int);
WRAP_VER_PATH(__xstat, struct stat)
WRAP_VER_PATH(__xstat64, struct stat64)
WRAP_VER_PATH(__lxstat, struct stat)
WRAP_VER_PATH(__lxstat64, struct stat64)
WRAP_VER_FD(__fxstat, struct stat)
WRAP_VER_FD(__fxstat64, struct stat64)
WRAP_VER_AT(__fxstatat, struct stat)
WRAP_VER_AT(__fxstatat64, struct stat64)

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf)
{
    static int (*real)(int, const char *, int, unsigned int, struct statx *);
    if (!real) real = (int (*)(int, const char *, int, unsigned int, struct statx *))next("statx");
    int r = real(dirfd, path, flags, mask, buf);
    if (r == 0) {
        struct statx_timestamp *ts[4] = {&buf->stx_atime, &buf->stx_mtime, &buf->stx_ctime,
                                         &buf->stx_btime};
        time_t t[4];
        for (int i = 0; i < 4; i++) {
            t[i] = ts[i]->tv_sec;
            shift_sec(&t[i], ts[i]->tv_nsec);
        }
        buf->stx_atime.tv_sec = t[0];
        buf->stx_mtime.tv_sec = t[1];
        buf->stx_ctime.tv_sec = t[2];
        if (buf->stx_mask & STATX_BTIME) buf->stx_btime.tv_sec = t[3];
    }
    return r;
}

/* Explicit times come from B's shifted world (a stat, the fake clock, an
 * archive): store them in the real one, so that reading them back gives
 * what was written. "Now" (NULL, UTIME_NOW) is the kernel's real now, as
 * for a file B writes. The syscall is made directly: libfaketime's own
 * wrappers would store its fake now instead. */
static int set_times(int dirfd, const char *path, const struct timespec *in, int flags)
{
    struct timespec t[2];
    for (int i = 0; i < 2; i++) {
        if (!in) {
            t[i].tv_sec = 0;
            t[i].tv_nsec = UTIME_NOW;
            continue;
        }
        t[i] = in[i];
        if (in[i].tv_nsec != UTIME_NOW && in[i].tv_nsec != UTIME_OMIT) unshift_sec(&t[i].tv_sec, t[i].tv_nsec);
    }
    long r = syscall(SYS_utimensat, dirfd, path, t, flags);
    return (int)r;
}

static const struct timespec *from_tv(const struct timeval *in, struct timespec out[2])
{
    if (!in) return NULL;
    for (int i = 0; i < 2; i++) {
        out[i].tv_sec = in[i].tv_sec;
        out[i].tv_nsec = in[i].tv_usec * 1000;
    }
    return out;
}

int utimensat(int dirfd, const char *path, const struct timespec times[2], int flags)
{
    return set_times(dirfd, path, times, flags);
}

int futimens(int fd, const struct timespec times[2])
{
    return set_times(fd, NULL, times, 0);
}

int utimes(const char *path, const struct timeval times[2])
{
    struct timespec t[2];
    return set_times(AT_FDCWD, path, from_tv(times, t), 0);
}

int lutimes(const char *path, const struct timeval times[2])
{
    struct timespec t[2];
    return set_times(AT_FDCWD, path, from_tv(times, t), AT_SYMLINK_NOFOLLOW);
}

int futimes(int fd, const struct timeval times[2])
{
    struct timespec t[2];
    return set_times(fd, NULL, from_tv(times, t), 0);
}

int utime(const char *path, const struct utimbuf *times)
{
    if (!times) return set_times(AT_FDCWD, path, NULL, 0);
    struct timespec t[2] = {{times->actime, 0}, {times->modtime, 0}};
    return set_times(AT_FDCWD, path, t, 0);
}
