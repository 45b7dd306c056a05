/*
 * responses — the libmicrohttpd responses for a snapshot, built once.
 *
 * Every entry and every variant gets its 200 and 304 built when it is
 * published, with all headers decided then; requests only queue them
 * (libmicrohttpd responses are reference-counted and may be queued on any
 * number of connections at once). Only rare answers (206, 416, redirects,
 * metrics) are built per request.
 */
#ifndef TOMED_RESPONSES_H
#define TOMED_RESPONSES_H

#include <microhttpd.h>

#include "tomed/config.h"
#include "tomed/error.h"
#include "tomed/route.h"
#include "tomed/site.h"

/* What server_data of an entry or a variant points to. */
typedef struct entry_responses {
    struct MHD_Response *full;         /* 200, or 404 when the entry is the 404 page */
    struct MHD_Response *not_modified; /* 304 */
    uint64_t size;                     /* body bytes of full */
} entry_responses;

/* Build every entry's and existing variant's responses, and register the hook
 * that frees them with the snapshot. */
int responses_prepare_snapshot(const tomed_config *cfg, site_snapshot *snap, tomed_error *err);

/* Build a new variant's responses (before it is published). 0, or -1 when out of memory. */
int responses_prepare_variant(const tomed_config *cfg, const site_entry *e, site_variant *v);

/* The prebuilt responses of the representation route chose. */
const entry_responses *responses_of(const route_result *res);

/* A small text/plain response whose body is a static string (not copied). Caller owns it. */
struct MHD_Response *responses_text(const tomed_config *cfg, const char *body,
                                    const char *cache_control);

/* A 206 or 416 for res (ROUTE_PARTIAL / ROUTE_UNSATISFIABLE). Caller owns it. */
struct MHD_Response *responses_range(const tomed_config *cfg, const route_result *res);

#endif
