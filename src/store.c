/*
 * store — packs: unlinked, append-only files in storage.dir, mapped
 * read-only and shared, that hold the bytes tomed serves (see store.h for
 * why). Appends go through pwrite, never through the mapping, which is
 * PROT_READ: a stray write in tomed faults instead of changing a body.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tomed/diag.h"
#include "tomed/store.h"

#define STALE_PREFIX "tomed-pack-"

struct store_pack {
    atomic_uint refs;
    int fd;
    uint64_t size;            /* bytes appended */
    uint64_t cap;             /* reserved capacity, or 0 until sealed */
    unsigned char *base;      /* the mapping (NULL before seal, or for an empty pack) */
    uint64_t mapped;          /* its length */
};

static char chosen[PATH_MAX]; /* "" = memfd */
static int initialised;

/* An unlinked file in dir: O_TMPFILE where the file system has it, else a
 * named one removed at once. */
static int tmpfile_in(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/" STALE_PREFIX "XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

/* Can a pack be made in dir? errno says why not. */
static int usable(const char *dir)
{
    int fd = tmpfile_in(dir);
    if (fd < 0)
        return 0;
    int ok = write(fd, "x", 1) == 1;
    int e = errno;
    close(fd);
    errno = e;
    return ok;
}

/* Only the mkstemp fallback leaves names, and only if tomed died between
 * creating and unlinking: never served, just removed. */
static void remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, STALE_PREFIX, strlen(STALE_PREFIX)) == 0 &&
            unlinkat(dirfd(d), de->d_name, 0) == 0)
            diag(DIAG_INFO, "removed a stale pack %s from %s", diag_q(de->d_name), diag_q(dir));
    closedir(d);
}

int store_init(const char *dir, tomed_error *err)
{
    initialised = 1;
    chosen[0] = '\0';
    if (dir && dir[0]) {
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return error_set(err, TOMED_EXIT_RUNTIME, "storage.dir: \"%s\": cannot create: %s",
                             dir, strerror(errno));
        if (!usable(dir))
            return error_set(err, TOMED_EXIT_RUNTIME,
                             "storage.dir: \"%s\": cannot write a file there: %s", dir,
                             strerror(errno));
        snprintf(chosen, sizeof chosen, "%s", dir);
        remove_stale(chosen);
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    const char *candidates[] = {tmp && tmp[0] ? tmp : NULL, "/var/tmp", "/tmp"};
    for (size_t i = 0; i < 3; i++)
        if (candidates[i] && usable(candidates[i])) {
            snprintf(chosen, sizeof chosen, "%s", candidates[i]);
            remove_stale(chosen);
            return 0;
        }
    diag(DIAG_WARN, "no writable temporary directory: the site's bytes are kept in anonymous "
                    "memory; set storage.dir to a writable directory (an emptyDir in a pod)");
    return 0;
}

const char *store_dir(void)
{
    return chosen;
}

store_pack *store_pack_new(uint64_t reserve, tomed_error *err)
{
    if (!initialised)
        store_init(NULL, NULL);
    store_pack *p = calloc(1, sizeof *p);
    if (!p) {
        error_set(err, TOMED_EXIT_RUNTIME, "out of memory");
        return NULL;
    }
    atomic_init(&p->refs, 1);
    p->fd = chosen[0] ? tmpfile_in(chosen) : memfd_create("tomed-pack", MFD_CLOEXEC);
    if (p->fd < 0) {
        error_set(err, TOMED_EXIT_RUNTIME, "storage.dir: \"%s\": %s", chosen[0] ? chosen : "memfd",
                  strerror(errno));
        free(p);
        return NULL;
    }
    if (reserve) {
        void *m = MAP_FAILED;
        if (ftruncate(p->fd, (off_t)reserve) == 0)
            m = mmap(NULL, (size_t)reserve, PROT_READ, MAP_SHARED, p->fd, 0);
        if (m == MAP_FAILED) {
            error_set(err, TOMED_EXIT_RUNTIME, "storage.dir: \"%s\": %s",
                      chosen[0] ? chosen : "memfd", strerror(errno));
            close(p->fd);
            free(p);
            return NULL;
        }
        p->base = m;
        p->cap = p->mapped = reserve;
    }
    return p;
}

int store_pack_append(store_pack *p, const void *data, size_t n, uint64_t *off)
{
    if (p->cap ? p->size + n > p->cap : p->base != NULL) {
        errno = ENOSPC;
        return -1;
    }
    const unsigned char *b = data;
    for (size_t done = 0; done < n;) {
        ssize_t w = pwrite(p->fd, b + done, n - done, (off_t)(p->size + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        done += (size_t)w;
    }
    *off = p->size;
    p->size += n;
    return 0;
}

int store_pack_seal(store_pack *p)
{
    if (p->cap || p->base || p->size == 0)
        return 0;
    void *m = mmap(NULL, (size_t)p->size, PROT_READ, MAP_SHARED, p->fd, 0);
    if (m == MAP_FAILED)
        return -1;
    p->base = m;
    p->mapped = p->size;
    return 0;
}

const unsigned char *store_pack_at(const store_pack *p, uint64_t off)
{
    static const unsigned char empty[1];
    return p->base ? p->base + off : empty; /* an empty pack holds only empty bodies */
}

uint64_t store_pack_size(const store_pack *p)
{
    return p->size;
}

store_pack *store_pack_ref(store_pack *p)
{
    if (p)
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void store_pack_unref(store_pack *p)
{
    if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (p->base)
        munmap(p->base, (size_t)p->mapped);
    close(p->fd);
    free(p);
}
