/*
 * server — the libmicrohttpd daemons: the public listener and the optional
 * admin listener, the request handler, per-connection bookkeeping for the
 * access log, the metrics and the header deadline (slow-loris), and the drain
 * on shutdown.
 *
 * Hot path: route decides, the prebuilt response of the chosen representation
 * is queued (responses.c built it when the snapshot was published). No
 * allocation, no file-system call, no lock: the snapshot reference and the
 * metrics are atomic adds, the access log a copy into its queue (log.c). (The list of open
 * connections takes a lock when a connection opens and closes, not per request.)
 *
 * The handler uses libmicrohttpd's two-call pattern: the first call for a
 * request only takes a reference on the live snapshot; the response is queued
 * on the second. Queueing on the first call makes libmicrohttpd 0.9.75 answer
 * "Connection: close" to every request, losing keep-alive.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "tomed/diag.h"
#include "tomed/encoding.h"
#include "tomed/http.h"
#include "tomed/log.h"
#include "tomed/metrics.h"
#include "tomed/iplimit.h"
#include "tomed/netaddr.h"
#include "tomed/precompress.h"
#include "tomed/reqhead.h"
#include "tomed/responses.h"
#include "tomed/route.h"
#include "tomed/server.h"
#include "tomed/siteload.h"

#define QUERY_MAX 65536
#define LOCATION_MAX (2 * 65536 + QUERY_MAX + 2)
#define THREAD_STACK (2u << 20) /* the handler keeps path, query and Location buffers on its stack */

enum { N_ERRORS = 6 };
#define QUERY_COPY 8192
/* At shutdown, queued access-log lines get this long to reach stdout: a
 * reader that has stalled must not hold up the exit. */
#define LOG_FLUSH_MS 1000
#define ERROR_LOG_BUFFER (64u * 1024)

/* One listening daemon; the handler's closure. */
typedef struct listener {
    struct server *srv;
    int admin;
    struct MHD_Daemon *daemon;
    int fd;
    int quiesced;               /* the daemon gave the listening socket back */
    int v6;
    unsigned port;
} listener;

/*
 * Per connection, allocated when it opens and reused by every request on it:
 * the state a request needs between its handler call and its completion,
 * without an allocation per request. A non-NULL req_cls points here.
 */
typedef struct conn_state {
    /* the server's list of open connections, for the header-timeout sweep
     * and replace_doubled_answer (under srv->conns_lock) */
    struct conn_state *next, *prev_conn;
    int fd;
    struct MHD_Connection *conn;
    pthread_t owner;            /* the daemon thread that serves it (set once) */
    /* the request line is in, the handler has not run yet: its header is
     * arriving or being parsed (only the owner thread writes or reads it) */
    int awaiting_header;
    int timed_out;              /* the sweep shut it down */
    /* CLOCK_MONOTONIC ms by which a whole request header must have arrived;
     * 0 while a request is being answered (or with the timeout off), -1 once
     * the sweep has shut the connection down */
    _Atomic int64_t header_deadline_ms;
    /* the request target as libmicrohttpd gave it to on_uri, and its C-string
     * length then (see target_has_nul) */
    const char *target;
    size_t target_len;
    int target_nul;             /* the request target holds a NUL byte */
    int target_ok;              /* reqhead_target_valid(), judged in on_uri */
    site_snapshot *snap;        /* reference held for the request in flight */
    site_snapshot *prev;        /* the previous generation, when the answer came from it */
    struct timespec start;
    const char *method, *path, *protocol; /* libmicrohttpd's, valid until completion */
    unsigned status;
    uint64_t bytes;
    const char *encoding;
    int counted;                /* the request is counted in in_flight */
    char remote[64];            /* the TCP peer */
    netaddr peer;
    int peer_trusted;           /* peer is in server.trusted_proxies */
    char client[NETADDR_TEXT];  /* this request's client from its forwarding headers, or "" */
    netaddr client_addr;        /* the same as an address, when client[0] */
    /* limits.max_connections_per_ip (iplimit.h): the connection holds a
     * count for peer, or was over the limit when it opened; the request in
     * flight holds a count for its client (from a trusted proxy) */
    int peer_counted, over_limit, request_counted, request_limited;
    netaddr request_addr;
    /* The raw query as received (libmicrohttpd keeps only parsed arguments,
     * which lose empty parts), copied when the request line arrives. */
    size_t query_len;           /* bytes in query; 0 = none */
    int query_whole;            /* query holds all of it (else a prefix) */
    char query[QUERY_COPY];
} conn_state;

struct server {
    const tomed_config *cfg;
    listener pub, admin;
    site_live live;
    site_live previous;          /* the generation before the last reload */
    _Atomic int64_t previous_until; /* CLOCK_MONOTONIC seconds; after it, previous is ignored */
    atomic_uint in_flight;
    atomic_int draining;
    enum log_format log_format;
    log_queue *access_log;      /* lines on their way to stdout */
    log_queue *error_log;       /* diag()'s lines on their way to stderr */
    metrics *metrics;
    struct MHD_Response *health, *ready, *not_ready;
    struct MHD_Response *errors[N_ERRORS];
    /* the answers to a request head reqhead refuses: 400 and 501, with
     * "Connection: close" (the framing of what follows is unknown) */
    struct MHD_Response *refused_400, *refused_501;
    /* libmicrohttpd before 1.0: its parser is not RFC 9112's (see
     * replace_doubled_answer and the obs-fold check in check_head) */
    int old_mhd;
    int in_place;               /* its layout is 0.9.75's, as reqhead_block expects */
    char *raw_400_fields;       /* refused_400's header lines, for replace_doubled_answer */
    precompress *compressor;
    /* open connections, and the thread that closes the ones whose request
     * header is overdue */
    pthread_mutex_t conns_lock;
    conn_state *conns;
    pthread_t sweeper;
    int sweeper_running;
    pthread_cond_t sweeper_wake;
    int sweeper_cond_ok;
    int sweeper_stop;           /* under conns_lock */
    /* the file last reported as changed on disk, so it is reported once */
    _Atomic(const void *) changed_reported;
    int64_t conns_peak;         /* most connections open at a tick since the last trim */
    size_t head_room;           /* bytes of a connection's pool kept for the response head */
    netaddr_set trusted;        /* server.trusted_proxies */
    iplimit *per_ip;            /* limits.max_connections_per_ip; NULL = no limit */
    /* its answer, 503 with Retry-After: with "Connection: close" to a direct
     * peer (the connection is the excess), without it through a proxy (whose
     * connection carries other clients' requests too) */
    struct MHD_Response *limited_close, *limited;
};

/* The bare error answers, each built once. */
static const unsigned error_status[N_ERRORS] = {400, 404, 405, 414, 503, 431};
static const char *const error_body[N_ERRORS] = {
    "400 Bad Request\n", "404 Not Found\n", "405 Method Not Allowed\n", "414 URI Too Long\n",
    "503 Service Unavailable: the file changed on disk since tomed loaded the site\n",
    "431 Request Header Fields Too Large\n"};
static const char refused_body_501[] = "501 Not Implemented: transfer coding\n";
static const char limited_body[] =
    "503 Service Unavailable: too many connections from this address (limits.max_connections_per_ip)\n";

/* Rebuild the raw query from libmicrohttpd's parsed arguments. With the no-op
 * unescape callback the bytes are as received, except that libmicrohttpd turns
 * '+' into ' ' before it; a raw query never holds a space, so turning it back is exact. */
typedef struct query_buf {
    char *p;
    size_t n, cap;
} query_buf;

static void qb_put(query_buf *q, const char *s)
{
    for (; *s; s++) {
        if (q->n + 1 < q->cap)
            q->p[q->n] = *s == ' ' ? '+' : *s;
        q->n++;
    }
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    query_buf *q = cls;
    if (q->n)
        qb_put(q, "&");
    qb_put(q, key);
    if (value) {
        qb_put(q, "=");
        qb_put(q, value);
    }
    return MHD_YES;
}

/* The raw query into buf; returns its length, or (size_t)-1 if it does not fit. */
static size_t raw_query(struct MHD_Connection *c, char *buf, size_t cap)
{
    query_buf q = {buf, 0, cap};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
    if (q.n >= q.cap)
        return (size_t)-1;
    buf[q.n] = '\0';
    return q.n;
}

static conn_state *connection_state(struct MHD_Connection *c);

/* Called with the raw request target before libmicrohttpd parses it. Returns
 * NULL so the handler's first call still sees *req_cls == NULL. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    conn_state *cs = connection_state(c);
    if (!cs)
        return NULL;
    cs->target = uri;
    cs->target_len = strlen(uri);
    cs->awaiting_header = pthread_equal(cs->owner, pthread_self());
    /* now: libmicrohttpd splits the query off in place next */
    cs->target_ok = reqhead_target_valid(uri, cs->target_len);
    const char *q = memchr(uri, '?', cs->target_len);
    cs->query_len = 0;
    cs->query_whole = 1;
    if (q) {
        size_t n = strlen(q + 1);
        cs->query_whole = n < sizeof cs->query;
        cs->query_len = cs->query_whole ? n : sizeof cs->query - 1;
        memcpy(cs->query, q + 1, cs->query_len);
        cs->query[cs->query_len] = '\0';
    }
    return NULL;
}

static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s); /* path.c decodes exactly once, with its own rules */
}

/* Queue r and note what the access log and metrics will say about it. */
static enum MHD_Result queue(conn_state *cs, struct MHD_Connection *c, unsigned status,
                             struct MHD_Response *r, uint64_t bytes, const char *encoding)
{
    if (!r)
        return MHD_NO;
    if (cs) {
        cs->status = status;
        cs->bytes = strcmp(cs->method, "HEAD") == 0 || status == 304 ? 0 : bytes;
        cs->encoding = encoding;
    }
    return MHD_queue_response(c, status, r);
}

/* The same for a response built for this request only. */
static enum MHD_Result queue_owned(conn_state *cs, struct MHD_Connection *c, unsigned status,
                                   struct MHD_Response *r, uint64_t bytes)
{
    if (!r)
        return MHD_NO;
    enum MHD_Result ret = queue(cs, c, status, r, bytes, NULL);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result queue_error(server *srv, conn_state *cs, struct MHD_Connection *c,
                                   unsigned status)
{
    for (int i = 0; i < N_ERRORS; i++)
        if (error_status[i] == status)
            return queue(cs, c, status, srv->errors[i], strlen(error_body[i]), NULL);
    return MHD_NO;
}

/*
 * A large file is sent from the descriptor opened at load, so a file replaced
 * by rename (how deploys should write) keeps serving the loaded bytes. One
 * rewritten in place would send bytes that match neither its ETag nor its
 * Content-Length, or stall at a truncation: refuse instead. One fstat per
 * large-file request, small next to the transfer itself.
 */
static int changed_on_disk(server *srv, const route_result *res)
{
    const site_entry *e = res->entry;
    const site_variant *v = res->variant;
    int fd = v ? v->fd : e->fd;
    uint64_t size = v ? v->size : e->size;
    time_t mtime = v ? v->mtime : e->mtime;
    struct stat st;
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size == size && st.st_mtime == mtime)
        return 0;
    /* once per file, not once per request for it */
    const void *file = v ? (const void *)v : (const void *)e;
    if (atomic_exchange_explicit(&srv->changed_reported, file, memory_order_relaxed) == file)
        return 1;
    diag(DIAG_ERROR, "%s%s changed on disk since it was loaded; answering 503 until the site "
                     "is loaded again",
         diag_q(e->path), v ? encoding_suffix(v->encoding) : "");
    return 1;
}

static enum MHD_Result serve_metrics(server *srv, conn_state *cs, struct MHD_Connection *c)
{
    size_t len = 0;
    char *text = metrics_render(srv->metrics, &len);
    if (!text)
        return queue_error(srv, cs, c, 503);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return queue_owned(cs, c, 200, r, len);
}

static int64_t now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * Version skew: a browser that loaded a page just before a reload asks for
 * that build's hashed chunks, which the new build may not have. For a while
 * they are answered from the previous generation; the request keeps a
 * reference to it until it completes.
 */
static void from_previous(server *srv, conn_state *cs, const route_request *rq, route_result *res,
                          char *location, size_t cap)
{
    if (now_s() >= atomic_load_explicit(&srv->previous_until, memory_order_relaxed))
        return;
    site_snapshot *prev = site_live_acquire(&srv->previous);
    if (!prev)
        return;
    route_result old;
    route_decide(srv->cfg, prev, rq, &old, location, cap);
    if (old.kind == ROUTE_NOT_MODIFIED || old.kind == ROUTE_PARTIAL ||
        old.kind == ROUTE_UNSATISFIABLE || (old.kind == ROUTE_FILE && old.status == 200)) {
        *res = old;
        cs->prev = prev;
        return;
    }
    site_snapshot_unref(prev);
}

/* Decide and queue the answer for a request. */
static enum MHD_Result respond(listener *l, conn_state *cs, struct MHD_Connection *c,
                               const char *url, const char *method)
{
    server *srv = l->srv;
    route_request rq = {
        .method = method,
        .path = url,
        .path_len = strlen(url),
        .if_none_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH),
        .if_modified_since =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MODIFIED_SINCE),
        .range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE),
        .if_range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE),
        .accept_encoding =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING),
        .admin = l->admin,
        .target_nul = cs->target_nul,
    };
    char query[QUERY_MAX], location[LOCATION_MAX];
    if (cs->query_whole) {
        rq.query = cs->query_len ? cs->query : NULL;
    } else {
        /* longer than the copy: rebuild it from the parsed arguments */
        size_t qn = raw_query(c, query, sizeof query);
        if (qn == (size_t)-1)
            return queue_error(srv, cs, c, 414);
        rq.query = qn ? query : NULL;
    }

    route_result res;
    route_decide(srv->cfg, cs->snap, &rq, &res, location, sizeof location);
    if (res.immutable_miss)
        from_previous(srv, cs, &rq, &res, location, sizeof location);
    if ((res.kind == ROUTE_FILE || res.kind == ROUTE_PARTIAL) && changed_on_disk(srv, &res))
        return queue_error(srv, cs, c, 503);

    switch (res.kind) {
    case ROUTE_FILE:
    case ROUTE_NOT_MODIFIED: {
        entry_responses spare;
        const entry_responses *er = responses_of(srv->cfg, &res, &spare);
        if (!er)
            return queue_error(srv, cs, c, 503);
        enum MHD_Result ret =
            res.kind == ROUTE_FILE
                ? queue(cs, c, res.status, er->full, er->size,
                        res.variant ? encoding_name(res.variant->encoding) : NULL)
                : queue(cs, c, 304, er->not_modified, 0, NULL);
        responses_done(&spare);
        return ret;
    }
    case ROUTE_PARTIAL:
    case ROUTE_UNSATISFIABLE:
        return queue_owned(cs, c, res.status, responses_range(srv->cfg, &res),
                           res.kind == ROUTE_PARTIAL ? res.range_len : 0);
    case ROUTE_HEALTH:
        return queue(cs, c, 200, srv->health, 3, NULL);
    case ROUTE_READY:
        /* not ready while draining, nor with an empty site (a pod whose site
         * layer or volume is missing must not receive traffic) */
        if (atomic_load_explicit(&srv->draining, memory_order_relaxed) ||
            !cs->snap || cs->snap->n_entries == 0)
            return queue(cs, c, 503, srv->not_ready, 9, NULL);
        return queue(cs, c, 200, srv->ready, 6, NULL);
    case ROUTE_METRICS:
        return serve_metrics(srv, cs, c);
    case ROUTE_ERROR:
        return queue_error(srv, cs, c, res.status);
    case ROUTE_REDIRECT: {
        struct MHD_Response *r = responses_text(srv->cfg, "", "no-cache");
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, res.location);
        return queue_owned(cs, c, res.status, r, 0);
    }
    }
    return MHD_NO;
}

/* A request that carries a body: tomed never reads one. */
static int has_body(struct MHD_Connection *c)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH) ||
           MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

static conn_state *connection_state(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/*
 * libmicrohttpd 0.9.75 passes the request target on as a C string, so a raw
 * NUL byte in it ("GET /index.html%00 is encoded; "/a\0/../../x" is not")
 * would cut the path short and serve the prefix. It parses the request line in
 * place: the target and the version string both point into the line, the
 * version one separator byte after the target's end (strict mode refuses a
 * target with spaces). So the target held a NUL if its C string, measured
 * before libmicrohttpd split off the query, ends before that. Only pointer
 * values are compared, never dereferenced; a layout other than this one
 * (url not the target on_uri saw, version not after it) judges nothing.
 */
static int target_has_nul(const conn_state *cs, const char *url, const char *version)
{
    if (!cs->target || url != cs->target || !version || !version[0])
        return 0;
    uintptr_t t = (uintptr_t)cs->target, v = (uintptr_t)version;
    if (v <= t || v - t > (uintptr_t)LOCATION_MAX)
        return 0;
    return cs->target_len != v - t - 1;
}

/* The forwarding header fields of a request, in the order received. */
typedef struct fwd_fields {
    const char *xff[16], *fwd[16];
    size_t n_xff, n_fwd;
    int too_many;
} fwd_fields;

static enum MHD_Result collect_forwarding(void *cls, enum MHD_ValueKind kind, const char *key,
                                          const char *value)
{
    (void)kind;
    fwd_fields *f = cls;
    int is_xff = strcasecmp(key, "X-Forwarded-For") == 0;
    if (!value || (!is_xff && strcasecmp(key, "Forwarded") != 0))
        return MHD_YES;
    const char **list = is_xff ? f->xff : f->fwd;
    size_t *n = is_xff ? &f->n_xff : &f->n_fwd;
    if (*n == 16)
        f->too_many = 1;
    else
        list[(*n)++] = value;
    return MHD_YES;
}

/*
 * Behind an ingress the peer is the ingress pod: when it is trusted, the
 * access log records the client its X-Forwarded-For / Forwarded names
 * (netaddr_client decides). Per request, not per connection: an ingress
 * sends many clients' requests over one kept-alive connection.
 */
static void forwarded_client(const server *srv, conn_state *cs, struct MHD_Connection *c)
{
    cs->client[0] = '\0';
    if (!cs->peer_trusted)
        return;
    fwd_fields f = {.n_xff = 0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, collect_forwarding, &f);
    if (f.too_many)
        return; /* more fields than any proxy chain writes: keep the peer */
    netaddr client;
    if (netaddr_client(&srv->trusted, &cs->peer, f.xff, f.n_xff, f.fwd, f.n_fwd, &client) !=
        NETADDR_PEER) {
        netaddr_format(&client, cs->client, sizeof cs->client);
        cs->client_addr = client;
    }
}

/*
 * limits.max_connections_per_ip for a request: a direct peer's connection
 * was counted when it opened (on_connection); through a trusted proxy the
 * proxy is never counted, and the client its headers name (else the proxy
 * itself) holds a count while this request is in progress. 1 when the
 * request is over the limit.
 */
static int over_per_ip_limit(server *srv, conn_state *cs)
{
    if (!srv->per_ip)
        return 0;
    if (!cs->peer_trusted)
        return cs->over_limit;
    cs->request_addr = cs->client[0] ? cs->client_addr : cs->peer;
    if (iplimit_acquire(srv->per_ip, &cs->request_addr) < 0)
        return 1;
    cs->request_counted = 1;
    return 0;
}

typedef struct head_feed {
    reqhead *h;
    int in_place;
    uint64_t bytes;             /* the fields as received: "name: value\r\n" each */
} head_feed;

static enum MHD_Result feed_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    head_feed *f = cls;
    /* libmicrohttpd 0.9.75 keeps each field where it was received, name
     * first, and glues an obs-fold continuation onto the *name*, moved to a
     * new block after the read buffer ("X-A: a\r\n b" becomes "X-Ab" = "a"):
     * a value before the end of its own name is the only trace of the fold.
     * Pointers are compared, never dereferenced. 1.0 refuses folding itself. */
    int folded = f->in_place && value && (uintptr_t)value < (uintptr_t)key + key_size + 1;
    reqhead_field(f->h, key, key_size, value, value_size, folded);
    f->bytes += key_size + value_size + 4;
    return MHD_YES;
}

/* reqhead's verdict on this request's head: 0, 400 or 501; or 431 when
 * its fields pass limits.max_header_size (libmicrohttpd's pool has room for
 * more, see start_listener, so the limit is tomed's to keep). */
static unsigned check_head(server *srv, const conn_state *cs, struct MHD_Connection *c,
                           const char *method, const char *version)
{
    reqhead h;
    head_feed f = {&h, srv->in_place, 0};
    reqhead_begin(&h, version, cs->target_ok);
    if (srv->in_place) {
        /* 0.9.75 parses the request in place in its read buffer, the method
         * first; the header size counts from there to the end of the blank
         * line, and that much has been received, so it is all readable. The
         * version string ends the request line. */
        const union MHD_ConnectionInfo *hs =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
        if (hs && method)
            reqhead_block(&h, method, hs->header_size,
                          version && version[0] ? version + strlen(version) : NULL);
    }
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, feed_field, &f);
    const char *why = NULL;
    unsigned status = reqhead_end(&h, &why);
    if (!status && f.bytes > srv->cfg->max_header_size) {
        status = 431;
        why = "header fields larger than limits.max_header_size";
    }
    if (status && diag_enabled(DIAG_DEBUG))
        diag(DIAG_DEBUG, "refused a request (%u): %s", status, why);
    return status;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size, void **req_cls)
{
    (void)upload_data;
    listener *l = cls;
    server *srv = l->srv;
    if (*req_cls == NULL) {
        conn_state *cs = connection_state(c);
        if (!cs)
            return MHD_NO;
        /* the header is in: no deadline while the request is answered,
         * unless the sweep claimed the connection first */
        if (atomic_exchange(&cs->header_deadline_ms, 0) < 0)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &cs->start);
        cs->snap = site_live_acquire(&srv->live);
        cs->method = method;
        cs->path = url;
        cs->protocol = version;
        cs->status = 0;
        cs->bytes = 0;
        cs->encoding = NULL;
        cs->counted = 1;
        cs->target_nul = target_has_nul(cs, url, version);
        cs->awaiting_header = 0;
        unsigned refused = check_head(srv, cs, c, method, version);
        cs->target = NULL;
        forwarded_client(srv, cs, c);
        atomic_fetch_add_explicit(&srv->in_flight, 1, memory_order_relaxed);
        *req_cls = cs;
        /* a direct peer's excess connection is answered and closed now; a
         * proxy's request on the next call, so its connection stays open */
        cs->request_limited = !refused && over_per_ip_limit(srv, cs);
        if (cs->request_limited && !cs->peer_trusted)
            return queue(cs, c, 503, srv->limited_close, strlen(limited_body), NULL);
        /* Answered on the first call, with "Connection: close": where this
         * request ends is in doubt, so nothing after it is read as a request. */
        if (refused == 501)
            return queue(cs, c, 501, srv->refused_501, strlen(refused_body_501), NULL);
        if (refused == 431)
            return queue_error(srv, cs, c, 431);
        if (refused)
            return queue(cs, c, 400, srv->refused_400, strlen(error_body[0]), NULL);
        /* A request with a body (a POST, or a GET with Content-Length) is
         * answered now, before its body: libmicrohttpd then closes the
         * connection instead of making us read a body we would throw away. */
        if (has_body(c))
            return respond(l, cs, c, url, method);
        return MHD_YES; /* the two-call pattern: answer on the next call */
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* only reached if the answer was already queued */
        return MHD_YES;
    }
    if (((conn_state *)*req_cls)->request_limited)
        return queue(*req_cls, c, 503, srv->limited, strlen(limited_body), NULL);
    return respond(l, *req_cls, c, url, method);
}

static uint64_t elapsed_us(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t us = (int64_t)(now.tv_sec - start->tv_sec) * 1000000 +
                 (now.tv_nsec - start->tv_nsec) / 1000;
    return us > 0 ? (uint64_t)us : 0;
}

/* diag()'s sink while serving: a full queue drops the line and counts it. */
static void queue_error_line(void *ctx, const char *line, size_t len)
{
    server *srv = ctx;
    if (log_queue_push(srv->error_log, line, len) < 0)
        metrics_log_dropped(srv->metrics);
}

static void log_request(server *srv, struct MHD_Connection *c, const conn_state *cs,
                        uint64_t us)
{
    char line[LOG_LINE_MAX];
    log_access a = {
        .remote = cs->client[0] ? cs->client : cs->remote,
        .method = cs->method ? cs->method : "-",
        .path = cs->path ? cs->path : "-",
        .query = cs->query_len ? cs->query : NULL, /* a long one is cut by the formatter */
        .protocol = cs->protocol,
        .status = cs->status,
        .bytes = cs->bytes,
        .duration_us = us,
        .encoding = cs->encoding,
        .user_agent =
            c ? MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT) : NULL,
        .referer = c ? MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_REFERER) : NULL,
    };
    clock_gettime(CLOCK_REALTIME, &a.time);
    size_t n = log_format_access(srv->log_format, &a, line, sizeof line);
    if (n && log_queue_push(srv->access_log, line, n) < 0)
        metrics_log_dropped(srv->metrics);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    listener *l = cls;
    server *srv = l->srv;
    conn_state *cs = *req_cls;
    if (!cs) {
        /* libmicrohttpd answered by itself after the request line (431
         * headers too large, 400 a bad header): the handler never ran, but
         * the answer belongs in the log. on_mhd_log counted it. */
        /* libmicrohttpd 1.0 answers every MHD_get_connection_info call from
         * one per-connection scratch union, so the status is copied out before
         * connection_state() asks again and overwrites it. */
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
        unsigned status = ci ? ci->http_status : 0;
        conn_state *own = connection_state(c);
        if (status && own) {
            own->status = status;
            own->method = NULL;
            own->path = NULL;
            own->protocol = "-";
            own->bytes = 0;
            own->encoding = NULL;
            own->start.tv_sec = 0;
            own->client[0] = '\0';
            if (srv->log_format != LOG_OFF)
                log_request(srv, c, own, 0);
        }
        return;
    }
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        cs->bytes = 0; /* cut off: how much went out is unknown, and "all" would be a lie */
    if (cs->status) {
        uint64_t us = elapsed_us(&cs->start);
        metrics_request(srv->metrics, cs->method, cs->status, cs->encoding, cs->bytes, us);
        if (srv->log_format != LOG_OFF)
            log_request(srv, c, cs, us);
    }
    site_snapshot_unref(cs->snap);
    site_snapshot_unref(cs->prev);
    cs->snap = NULL;
    cs->prev = NULL;
    *req_cls = NULL;
    if (cs->request_counted) {
        cs->request_counted = 0;
        iplimit_release(srv->per_ip, &cs->request_addr);
    }
    /* kept alive: it may idle for connection_timeout, then must send the
     * next request whole within header_timeout */
    if (srv->cfg->header_timeout_s)
        atomic_store_explicit(&cs->header_deadline_ms,
                              now_ms() + 1000 * ((int64_t)srv->cfg->connection_timeout_s +
                                                 srv->cfg->header_timeout_s),
                              memory_order_relaxed);
    if (cs->counted) {
        cs->counted = 0;
        atomic_fetch_sub_explicit(&srv->in_flight, 1, memory_order_release);
    }
}

static void format_remote(const struct sockaddr *sa, char *out, size_t cap)
{
    out[0] = '-';
    out[1] = '\0';
    if (!sa)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
}

/* Add cs to (or remove it from) the connections the sweep looks at. */
static void conns_link(server *srv, conn_state *cs)
{
    pthread_mutex_lock(&srv->conns_lock);
    cs->prev_conn = NULL;
    cs->next = srv->conns;
    if (srv->conns)
        srv->conns->prev_conn = cs;
    srv->conns = cs;
    pthread_mutex_unlock(&srv->conns_lock);
}

static void conns_unlink(server *srv, conn_state *cs)
{
    pthread_mutex_lock(&srv->conns_lock);
    if (cs->prev_conn)
        cs->prev_conn->next = cs->next;
    else
        srv->conns = cs->next;
    if (cs->next)
        cs->next->prev_conn = cs->prev_conn;
    pthread_mutex_unlock(&srv->conns_lock);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    listener *l = cls;
    server *srv = l->srv;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_state *cs = calloc(1, sizeof *cs);
        if (cs) {
            if (srv->log_format != LOG_OFF || srv->per_ip) {
                const union MHD_ConnectionInfo *ci =
                    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
                format_remote(ci ? ci->client_addr : NULL, cs->remote, sizeof cs->remote);
                int known = ci && netaddr_from_sockaddr(ci->client_addr, &cs->peer) == 0;
                cs->peer_trusted = known && netaddr_set_contains(&srv->trusted, &cs->peer);
                /* a direct peer's connections count; a trusted proxy's
                 * requests are counted by client instead (over_per_ip_limit) */
                if (srv->per_ip && known && !cs->peer_trusted) {
                    if (iplimit_acquire(srv->per_ip, &cs->peer) == 0)
                        cs->peer_counted = 1;
                    else
                        cs->over_limit = 1;
                }
            }
            const union MHD_ConnectionInfo *fi =
                MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
            cs->fd = fi ? fi->connect_fd : -1;
            cs->conn = c;
            cs->target_ok = 1; /* until on_uri judges one */
            /* libmicrohttpd runs this on the thread that accepted the
             * connection and serves it from then on */
            cs->owner = pthread_self();
            if (srv->cfg->header_timeout_s && cs->fd >= 0)
                atomic_init(&cs->header_deadline_ms,
                            now_ms() + 1000 * (int64_t)srv->cfg->header_timeout_s);
            if (cs->fd >= 0)
                conns_link(srv, cs);
        }
        *socket_context = cs; /* NULL when out of memory: its requests are refused */
        metrics_connection(srv->metrics, +1);
    } else {
        conn_state *cs = *socket_context;
        /* libmicrohttpd closes the socket after this returns: the sweep
         * never sees a descriptor number that was reused */
        if (cs && cs->fd >= 0)
            conns_unlink(srv, cs);
        if (cs && cs->peer_counted)
            iplimit_release(srv->per_ip, &cs->peer);
        free(cs);
        *socket_context = NULL;
        metrics_connection(srv->metrics, -1);
    }
}

/*
 * The header timeout (limits.header_timeout). libmicrohttpd's connection
 * timeout counts from the last byte received, so a client that sends one
 * byte every few seconds holds its connection for ever; enough of them hold
 * every connection slot (slow-loris). Once a second this thread shuts down
 * the sockets whose request header is overdue; libmicrohttpd then sees the
 * connection end and closes it as it would any other.
 */
static void *sweep_overdue(void *arg)
{
    server *srv = arg;
    pthread_mutex_lock(&srv->conns_lock);
    while (!srv->sweeper_stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&srv->sweeper_wake, &srv->conns_lock, &until);
        if (srv->sweeper_stop)
            break;
        int64_t now = now_ms();
        unsigned closed = 0;
        for (conn_state *cs = srv->conns; cs; cs = cs->next) {
            int64_t deadline = atomic_load_explicit(&cs->header_deadline_ms, memory_order_relaxed);
            /* claim it (-1) unless the header arrived meanwhile (0): a
             * request being answered is never cut off */
            if (deadline > 0 && now >= deadline && !cs->timed_out &&
                atomic_compare_exchange_strong(&cs->header_deadline_ms, &deadline, -1)) {
                cs->timed_out = 1;
                shutdown(cs->fd, SHUT_RDWR);
                closed++;
            }
        }
        if (closed) {
            metrics_header_timeouts(srv->metrics, closed);
            diag(DIAG_INFO, "closed %u connection(s) that sent no whole request header "
                            "within %us", closed, srv->cfg->header_timeout_s);
        }
    }
    pthread_mutex_unlock(&srv->conns_lock);
    return NULL;
}

static int sweeper_start(server *srv, tomed_error *err)
{
    if (!srv->cfg->header_timeout_s)
        return 0;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&srv->sweeper_wake, &ca);
    pthread_condattr_destroy(&ca);
    if (rc == 0) {
        srv->sweeper_cond_ok = 1;
        rc = pthread_create(&srv->sweeper, NULL, sweep_overdue, srv);
    }
    if (rc != 0)
        return error_set(err, TOMED_EXIT_RUNTIME, "cannot start the header-timeout thread: %s",
                         strerror(rc));
    srv->sweeper_running = 1;
    return 0;
}

static void sweeper_stop(server *srv)
{
    if (srv->sweeper_running) {
        pthread_mutex_lock(&srv->conns_lock);
        srv->sweeper_stop = 1;
        pthread_cond_signal(&srv->sweeper_wake);
        pthread_mutex_unlock(&srv->conns_lock);
        pthread_join(srv->sweeper, NULL);
        srv->sweeper_running = 0;
    }
    if (srv->sweeper_cond_ok)
        pthread_cond_destroy(&srv->sweeper_wake);
    srv->sweeper_cond_ok = 0;
}

/*
 * An answer libmicrohttpd made by itself to a malformed request. Its log line
 * is the only place that hears of all of them: 505 (unsupported version) and
 * 414 (request line too long) come before any request exists, so neither the
 * handler nor the completion callback runs; those get their access-log line
 * here, without a client address. Later ones (431, 400 for a bad header) are
 * logged by on_completed, which knows the connection.
 */
static void mhd_answered(listener *l, unsigned status)
{
    server *srv = l->srv;
    metrics_request(srv->metrics, "-", status, NULL, 0, 0);
    if (srv->log_format == LOG_OFF || (status != 505 && status != 414))
        return;
    conn_state cs = {.status = status, .protocol = "-"};
    strcpy(cs.remote, "-");
    log_request(srv, NULL, &cs, 0);
}

/* The line libmicrohttpd 0.9.75 logs as it queues its own error answer. */
static const char mhd_error_answer[] = "Error processing request (HTTP response code is %u";

/*
 * The lines libmicrohttpd 0.9.x logs just before it answers an error found
 * while it looks over a complete request header (parse_connection_headers):
 * a Content-Length that is not a number ("-1", "5, 6") or overflows, and,
 * in strict mode, HTTP/1.1 without Host (tomed runs 0.9 non-strict and
 * checks Host itself, so that one is only a safety net).
 */
static const char *const mhd_doubling[] = {
    "Failed to parse `Content-Length' header.",
    "Too large value of 'Content-Length' header.",
    "Received HTTP/1.1 request without `Host' header.",
};

/* The status replace_doubled_answer sent instead of the library's, for the
 * count of that answer (the library logs it next, on the same thread); and
 * that the library's own send of it, which fails, is expected. */
static _Thread_local unsigned replaced_status;
static _Thread_local int replaced_send_fails;
static const char mhd_send_failed[] = "Failed to send the response headers";

/*
 * libmicrohttpd 0.9.x sends the head of those error answers twice.
 * transmit_error_response_len() builds the head into the write buffer and
 * moves the connection to HEADERS_SENDING; its caller in
 * MHD_connection_handle_idle (the HEADERS_RECEIVED case) only checks for
 * CLOSED and overwrites the state with HEADERS_PROCESSED; the handler is
 * skipped (a response is queued), FULL_REQ_RECEIVED leads to START_REPLY,
 * and build_header_response() appends a second head after the first, which
 * nothing has sent yet: "HTTP/1.1 400" and its fields twice, then the body.
 * No callback of ours runs between the two, and 1.0 fixed it.
 *
 * So tomed answers first: the library logs the cause (above) on the thread
 * that serves the connection, before it builds anything. That connection is
 * found exactly: of this thread's connections, the one whose request line is
 * in, whose handler has not run, and whose header the library has finished
 * reading (REQUEST_HEADER_SIZE is only given from HEADERS_RECEIVED on; any
 * other connection of this thread with its header complete has had its
 * handler called). tomed writes its own 400 to the socket, which holds
 * nothing unsent (a new request is only parsed once the previous answer is
 * out), and shuts the sending side: the library's doubled head then fails
 * to go out and it closes the connection. If the connection cannot be told
 * apart, nothing is done and the library's answer goes out as it is.
 */
static void replace_doubled_answer(server *srv)
{
    char status_line[96];
    char date[32];
    http_format_date(time(NULL), date, sizeof date);
    const char *body = error_body[0];
    int n = snprintf(status_line, sizeof status_line,
                     "HTTP/1.1 400 Bad Request\r\nDate: %s\r\nContent-Length: %zu\r\n", date,
                     strlen(body));
    if (n < 0 || (size_t)n >= sizeof status_line || !srv->raw_400_fields)
        return;
    pthread_t self = pthread_self();
    pthread_mutex_lock(&srv->conns_lock);
    conn_state *found = NULL;
    unsigned candidates = 0;
    for (conn_state *cs = srv->conns; cs; cs = cs->next)
        if (pthread_equal(cs->owner, self) && cs->awaiting_header &&
            MHD_get_connection_info(cs->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE)) {
            found = cs;
            candidates++;
        }
    if (candidates == 1) {
        struct iovec iov[] = {
            {status_line, (size_t)n},
            {srv->raw_400_fields, strlen(srv->raw_400_fields)},
            {(void *)(uintptr_t)body, strlen(body)},
        };
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 3};
        (void)sendmsg(found->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        shutdown(found->fd, SHUT_WR);
        found->awaiting_header = 0;
        replaced_status = 400;
        replaced_send_fails = 1;
    }
    pthread_mutex_unlock(&srv->conns_lock);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
                                                             va_list ap)
{
    listener *l = cls;
    if (l && l->srv->old_mhd)
        for (size_t i = 0; i < sizeof mhd_doubling / sizeof mhd_doubling[0]; i++)
            if (strncmp(fmt, mhd_doubling[i], strlen(mhd_doubling[i])) == 0)
                replace_doubled_answer(l->srv);
    if (l && strncmp(fmt, mhd_error_answer, sizeof mhd_error_answer - 1) == 0) {
        va_list args;
        va_copy(args, ap);
        unsigned status = va_arg(args, unsigned);
        va_end(args);
        if (replaced_status)
            status = replaced_status;
        replaced_status = 0;
        mhd_answered(l, status);
    }
    if (replaced_send_fails && strncmp(fmt, mhd_send_failed, sizeof mhd_send_failed - 1) == 0) {
        replaced_send_fails = 0; /* tomed shut that socket after its own answer */
        return;
    }
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    /* mostly a client's malformed request or a connection limit: worth a
     * line, not an alarm */
    diag(DIAG_WARN, "libmicrohttpd: %s", msg);
}

/* Bind the listening socket ourselves, so a failure names the address and errno. */
static int open_listener(const char *what, const char *addr, int *is_v6, tomed_error *err)
{
    char host[256];
    unsigned port;
    if (config_parse_listen(addr, host, sizeof host, &port) < 0)
        return error_set(err, TOMED_EXIT_CONFIG, "%s: bad address \"%s\"", what, addr);
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host[0] ? host : "0.0.0.0", portstr, &hints, &ai);
    if (rc != 0)
        return error_set(err, TOMED_EXIT_RUNTIME, "%s: cannot listen on %s: %s", what, addr,
                         gai_strerror(rc));
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1, saved = 0;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        saved = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return error_set(err, TOMED_EXIT_RUNTIME, "%s: cannot listen on %s: %s", what, addr,
                         strerror(saved));
    }
    *is_v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    return fd;
}

static unsigned bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static unsigned thread_count(const tomed_config *cfg)
{
    if (cfg->threads)
        return cfg->threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/*
 * Descriptors. Every connection costs one (two while a range of a large file
 * is sent), and each generation of the site one per large file plus the
 * duplicate its prebuilt response keeps. When accept(2) fails with EMFILE,
 * libmicrohttpd 0.9.75 stops accepting only if that daemon (each thread of a
 * pool is one) already has a connection; one without any keeps polling the
 * listening socket, which stays readable, and spins (daemon.c,
 * MHD_accept_connection: "Will try busy waiting"). And a reload that meets
 * EMFILE fails. So the connection limits are sized below the descriptor
 * limit, keeping a reserve for two more generations (the one a reload loads
 * while the live and the previous one are still open) and for tomed's own
 * descriptors; connections beyond the limit wait in the listen backlog,
 * costing nothing.
 */
#define FD_SLACK 32u          /* the loader's directory walk, signalfd, inotify, /proc reads */
#define ADMIN_CONNECTIONS 16u /* probes and a scraper */

void server_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Descriptors one generation of the site holds. */
static uint64_t generation_fds(const site_snapshot *s)
{
    uint64_t n = 0;
    for (size_t i = 0; s && i < s->n_entries; i++) {
        const site_entry *e = s->entries[i];
        n += e->fd >= 0;
        for (int k = ENC_BR; k < ENC_COUNT; k++) {
            const site_variant *v = site_entry_variant(e, (enum encoding)k);
            n += v && v->fd >= 0;
        }
    }
    return 2 * n; /* its own and its prebuilt response's */
}

/* The connections the public (or admin) listener may hold without running
 * out of descriptors; at least 1. */
static unsigned connection_limit(server *srv, int admin, unsigned threads)
{
    const tomed_config *cfg = srv->cfg;
    unsigned want = admin ? ADMIN_CONNECTIONS : cfg->max_connections;
    struct rlimit rl;
    long open = metrics_open_fds();
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || open < 0)
        return want;
    site_snapshot *s = site_live_acquire(&srv->live);
    uint64_t gen = generation_fds(s);
    site_snapshot_unref(s);
    /* each polling thread's wake-up descriptor (and epoll set), and the
     * admin listener's connections when this is the public one */
    uint64_t reserve = 2 * gen + FD_SLACK + 2 * (uint64_t)threads;
    if (!admin && cfg->admin_listen && cfg->admin_listen[0])
        reserve += ADMIN_CONNECTIONS + 2;
    int64_t budget = (int64_t)rl.rlim_cur - open - (int64_t)reserve;
    unsigned limit = budget < 1 ? 1 : budget < (int64_t)want ? (unsigned)budget : want;
    if (limit < want && !admin)
        diag(DIAG_NOTICE, "at most %u connections, not limits.max_connections %u: the "
                          "descriptor limit is %llu (ulimit -n) and %llu are kept for the "
                          "site and reloads",
             limit, want, (unsigned long long)rl.rlim_cur, (unsigned long long)(open + reserve));
    return limit;
}

/* Bind l's socket; nothing is accepted until start_listener. */
static int bind_listener(server *srv, listener *l, int admin, const char *addr, tomed_error *err)
{
    l->srv = srv;
    l->admin = admin;
    l->fd = open_listener(admin ? "admin.listen" : "listen", addr, &l->v6, err);
    if (l->fd < 0)
        return -1;
    l->port = bound_port(l->fd);
    return 0;
}

/* Start the daemon on l's bound socket. */
/*
 * libmicrohttpd's per-connection pool (MHD_OPTION_CONNECTION_MEMORY_LIMIT)
 * holds the request line, the header fields, a second copy of the Cookie
 * field (0.9.75 parses cookies into a copy), and then the response head,
 * which for a page with many inline scripts carries a CSP of several KiB.
 * When the request and the head do not both fit, libmicrohttpd closes the
 * connection without an answer (logged as "200 0"), or answers 431 to a
 * request within limits.max_header_size. So the pool is sized from the
 * limits and from the largest head of the live snapshot's files, with
 * headroom for a reload's pages (the pool cannot change while the daemon
 * runs). It is zeroed for every request on a kept-alive connection, so it
 * is kept no larger than that (40 KiB of memset was 11-20% of a 404's CPU).
 */
#define HEAD_FIXED 256u    /* status line, Date, Content-Length, Connection, the blank line */
#define HEAD_ROOM_MIN 4096u
#define HEAD_HEADROOM 4096u

/* The largest response head of s (and where), in bytes: bounded from each
 * entry's header fields, as responses are built only when first asked for. */
static size_t largest_head(const site_snapshot *s, const char **where)
{
    size_t max = 0;
    *where = NULL;
    for (size_t i = 0; s && i < s->n_entries; i++) {
        const site_entry *e = s->entries[i];
        size_t n = responses_head_bound(s->cfg, e) + HEAD_FIXED;
        if (n > max) {
            max = n;
            *where = e->path;
        }
    }
    return max;
}

static size_t connection_memory(server *srv)
{
    const tomed_config *cfg = srv->cfg;
    site_snapshot *s = site_live_acquire(&srv->live);
    const char *where;
    size_t head = largest_head(s, &where);
    site_snapshot_unref(s);
    srv->head_room = (head > HEAD_ROOM_MIN ? head : HEAD_ROOM_MIN) + HEAD_HEADROOM;
    return cfg->max_url_length + 2 * (size_t)cfg->max_header_size + srv->head_room;
}

/* After a reload: a head larger than the pool was sized for leaves less room
 * for that page's request headers. Say so, once per reload. */
static void check_head_room(server *srv, const site_snapshot *s)
{
    const char *where;
    size_t head = largest_head(s, &where);
    if (srv->pub.daemon && head > srv->head_room)
        diag(DIAG_WARN, "%s has a %zu-byte response head (its Content-Security-Policy, "
                        "likely), more than the %zu bytes the connection buffers were sized "
                        "for at start: requests to it with large header fields (cookies) may "
                        "be closed without an answer until tomed is restarted",
             diag_q(where), head, srv->head_room);
}

static int start_listener(server *srv, listener *l, const char *addr, unsigned threads,
                          tomed_error *err)
{
    const tomed_config *cfg = srv->cfg;
    const char *what = l->admin ? "admin.listen" : "listen";
    int v6 = l->v6;
    /* server.epoll: libmicrohttpd's epoll loop (0.9.75 and 1.0.1) used to
     * sleep with 128 or 256 requests in hand, for up to connection_timeout,
     * after a full batch of 128 events (not accept(), as was once thought);
     * build/tomed's own epoll_wait (epolldrain.c) makes that call
     * non-blocking. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | (cfg->epoll ? MHD_USE_EPOLL : MHD_USE_POLL) |
                     MHD_USE_ITC |
                     MHD_USE_ERROR_LOG | (cfg->turbo ? MHD_USE_TURBO : 0) |
                     (v6 ? MHD_USE_IPv6 : 0);
    size_t mem_limit = connection_memory(srv);
    /* One internal polling thread, or a pool of them each with its own epoll
     * set and accept; the pool option is only given when there is a pool. */
    struct MHD_OptionItem pool[] = {
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    l->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, l,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, l,
        MHD_OPTION_LISTEN_SOCKET, l->fd,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)THREAD_STACK,
        MHD_OPTION_CONNECTION_LIMIT, connection_limit(srv, l->admin, threads),
        /* not MHD_OPTION_PER_IP_CONNECTION_LIMIT: it would count the
         * ingress, never a client (iplimit.h) */
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem_limit,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
#if MHD_VERSION >= 0x00097701
        /* Level 1 (what STRICT_FOR_CLIENT 1 maps to, named as 1.0 names it):
         * RFC 9112's refusals (no Host, whitespace before a colon, obs-fold,
         * bare LF, Transfer-Encoding with Content-Length). Levels 2 and 3
         * refuse no more of these and silently close on a leading empty
         * line, which RFC 9112 section 2.2 says to ignore. */
        MHD_OPTION_CLIENT_DISCIPLINE_LVL, 1,
#else
        /* Built against 0.9 headers: 0 when 0.9 runs, so a missing Host
         * reaches reqhead instead of the library's answer with its head sent
         * twice (see replace_doubled_answer); level 1 there only added that
         * and a space check on the target, which reqhead makes. 1 when the
         * same soname is a 1.0 at run time (its level 1). */
        MHD_OPTION_STRICT_FOR_CLIENT, srv->old_mhd ? 0 : 1,
#endif
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, l,
        MHD_OPTION_ARRAY, pool,
        MHD_OPTION_END);
    if (!l->daemon)
        return error_set(err, TOMED_EXIT_RUNTIME, "%s: cannot start the HTTP daemon on %s", what,
                         addr);
    return 0;
}

static void stop_listener(listener *l)
{
    if (l->daemon) {
        MHD_stop_daemon(l->daemon);
        /* it closed the listening socket unless quiesced: closing it again
         * could close a descriptor another thread has just been given */
        if (!l->quiesced)
            l->fd = -1;
    }
    l->daemon = NULL;
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

static void server_free(server *srv)
{
    if (!srv)
        return;
    precompress_stop(srv->compressor);
    sweeper_stop(srv);
    stop_listener(&srv->pub);
    stop_listener(&srv->admin);
    /* no request is left to log: write out what is queued, for a bounded time */
    log_queue_stop(srv->access_log, LOG_FLUSH_MS);
    diag_set_sink(NULL, NULL); /* only this thread is left */
    log_queue_stop(srv->error_log, LOG_FLUSH_MS);
    pthread_mutex_destroy(&srv->conns_lock);
    site_live_swap(&srv->live, NULL);
    site_live_swap(&srv->previous, NULL);
    struct MHD_Response *rs[] = {srv->health, srv->ready, srv->not_ready};
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++)
        if (rs[i])
            MHD_destroy_response(rs[i]);
    for (int i = 0; i < N_ERRORS; i++)
        if (srv->errors[i])
            MHD_destroy_response(srv->errors[i]);
    if (srv->refused_400)
        MHD_destroy_response(srv->refused_400);
    if (srv->refused_501)
        MHD_destroy_response(srv->refused_501);
    if (srv->limited_close)
        MHD_destroy_response(srv->limited_close);
    if (srv->limited)
        MHD_destroy_response(srv->limited);
    iplimit_free(srv->per_ip);
    free(srv->raw_400_fields);
    metrics_free(srv->metrics);
    netaddr_set_free(&srv->trusted);
    free(srv);
}

static uint64_t compressed_bytes(const site_snapshot *s)
{
    uint64_t n = 0;
    for (size_t i = 0; i < s->n_entries; i++)
        for (int k = ENC_BR; k < ENC_COUNT; k++) {
            const site_variant *v = site_entry_variant(s->entries[i], (enum encoding)k);
            n += v ? v->size : 0;
        }
    return n;
}

typedef struct raw_fields {
    FILE *f;
    size_t len;
    int failed;
} raw_fields;

static enum MHD_Result put_raw_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    raw_fields *rf = cls;
    if (kind == MHD_HEADER_KIND && fprintf(rf->f, "%s: %s\r\n", key, value ? value : "") < 0)
        rf->failed = 1;
    return MHD_YES;
}

static int build_fixed_responses(server *srv, tomed_error *err)
{
    const tomed_config *cfg = srv->cfg;
    srv->health = responses_text(cfg, "ok\n", "no-store");
    srv->ready = responses_text(cfg, "ready\n", "no-store");
    srv->not_ready = responses_text(cfg, "draining\n", "no-store");
    int ok = srv->health && srv->ready && srv->not_ready;
    for (int i = 0; i < N_ERRORS; i++)
        ok = ok && (srv->errors[i] = responses_text(cfg, error_body[i], "no-cache")) != NULL;
    ok = ok && (srv->refused_400 = responses_text(cfg, error_body[0], "no-cache")) &&
         (srv->refused_501 = responses_text(cfg, refused_body_501, "no-cache")) &&
         MHD_add_response_header(srv->refused_400, MHD_HTTP_HEADER_CONNECTION, "close") &&
         MHD_add_response_header(srv->refused_501, MHD_HTTP_HEADER_CONNECTION, "close");
    ok = ok && (srv->limited = responses_text(cfg, limited_body, "no-store")) &&
         (srv->limited_close = responses_text(cfg, limited_body, "no-store")) &&
         MHD_add_response_header(srv->limited, MHD_HTTP_HEADER_RETRY_AFTER, "1") &&
         MHD_add_response_header(srv->limited_close, MHD_HTTP_HEADER_RETRY_AFTER, "1") &&
         MHD_add_response_header(srv->limited_close, MHD_HTTP_HEADER_CONNECTION, "close");
    if (ok && srv->old_mhd) {
        /* refused_400's fields as bytes, for replace_doubled_answer */
        raw_fields rf = {NULL, 0, 0};
        ok = (rf.f = open_memstream(&srv->raw_400_fields, &rf.len)) != NULL;
        if (ok) {
            MHD_get_response_headers(srv->refused_400, put_raw_field, &rf);
            fputs("\r\n", rf.f);
            ok = fclose(rf.f) == 0 && !rf.failed;
        }
    }
    if (!ok)
        return error_set(err, TOMED_EXIT_RUNTIME, "out of memory");
    MHD_add_response_header(srv->errors[2], MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    return 0;
}

int server_bind(const tomed_config *cfg, server **out, tomed_error *err)
{
    server *srv = calloc(1, sizeof *srv);
    *out = NULL;
    if (!srv)
        return error_set(err, TOMED_EXIT_RUNTIME, "out of memory");
    srv->cfg = cfg;
    srv->old_mhd = !reqhead_lib_rfc9112(MHD_get_version());
    srv->in_place = reqhead_lib_in_place(MHD_get_version());
    srv->pub.fd = srv->admin.fd = -1;
    responses_init();
    atomic_init(&srv->live.current, NULL);
    atomic_init(&srv->live.acquiring, 0);
    atomic_init(&srv->previous.current, NULL);
    atomic_init(&srv->previous.acquiring, 0);
    atomic_init(&srv->previous_until, 0);
    atomic_init(&srv->in_flight, 0);
    atomic_init(&srv->draining, 0);
    atomic_init(&srv->changed_reported, NULL);
    pthread_mutex_init(&srv->conns_lock, NULL);
    if (bind_listener(srv, &srv->pub, 0, cfg->listen, err) < 0 ||
        (cfg->admin_listen && cfg->admin_listen[0] &&
         bind_listener(srv, &srv->admin, 1, cfg->admin_listen, err) < 0)) {
        server_free(srv);
        return -1;
    }
    *out = srv;
    return 0;
}

int server_start(server *srv, site_snapshot *snap, tomed_error *err)
{
    const tomed_config *cfg = srv->cfg;
    char why[256];
    if (netaddr_set_parse(cfg->trusted_proxies, &srv->trusted, why, sizeof why) < 0) {
        site_snapshot_unref(snap);
        error_set(err, TOMED_EXIT_CONFIG, "server.trusted_proxies: %s", why);
        goto fail;
    }
    /* one address per connection at most, whatever counts it */
    if (cfg->max_connections_per_ip &&
        !(srv->per_ip = iplimit_new(cfg->max_connections_per_ip, (size_t)cfg->max_connections + 64))) {
        site_snapshot_unref(snap);
        error_set(err, TOMED_EXIT_RUNTIME, "out of memory");
        goto fail;
    }
    int fmt = log_parse_format(cfg->access_log);
    srv->log_format = fmt < 0 ? LOG_OFF : (enum log_format)fmt;
    srv->metrics = metrics_new(time(NULL));
    if ((srv->error_log = log_queue_start(STDERR_FILENO, ERROR_LOG_BUFFER)))
        diag_set_sink(queue_error_line, srv);
    if (srv->log_format != LOG_OFF &&
        !(srv->access_log = log_queue_start(STDOUT_FILENO, (size_t)cfg->log_buffer))) {
        site_snapshot_unref(snap);
        error_set(err, TOMED_EXIT_RUNTIME, "cannot start the access-log writer");
        goto fail;
    }
    if (!srv->metrics) {
        site_snapshot_unref(snap);
        error_set(err, TOMED_EXIT_RUNTIME, "out of memory");
        goto fail;
    }
    metrics_snapshot(srv->metrics, snap->generation, snap->n_entries, snap->total_bytes,
                     compressed_bytes(snap));
    site_live_swap(&srv->live, snap);
    if (build_fixed_responses(srv, err) < 0)
        goto fail;

    if (sweeper_start(srv, err) < 0)
        goto fail;
    if (start_listener(srv, &srv->pub, cfg->listen, thread_count(cfg), err) < 0)
        goto fail;
    if (srv->admin.fd >= 0 && start_listener(srv, &srv->admin, cfg->admin_listen, 1, err) < 0)
        goto fail;

    /* Serving starts now, with identity bytes; variants appear as they are made. */
    if (cfg->compress_memory_max > 0)
        srv->compressor = precompress_start(snap, cfg, NULL, NULL);
    return 0;
fail:
    server_free(srv);
    return -1;
}

unsigned server_port(const server *srv)
{
    return srv->pub.port;
}

unsigned server_admin_port(const server *srv)
{
    return srv->admin.daemon ? srv->admin.port : 0;
}

/* Files added, removed and changed between two generations (both sorted by path). */
static void diff(const site_snapshot *a, const site_snapshot *b, size_t *added, size_t *removed,
                 size_t *changed)
{
    size_t i = 0, j = 0;
    *added = *removed = *changed = 0;
    while (i < a->n_entries || j < b->n_entries) {
        int c = i == a->n_entries   ? 1
                : j == b->n_entries ? -1
                                    : strcmp(a->entries[i]->path, b->entries[j]->path);
        if (c < 0) {
            (*removed)++;
            i++;
        } else if (c > 0) {
            (*added)++;
            j++;
        } else {
            *changed += strcmp(a->entries[i]->etag, b->entries[j]->etag) != 0;
            i++;
            j++;
        }
    }
}

int server_reload(server *srv, tomed_error *err)
{
    const tomed_config *cfg = srv->cfg;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    site_snapshot *cur = site_live_acquire(&srv->live);
    site_snapshot *next = NULL;
    uint64_t gen = cur ? cur->generation + 1 : 1;

    if (site_load_after(cfg, gen, cur, &next, err) < 0)
        goto failed;
    /* A build caught half-written (or a wrong mount) must not replace a good one. */
    if (cur && site_find(cur, "/index.html", 11) && !site_find(next, "/index.html", 11)) {
        error_set(err, TOMED_EXIT_RUNTIME, "%s has no index.html", cfg->root);
        goto failed;
    }

    precompress_stop(srv->compressor); /* it works for the generation going away */
    srv->compressor = NULL;
    size_t added = 0, removed = 0, changed = 0;
    if (cur)
        diff(cur, next, &added, &removed, &changed);
    check_head_room(srv, next);
    metrics_snapshot(srv->metrics, next->generation, next->n_entries, next->total_bytes,
                     compressed_bytes(next));
    site_live_swap(&srv->live, site_snapshot_ref(next));
    /* a file of the new generation may sit where a reported one was */
    atomic_store(&srv->changed_reported, NULL);
    if (cfg->compress_memory_max > 0)
        srv->compressor = precompress_start_after(next, cur, cfg, NULL, NULL);
    /* the outgoing generation answers for its immutable assets a while longer */
    atomic_store(&srv->previous_until, now_s() + (int64_t)cfg->keep_previous_s);
    site_live_swap(&srv->previous, cur);
    cur = NULL;
    metrics_reload(srv->metrics, 1, time(NULL));
    diag(DIAG_NOTICE,
         "reloaded: generation %llu, %zu files (%zu added, %zu removed, %zu changed), %zu "
         "shared with the previous generation, in %llu ms",
            (unsigned long long)next->generation, next->n_entries, added, removed, changed,
            next->shared,
            (unsigned long long)(elapsed_us(&t0) / 1000));
    site_snapshot_unref(next);
    return 0;

failed:
    metrics_reload(srv->metrics, 0, time(NULL));
    site_snapshot_unref(next);
    site_snapshot_unref(cur);
    return -1;
}

void server_begin_drain(server *srv)
{
    atomic_store(&srv->draining, 1);
}

/*
 * libmicrohttpd mallocs each connection's pool (24 KiB by default), and glibc
 * keeps freed memory for reuse: after a burst of 256 connections a pod stayed
 * 8.7 MiB above its idle size for good. Once the open connections have fallen
 * to half their peak since the last trim, hand the free pages back, so a Pi's
 * pod shrinks back after a spike. Small peaks are not worth the walk over the
 * heap.
 */
static void give_back_after_burst(server *srv)
{
    enum { WORTH_IT = 32 };
    int64_t open = metrics_connections_open(srv->metrics);
    if (open > srv->conns_peak) {
        srv->conns_peak = open;
    } else if (srv->conns_peak >= WORTH_IT && open <= srv->conns_peak / 2) {
#ifdef __GLIBC__
        malloc_trim(0);
#endif
        srv->conns_peak = open;
    }
}

/*
 * keep_previous is over: let the previous generation go, so its memory and
 * its descriptors (of files a deploy deleted, whose disk space the kernel
 * frees only with the last descriptor) are handed back now, not at the next
 * reload. Requests answered from it hold their own reference until they
 * complete; the compressor holds one until it finishes.
 */
static void release_previous(server *srv)
{
    if (atomic_load_explicit(&srv->previous.current, memory_order_relaxed) &&
        now_s() >= atomic_load_explicit(&srv->previous_until, memory_order_relaxed))
        site_live_swap(&srv->previous, NULL);
}

void server_poll(server *srv)
{
    /* The compressor's result reaches the snapshot gauges once it is done. */
    if (srv->compressor && precompress_done(srv->compressor)) {
        site_snapshot *s = site_live_acquire(&srv->live);
        if (s)
            metrics_snapshot(srv->metrics, s->generation, s->n_entries, s->total_bytes,
                             compressed_bytes(s));
        site_snapshot_unref(s);
        precompress_stop(srv->compressor);
        srv->compressor = NULL;
    }
    release_previous(srv);
    give_back_after_burst(srv);
}

void server_stop(server *srv, unsigned timeout_s)
{
    if (!srv)
        return;
    if (!srv->pub.daemon) { /* bound, never started */
        server_free(srv);
        return;
    }
    /* Stop accepting first: the kernel refuses new connections from here on. */
    MHD_socket lfd = MHD_quiesce_daemon(srv->pub.daemon);
    srv->pub.quiesced = lfd != MHD_INVALID_SOCKET;
    if (lfd != MHD_INVALID_SOCKET && lfd == srv->pub.fd) {
        close(srv->pub.fd);
        srv->pub.fd = -1;
    }
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (atomic_load(&srv->in_flight) == 0)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= (time_t)timeout_s) {
            diag(DIAG_WARN, "shutdown timeout: %u request(s) cut off",
                 atomic_load(&srv->in_flight));
            break;
        }
        struct timespec tick = {0, 20 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    server_free(srv);
}
