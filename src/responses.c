/*
 * responses — build the libmicrohttpd responses of a file, so the request
 * path mostly only queues them.
 *
 * A response object with its header list is ~2.5 KB per representation, more
 * than the small file it sends: building them all at load cost a 10,000-file
 * site 25 MiB before a single request. They are built when a representation
 * is first asked for and kept with it, up to RESPONSES_KEPT_MAX of them for
 * the process; past that, a representation without one gets a response built
 * for the request and freed after it (the cold tail of a large site, a few
 * microseconds each). The hot files, asked for first and most, keep theirs.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tomed/encoding.h"
#include "tomed/policy.h"
#include "tomed/responses.h"

/* One of tomed's own headers, unless the site's _headers sets or removes
 * it for this file (add_rule_headers then has the say). e may be NULL. */
static void add_own(struct MHD_Response *r, const site_entry *e, const char *name,
                    const char *value)
{
    if (!e || !siterules_header_find(e->headers, name))
        MHD_add_response_header(r, name, value);
}

/* What the site's _headers sets for this file; Content-Type only where
 * tomed sends its own (not on a 304). */
static void add_rule_headers(struct MHD_Response *r, const site_entry *e, int with_body_headers)
{
    const siterules_headerset *hs = e->headers;
    for (size_t i = 0; hs && i < hs->n; i++)
        if (hs->h[i].value &&
            (with_body_headers || strcasecmp(hs->h[i].name, MHD_HTTP_HEADER_CONTENT_TYPE) != 0))
            MHD_add_response_header(r, hs->h[i].name, hs->h[i].value);
}

/* The security headers; an HTML page with its own policy (csp_auto) gets
 * that instead of the template. e may be NULL. */
static void add_security_headers(const tomed_config *cfg, struct MHD_Response *r,
                                 const site_entry *e)
{
    policy_header h[8];
    size_t n = policy_security_headers(cfg, h, 8);
    for (size_t i = 0; i < n; i++) {
        const char *v = h[i].value;
        if (e && e->csp && strcmp(h[i].name, "Content-Security-Policy") == 0)
            v = e->csp;
        add_own(r, e, h[i].name, v);
    }
}

/*
 * Headers every response for an entry carries, whichever representation:
 * RFC 9110 §15.4.5 wants the same caching headers on a 304 as on the 200, and
 * a negotiable resource must say Vary: Accept-Encoding on all of them, the
 * identity one included, or a shared cache could hand brotli to a client that
 * cannot read it. v is the variant, or NULL for the identity bytes.
 */
static void add_entry_headers(const tomed_config *cfg, struct MHD_Response *r, const site_entry *e,
                              const site_variant *v, int with_body_headers)
{
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, v ? v->etag : e->etag);
    MHD_add_response_header(r, MHD_HTTP_HEADER_LAST_MODIFIED, e->last_modified);
    if (e->cache_control && e->cache_control[0])
        add_own(r, e, MHD_HTTP_HEADER_CACHE_CONTROL, e->cache_control);
    if (e->negotiable)
        MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    add_rule_headers(r, e, with_body_headers);
    if (!with_body_headers)
        return;
    add_own(r, e, MHD_HTTP_HEADER_CONTENT_TYPE, e->mime);
    if (v)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, encoding_name(v->encoding));
    else
        MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    add_security_headers(cfg, r, e);
}

/* A response for bytes [off, off+len) held in data or behind fd; the caller owns it. */
static struct MHD_Response *body_response(const unsigned char *data, int fd, uint64_t off,
                                          uint64_t len)
{
    if (data)
        return MHD_create_response_from_buffer((size_t)len, (void *)(uintptr_t)(data + off),
                                               MHD_RESPMEM_PERSISTENT);
    /* libmicrohttpd closes the descriptor with the response; the snapshot keeps its own. */
    int dupfd = dup(fd);
    if (dupfd < 0)
        return NULL;
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(len, dupfd, off);
    if (!r)
        close(dupfd);
    return r;
}

static struct MHD_Response *entry_body(const site_entry *e, uint64_t off, uint64_t len)
{
    return body_response(e->data, e->fd, off, len);
}

static void responses_free(entry_responses *er)
{
    if (!er)
        return;
    if (er->full)
        MHD_destroy_response(er->full);
    if (er->not_modified)
        MHD_destroy_response(er->not_modified);
    free(er);
}

/* The 200 and 304 of one representation, built once. NULL when out of memory. */
static entry_responses *responses_new(const tomed_config *cfg, const site_entry *e,
                                      const site_variant *v)
{
    entry_responses *er = calloc(1, sizeof *er);
    if (!er)
        return NULL;
    er->full = v ? body_response(v->data, v->fd, 0, v->size) : entry_body(e, 0, e->size);
    er->size = v ? v->size : e->size;
    /* libmicrohttpd 0.9.75 writes Content-Length on a 304 from the response's
     * size (nginx and Go omit it; 0.9.75 cannot). RFC 9110 8.6 would have the
     * 200's length, but a client that trusts Content-Length over the status
     * then waits for a body that never comes: wrk (http_parser 2.x) stalled
     * at 0 requests/s. 0 is what every client reads as "no body", and RFC
     * 9111 3.2 has caches ignore a 304's Content-Length. */
    er->not_modified = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!er->full || !er->not_modified) {
        responses_free(er);
        return NULL;
    }
    add_entry_headers(cfg, er->full, e, v, 1);
    add_entry_headers(cfg, er->not_modified, e, v, 0);
    return er;
}

/* Representations that hold built responses now (at most RESPONSES_KEPT_MAX). */
static atomic_size_t kept;

static void drop_kept(_Atomic(void *) *slot)
{
    entry_responses *er = atomic_load_explicit(slot, memory_order_acquire);
    if (er) {
        responses_free(er);
        atomic_store_explicit(slot, NULL, memory_order_relaxed);
        atomic_fetch_sub_explicit(&kept, 1, memory_order_relaxed);
    }
}

/* site's release hook: the entry is going away, and nobody can reach it. */
static void release_entry(site_entry *e)
{
    drop_kept(&e->server_data);
    for (int k = ENC_BR; k < ENC_COUNT; k++) {
        site_variant *v = site_entry_variant(e, (enum encoding)k);
        if (v)
            drop_kept(&v->server_data);
    }
}

const entry_responses *responses_of(const tomed_config *cfg, const route_result *res,
                                    entry_responses *spare)
{
    /* The slot is the one part of an entry or variant that changes after it
     * is published, from NULL to responses, once (as variants[] does). */
    _Atomic(void *) *slot = res->variant ? &((site_variant *)(uintptr_t)res->variant)->server_data
                                         : &((site_entry *)(uintptr_t)res->entry)->server_data;
    entry_responses *er = atomic_load_explicit(slot, memory_order_acquire);
    memset(spare, 0, sizeof *spare);
    if (er)
        return er;
    if (atomic_fetch_add_explicit(&kept, 1, memory_order_relaxed) >= RESPONSES_KEPT_MAX) {
        atomic_fetch_sub_explicit(&kept, 1, memory_order_relaxed);
        er = responses_new(cfg, res->entry, res->variant);
        if (!er)
            return NULL;
        *spare = *er; /* the caller's, for this request */
        free(er);
        return spare;
    }
    if (!(er = responses_new(cfg, res->entry, res->variant))) {
        atomic_fetch_sub_explicit(&kept, 1, memory_order_relaxed);
        return NULL;
    }
    void *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(slot, &expected, er, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        /* another thread built them first: use those */
        responses_free(er);
        atomic_fetch_sub_explicit(&kept, 1, memory_order_relaxed);
        return expected;
    }
    return er;
}

void responses_done(entry_responses *spare)
{
    if (spare->full)
        MHD_destroy_response(spare->full);
    if (spare->not_modified)
        MHD_destroy_response(spare->not_modified);
    memset(spare, 0, sizeof *spare);
}

size_t responses_kept(void)
{
    return atomic_load_explicit(&kept, memory_order_relaxed);
}

void responses_init(void)
{
    site_set_release_hook(release_entry);
}

/* Bytes of one header field in a head: name, ": ", value, CRLF. */
static size_t field_len(const char *name, const char *value)
{
    return strlen(name) + strlen(value) + 4;
}

size_t responses_head_bound(const tomed_config *cfg, const site_entry *e)
{
    /* what add_entry_headers can add, each at its longest */
    size_t n = field_len(MHD_HTTP_HEADER_ETAG, e->etag) + 8 /* "-br" inside a variant's */ +
               field_len(MHD_HTTP_HEADER_LAST_MODIFIED, e->last_modified) +
               field_len(MHD_HTTP_HEADER_CACHE_CONTROL, e->cache_control ? e->cache_control : "") +
               field_len(MHD_HTTP_HEADER_VARY, "Accept-Encoding") +
               field_len(MHD_HTTP_HEADER_CONTENT_TYPE, e->mime) +
               field_len(MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip") +
               field_len(MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    const siterules_headerset *hs = e->headers;
    for (size_t i = 0; hs && i < hs->n; i++)
        if (hs->h[i].value)
            n += field_len(hs->h[i].name, hs->h[i].value);
    policy_header h[8];
    size_t k = policy_security_headers(cfg, h, 8);
    for (size_t i = 0; i < k; i++)
        n += field_len(h[i].name, e->csp && strcmp(h[i].name, "Content-Security-Policy") == 0
                                      ? e->csp
                                      : h[i].value);
    return n;
}

struct MHD_Response *responses_text(const tomed_config *cfg, const char *body,
                                    const char *cache_control)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return NULL;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
    add_security_headers(cfg, r, NULL);
    return r;
}

struct MHD_Response *responses_range(const tomed_config *cfg, const route_result *res)
{
    const site_entry *e = res->entry;
    char cr[96];
    struct MHD_Response *r;
    if (res->kind == ROUTE_PARTIAL) {
        r = entry_body(e, res->range_start, res->range_len);
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)res->range_start,
                 (unsigned long long)(res->range_start + res->range_len - 1),
                 (unsigned long long)e->size);
        if (!r)
            return NULL;
        add_entry_headers(cfg, r, e, NULL, 1);
    } else {
        /* A 416 tells the client how long the representation is (RFC 9110
         * 15.5.17) and nothing else: it is not the file. With the file's
         * Content-Type, ETag and public max-age a shared cache could store the
         * empty answer as the resource itself, so it carries none of them and
         * is kept out of every cache. */
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)e->size);
        if (!r)
            return NULL;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        add_security_headers(cfg, r, NULL);
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    return r;
}

