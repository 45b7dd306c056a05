/*
 * site — load the site directory into an immutable snapshot and look paths up
 * in it.
 *
 * Everything a response needs is decided here, once: the walk reads every
 * file, hashes it (SHA-256, so every replica of a Deployment derives the same
 * strong ETag from the same bytes, whatever the files' mtimes), copies small
 * files into the load's pack (store.h: page cache the kernel may reclaim, in
 * a file nobody else can truncate) and keeps a descriptor open for large ones
 * so they go out with sendfile. The site's files are never consulted again
 * for small bodies while the snapshot lives: a deploy that rewrites files in
 * place, even truncating them, does not produce a torn response nor a SIGBUS.
 *
 * On a reload, an entry of the previous generation whose bytes and derived
 * facts are unchanged is taken over (reference-counted), so the generations
 * share everything but what a deploy changed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tomed/beneath.h"
#include "tomed/diag.h"
#include "tomed/http.h"
#include "tomed/mime.h"
#include "tomed/csp.h"
#include "tomed/policy.h"
#include "tomed/rewrite.h"
#include "tomed/site.h"
#include "tomed/sveltekit.h"

#define SITE_MAX_DEPTH 64

typedef struct loader {
    const tomed_config *cfg;
    char from[256], to[256];         /* base rewriting: build base -> mount base ("" = root) */
    int rewriting;
    char root_real[PATH_MAX];
    size_t root_real_len;
    int root_fd;                     /* the root, opened once; vetted paths are opened below it */
    time_t now;                      /* the load's time: no Last-Modified is later */
    const site_snapshot *previous;   /* entries to take over, or NULL */
    store_pack *pack;                /* this load's small bodies */
    site_entry **entries;
    uint64_t *offs;                  /* per entry: where its bytes are in pack, or UINT64_MAX */
    size_t n, cap, shared;
    siterules *rules;                /* parsed before the walk, for each entry's headers */
    uint64_t total_bytes;
    dev_t dir_dev[SITE_MAX_DEPTH];   /* directories on the current walk stack, */
    ino_t dir_ino[SITE_MAX_DEPTH];   /* so a symlink to an ancestor cannot loop */
    int depth;
    size_t csp_unhashed;             /* pages with inline code no hash can allow */
    char csp_first[128];             /* the first of them, for the summary */
    tomed_error *err;
} loader;

static uint64_t hash_path(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: short keys, good spread, no state */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Nonzero when the canonical path p is root itself or below it. */
static int inside_root(const loader *ld, const char *p)
{
    return strncmp(p, ld->root_real, ld->root_real_len) == 0 &&
           (p[ld->root_real_len] == '/' || p[ld->root_real_len] == '\0' ||
            ld->root_real_len == 1 /* root is "/" */);
}

static site_release_fn release_hook;

void site_set_release_hook(site_release_fn fn)
{
    release_hook = fn;
}

void site_variant_free(site_variant *v)
{
    if (!v)
        return;
    store_pack_unref(v->pack);
    if (v->fd >= 0)
        close(v->fd);
    free(v);
}

static site_entry *entry_ref(site_entry *e)
{
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    return e;
}

/* Drop a reference; the last one frees the entry, its variants and what the
 * server attached to them. NULL is a no-op. */
static void entry_unref(site_entry *e)
{
    if (!e || atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (release_hook)
        release_hook(e);
    free(e->csp);
    free(e->path);
    store_pack_unref(e->pack);
    if (e->fd >= 0)
        close(e->fd);
    for (int i = ENC_BR; i < ENC_COUNT; i++)
        site_variant_free(atomic_load(&e->variants[i]));
    free(e);
}

unsigned site_entry_encodings(const site_entry *e)
{
    unsigned mask = 0;
    for (int i = ENC_BR; i < ENC_COUNT; i++)
        if (site_entry_variant(e, (enum encoding)i))
            mask |= ENC_MASK(i);
    return mask;
}

/* The variant's tag is the entry's with the coding inside the quotes: strong,
 * distinct per representation, and the same on every replica. */
static void variant_etag(const site_entry *e, enum encoding enc, char *out, size_t cap)
{
    snprintf(out, cap, "%.*s-%s\"", (int)strlen(e->etag) - 1, e->etag,
             enc == ENC_BR ? "br" : "gz");
}

site_variant *site_variant_new(const site_entry *e, enum encoding enc, store_pack *pack,
                               const unsigned char *data, uint64_t size)
{
    site_variant *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->encoding = enc;
    v->data = data;
    v->pack = store_pack_ref(pack);
    v->fd = -1;
    atomic_init(&v->server_data, NULL);
    v->size = size;
    variant_etag(e, enc, v->etag, sizeof v->etag);
    return v;
}

int site_entry_publish(site_entry *e, site_variant *v)
{
    site_variant *expected = NULL;
    return atomic_compare_exchange_strong_explicit(&e->variants[v->encoding], &expected, v,
                                                   memory_order_release, memory_order_relaxed)
               ? 0
               : -1;
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

/* SHA-256 of the file's bytes, from buf when held there, else streamed from
 * e's descriptor. */
static int digest_entry(const site_entry *e, const unsigned char *buf, unsigned char md[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int mdlen = 0;
    int rc = -1;
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        goto out;
    if (buf) {
        if (!EVP_DigestUpdate(ctx, buf, e->size))
            goto out;
    } else {
        unsigned char chunk[65536];
        uint64_t off = 0;
        while (off < e->size) {
            ssize_t r = pread(e->fd, chunk, sizeof chunk, (off_t)off);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0 || !EVP_DigestUpdate(ctx, chunk, (size_t)r))
                goto out;
            off += (uint64_t)r;
        }
    }
    rc = EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 32 ? 0 : -1;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

/*
 * What the site needs done to a small file's bytes before they are hashed
 * and compressed: the build's base rewritten to the mount base, and for an
 * HTML page its own CSP with the hashes of its (rewritten) inline code.
 */
static int adapt_text(loader *ld, site_entry *e, unsigned char **buf)
{
    if (ld->rewriting) {
        rewrite_kind kind = rewrite_kind_for(e->path, e->mime);
        char *out = NULL;
        size_t outn = 0, count = 0;
        if (kind != RW_NONE &&
            rewrite_base((const char *)*buf, (size_t)e->size, ld->from, ld->to, kind, &out,
                         &outn, &count) < 0)
            return -1;
        if (out) {
            free(*buf);
            *buf = (unsigned char *)out;
            e->size = outn;
        }
        e->rewrites = (unsigned)count;
    }
    if (ld->cfg->csp_auto && ld->cfg->csp && ld->cfg->csp[0] &&
        strncmp(e->mime, "text/html", 9) == 0) {
        csp_page page;
        int rc = csp_scan((const char *)*buf, (size_t)e->size, &page);
        if (rc == 0)
            rc = csp_merge(ld->cfg->csp, &page, &e->csp);
        /* event handlers, javascript: URLs and SVG scripts with markup stay
         * blocked by the policy: say so once per load (the summary) */
        if (rc == 0 && (page.handlers || page.unhashable) && !ld->csp_unhashed++)
            snprintf(ld->csp_first, sizeof ld->csp_first, "%s", e->path);
        csp_page_free(&page);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
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

/*
 * The previous generation's entry for e's path when it may stand for e: the
 * same bytes (ETag), Last-Modified and file times, the same policy derived
 * from them (CSP, rewrites; the config and _headers are the same, or there is
 * no previous), held in its pack, and with no precompressed siblings on
 * either side (those are attached to an entry after the walk). NULL if not.
 */
static site_entry *reusable(const loader *ld, const site_entry *e, int dirfd, const char *name)
{
    if (!ld->previous)
        return NULL;
    /* the previous generation's entries are its to share: a reference is taken */
    site_entry *old = (site_entry *)(uintptr_t)site_find(ld->previous, e->path, e->path_len);
    if (!old || !old->pack || old->from_siblings || old->size != e->size ||
        old->mtime != e->mtime || old->modified != e->modified ||
        strcmp(old->etag, e->etag) != 0 || !same_str(old->csp, e->csp) ||
        old->rewrites != e->rewrites || old->cache_control != e->cache_control ||
        old->headers != e->headers || old->negotiable != e->negotiable)
        return NULL;
    for (int k = ENC_BR; k < ENC_COUNT; k++) {
        const char *suf = encoding_suffix((enum encoding)k);
        size_t sl = strlen(suf);
        if (e->path_len > sl && strcmp(e->path + e->path_len - sl, suf) == 0)
            return NULL; /* it could become a variant of a file added next to it */
    }
    return has_sibling_file(dirfd, name) ? NULL : old;
}

/* Room for one more entry (and its offset). */
static int grow(loader *ld)
{
    if (ld->n < ld->cap)
        return 0;
    size_t ncap = ld->cap ? ld->cap * 2 : 256;
    site_entry **ne = realloc(ld->entries, ncap * sizeof *ne);
    if (ne)
        ld->entries = ne;
    uint64_t *no = ne ? realloc(ld->offs, ncap * sizeof *no) : NULL;
    if (!no)
        return -1;
    ld->offs = no;
    ld->cap = ncap;
    return 0;
}

/* Add the regular file open as fd (ownership passes here), st its fstat;
 * name is its name in the directory dirfd (for the sibling check). */
static int add_file(loader *ld, int fd, const struct stat *st, const char *site_path, int dirfd,
                    const char *name)
{
    const tomed_config *cfg = ld->cfg;
    unsigned char *buf = NULL;
    site_entry *e = NULL;
    if (grow(ld) < 0 || !(e = calloc(1, sizeof *e)) || !(e->path = strdup(site_path))) {
        free(e);
        close(fd);
        return error_set(ld->err, TOMED_EXIT_RUNTIME, "out of memory loading %s", cfg->root);
    }
    atomic_init(&e->refs, 1);
    atomic_init(&e->server_data, NULL);
    e->fd = -1;
    for (int i = 0; i < ENC_COUNT; i++)
        atomic_init(&e->variants[i], NULL);
    ld->offs[ld->n] = UINT64_MAX;
    ld->entries[ld->n++] = e; /* from here the loader owns it, freed with the loader on error */
    e->path_len = strlen(site_path);
    e->size = (uint64_t)st->st_size;
    e->mtime = st->st_mtime;
    /* RFC 9110 8.8.2.1: a Last-Modified later than the response's Date must
     * be replaced by the Date. A clock skewed at build time or a `touch -d`
     * would otherwise make caches distrust it; the load is the latest moment
     * the server vouches for, and it is decided once, here. */
    e->modified = e->mtime > ld->now ? ld->now : e->mtime;
    e->mime = mime_for_path(site_path);
    e->cache_control = policy_cache_control(cfg, site_path, e->mime);
    e->headers = ld->rules ? siterules_headers_for(ld->rules, site_path) : NULL;
    e->negotiable = cfg->compress_memory_max > 0 && mime_is_compressible(e->mime) &&
                    e->size >= cfg->compress_min_size;
    http_format_date(e->modified, e->last_modified, sizeof e->last_modified);

    if (e->size <= cfg->memory_file_max) {
        buf = malloc(e->size ? e->size : 1);
        if (!buf || read_fully(fd, buf, e->size) < 0) {
            free(buf);
            close(fd);
            return error_set(ld->err, TOMED_EXIT_RUNTIME, "%s%s: cannot read: %s", cfg->root,
                             site_path, buf ? "short read" : "out of memory");
        }
        close(fd);
        if (adapt_text(ld, e, &buf) < 0) {
            free(buf);
            return error_set(ld->err, TOMED_EXIT_RUNTIME, "out of memory loading %s", cfg->root);
        }
        /* the size may have changed with the rewriting */
        e->negotiable = cfg->compress_memory_max > 0 && mime_is_compressible(e->mime) &&
                        e->size >= cfg->compress_min_size;
    } else {
        e->fd = fd; /* large files are sent as they are, never rewritten */
    }

    unsigned char md[32];
    if (digest_entry(e, buf, md) < 0) {
        free(buf);
        return error_set(ld->err, TOMED_EXIT_RUNTIME, "%s%s: cannot hash", cfg->root, site_path);
    }
    static const char hex[] = "0123456789abcdef";
    e->etag[0] = '"';
    for (int i = 0; i < 16; i++) {
        e->etag[1 + 2 * i] = hex[md[i] >> 4];
        e->etag[2 + 2 * i] = hex[md[i] & 15];
    }
    e->etag[33] = '"';
    e->etag[34] = '\0';
    ld->total_bytes += e->size;
    if (!buf)
        return 0;

    site_entry *old = reusable(ld, e, dirfd, name);
    if (old) {
        ld->entries[ld->n - 1] = entry_ref(old);
        ld->shared++;
        entry_unref(e);
        free(buf);
        return 0;
    }
    int rc = store_pack_append(ld->pack, buf, (size_t)e->size, &ld->offs[ld->n - 1]);
    free(buf);
    if (rc < 0)
        return error_set(ld->err, TOMED_EXIT_RUNTIME, "storage.dir: \"%s\": cannot write: %s",
                         store_dir(), strerror(errno));
    e->pack = store_pack_ref(ld->pack);
    return 0;
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
    snprintf(ld->to, sizeof ld->to, "%s", strcmp(cfg->base, "/") == 0 ? "" : cfg->base);
    ld->rewriting = cfg->rewrite_enabled && ld->from[0] && strcmp(ld->from, ld->to) != 0;
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
        return add_file(ld, fd, &st, site_path, dirfd, name);
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

static int cmp_entry(const void *a, const void *b)
{
    return strcmp((*(site_entry *const *)a)->path, (*(site_entry *const *)b)->path);
}

static site_entry *find_sorted(site_entry **v, size_t n, const char *path)
{
    site_entry key, *kp = &key;
    key.path = (char *)(uintptr_t)path;
    site_entry **hit = bsearch(&kp, v, n, sizeof *v, cmp_entry);
    return hit ? *hit : NULL;
}

/*
 * x.js.br and x.js.gz next to x.js (SvelteKit's precompress: true) become x.js's
 * variants and stop being files of their own; a .gz with no uncompressed
 * sibling (a download) stays an ordinary file. Entries are sorted; the table is
 * built afterwards.
 */
static int attach_siblings(site_snapshot *s)
{
    char base[PATH_MAX];
    const char *first_fat = NULL; /* the first sibling not smaller, for the summary */
    size_t fat = 0;
    unsigned char *dropped = calloc(s->n_entries ? s->n_entries : 1, 1);
    if (!dropped)
        return -1;
    for (size_t i = 0; i < s->n_entries; i++) {
        site_entry *sib = s->entries[i];
        for (int k = ENC_BR; k < ENC_COUNT; k++) {
            enum encoding enc = (enum encoding)k;
            const char *suf = encoding_suffix(enc);
            size_t sl = strlen(suf);
            if (sib->path_len <= sl + 1 || sib->path_len >= sizeof base ||
                strcmp(sib->path + sib->path_len - sl, suf) != 0)
                continue;
            memcpy(base, sib->path, sib->path_len - sl);
            base[sib->path_len - sl] = '\0';
            site_entry *owner = find_sorted(s->entries, s->n_entries, base);
            if (!owner || site_entry_variant(owner, enc))
                break;
            /* never the case (reusable() refuses files with siblings), and
             * a variant must never appear in an entry another generation
             * serves: keep the sibling a file of its own then */
            if (atomic_load(&owner->refs) != 1)
                break;
            if (owner->rewrites) {
                /* compressed before the base was rewritten: stale, and never a
                 * file of its own; the compressor makes fresh variants */
                dropped[i] = 1;
                break;
            }
            if (sib->size >= owner->size) {
                /* useless as a variant, and never a file of its own either;
                 * common (a build that gzips every file, tiny ones too), so
                 * one summary line per load, the names at debug level */
                diag(DIAG_DEBUG, "ignoring %s: not smaller than %s", diag_q(sib->path),
                     diag_q(owner->path));
                if (fat++ == 0)
                    first_fat = sib->path;
                dropped[i] = 1;
                break;
            }
            site_variant *v = site_variant_new(owner, enc, sib->pack, sib->data, sib->size);
            if (!v) {
                free(dropped);
                return -1;
            }
            v->fd = sib->fd;
            v->mtime = sib->mtime;
            sib->fd = -1;
            /* the sibling's own bytes name it: a stale .br after a deploy gets
             * a tag of its own, never the one of a fresh generated variant */
            snprintf(v->etag, sizeof v->etag, "%.*s-%s\"", (int)strlen(sib->etag) - 1, sib->etag,
                     enc == ENC_BR ? "br" : "gz");
            site_entry_publish(owner, v);
            owner->negotiable = 1;
            owner->from_siblings = 1;
            dropped[i] = 1;
            break;
        }
    }
    if (fat)
        diag(DIAG_WARN, "ignoring %zu precompressed file%s (%s%s): not smaller than the "
                        "uncompressed file; tomed check lists them",
             fat, fat == 1 ? "" : "s", diag_q(first_fat), fat == 1 ? "" : ", ...");
    size_t kept = 0;
    for (size_t i = 0; i < s->n_entries; i++) {
        if (dropped[i])
            entry_unref(s->entries[i]);
        else
            s->entries[kept++] = s->entries[i];
    }
    s->n_entries = kept;
    free(dropped);
    return 0;
}

static int build_table(site_snapshot *s)
{
    size_t cap = 16;
    while (cap < s->n_entries * 2)
        cap <<= 1;
    s->slots = malloc(cap * sizeof *s->slots);
    if (!s->slots)
        return -1;
    memset(s->slots, 0xff, cap * sizeof *s->slots); /* UINT32_MAX: empty */
    s->slot_mask = cap - 1;
    for (size_t i = 0; i < s->n_entries; i++) {
        size_t j = hash_path(s->entries[i]->path, s->entries[i]->path_len) & s->slot_mask;
        while (s->slots[j] != UINT32_MAX)
            j = (j + 1) & s->slot_mask;
        s->slots[j] = (uint32_t)i;
    }
    return 0;
}

const site_entry *site_find(const site_snapshot *s, const char *path, size_t len)
{
    if (!s)
        return NULL;
    size_t j = hash_path(path, len) & s->slot_mask;
    for (;;) {
        uint32_t i = s->slots[j];
        if (i == UINT32_MAX)
            return NULL;
        const site_entry *e = s->entries[i];
        if (e->path_len == len && memcmp(e->path, path, len) == 0)
            return e;
        j = (j + 1) & s->slot_mask;
    }
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

/* The parsed rules and the texts they came from, shared by the generations
 * that read the same _redirects and _headers (their entries point into it). */
typedef struct rules_box {
    atomic_uint refs;
    siterules *rules;      /* NULL when the site has neither file */
    char *text[2];         /* _redirects, _headers as read (NULL: absent) */
    size_t len[2];
} rules_box;

static void box_unref(rules_box *b)
{
    if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    siterules_free(b->rules);
    free(b->text[0]);
    free(b->text[1]);
    free(b);
}

static int same_text(const char *a, size_t an, const char *b, size_t bn)
{
    return (!a && !b) || (a && b && an == bn && memcmp(a, b, an) == 0);
}

/* The site's _redirects and _headers (siterules.h), read before the walk so
 * each entry gets its headers as it is made; their warnings printed once per
 * load. The same texts as the previous generation's share its parsed rules;
 * other texts mean no entry is shared (their headers may differ). */
static int load_rules(loader *ld, site_snapshot *s)
{
    rules_box *b = calloc(1, sizeof *b);
    if (!b)
        return error_set(ld->err, TOMED_EXIT_RUNTIME, "out of memory");
    atomic_init(&b->refs, 1);
    if (read_rule_file(ld, "_redirects", &b->text[0], &b->len[0]) < 0 ||
        read_rule_file(ld, "_headers", &b->text[1], &b->len[1]) < 0) {
        box_unref(b);
        return -1;
    }
    rules_box *old = ld->previous ? ld->previous->rules_box : NULL;
    if (old && same_text(old->text[0], old->len[0], b->text[0], b->len[0]) &&
        same_text(old->text[1], old->len[1], b->text[1], b->len[1])) {
        box_unref(b);
        atomic_fetch_add_explicit(&old->refs, 1, memory_order_relaxed);
        b = old;
    } else {
        ld->previous = NULL;
        if ((b->text[0] || b->text[1]) &&
            !(b->rules = siterules_parse(b->text[0], b->len[0], b->text[1], b->len[1]))) {
            box_unref(b);
            return error_set(ld->err, TOMED_EXIT_RUNTIME,
                             "out of memory reading _redirects / _headers");
        }
    }
    s->rules_box = b;
    s->rules = b->rules;
    ld->rules = b->rules;
    for (size_t i = 0; i < siterules_warning_count(s->rules); i++)
        diag(DIAG_WARN, "%s (line ignored)", siterules_warning(s->rules, i));
    return 0;
}

static const site_entry *find_named(const site_snapshot *s, const char *name)
{
    char p[PATH_MAX];
    if (!name || !name[0])
        return NULL;
    int n = snprintf(p, sizeof p, "/%s", name);
    return n > 0 && (size_t)n < sizeof p ? site_find(s, p, (size_t)n) : NULL;
}

int site_load(const tomed_config *cfg, uint64_t generation, site_snapshot **out, tomed_error *err)
{
    return site_load_after(cfg, generation, NULL, out, err);
}

int site_load_after(const tomed_config *cfg, uint64_t generation, const site_snapshot *previous,
                    site_snapshot **out, tomed_error *err)
{
    loader ld = {.cfg = cfg, .err = err, .root_fd = -1, .now = time(NULL), .previous = previous};
    site_snapshot *s = NULL;
    struct stat rst;
    *out = NULL;

    if (!realpath(cfg->root, ld.root_real))
        return error_set(err, TOMED_EXIT_CONFIG, "%s: root: \"%s\": %s", cfg->root_origin.where,
                         cfg->root, strerror(errno));
    ld.root_real_len = strlen(ld.root_real);
    ld.root_fd = open(ld.root_real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ld.root_fd < 0 || fstat(ld.root_fd, &rst) < 0)
        return error_set(err, TOMED_EXIT_CONFIG, "%s: root: \"%s\": %s", cfg->root_origin.where,
                         cfg->root, strerror(errno));
    detect_build_base(&ld);
    if (previous && (previous->rewriting != ld.rewriting ||
                     strcmp(previous->build_base, ld.from) != 0))
        ld.previous = NULL; /* the bytes of every text file may differ */
    s = calloc(1, sizeof *s);
    if (!s) {
        error_set(err, TOMED_EXIT_RUNTIME, "out of memory loading %s", cfg->root);
        goto fail;
    }
    atomic_init(&s->refs, 1);
    s->generation = generation;
    s->cfg = cfg;
    if (load_rules(&ld, s) < 0 || !(ld.pack = store_pack_new(0, err)))
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
    if (ld.csp_unhashed)
        diag(DIAG_WARN,
             "%zu page%s (%s%s) carr%s inline code that no hash can allow: event handlers "
             "(onclick=...), javascript: URLs, or SVG scripts holding markup or character "
             "references; the Content-Security-Policy blocks it (headers.csp_auto)",
             ld.csp_unhashed, ld.csp_unhashed == 1 ? "" : "s", diag_q(ld.csp_first),
             ld.csp_unhashed == 1 ? "" : ", ...", ld.csp_unhashed == 1 ? "ies" : "y");
    /* the bytes are all written: map them once, and point the new entries in */
    if (store_pack_seal(ld.pack) < 0) {
        error_set(err, TOMED_EXIT_RUNTIME, "storage.dir: \"%s\": cannot map: %s", store_dir(),
                  strerror(errno));
        goto fail;
    }
    for (size_t i = 0; i < ld.n; i++)
        if (ld.offs[i] != UINT64_MAX)
            ld.entries[i]->data = store_pack_at(ld.pack, ld.offs[i]);
    free(ld.offs);
    ld.offs = NULL;

    snprintf(s->build_base, sizeof s->build_base, "%s", ld.from);
    s->rewriting = ld.rewriting;
    s->entries = ld.entries;
    s->n_entries = ld.n;
    s->total_bytes = ld.total_bytes;
    s->shared = ld.shared;
    ld.entries = NULL;
    ld.n = 0;
    if (s->n_entries)
        qsort(s->entries, s->n_entries, sizeof *s->entries, cmp_entry);
    if (attach_siblings(s) < 0) {
        error_set(err, TOMED_EXIT_RUNTIME, "out of memory loading %s", cfg->root);
        goto fail;
    }
    for (size_t i = 0; i < s->n_entries; i++) {
        const site_entry *e = s->entries[i];
        s->rewritten_files += e->rewrites > 0;
        s->rewrites += e->rewrites;
    }
    if (build_table(s) < 0) {
        error_set(err, TOMED_EXIT_RUNTIME, "out of memory loading %s", cfg->root);
        goto fail;
    }
    s->not_found = find_named(s, cfg->not_found_page);
    /* 404.html is optional (most builds have none); another name was asked for
     * on purpose, so its absence is worth a warning, though not worth refusing
     * to serve: unknown paths still get a plain 404. */
    const char *nf_origin = config_origin_of(cfg, "not_found_page");
    if (cfg->not_found_page && cfg->not_found_page[0] && !s->not_found &&
        strcmp(cfg->not_found_page, "404.html") != 0)
        diag(DIAG_WARN, "%s: not_found_page: \"%s\" is not a file in %s; unknown paths get a "
                        "plain 404",
             diag_q(nf_origin ? nf_origin : "not_found_page"), diag_q(cfg->not_found_page),
             diag_q(cfg->root));
    s->spa_fallback = find_named(s, cfg->spa_fallback);
    if (cfg->spa_fallback && cfg->spa_fallback[0] && !s->spa_fallback) {
        const char *o = config_origin_of(cfg, "spa_fallback");
        error_set(err, TOMED_EXIT_CONFIG, "%s: spa_fallback: \"%s\" is not a file in %s",
                  o ? o : "spa_fallback", cfg->spa_fallback, cfg->root);
        goto fail;
    }
    close(ld.root_fd);
    store_pack_unref(ld.pack); /* the entries hold theirs */
    *out = s;
    return 0;

fail:
    close(ld.root_fd);
    for (size_t i = 0; i < ld.n; i++)
        entry_unref(ld.entries[i]);
    free(ld.entries);
    free(ld.offs);
    ld.offs = NULL;
    store_pack_unref(ld.pack);
    site_snapshot_unref(s);
    return -1;
}

site_snapshot *site_snapshot_ref(site_snapshot *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void site_snapshot_unref(site_snapshot *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < s->n_entries; i++)
        entry_unref(s->entries[i]);
    free(s->entries);
    free(s->slots);
    box_unref(s->rules_box);
    free(s);
}

site_snapshot *site_live_acquire(site_live *live)
{
    /* Announce ourselves before loading the pointer: a swapper waits for
     * `acquiring` to drain before it drops the old snapshot, so the snapshot we
     * load cannot be freed before our reference is taken. */
    atomic_fetch_add(&live->acquiring, 1);
    site_snapshot *s = site_snapshot_ref(atomic_load(&live->current));
    atomic_fetch_sub(&live->acquiring, 1);
    return s;
}

void site_live_swap(site_live *live, site_snapshot *next)
{
    site_snapshot *old = atomic_exchange(&live->current, next);
    while (atomic_load(&live->acquiring) != 0)
        sched_yield();
    site_snapshot_unref(old);
}
