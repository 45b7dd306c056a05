/*
 * siteload — walk the site directory into a snapshot: what belongs to the
 * site (no dot-files, no symlink out of the root, no fifo), opened below the
 * root descriptor so a path swapped after its check cannot redirect the
 * open, and handed to site.c's builder (bytes for small files, the
 * descriptor for large ones).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tomed/beneath.h"
#include "tomed/diag.h"
#include "tomed/encoding.h"
#include "tomed/siteload.h"
#include "tomed/sveltekit.h"

#define SITE_MAX_DEPTH 64

typedef struct loader {
    const tomed_config *cfg;
    site_builder *b;
    const site_snapshot *previous;   /* the generation being reloaded, or NULL */
    char from[256];                  /* the build's base ("" = root or unknown) */
    char root_real[PATH_MAX];
    size_t root_real_len;
    int root_fd;                     /* the root, opened once; vetted paths are opened below it */
    dev_t dir_dev[SITE_MAX_DEPTH];   /* directories on the current walk stack, */
    ino_t dir_ino[SITE_MAX_DEPTH];   /* so a symlink to an ancestor cannot loop */
    int depth;
    tomed_error *err;
} loader;

/* Nonzero when the canonical path p is root itself or below it. */
static int inside_root(const loader *ld, const char *p)
{
    return strncmp(p, ld->root_real, ld->root_real_len) == 0 &&
           (p[ld->root_real_len] == '/' || p[ld->root_real_len] == '\0' ||
            ld->root_real_len == 1 /* root is "/" */);
}

static int read_fully(int fd, unsigned char *buf, uint64_t size)
{
    uint64_t got = 0;
    while (got < size) {
        ssize_t r = pread(fd, buf + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (uint64_t)r;
    }
    return 0;
}

/* Nonzero when dir holds name + ".br" or name + ".gz" (name NULL: unknown). */
static int has_sibling_file(int dirfd, const char *name)
{
    char sib[NAME_MAX + 8];
    if (!name)
        return 1;
    for (int k = ENC_BR; k < ENC_COUNT; k++) {
        snprintf(sib, sizeof sib, "%s%s", name, encoding_suffix((enum encoding)k));
        if (faccessat(dirfd, sib, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
            return 1;
    }
    return 0;
}

/* The regular file open as fd (ownership passes here), st its fstat: small
 * ones read whole into the builder, large ones handed over as descriptors. */
static int add_file(loader *ld, int fd, const struct stat *st, const char *site_path,
                    int may_share)
{
    uint64_t size = (uint64_t)st->st_size;
    if (size > ld->cfg->memory_file_max) /* sent as they are, never rewritten */
        return site_builder_add(ld->b, site_path, NULL, fd, size, st->st_mtime, may_share);
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf || read_fully(fd, buf, size) < 0) {
        free(buf);
        close(fd);
        return error_set(ld->err, TOMED_EXIT_RUNTIME, "%s%s: cannot read: %s", ld->cfg->root,
                         site_path, buf ? "short read" : "out of memory");
    }
    close(fd);
    return site_builder_add(ld->b, site_path, buf, -1, size, st->st_mtime, may_share);
}

static int walk_dir(loader *ld, int fd, const char *prefix);

/* Nonzero when the path rel (below the root, canonical) passes through or
 * names a dot-file or dot-directory (.git, .env), which is never served, also
 * not through a symlink. Allowed: /.well-known/ at the top, and names that
 * start with two dots: Kubernetes' ConfigMap and Secret volumes keep their
 * files in ..<timestamp>/ behind the ..data link, and every file in such a
 * volume is a symlink into it. */
static int has_dot_component(const char *rel)
{
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        if (p[0] == '.' && !(n > 2 && p[1] == '.') &&
            !(p == rel && n == 11 && strncmp(p, ".well-known", 11) == 0))
            return 1;
        p += n;
        p += *p == '/';
    }
    return 0;
}

enum { SITE_SKIP = -2 };

/*
 * Resolve the symlink at site_path and open its target, if that is a regular
 * file or a directory inside the root and not in a dot-directory.
 *
 * The target is vetted by its canonical path (realpath), and that canonical
 * path is what is opened, below the root descriptor with no symlink followed
 * (beneath_open): a link swapped after the check cannot redirect the open,
 * which then reaches the vetted file or fails. Returns the descriptor with
 * *st filled in, SITE_SKIP (warned about when warn) when the link is not
 * part of the site, or -1 with errno when the target changed meanwhile.
 */
static int open_link_target(loader *ld, const char *site_path, int warn, struct stat *st)
{
    char full[PATH_MAX * 2], real[PATH_MAX];
    struct stat vst;
    snprintf(full, sizeof full, "%s%s", ld->root_real, site_path);
    if (!realpath(full, real)) {
        if (warn)
            diag(DIAG_WARN, "skipping %s: broken symlink", diag_q(site_path));
        return SITE_SKIP;
    }
    if (!inside_root(ld, real)) {
        if (warn)
            diag(DIAG_WARN, "skipping %s: symlink leads outside the root", diag_q(site_path));
        return SITE_SKIP;
    }
    const char *rel = real + ld->root_real_len;
    rel += *rel == '/';
    if (has_dot_component(rel)) {
        if (warn)
            diag(DIAG_WARN, "skipping %s: symlink leads to a dot-file", diag_q(site_path));
        return SITE_SKIP;
    }
    if (stat(real, &vst) < 0 || !(S_ISREG(vst.st_mode) || S_ISDIR(vst.st_mode)))
        return SITE_SKIP; /* gone, or a socket, fifo or device: never content */
    /* O_NONBLOCK: should a fifo be swapped in, the open must not wait for a writer */
    int fd = beneath_open(ld->root_fd, rel,
                          O_RDONLY | O_NONBLOCK | (S_ISDIR(vst.st_mode) ? O_DIRECTORY : 0));
    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0 || st->st_dev != vst.st_dev || st->st_ino != vst.st_ino) {
        close(fd);
        errno = ESTALE;
        return -1;
    }
    return fd;
}

/* Open the directory entry name (not a symlink when fstatat saw it, sb its
 * lstat) without following a link that replaced it since, and check it is
 * still the same file. -1 with errno if not. */
static int open_plain(int dirfd, const char *name, const struct stat *sb, struct stat *st)
{
    int fd = openat(dirfd, name,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC |
                        (S_ISDIR(sb->st_mode) ? O_DIRECTORY : 0));
    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0 || st->st_dev != sb->st_dev || st->st_ino != sb->st_ino) {
        close(fd);
        errno = ESTALE;
        return -1;
    }
    return fd;
}

/* The build base from the site's own pages, when the config does not say. */
static void detect_build_base(loader *ld)
{
    const tomed_config *cfg = ld->cfg;
    ld->from[0] = '\0';
    if (cfg->build_base && cfg->build_base[0]) {
        snprintf(ld->from, sizeof ld->from, "%s", cfg->build_base);
    } else {
        static const char *const pages[] = {"/index.html", "/200.html", "/404.html"};
        for (size_t i = 0; i < 3 && !ld->from[0]; i++) {
            /* the same vetted open as the walk: these bytes steer the rewriting */
            char html[65536];
            struct stat st;
            int fd = open_link_target(ld, pages[i], 0, &st);
            if (fd < 0)
                continue;
            ssize_t n = S_ISREG(st.st_mode) ? read(fd, html, sizeof html) : -1;
            close(fd);
            if (n < 0 || sveltekit_detect_base(html, (size_t)n, ld->from, sizeof ld->from) < 0)
                ld->from[0] = '\0';
        }
    }
    site_builder_rewrite(ld->b, ld->from, strcmp(cfg->base, "/") == 0 ? "" : cfg->base);
}

/* One directory entry: decide whether it belongs to the site, then add or descend. */
static int walk_one(loader *ld, int dirfd, const char *prefix, const char *name)
{
    const tomed_config *cfg = ld->cfg;
    char site_path[PATH_MAX];
    struct stat st;
    int fd;

    /* Dot-files are never part of the site (.git, .env, Kubernetes' ..data
     * indirection); /.well-known/ is the one standard exception. */
    if (name[0] == '.' && !(prefix[0] == '\0' && strcmp(name, ".well-known") == 0))
        return 0;
    /* The site's rule files configure it (load_rules): never served. */
    if (prefix[0] == '\0' && (strcmp(name, "_redirects") == 0 || strcmp(name, "_headers") == 0))
        return 0;
    if ((size_t)snprintf(site_path, sizeof site_path, "%s/%s", prefix, name) >= sizeof site_path)
        return 0; /* unreachable by any URL we accept */
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return error_set(ld->err, TOMED_EXIT_RUNTIME, "%s%s: %s", cfg->root, site_path,
                         strerror(errno));
    if (S_ISLNK(st.st_mode)) {
        fd = open_link_target(ld, site_path, 1, &st);
        if (fd == SITE_SKIP)
            return 0;
    } else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
        struct stat sb = st;
        fd = open_plain(dirfd, name, &sb, &st);
    } else {
        return 0; /* sockets, fifos, devices: never content */
    }
    if (fd < 0)
        return error_set(ld->err, TOMED_EXIT_RUNTIME,
                         "%s%s: %s (changed while loading? the next reload tries again)",
                         cfg->root, site_path, strerror(errno));
    if (S_ISREG(st.st_mode)) {
        /* back to blocking reads (O_NONBLOCK was only for the open) */
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        /* two lookups a file, worth it only when there is something to share */
        return add_file(ld, fd, &st, site_path,
                        ld->previous && !has_sibling_file(dirfd, name));
    }

    for (int i = 0; i < ld->depth; i++)
        if (ld->dir_dev[i] == st.st_dev && ld->dir_ino[i] == st.st_ino) {
            close(fd);
            return 0; /* a symlink back to an ancestor */
        }
    if (ld->depth >= SITE_MAX_DEPTH) {
        close(fd);
        return error_set(ld->err, TOMED_EXIT_CONFIG, "%s%s: directories nested too deep", cfg->root,
                         site_path);
    }
    ld->dir_dev[ld->depth] = st.st_dev;
    ld->dir_ino[ld->depth] = st.st_ino;
    ld->depth++;
    int rc = walk_dir(ld, fd, site_path);
    ld->depth--;
    return rc;
}

/* Takes ownership of dirfd. */
static int walk_dir(loader *ld, int fd, const char *prefix)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return error_set(ld->err, TOMED_EXIT_RUNTIME, "%s%s: %s", ld->cfg->root, prefix,
                         strerror(errno));
    }
    int rc = 0;
    struct dirent *de;
    errno = 0;
    for (;;) {
        errno = 0;
        if (rc != 0 || (de = readdir(d)) == NULL)
            break;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        rc = walk_one(ld, dirfd(d), prefix, de->d_name);
    }
    /* NULL with errno set is a read error (EOVERFLOW for a 32-bit process on
     * 64-bit directory offsets), not the end: never load a site as empty */
    if (rc == 0 && errno != 0)
        rc = error_set(ld->err, TOMED_EXIT_RUNTIME, "%s%s: cannot list: %s", ld->cfg->root,
                       prefix, strerror(errno));
    closedir(d);
    return rc;
}

/* One rule file at the top of the root into a malloc'd buffer (*buf NULL
 * when absent, or refused with a warning). A symlink is not followed: the
 * rules of a site are its own file. -1 only for a read error. */
static int read_rule_file(loader *ld, const char *name, char **buf, size_t *len)
{
    char path[PATH_MAX + 16];
    struct stat st = {0};
    *buf = NULL;
    *len = 0;
    snprintf(path, sizeof path, "%s/%s", ld->root_real, name);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (errno == ELOOP) {
            diag(DIAG_WARN, "%s: a symlink; ignored", name);
            return 0;
        }
        return error_set(ld->err, TOMED_EXIT_RUNTIME, "%s/%s: %s", ld->cfg->root, name,
                         strerror(errno));
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > SITERULES_FILE_MAX) {
        if (S_ISREG(st.st_mode))
            diag(DIAG_WARN, "%s: larger than %d bytes; ignored", name, SITERULES_FILE_MAX);
        close(fd);
        return 0;
    }
    *buf = malloc((size_t)st.st_size + 1);
    if (!*buf || read_fully(fd, (unsigned char *)*buf, (uint64_t)st.st_size) < 0) {
        int e = errno;
        close(fd);
        free(*buf);
        *buf = NULL;
        return error_set(ld->err, TOMED_EXIT_RUNTIME, "%s/%s: %s", ld->cfg->root, name,
                         strerror(e ? e : ENOMEM));
    }
    close(fd);
    *len = (size_t)st.st_size;
    return 0;
}

int site_load(const tomed_config *cfg, uint64_t generation, site_snapshot **out, tomed_error *err)
{
    return site_load_after(cfg, generation, NULL, out, err);
}

int site_load_after(const tomed_config *cfg, uint64_t generation, const site_snapshot *previous,
                    site_snapshot **out, tomed_error *err)
{
    loader ld = {.cfg = cfg, .err = err, .root_fd = -1, .previous = previous};
    struct stat rst;
    char *red = NULL, *hdr = NULL;
    size_t rlen = 0, hlen = 0;
    *out = NULL;

    if (!realpath(cfg->root, ld.root_real))
        return error_set(err, TOMED_EXIT_CONFIG, "%s: root: \"%s\": %s", cfg->root_origin.where,
                         cfg->root, strerror(errno));
    ld.root_real_len = strlen(ld.root_real);
    ld.root_fd = open(ld.root_real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ld.root_fd < 0 || fstat(ld.root_fd, &rst) < 0)
        return error_set(err, TOMED_EXIT_CONFIG, "%s: root: \"%s\": %s", cfg->root_origin.where,
                         cfg->root, strerror(errno));
    if (!(ld.b = site_builder_new(cfg, generation, previous, err)))
        goto fail;
    detect_build_base(&ld);
    if (read_rule_file(&ld, "_redirects", &red, &rlen) < 0 ||
        read_rule_file(&ld, "_headers", &hdr, &hlen) < 0) {
        free(red);
        goto fail;
    }
    if (site_builder_rules(ld.b, red, rlen, hdr, hlen) < 0)
        goto fail;
    /* the root is the first directory on the walk stack: a link back to it is a loop */
    ld.dir_dev[0] = rst.st_dev;
    ld.dir_ino[0] = rst.st_ino;
    ld.depth = 1;
    int fd = dup(ld.root_fd); /* walk_dir takes its own */
    if (fd < 0) {
        error_set(err, TOMED_EXIT_RUNTIME, "%s: %s", cfg->root, strerror(errno));
        goto fail;
    }
    if (walk_dir(&ld, fd, "") < 0)
        goto fail;
    close(ld.root_fd);
    return site_builder_finish(ld.b, out);

fail:
    close(ld.root_fd);
    site_builder_free(ld.b);
    return -1;
}
