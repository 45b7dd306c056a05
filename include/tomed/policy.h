/*
 * policy — which headers a file gets: Cache-Control from SvelteKit-aware
 * defaults and the configured glob rules, and the security headers.
 * Pure: decided once per file at load time, never per request.
 */
#ifndef TOMED_POLICY_H
#define TOMED_POLICY_H

#include <stddef.h>
#include "tomed/config.h"

typedef struct policy_header {
    const char *name;
    const char *value; /* points into the config; valid while it lives */
} policy_header;

/* Nonzero when glob matches the site path. '*' matches any run of bytes
 * except '/', '**' any run including '/', '?' one byte other than '/';
 * everything else matches itself. No allocation; bounded backtracking. */
int policy_glob_match(const char *glob, const char *path);

/* Cache-Control for a site path ("/_app/immutable/x.js") of media type mime:
 * the first matching cache.rules entry, else immutable for /_app/immutable/,
 * revalidate for HTML, /_app/version.json and service-worker.js, else default.
 * Returns a string owned by cfg. */
const char *policy_cache_control(const tomed_config *cfg, const char *site_path, const char *mime);

/* The configured security headers, omitting removed ones (""). Writes up to
 * cap entries to out and returns how many. */
size_t policy_security_headers(const tomed_config *cfg, policy_header *out, size_t cap);

#endif
