/*
 * beneath — open a vetted canonical path below a directory without following
 * symlinks (see include/tomed/beneath.h for why).
 */
#include "tomed/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

/* 1: openat2 works, 0: use the walk, -1: not tried yet. Only ever moves from
 * -1 to a final value (or is forced by a test), so relaxed atomics suffice. */
static atomic_int beneath_openat2 = -1;
static atomic_int beneath_forced;

void beneath_force_walk(int on)
{
    atomic_store_explicit(&beneath_forced, on, memory_order_relaxed);
}

/* The same rule for both implementations: relative, no "." or "..". */
static int beneath_rel_ok(const char *rel)
{
    if (rel[0] == '/')
        return 0;
    for (const char *p = rel; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        p += n;
        while (*p == '/')
            p++;
    }
    return 1;
}

/* One component at a time, each with O_NOFOLLOW relative to the previous. */
static int beneath_walk(int dirfd, const char *rel, int flags)
{
    char comp[NAME_MAX + 1];
    int cur = dirfd;
    const char *p = rel;

    while (*p == '/')
        p++;
    if (*p == '\0')
        return openat(dirfd, ".", flags | O_CLOEXEC);
    for (;;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *next = p + n;
        while (*next == '/')
            next++;
        int last = *next == '\0';
        if (n > NAME_MAX) {
            if (cur != dirfd)
                close(cur);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        int fd = last ? openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC)
                      : openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        if (cur != dirfd)
            close(cur);
        if (fd < 0) {
            errno = saved;
            return -1;
        }
        if (last)
            return fd;
        cur = fd;
        p = next;
    }
}

int beneath_uses_openat2(void)
{
    if (atomic_load_explicit(&beneath_forced, memory_order_relaxed))
        return 0;
#ifdef SYS_openat2
    int v = atomic_load_explicit(&beneath_openat2, memory_order_relaxed);
    if (v < 0) {
        struct open_how how = {.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
        long fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof how);
        /* ENOSYS: an old kernel; EPERM: a seccomp filter that does not know
         * the call. Anything else (even a failure) means the call exists. */
        v = fd >= 0 || (errno != ENOSYS && errno != EPERM);
        if (fd >= 0)
            close((int)fd);
        atomic_store_explicit(&beneath_openat2, v, memory_order_relaxed);
    }
    return v;
#else
    return 0;
#endif
}

int beneath_open(int dirfd, const char *rel, int flags)
{
    if (!beneath_rel_ok(rel)) {
        errno = EXDEV;
        return -1;
    }
#ifdef SYS_openat2
    if (beneath_uses_openat2()) {
        struct open_how how = {
            .flags = (unsigned long long)(flags | O_CLOEXEC),
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        for (int tries = 0;; tries++) {
            long fd = syscall(SYS_openat2, dirfd, rel[0] ? rel : ".", &how, sizeof how);
            /* EAGAIN: a concurrent rename or mount; the kernel asks to retry */
            if (fd >= 0 || errno != EAGAIN || tries == 8)
                return (int)fd;
        }
    }
#endif
    return beneath_walk(dirfd, rel, flags);
}
