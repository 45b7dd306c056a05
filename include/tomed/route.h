/*
 * route — every status decision for a request, in one place, as a pure
 * function of the configuration, the snapshot and the request's method, path
 * and conditional/range headers. The server only carries the decision out.
 */
#ifndef TOMED_ROUTE_H
#define TOMED_ROUTE_H

#include <stddef.h>
#include <stdint.h>
#include "tomed/config.h"
#include "tomed/site.h"

typedef struct route_request {
    const char *method;
    const char *path;          /* raw request path, still %-encoded, no query */
    size_t path_len;
    const char *query;         /* raw query without '?', or NULL */
    const char *if_none_match; /* header values, or NULL */
    const char *if_modified_since;
    const char *range;
    const char *if_range;
    const char *accept_encoding;
    int admin;                 /* on the admin listener: only the operational endpoints */
    int target_nul;            /* the request target held a NUL byte, which path cannot
                                  show: its string ends there (400) */
} route_request;

enum route_kind {
    ROUTE_FILE,        /* entry's (or variant's) whole representation, with status (200,
                          or 404 for the 404 page) */
    ROUTE_NOT_MODIFIED,/* 304 for entry (or variant) */
    ROUTE_PARTIAL,     /* 206: identity bytes [range_start, range_start + range_len) */
    ROUTE_UNSATISFIABLE,/* 416 for entry */
    ROUTE_REDIRECT,    /* 308 (or a _redirects rule's status) to location */
    ROUTE_HEALTH,      /* 200 liveness answer */
    ROUTE_READY,       /* readiness: the server answers 200, or 503 while draining */
    ROUTE_METRICS,     /* the Prometheus exposition */
    ROUTE_ERROR,       /* a bare status: 400, 404, 405, 414 */
};

typedef struct route_result {
    enum route_kind kind;
    unsigned status;
    const site_entry *entry;
    const site_variant *variant; /* the negotiated compressed representation, or NULL (identity) */
    uint64_t range_start, range_len;
    char *location;            /* the caller's buffer, filled for ROUTE_REDIRECT */
    int immutable_miss;        /* not found, and under /_app/immutable/: the previous
                                  generation of the site may still have it */
} route_result;

/* Decide. location must point at a buffer of loccap bytes (at least
 * max_url_length * 2 + 2 is always enough for a redirect with its query; a
 * longer one is answered 414). snap may be NULL (not loaded: 503 would come
 * from the caller; route answers 404). */
void route_decide(const tomed_config *cfg, const site_snapshot *snap, const route_request *req,
                  route_result *res, char *location, size_t loccap);

#endif
