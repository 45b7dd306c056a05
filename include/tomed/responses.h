/*
 * responses — the libmicrohttpd responses for a snapshot, built once.
 *
 * An entry's or variant's 200 and 304 are built with all headers when it is
 * first asked for and kept with it (libmicrohttpd responses are
 * reference-counted and may be queued on any number of connections at once),
 * for a bounded number of them; see responses.c. Rare answers (206, 416,
 * redirects, metrics) are built per request.
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

/* Representations that keep their responses, for the process (~2.5 KB each):
 * the hot part of any site, and a bound on the memory they take. */
#define RESPONSES_KEPT_MAX 2048

/* Register the hook that frees kept responses with their entry; once, before
 * the first snapshot is loaded. */
void responses_init(void);

/*
 * The responses of the representation route chose: the kept ones (built now
 * on first use, then kept with the entry or variant), or, past
 * RESPONSES_KEPT_MAX, ones built into spare for this request, which the
 * caller hands to responses_done after queueing. NULL when out of memory.
 */
const entry_responses *responses_of(const tomed_config *cfg, const route_result *res,
                                    entry_responses *spare);

/* Free what responses_of built into spare (nothing if it returned kept ones). */
void responses_done(entry_responses *spare);

/* Representations holding kept responses now. */
size_t responses_kept(void);

/* At least the bytes of the header fields of any response of e (without
 * building one): for sizing libmicrohttpd's connection buffers. */
size_t responses_head_bound(const tomed_config *cfg, const site_entry *e);

/* A small text/plain response whose body is a static string (not copied). Caller owns it. */
struct MHD_Response *responses_text(const tomed_config *cfg, const char *body,
                                    const char *cache_control);

/* A 206 or 416 for res (ROUTE_PARTIAL / ROUTE_UNSATISFIABLE). Caller owns it. */
struct MHD_Response *responses_range(const tomed_config *cfg, const route_result *res);

#endif
