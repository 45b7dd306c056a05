/*
 * prebuild — `tomed precompress DIR`: brotli and gzip siblings written at
 * build time (see prebuild.h for the rules).
 *
 * Brotli at quality 11 is slow (a Pi 4 spends minutes on a big site, and a
 * pod would serve identity bytes meanwhile), so the work is done once, in the
 * image build, on every core: the tree is listed first, then threads take
 * files from a shared counter. Each file is read once and encoded with
 * encoding.c, the encoders the server uses at run time, so a sibling written
 * here is exactly what the server would have made.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tomed/diag.h"
#include "tomed/encoding.h"
#include "tomed/mime.h"
#include "tomed/prebuild.h"

typedef struct pb_list {
    char **paths;
    size_t n, cap;
} pb_list;

typedef struct pb_job {
    const prebuild_opts *o;
    pb_list files;
    atomic_size_t next, done;
    pthread_mutex_t mu; /* guards stats */
    prebuild_stats st;
    time_t last_progress;
} pb_job;

static int pb_push(pb_list *l, const char *path)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        char **p = realloc(l->paths, cap * sizeof(*p));
        if (!p)
            return -1;
        l->paths = p;
        l->cap = cap;
    }
    if (!(l->paths[l->n] = strdup(path)))
        return -1;
    l->n++;
    return 0;
}

static void pb_fail(pb_job *j, const char *what, const char *path, int err)
{
    diag(DIAG_ERROR, "precompress: %s %s: %s", what, diag_q(path), strerror(err));
    pthread_mutex_lock(&j->mu);
    j->st.failed++;
    pthread_mutex_unlock(&j->mu);
}

static int pb_has_suffix(const char *name, const char *suf)
{
    size_t n = strlen(name), s = strlen(suf);
    return n > s && strcmp(name + n - s, suf) == 0;
}

/* List the regular files under dir (path so far), as the site loader would
 * see them: no symlinks followed, no dot names but .well-known. */
static int pb_walk(pb_job *j, const char *path, int depth)
{
    DIR *d = opendir(path);
    if (!d) {
        pb_fail(j, "cannot open directory", path, errno);
        return 0;
    }
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        const char *name = de->d_name;
        if (name[0] == '.' && strcmp(name, ".well-known") != 0)
            continue;
        size_t len = strlen(path) + 1 + strlen(name) + 1;
        char *p = malloc(len);
        if (!p) {
            rc = -1;
            break;
        }
        snprintf(p, len, "%s/%s", path, name);
        struct stat st;
        if (lstat(p, &st) < 0) {
            pb_fail(j, "cannot stat", p, errno);
        } else if (S_ISDIR(st.st_mode)) {
            if (depth < 64)
                rc = pb_walk(j, p, depth + 1);
            else
                pb_fail(j, "too deep", p, ELOOP);
        } else if (S_ISREG(st.st_mode)) {
            /* x.js.br and x.js.gz are the outputs, never inputs */
            int sibling = 0;
            for (int k = ENC_BR; k < ENC_COUNT; k++) {
                const char *suf = encoding_suffix((enum encoding)k);
                if (pb_has_suffix(p, suf)) {
                    p[strlen(p) - strlen(suf)] = '\0';
                    struct stat owner;
                    sibling = lstat(p, &owner) == 0 && S_ISREG(owner.st_mode);
                    p[strlen(p)] = suf[0];
                }
            }
            j->st.files += !sibling;
            if (!sibling && mime_is_compressible(mime_for_path(p)) &&
                (uint64_t)st.st_size >= j->o->min_size && pb_push(&j->files, p) < 0)
                rc = -1;
        }
        free(p);
    }
    closedir(d);
    return rc;
}

/* Read the whole file; NULL with errno on failure. */
static unsigned char *pb_read(int fd, size_t n)
{
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf)
        return NULL;
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r == 0 ? EIO : errno; /* shrunk while read */
            free(buf);
            errno = e;
            return NULL;
        }
        got += (size_t)r;
    }
    return buf;
}

/* Write data as sib atomically (a temporary name in the same directory, then
 * rename), with the source's modification time. 0, or -1 with errno. */
static int pb_write(const char *sib, const unsigned char *data, size_t n,
                    const struct timespec *mtime)
{
    size_t len = strlen(sib) + 16;
    char *tmp = malloc(len);
    if (!tmp)
        return -1;
    /* a dot name: the loader never serves it if we die before the rename */
    const char *slash = strrchr(sib, '/');
    size_t dirlen = slash ? (size_t)(slash - sib) + 1 : 0;
    snprintf(tmp, len, "%.*s.%s.XXXXXX", (int)dirlen, sib, sib + dirlen);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        errno = e;
        return -1;
    }
    int rc = 0;
    for (size_t put = 0; put < n && rc == 0;) {
        ssize_t w = write(fd, data + put, n - put);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = -1;
        else
            put += (size_t)w;
    }
    struct timespec times[2] = {*mtime, *mtime};
    if (rc == 0 && (fchmod(fd, 0644) < 0 || futimens(fd, times) < 0))
        rc = -1;
    int e = errno;
    if (close(fd) < 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && rename(tmp, sib) < 0) {
        rc = -1;
        e = errno;
    }
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    errno = e;
    return rc;
}

static void pb_count(pb_job *j, size_t *field, uint64_t in, uint64_t out)
{
    pthread_mutex_lock(&j->mu);
    (*field)++;
    j->st.in_bytes += in;
    j->st.out_bytes += out;
    pthread_mutex_unlock(&j->mu);
}

static int pb_same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Does the sibling at sib (ss its lstat) decode to data? */
static int pb_sibling_matches(const char *sib, const struct stat *ss, enum encoding e,
                              const unsigned char *data, size_t n)
{
    int fd = open(sib, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    unsigned char *z = pb_read(fd, (size_t)ss->st_size);
    close(fd);
    int ok = z && encoding_decodes_to(e, z, (size_t)ss->st_size, data, n);
    free(z);
    return ok;
}

static void pb_file(pb_job *j, const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        pb_fail(j, "cannot read", path, errno);
        if (fd >= 0)
            close(fd);
        return;
    }
    size_t n = (size_t)st.st_size;
    unsigned char *data = NULL;
    size_t plen = strlen(path) + 4;
    char *sib = malloc(plen);
    if (!sib) {
        pb_fail(j, "cannot read", path, ENOMEM);
        close(fd);
        return;
    }
    for (int k = ENC_BR; k < ENC_COUNT; k++) {
        enum encoding e = (enum encoding)k;
        snprintf(sib, plen, "%s%s", path, encoding_suffix(e));
        struct stat ss;
        int have = lstat(sib, &ss) == 0;
        int fresh = have && S_ISREG(ss.st_mode) && ss.st_size < st.st_size;
        if (fresh && pb_same_time(&ss.st_mtim, &st.st_mtim)) {
            pb_count(j, &j->st.up_to_date, 0, 0);
            continue;
        }
        if (!data && !(data = pb_read(fd, n))) {
            pb_fail(j, "cannot read", path, errno);
            break;
        }
        /* a sibling made by another tool (SvelteKit's precompress) has its
         * own time: it is up to date when it decodes to the file */
        if (fresh && pb_sibling_matches(sib, &ss, e, data, n)) {
            pb_count(j, &j->st.up_to_date, 0, 0);
            continue;
        }
        unsigned char *out = NULL;
        size_t outn = 0;
        int level = e == ENC_BR ? j->o->brotli_quality : j->o->gzip_level;
        if (encoding_compress(e, level, data, n, &out, &outn) < 0) {
            /* not smaller: no sibling, and a stale one must not stay to be
             * served with old bytes */
            pb_count(j, &j->st.not_smaller, 0, 0);
            if (have) {
                if (unlink(sib) < 0)
                    pb_fail(j, "cannot remove stale", sib, errno);
                else
                    pb_count(j, &j->st.removed, 0, 0);
            }
            continue;
        }
        if (pb_write(sib, out, outn, &st.st_mtim) < 0)
            pb_fail(j, "cannot write", sib, errno);
        else
            pb_count(j, &j->st.written, n, outn);
        free(out);
    }
    free(sib);
    free(data);
    close(fd);
}

static void pb_progress(pb_job *j, int final)
{
    FILE *f = j->o->progress;
    if (!f)
        return;
    size_t done = atomic_load(&j->done);
    time_t now = time(NULL);
    pthread_mutex_lock(&j->mu);
    /* at most one line a second (a build log), or one line redrawn (a tty) */
    if (final || now != j->last_progress) {
        j->last_progress = now;
        int tty = isatty(fileno(f));
        fprintf(f, "%sprecompress: %zu/%zu files%s", tty ? "\r" : "", done, j->files.n,
                tty && !final ? "" : "\n");
        fflush(f);
    }
    pthread_mutex_unlock(&j->mu);
}

static void *pb_worker(void *arg)
{
    pb_job *j = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->files.n)
            break;
        pb_file(j, j->files.paths[i]);
        atomic_fetch_add(&j->done, 1);
        pb_progress(j, 0);
    }
    return NULL;
}

int prebuild_dir(const char *dir, const prebuild_opts *o, prebuild_stats *out)
{
    pb_job j;
    memset(&j, 0, sizeof j);
    j.o = o;
    atomic_init(&j.next, 0);
    atomic_init(&j.done, 0);
    pthread_mutex_init(&j.mu, NULL);
    struct stat st;
    int rc = 0;
    int e = stat(dir, &st) < 0 ? errno : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
    if (e) {
        pb_fail(&j, "cannot open directory", dir, e);
        rc = -1;
    } else if (pb_walk(&j, dir, 0) < 0) {
        diag(DIAG_ERROR, "precompress: out of memory listing %s", diag_q(dir));
        rc = -1;
    }
    j.st.compressible = j.files.n;
    if (rc == 0 && j.files.n) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        size_t n = o->threads ? o->threads : (cpus > 0 ? (size_t)cpus : 1);
        if (n > j.files.n)
            n = j.files.n;
        if (n > 256)
            n = 256;
        pthread_t th[256];
        size_t started = 0;
        for (; started < n; started++)
            if (pthread_create(&th[started], NULL, pb_worker, &j) != 0)
                break;
        if (started == 0)
            pb_worker(&j); /* no thread: do it here */
        for (size_t k = 0; k < started; k++)
            pthread_join(th[k], NULL);
        pb_progress(&j, 1);
    }
    for (size_t k = 0; k < j.files.n; k++)
        free(j.files.paths[k]);
    free(j.files.paths);
    pthread_mutex_destroy(&j.mu);
    if (out)
        *out = j.st;
    return rc == 0 && j.st.failed == 0 ? 0 : -1;
}
