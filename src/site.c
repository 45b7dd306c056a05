/*
 * site — the snapshot: entries made from a file's bytes (or descriptor),
 * shared with the previous generation where nothing changed, and looked up
 * by path. siteload.c walks the site directory into a builder; tests and
 * fuzzers fill one in memory.
 *
 * Everything a response needs is decided here, once: each file is hashed
 * (SHA-256, so every replica of a Deployment derives the same strong ETag
 * from the same bytes, whatever the files' mtimes), a small file's
 * (possibly rewritten) bytes are copied into the load's pack (store.h: page
 * cache the kernel may reclaim, in a file nobody else can truncate), a large
 * one keeps its descriptor so it goes out with sendfile. The site's files
 * are never consulted again for small bodies while the snapshot lives: a
 * deploy that rewrites files in place, even truncating them, does not
 * produce a torn response nor a SIGBUS.
 *
 * On a reload, an entry of the previous generation whose bytes and derived
 * facts are unchanged is taken over (reference-counted), so the generations
 * share everything but what a deploy changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tomed/diag.h"
#include "tomed/http.h"
#include "tomed/mime.h"
#include "tomed/csp.h"
#include "tomed/policy.h"
#include "tomed/rewrite.h"
#include "tomed/site.h"

/* The parsed rules and the texts they came from, shared by the generations
 * that read the same _redirects and _headers (their entries point into it). */
typedef struct rules_box {
    atomic_uint refs;
    siterules *rules;      /* NULL when the site has neither file */
    char *text[2];         /* _redirects, _headers as read (NULL: absent) */
    size_t len[2];
} rules_box;

struct site_builder {
    const tomed_config *cfg;
    uint64_t generation;
    char from[256], to[256];         /* base rewriting: build base -> mount base ("" = root) */
    int rewriting;
    time_t now;                      /* the load's time: no Last-Modified is later */
    const site_snapshot *previous;   /* entries to take over, or NULL */
    store_pack *pack;                /* this load's small bodies */
    site_entry **entries;
    uint64_t *offs;                  /* per entry: where its bytes are in pack, or UINT64_MAX */
    size_t n, cap, shared;
    rules_box *box;                  /* the rules, set before the first file */
    siterules *rules;                /* box's, for each entry's headers */
    uint64_t total_bytes;
    size_t csp_unhashed;             /* pages with inline code no hash can allow */
    char csp_first[128];             /* the first of them, for the summary */
    tomed_error *err;
};

static uint64_t hash_path(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: short keys, good spread, no state */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
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
static int adapt_text(site_builder *ld, site_entry *e, unsigned char **buf)
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

/*
 * The previous generation's entry for e's path when it may stand for e: the
 * same bytes (ETag), Last-Modified and file times, the same policy derived
 * from them (CSP, rewrites; the config and _headers are the same, or there is
 * no previous), held in its pack, and with no precompressed siblings on
 * either side (those are attached to an entry after the walk; the caller
 * says there are none on disk). NULL if not.
 */
static site_entry *reusable(const site_builder *ld, const site_entry *e)
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
    return old;
}

/* Room for one more entry (and its offset). */
static int grow(site_builder *ld)
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

int site_builder_add(site_builder *ld, const char *site_path, unsigned char *bytes, int fd,
                     uint64_t size, time_t mtime, int may_share)
{
    const tomed_config *cfg = ld->cfg;
    unsigned char *buf = bytes;
    site_entry *e = NULL;
    if (grow(ld) < 0 || !(e = calloc(1, sizeof *e)) || !(e->path = strdup(site_path))) {
        free(e);
        free(bytes);
        if (fd >= 0)
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
    e->size = size;
    e->mtime = mtime;
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

    if (buf) {
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

    site_entry *old = may_share ? reusable(ld, e) : NULL;
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

int site_builder_rules(site_builder *ld, char *redirects, size_t rlen, char *headers,
                       size_t hlen)
{
    rules_box *b = calloc(1, sizeof *b);
    if (!b) {
        free(redirects);
        free(headers);
        return error_set(ld->err, TOMED_EXIT_RUNTIME, "out of memory");
    }
    atomic_init(&b->refs, 1);
    b->text[0] = redirects;
    b->len[0] = rlen;
    b->text[1] = headers;
    b->len[1] = hlen;
    rules_box *old = ld->previous ? ld->previous->rules_box : NULL;
    if (old && same_text(old->text[0], old->len[0], b->text[0], b->len[0]) &&
        same_text(old->text[1], old->len[1], b->text[1], b->len[1])) {
        box_unref(b);
        atomic_fetch_add_explicit(&old->refs, 1, memory_order_relaxed);
        b = old;
    } else {
        ld->previous = NULL; /* the entries' headers may differ: none is shared */
        if ((b->text[0] || b->text[1]) &&
            !(b->rules = siterules_parse(b->text[0], b->len[0], b->text[1], b->len[1]))) {
            box_unref(b);
            return error_set(ld->err, TOMED_EXIT_RUNTIME,
                             "out of memory reading _redirects / _headers");
        }
    }
    box_unref(ld->box);
    ld->box = b;
    ld->rules = b->rules;
    for (size_t i = 0; i < siterules_warning_count(b->rules); i++)
        diag(DIAG_WARN, "%s (line ignored)", siterules_warning(b->rules, i));
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

site_builder *site_builder_new(const tomed_config *cfg, uint64_t generation,
                               const site_snapshot *previous, tomed_error *err)
{
    site_builder *b = calloc(1, sizeof *b);
    if (!b) {
        error_set(err, TOMED_EXIT_RUNTIME, "out of memory loading %s", cfg->root);
        return NULL;
    }
    b->cfg = cfg;
    b->generation = generation;
    b->previous = previous;
    b->now = time(NULL);
    b->err = err;
    if (!(b->pack = store_pack_new(0, err))) {
        free(b);
        return NULL;
    }
    return b;
}

void site_builder_rewrite(site_builder *b, const char *from, const char *to)
{
    snprintf(b->from, sizeof b->from, "%s", from);
    snprintf(b->to, sizeof b->to, "%s", to);
    b->rewriting = b->cfg->rewrite_enabled && b->from[0] && strcmp(b->from, b->to) != 0;
    if (b->previous && (b->previous->rewriting != b->rewriting ||
                        strcmp(b->previous->build_base, b->from) != 0))
        b->previous = NULL; /* the bytes of every text file may differ */
}

void site_builder_free(site_builder *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        entry_unref(b->entries[i]);
    free(b->entries);
    free(b->offs);
    store_pack_unref(b->pack);
    box_unref(b->box);
    free(b);
}

int site_builder_finish(site_builder *ld, site_snapshot **out)
{
    const tomed_config *cfg = ld->cfg;
    tomed_error *err = ld->err;
    site_snapshot *s = NULL;
    *out = NULL;
    if (!ld->box && site_builder_rules(ld, NULL, 0, NULL, 0) < 0)
        goto fail;
    if (ld->csp_unhashed)
        diag(DIAG_WARN,
             "%zu page%s (%s%s) carr%s inline code that no hash can allow: event handlers "
             "(onclick=...), javascript: URLs, or SVG scripts holding markup or character "
             "references; the Content-Security-Policy blocks it (headers.csp_auto)",
             ld->csp_unhashed, ld->csp_unhashed == 1 ? "" : "s", diag_q(ld->csp_first),
             ld->csp_unhashed == 1 ? "" : ", ...", ld->csp_unhashed == 1 ? "ies" : "y");
    /* the bytes are all written: map them once, and point the new entries in */
    if (store_pack_seal(ld->pack) < 0) {
        error_set(err, TOMED_EXIT_RUNTIME, "storage.dir: \"%s\": cannot map: %s", store_dir(),
                  strerror(errno));
        goto fail;
    }
    for (size_t i = 0; i < ld->n; i++)
        if (ld->offs[i] != UINT64_MAX)
            ld->entries[i]->data = store_pack_at(ld->pack, ld->offs[i]);
    s = calloc(1, sizeof *s);
    if (!s) {
        error_set(err, TOMED_EXIT_RUNTIME, "out of memory loading %s", cfg->root);
        goto fail;
    }
    atomic_init(&s->refs, 1);
    s->generation = ld->generation;
    s->cfg = cfg;
    s->rules_box = ld->box;
    s->rules = ld->rules;
    ld->box = NULL;
    snprintf(s->build_base, sizeof s->build_base, "%s", ld->from);
    s->rewriting = ld->rewriting;
    s->entries = ld->entries;
    s->n_entries = ld->n;
    s->total_bytes = ld->total_bytes;
    s->shared = ld->shared;
    ld->entries = NULL;
    ld->n = 0;
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
    site_builder_free(ld); /* the entries hold their pack */
    *out = s;
    return 0;

fail:
    site_builder_free(ld);
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
