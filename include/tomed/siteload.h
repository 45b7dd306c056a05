/*
 * siteload — the site directory into a snapshot (site.h's builder): which
 * files are part of the site, read safely below the root.
 */
#ifndef TOMED_SITELOAD_H
#define TOMED_SITELOAD_H

#include <stdint.h>

#include "tomed/config.h"
#include "tomed/error.h"
#include "tomed/site.h"

/*
 * Walk cfg->root and build a snapshot with one reference, owned by the caller.
 * Dot-files and dot-directories are skipped (except a top-level .well-known);
 * symlinks are followed only when their real target stays inside the real root;
 * unreadable files are an error (a half-loaded site is worse than none).
 * Errors fill err (TOMED_EXIT_CONFIG for a missing or unusable root, a missing
 * SPA fallback; TOMED_EXIT_RUNTIME for I/O failures) and return -1.
 */
int site_load(const tomed_config *cfg, uint64_t generation, site_snapshot **out, tomed_error *err);

/* The same for a reload: an entry of previous whose file has the same bytes,
 * Last-Modified and (derived) policy is taken over as it is, with its
 * variants and responses, instead of being built again; s->shared counts
 * them. previous may be NULL. */
int site_load_after(const tomed_config *cfg, uint64_t generation, const site_snapshot *previous,
                    site_snapshot **out, tomed_error *err);

#endif
