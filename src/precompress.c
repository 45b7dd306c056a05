/*
 * precompress — the background worker that gives compressible files their
 * brotli and gzip variants.
 *
 * Memory and latency are bounded: files above compression.max_file_size are
 * left alone, the encoders stream (a chunk of the file at a time, from its
 * descriptor when it is not in memory), and the stop flag is looked at
 * between chunks, so a reload or SIGTERM waits for one chunk, not one file.
 *
 * The variants' bytes go to a pack (store.h) reserved at the budget's size,
 * so they are page cache like the files' own bytes, not anonymous memory.
 *
 * Work order: HTML first (every visit starts with a page), then smaller files
 * before larger ones, so most requests are compressed soon after start even
 * on a large site. Each variant is published with a release store into its
 * entry's slot; request threads pick it up with an acquire load and never
 * wait for the worker.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tomed/diag.h"
#include "tomed/encoding.h"
#include "tomed/precompress.h"

struct precompress {
    pthread_t thread;
    site_snapshot *snap;
    site_snapshot *previous; /* may be NULL */
    const tomed_config *cfg;
    precompress_prepare_fn prepare;
    void *ctx;
    store_pack *pack;        /* where this run's variants go; NULL: none can be made */
    atomic_int stop;
    atomic_int done;
};

typedef struct job {
    site_entry *e;
    int html;
} job;

static int cmp_job(const void *a, const void *b)
{
    const job *x = a, *y = b;
    if (x->html != y->html)
        return y->html - x->html;
    return x->e->size < y->e->size ? -1 : x->e->size > y->e->size;
}

/* The variant the previous generation made of the same bytes (sharing its
 * bytes, not a copy), or NULL. Entries that did not change at all are shared
 * with their variants by site_load_after; this finds the rest (a file
 * touched, or its policy changed, but not its bytes). */
static site_variant *reuse(const site_snapshot *prev, const site_entry *e, enum encoding enc)
{
    if (!prev)
        return NULL;
    const site_entry *old = site_find(prev, e->path, e->path_len);
    if (!old || strcmp(old->etag, e->etag) != 0)
        return NULL;
    const site_variant *ov = site_entry_variant(old, enc);
    if (!ov || !ov->pack)
        return NULL; /* siblings sent from disk are found again by the loader */
    return site_variant_new(e, enc, ov->pack, ov->data, ov->size);
}

static void *worker(void *arg)
{
    precompress *p = arg;
    site_snapshot *s = p->snap;
    const tomed_config *cfg = p->cfg;
    uint64_t budget = cfg->compress_memory_max, used = 0, in_bytes = 0;
    size_t n_jobs = 0, made = 0, files = 0, reused = 0, too_big = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    job *jobs = malloc((s->n_entries ? s->n_entries : 1) * sizeof *jobs);
    if (!jobs)
        goto out;
    for (size_t i = 0; i < s->n_entries; i++) {
        site_entry *e = s->entries[i];
        /* a file with both siblings needs nothing; one with only x.js.br still
         * gets a gzip variant for clients without brotli */
        if (e->negotiable && site_entry_encodings(e) != (ENC_MASK(ENC_BR) | ENC_MASK(ENC_GZIP)) &&
            e->size <= cfg->compress_max_file_size)
            jobs[n_jobs++] = (job){e, strncmp(e->mime, "text/html", 9) == 0};
        else if (e->negotiable && e->size > cfg->compress_max_file_size)
            too_big++;
    }
    qsort(jobs, n_jobs, sizeof *jobs, cmp_job);

    for (size_t j = 0; j < n_jobs && !atomic_load(&p->stop); j++) {
        site_entry *e = jobs[j].e;
        if (used >= budget)
            break;
        /* streamed from memory or from the descriptor, never read whole */
        const encoding_input in = {.data = e->data, .fd = e->fd, .size = e->size};
        const int level[ENC_COUNT] = {0, (int)cfg->brotli_quality, (int)cfg->gzip_level};
        for (int k = ENC_BR; k < ENC_COUNT && !atomic_load(&p->stop); k++) {
            if (site_entry_variant(e, (enum encoding)k))
                continue; /* a precompressed sibling is already there */
            site_variant *v = reuse(p->previous, e, (enum encoding)k);
            reused += v != NULL;
            if (!v) {
                unsigned char *out = NULL;
                size_t outn = 0;
                uint64_t off = 0;
                if (!p->pack ||
                    encoding_compress_input((enum encoding)k, level[k], &in, &p->stop, &out,
                                            &outn) < 0)
                    continue;
                if (used + outn > budget || store_pack_append(p->pack, out, outn, &off) < 0) {
                    free(out);
                    continue;
                }
                free(out);
                if (!(v = site_variant_new(e, (enum encoding)k, p->pack,
                                           store_pack_at(p->pack, off), outn)))
                    continue;
            }
            size_t outn = (size_t)v->size;
            if (used + outn > budget) {
                site_variant_free(v);
                continue;
            }
            if ((p->prepare && p->prepare(e, v, p->ctx) != 0) || site_entry_publish(e, v) != 0) {
                /* never published: nobody else can see it */
                site_variant_free(v);
                continue;
            }
            used += outn;
            made++;
        }
        in_bytes += e->size;
        files += site_entry_encodings(e) != 0;
    }
out:
    free(jobs);
    /* done with it: the previous generation may go when keep_previous ends */
    site_snapshot_unref(p->previous);
    p->previous = NULL;
    store_pack_unref(p->pack); /* the variants hold theirs */
    p->pack = NULL;
#ifdef __GLIBC__
    /* Brotli at quality 11 works in several MiB of scratch memory that glibc
     * keeps after it is freed, pinned below the variants allocated later.
     * Give it back: on the example site idle RSS falls from 13.8 to 10.5 MiB
     * (with the single arena app.c asks for; docs/benchmarks.md). */
    malloc_trim(0);
#endif
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
diag(DIAG_INFO,
         "compressed %zu of %zu compressible files (%llu bytes) into %zu variants (%llu bytes, "
         "%zu reused from the previous build) in %.0f ms%s",
         files, n_jobs, (unsigned long long)in_bytes, made, (unsigned long long)used, reused, ms,
         atomic_load(&p->stop) ? " (stopped early)" : "");
    if (too_big)
        diag(DIAG_INFO, "%zu compressible file(s) larger than compression.max_file_size "
                        "(%llu bytes) sent uncompressed",
             too_big, (unsigned long long)cfg->compress_max_file_size);
    atomic_store(&p->done, 1);
    return NULL;
}

precompress *precompress_start(site_snapshot *snap, const tomed_config *cfg,
                               precompress_prepare_fn prepare, void *ctx)
{
    return precompress_start_after(snap, NULL, cfg, prepare, ctx);
}

precompress *precompress_start_after(site_snapshot *snap, site_snapshot *previous,
                                     const tomed_config *cfg, precompress_prepare_fn prepare,
                                     void *ctx)
{
    precompress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->snap = site_snapshot_ref(snap);
    p->previous = site_snapshot_ref(previous);
    p->cfg = cfg;
    p->prepare = prepare;
    p->ctx = ctx;
    atomic_init(&p->stop, 0);
    atomic_init(&p->done, 0);
    tomed_error err = {0};
    /* reserved, so variants are readable as soon as they are written; the
     * untouched rest of the sparse file costs neither memory nor disk */
    uint64_t reserve = cfg->compress_memory_max;
    if (reserve > (uint64_t)(SIZE_MAX / 4))
        reserve = (uint64_t)(SIZE_MAX / 4); /* address space, on a 32-bit build */
    if (!(p->pack = store_pack_new(reserve, &err)))
        diag(DIAG_WARN, "compression: %s; serving uncompressed", err.msg);
    if (pthread_create(&p->thread, NULL, worker, p) != 0) {
        site_snapshot_unref(p->snap);
        site_snapshot_unref(p->previous);
        store_pack_unref(p->pack);
        free(p);
        return NULL;
    }
    return p;
}

int precompress_done(const precompress *p)
{
    return !p || atomic_load(&p->done);
}

void precompress_stop(precompress *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, 1);
    pthread_join(p->thread, NULL);
    site_snapshot_unref(p->snap);
    site_snapshot_unref(p->previous);
    free(p);
}
