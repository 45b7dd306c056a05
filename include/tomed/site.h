/*
 * site — the snapshot: the whole site directory loaded once into an
 * immutable, reference-counted table from URL path to entry, with every fact
 * a response needs decided at load (type, size, ETag, Last-Modified,
 * Cache-Control). Requests only look things up; nothing here changes after
 * site_load returns, so any number of threads read it without locks.
 */
#ifndef TOMED_SITE_H
#define TOMED_SITE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "tomed/config.h"
#include "tomed/encoding.h"
#include "tomed/error.h"
#include "tomed/siterules.h"
#include "tomed/store.h"

/* A compressed representation of an entry: a precompressed sibling found at
 * load (x.js.br, x.js.gz) or one made in the background after start. */
typedef struct site_variant {
    enum encoding encoding;
    const unsigned char *data; /* the bytes (in pack), or NULL when sent from fd */
    store_pack *pack;          /* a reference to the pack data is in, or NULL */
    int fd;                    /* for a large sibling, else -1 */
    uint64_t size;
    time_t mtime;              /* of a sibling file, to notice it being rewritten in place */
    char etag[40];             /* a content hash with "-br" / "-gz" inside the quotes: the
                                  sibling's own hash, or the entry's for a generated variant */
    _Atomic(void *) server_data; /* the server's responses, built on first use; freed by the
                                    release hook */
} site_variant;

typedef struct site_entry {
    /* Entries are shared by the generations whose files they describe: a
     * reload that changes one file makes one new entry (site_load_after). */
    atomic_uint refs;
    char *path;                /* site path, e.g. "/about.html"; owned by the snapshot */
    size_t path_len;
    const char *mime;          /* static string from mime_for_path */
    const char *cache_control; /* owned by the config the snapshot was loaded with */
    uint64_t size;
    time_t mtime;              /* the file's, to notice it being rewritten in place */
    time_t modified;           /* Last-Modified: mtime, or the load time if mtime is later */
    char etag[36];             /* strong: '"' + 32 hex digits of SHA-256 + '"' */
    char last_modified[32];    /* IMF-fixdate of modified */
    const unsigned char *data; /* the bytes when size <= memory_file_max (in pack), else NULL */
    store_pack *pack;          /* a reference to the pack data is in, or NULL */
    int fd;                    /* open read-only descriptor when data is NULL, else -1 */
    int from_siblings;         /* has a variant made from an x.br / x.gz file: not shared */
    _Atomic(void *) server_data; /* the server's responses, built on first use; freed by the
                                    release hook */
    int negotiable;            /* has or may get variants: responses carry Vary: Accept-Encoding */
    char *csp;                 /* this page's own policy (csp_auto, HTML only), else NULL */
    unsigned rewrites;         /* build-base references rewritten in this file at load */
    const siterules_headerset *headers; /* what the site's _headers file sets for this file,
                                           or NULL; owned by the snapshot's rules */
    /* Compressed variants, indexed by enum encoding ([ENC_IDENTITY] unused).
     * Each slot is written at most once, from NULL to a finished variant, by
     * the loader or the background compressor, and read with acquire loads:
     * the only part of a published snapshot that changes, and only by
     * appearing. */
    _Atomic(site_variant *) variants[ENC_COUNT];
} site_entry;

typedef struct site_snapshot site_snapshot;

/* Called once per entry when its last reference goes away, so the server can
 * free what it attached to server_data (of the entry and of its variants).
 * One hook for the process, set before the first load. */
typedef void (*site_release_fn)(site_entry *entry);
void site_set_release_hook(site_release_fn fn);

/* Mask of ENC_MASK bits for the variants an entry has right now. */
unsigned site_entry_encodings(const site_entry *e);

/* The variant for e, or NULL (identity). */
static inline site_variant *site_entry_variant(const site_entry *e, enum encoding enc)
{
    return enc == ENC_IDENTITY ? NULL
                               : atomic_load_explicit(&e->variants[enc], memory_order_acquire);
}

/* Make a variant for e of the size bytes at data, which are in pack (a
 * reference to pack is taken). NULL when out of memory. */
site_variant *site_variant_new(const site_entry *e, enum encoding enc, store_pack *pack,
                               const unsigned char *data, uint64_t size);

/* Free a variant that was never published. NULL is a no-op. */
void site_variant_free(site_variant *v);

/* Publish v as e's variant for its encoding. Returns 0, or -1 (v untouched) if
 * that slot is already taken. */
int site_entry_publish(site_entry *e, site_variant *v);

struct site_snapshot {
    atomic_uint refs;
    uint64_t generation;
    site_entry **entries;      /* sorted by path; each holds a reference */
    size_t n_entries;
    uint64_t total_bytes;
    const site_entry *not_found;    /* cfg->not_found_page when the site has it, else NULL */
    const site_entry *spa_fallback; /* cfg->spa_fallback when set (load fails if missing) */
    const tomed_config *cfg;        /* borrowed: must outlive the snapshot */
    char build_base[256];           /* the base the build was made for ("" unknown or root) */
    int rewriting;                  /* build_base differs from the mount base: text rewritten */
    size_t rewritten_files;         /* files with at least one reference rewritten */
    uint64_t rewrites;              /* references rewritten in all */
    siterules *rules;               /* the site's _redirects and _headers, or NULL (neither) */
    void *rules_box;                /* what keeps rules alive (shared with a previous generation) */
    size_t shared;                  /* entries taken over from the previous generation */
    /* open-addressing hash table of indexes into entries */
    uint32_t *slots;
    size_t slot_mask;
};

/*
 * Building a snapshot: siteload.c does it from the site directory; tests and
 * fuzzers from bytes in memory. Calls in this order: new, rewrite and rules
 * (both optional), add for each file, then finish, which frees the builder
 * whatever it returns (free is for giving up before finish). Errors fill the
 * err given to new and return -1.
 */
typedef struct site_builder site_builder;

/* previous (may be NULL, borrowed until finish) offers its entries to share. */
site_builder *site_builder_new(const tomed_config *cfg, uint64_t generation,
                               const site_snapshot *previous, tomed_error *err);

/* Rewrite references from the build's base to the mount's ("" = root) in
 * text files, when rewrite.enabled and they differ. */
void site_builder_rewrite(site_builder *b, const char *from, const char *to);

/* The site's _redirects and _headers texts (malloc'd, taken; NULL: absent). */
int site_builder_rules(site_builder *b, char *redirects, size_t rlen, char *headers,
                       size_t hlen);

/* One file at site path ("/a/b.js"): its size bytes (malloc'd, taken), or,
 * with bytes NULL, the descriptor to send it from (taken). may_share: no
 * precompressed sibling (x.br, x.gz) lies next to it on disk, so an
 * unchanged entry of the previous generation may stand for it. */
int site_builder_add(site_builder *b, const char *path, unsigned char *bytes, int fd,
                     uint64_t size, time_t mtime, int may_share);

/* The snapshot, with one reference owned by the caller. */
int site_builder_finish(site_builder *b, site_snapshot **out);
void site_builder_free(site_builder *b);

/* The entry at an exact site path, or NULL. Lock-free, no allocation. */
const site_entry *site_find(const site_snapshot *snap, const char *path, size_t len);

site_snapshot *site_snapshot_ref(site_snapshot *snap);
/* Drop a reference; the last one frees everything. NULL is a no-op. */
void site_snapshot_unref(site_snapshot *snap);

/*
 * The live snapshot that requests read: one atomic pointer. Readers never block;
 * a swap waits only for readers caught between loading the pointer and taking
 * their reference, then drops the old snapshot's live reference.
 */
typedef struct site_live {
    _Atomic(site_snapshot *) current;
    atomic_uint acquiring;
} site_live;

/* A new reference to the live snapshot (NULL if none); release with site_snapshot_unref. */
site_snapshot *site_live_acquire(site_live *live);
/* Publish next (taking over the caller's reference) and release the previous one. */
void site_live_swap(site_live *live, site_snapshot *next);

#endif
