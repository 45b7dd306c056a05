/*
 * precompress — compress a snapshot's compressible files in the background,
 * once, after the server is already answering: until a file's variant is
 * ready it is served as it is, so start-up never waits for brotli.
 */
#ifndef TOMED_PRECOMPRESS_H
#define TOMED_PRECOMPRESS_H

#include "tomed/config.h"
#include "tomed/site.h"

/* Called on the worker thread for each finished variant before it is
 * published, so the server can attach its prebuilt responses; nonzero drops it. */
typedef int (*precompress_prepare_fn)(const site_entry *e, site_variant *v, void *ctx);

typedef struct precompress precompress;

/*
 * Start a worker over snap's negotiable entries that lack variants: brotli at
 * cfg->brotli_quality and gzip at cfg->gzip_level, keeping a variant only when
 * smaller, until cfg->compress_memory_max bytes of variants exist; files
 * larger than cfg->compress_max_file_size are not compressed. Takes its own
 * reference on snap. Returns NULL if the thread cannot start (the site is then
 * served uncompressed, which is correct, only larger).
 */
precompress *precompress_start(site_snapshot *snap, const tomed_config *cfg,
                               precompress_prepare_fn prepare, void *ctx);

/* The same after a reload: variants of files whose bytes did not change are
 * copied from previous (a reference is taken) instead of compressed again, so
 * a deploy that changes three files costs three files of brotli. */
precompress *precompress_start_after(site_snapshot *snap, site_snapshot *previous,
                                     const tomed_config *cfg, precompress_prepare_fn prepare,
                                     void *ctx);

/* Nonzero once every file has been considered. */
int precompress_done(const precompress *p);

/* Stop early (within one chunk of an encoding, tens of ms) and wait for the
 * worker; frees p. NULL is a no-op. */
void precompress_stop(precompress *p);

#endif
