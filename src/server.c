/*
 * server — carry out route decisions with libmicrohttpd.
 *
 * Hot path: each snapshot entry gets its 200 and 304 responses built once when
 * the snapshot is published (libmicrohttpd responses are reference-counted and
 * may be queued on any number of connections), so serving a file costs a
 * route decision, a table lookup and a queue: no allocation, no file-system
 * call, no header formatting. Only rare answers (206, 416, redirects) build a
 * response per request.
 *
 * The handler uses libmicrohttpd's two-call pattern: the first call for a
 * request only takes a reference on the live snapshot; the response is queued
 * on the second. Queueing on the first call makes libmicrohttpd 0.9.75 answer
 * "Connection: close" to every request, losing keep-alive.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "tomed/encoding.h"
#include "tomed/policy.h"
#include "tomed/precompress.h"
#include "tomed/route.h"
#include "tomed/server.h"

#define QUERY_MAX 65536
#define LOCATION_MAX (2 * 65536 + QUERY_MAX + 2)
#define THREAD_STACK (2u << 20) /* the handler keeps path, query and Location buffers on its stack */

enum { N_ERRORS = 5 };

typedef struct entry_responses {
    struct MHD_Response *full;         /* 200, or 404 when the entry is the 404 page */
    struct MHD_Response *not_modified; /* 304 */
} entry_responses;

struct server {
    const tomed_config *cfg;
    struct MHD_Daemon *daemon;
    int listen_fd;
    unsigned port;
    site_live live;
    atomic_uint in_flight;
    struct MHD_Response *health;
    struct MHD_Response *errors[N_ERRORS];
    precompress *compressor;
};

/* The bare error answers, each built once. */
static const unsigned error_status[N_ERRORS] = {400, 404, 405, 414, 503};
static const char *const error_body[N_ERRORS] = {
    "400 Bad Request\n", "404 Not Found\n", "405 Method Not Allowed\n", "414 URI Too Long\n",
    "503 Service Unavailable: the file changed on disk since tomed loaded the site\n"};

static void add_security_headers(const tomed_config *cfg, struct MHD_Response *r)
{
    policy_header h[8];
    size_t n = policy_security_headers(cfg, h, 8);
    for (size_t i = 0; i < n; i++)
        MHD_add_response_header(r, h[i].name, h[i].value);
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
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, e->cache_control);
    if (e->negotiable)
        MHD_add_response_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (!with_body_headers)
        return;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, e->mime);
    if (v)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, encoding_name(v->encoding));
    else
        MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    add_security_headers(cfg, r);
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
    er->not_modified = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!er->full || !er->not_modified) {
        responses_free(er);
        return NULL;
    }
    add_entry_headers(cfg, er->full, e, v, 1);
    add_entry_headers(cfg, er->not_modified, e, v, 0);
    return er;
}

static void release_entry(site_entry *e, void *ctx)
{
    (void)ctx;
    responses_free(e->server_data);
    e->server_data = NULL;
    for (int k = ENC_BR; k < ENC_COUNT; k++) {
        site_variant *v = site_entry_variant(e, (enum encoding)k);
        if (v) {
            responses_free(v->server_data);
            v->server_data = NULL;
        }
    }
}

/* precompress hook: give a freshly compressed variant its responses. */
static int prepare_variant(const site_entry *e, site_variant *v, void *ctx)
{
    server *srv = ctx;
    v->server_data = responses_new(srv->cfg, e, v);
    return v->server_data ? 0 : -1;
}

static int prepare_snapshot(const tomed_config *cfg, site_snapshot *snap, tomed_error *err)
{
    snap->release = release_entry;
    for (size_t i = 0; i < snap->n_entries; i++) {
        site_entry *e = &snap->entries[i];
        if (!(e->server_data = responses_new(cfg, e, NULL)))
            return error_set(err, TOMED_EXIT_RUNTIME, "%s: cannot prepare response", e->path);
        for (int k = ENC_BR; k < ENC_COUNT; k++) {
            site_variant *v = site_entry_variant(e, (enum encoding)k);
            if (v && !(v->server_data = responses_new(cfg, e, v)))
                return error_set(err, TOMED_EXIT_RUNTIME, "%s: cannot prepare response", e->path);
        }
    }
    return 0;
}

static struct MHD_Response *text_response(const tomed_config *cfg, const char *body,
                                          const char *cache_control)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return NULL;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache_control);
    add_security_headers(cfg, r);
    return r;
}

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

static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s); /* path.c decodes exactly once, with its own rules */
}

static enum MHD_Result queue_owned(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result serve_range(server *srv, struct MHD_Connection *c, const route_result *res)
{
    const site_entry *e = res->entry;
    char cr[96];
    struct MHD_Response *r;
    if (res->kind == ROUTE_PARTIAL) {
        r = entry_body(e, res->range_start, res->range_len);
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)res->range_start,
                 (unsigned long long)(res->range_start + res->range_len - 1),
                 (unsigned long long)e->size);
    } else {
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)e->size);
    }
    if (!r)
        return MHD_NO;
    add_entry_headers(srv->cfg, r, e, NULL, 1);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    return queue_owned(c, res->status, r);
}

/*
 * A large file is sent from the descriptor opened at load, so a file replaced
 * by rename (how deploys should write) keeps serving the loaded bytes. One
 * rewritten in place would send bytes that match neither its ETag nor its
 * Content-Length, or stall at a truncation: refuse instead. One fstat per
 * large-file request, small next to the transfer itself.
 */
static int changed_on_disk(const site_entry *e)
{
    struct stat st;
    if (e->fd < 0)
        return 0;
    if (fstat(e->fd, &st) == 0 && (uint64_t)st.st_size == e->size && st.st_mtime == e->mtime)
        return 0;
    fprintf(stderr, "tomed: [error] %s changed on disk since it was loaded; answering 503 "
                    "until the site is loaded again\n", e->path);
    return 1;
}

static const entry_responses *representation(const route_result *res)
{
    return res->variant ? res->variant->server_data : res->entry->server_data;
}

/* Decide and queue the answer for a request. */
static enum MHD_Result respond(server *srv, struct MHD_Connection *c, const char *url,
                               const char *method, const site_snapshot *snap)
{
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
    };
    char query[QUERY_MAX], location[LOCATION_MAX];
    query_buf q = {query, 0, sizeof query};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
    if (q.n >= q.cap)
        return MHD_queue_response(c, 414, srv->errors[3]);
    query[q.n] = '\0';
    rq.query = q.n ? query : NULL;

    route_result res;
    route_decide(srv->cfg, snap, &rq, &res, location, sizeof location);
    if ((res.kind == ROUTE_FILE || res.kind == ROUTE_PARTIAL) && !res.variant &&
        changed_on_disk(res.entry))
        return MHD_queue_response(c, 503, srv->errors[4]);
    switch (res.kind) {
    case ROUTE_FILE:
        return MHD_queue_response(c, res.status, representation(&res)->full);
    case ROUTE_NOT_MODIFIED:
        return MHD_queue_response(c, 304, representation(&res)->not_modified);
    case ROUTE_PARTIAL:
    case ROUTE_UNSATISFIABLE:
        return serve_range(srv, c, &res);
    case ROUTE_HEALTH:
        return MHD_queue_response(c, 200, srv->health);
    case ROUTE_ERROR:
        for (int i = 0; i < N_ERRORS; i++)
            if (error_status[i] == res.status)
                return MHD_queue_response(c, res.status, srv->errors[i]);
        return MHD_NO;
    case ROUTE_REDIRECT: {
        struct MHD_Response *r = text_response(srv->cfg, "", "no-cache");
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, res.location);
        return queue_owned(c, res.status, r);
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size, void **req_cls)
{
    (void)version;
    (void)upload_data;
    server *srv = cls;
    if (*req_cls == NULL) {
        atomic_fetch_add_explicit(&srv->in_flight, 1, memory_order_relaxed);
        site_snapshot *snap = site_live_acquire(&srv->live);
        *req_cls = snap ? (void *)snap : (void *)srv; /* non-NULL marks "seen" */
        /* A request with a body (a POST, or a GET with Content-Length) is
         * answered now, before its body: libmicrohttpd then closes the
         * connection instead of making us read a body we would throw away. */
        if (has_body(c))
            return respond(srv, c, url, method, snap);
        return MHD_YES; /* the two-call pattern: answer on the next call */
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* only reached if the answer was already queued */
        return MHD_YES;
    }
    return respond(srv, c, url, method, *req_cls == srv ? NULL : *req_cls);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    server *srv = cls;
    if (*req_cls == NULL)
        return;
    if (*req_cls != srv)
        site_snapshot_unref(*req_cls);
    *req_cls = NULL;
    atomic_fetch_sub_explicit(&srv->in_flight, 1, memory_order_release);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
                                                             va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    fprintf(stderr, "tomed: [error] libmicrohttpd: %s\n", msg);
}

/* Bind the listening socket ourselves, so a failure names the address and errno. */
static int open_listener(const tomed_config *cfg, int *is_v6, tomed_error *err)
{
    char host[256];
    unsigned port;
    if (config_parse_listen(cfg->listen, host, sizeof host, &port) < 0)
        return error_set(err, TOMED_EXIT_CONFIG, "listen: bad address \"%s\"", cfg->listen);
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host[0] ? host : "0.0.0.0", portstr, &hints, &ai);
    if (rc != 0)
        return error_set(err, TOMED_EXIT_RUNTIME, "cannot listen on %s: %s", cfg->listen,
                         gai_strerror(rc));
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1, saved = 0;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        saved = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return error_set(err, TOMED_EXIT_RUNTIME, "cannot listen on %s: %s", cfg->listen,
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

static void server_free(server *srv)
{
    if (!srv)
        return;
    precompress_stop(srv->compressor);
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    site_live_swap(&srv->live, NULL);
    if (srv->health)
        MHD_destroy_response(srv->health);
    for (int i = 0; i < N_ERRORS; i++)
        if (srv->errors[i])
            MHD_destroy_response(srv->errors[i]);
    free(srv);
}

int server_start(const tomed_config *cfg, site_snapshot *snap, server **out, tomed_error *err)
{
    server *srv = calloc(1, sizeof *srv);
    *out = NULL;
    if (!srv) {
        site_snapshot_unref(snap);
        return error_set(err, TOMED_EXIT_RUNTIME, "out of memory");
    }
    srv->cfg = cfg;
    srv->listen_fd = -1;
    atomic_init(&srv->live.current, NULL);
    atomic_init(&srv->live.acquiring, 0);
    atomic_init(&srv->in_flight, 0);
    if (prepare_snapshot(cfg, snap, err) < 0) {
        site_snapshot_unref(snap);
        goto fail;
    }
    site_live_swap(&srv->live, snap);

    srv->health = text_response(cfg, "ok\n", "no-store");
    for (int i = 0; i < N_ERRORS; i++)
        if (!(srv->errors[i] = text_response(cfg, error_body[i], "no-cache"))) {
            error_set(err, TOMED_EXIT_RUNTIME, "out of memory");
            goto fail;
        }
    if (!srv->health) {
        error_set(err, TOMED_EXIT_RUNTIME, "out of memory");
        goto fail;
    }
    MHD_add_response_header(srv->errors[2], MHD_HTTP_HEADER_ALLOW, "GET, HEAD");

    int v6 = 0;
    srv->listen_fd = open_listener(cfg, &v6, err);
    if (srv->listen_fd < 0)
        goto fail;
    srv->port = bound_port(srv->listen_fd);

    unsigned threads = thread_count(cfg);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_TURBO | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    /* Request headers must fit libmicrohttpd's per-connection buffer; leave room
     * for headers beyond the longest URL we accept. */
    size_t mem_limit = cfg->max_url_length * 2u + 32768u;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, srv->listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)THREAD_STACK,
        MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem_limit,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_END);
    if (!srv->daemon) {
        error_set(err, TOMED_EXIT_RUNTIME, "cannot start the HTTP daemon on %s", cfg->listen);
        goto fail;
    }
    /* Serving starts now, with identity bytes; variants appear as they are made. */
    if (cfg->compress_memory_max > 0)
        srv->compressor = precompress_start(snap, cfg, prepare_variant, srv);
    *out = srv;
    return 0;
fail:
    server_free(srv);
    return -1;
}

unsigned server_port(const server *srv)
{
    return srv->port;
}

void server_stop(server *srv, unsigned timeout_s)
{
    if (!srv)
        return;
    /* Stop accepting first: the kernel refuses new connections from here on. */
    MHD_socket lfd = MHD_quiesce_daemon(srv->daemon);
    if (lfd != MHD_INVALID_SOCKET && lfd == srv->listen_fd) {
        close(srv->listen_fd);
        srv->listen_fd = -1;
    }
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (atomic_load(&srv->in_flight) == 0)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= (time_t)timeout_s) {
            fprintf(stderr, "tomed: [warn] shutdown timeout: %u request(s) cut off\n",
                    atomic_load(&srv->in_flight));
            break;
        }
        struct timespec tick = {0, 20 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    server_free(srv);
}
