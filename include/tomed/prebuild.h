/*
 * prebuild — `tomed precompress DIR`: write the brotli and gzip siblings
 * (x.js.br, x.js.gz) of a build's compressible files once, at image build
 * time, so a small server starts with every variant ready and compresses
 * nothing at run time.
 *
 * The rule is the run-time compressor's (precompress.c): a file is compressed
 * when its type is compressible (mime_is_compressible) and it is at least
 * min_size bytes, with the same encoders (encoding.c) at the same levels, and
 * a variant is kept only when smaller than the file. The loader (site.c)
 * takes such siblings as the file's variants.
 *
 * Walked like the loader walks a site: regular files only, symlinks not
 * followed, dot-files and dot-directories skipped (but .well-known), and the
 * siblings themselves never compressed again.
 *
 * Up to date: a smaller sibling whose modification time equals its file's
 * (it is written with the file's time, as gzip and brotli's own tools do), or
 * that decodes to the file (one made by another tool, SvelteKit's
 * precompress), is left alone, so a second run writes nothing. A sibling that is
 * stale and whose file no longer compresses smaller is removed: the server
 * would otherwise serve its old bytes. Siblings are written to a temporary
 * name and renamed into place, so a reader never sees half of one.
 */
#ifndef TOMED_PREBUILD_H
#define TOMED_PREBUILD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct prebuild_opts {
    int brotli_quality; /* 0..11 */
    int gzip_level;     /* 1..9 */
    uint64_t min_size;  /* smaller files are left alone */
    unsigned threads;   /* 0: one per online CPU */
    FILE *progress;     /* progress and problems (stderr), or NULL for none */
} prebuild_opts;

typedef struct prebuild_stats {
    size_t files;        /* regular files seen, siblings not counted */
    size_t compressible; /* of those, compressed or checked */
    size_t written;      /* siblings written */
    size_t up_to_date;   /* siblings already there and current */
    size_t not_smaller;  /* variants not written: not smaller than the file */
    size_t removed;      /* stale siblings removed */
    size_t failed;       /* files or siblings that could not be read or written */
    uint64_t in_bytes;   /* bytes of the files whose siblings were written */
    uint64_t out_bytes;  /* bytes of the siblings written */
} prebuild_stats;

/* Precompress the tree at dir. Every failure (unreadable file or
 * directory, unwritable directory) is reported on o->progress and counted,
 * and the rest of the tree is still done. Returns 0 when nothing failed, -1
 * otherwise (also when dir itself cannot be opened). */
int prebuild_dir(const char *dir, const prebuild_opts *o, prebuild_stats *st);

#endif
