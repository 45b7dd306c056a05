/*
 * metrics — what an SRE needs to see rate, errors and duration, in the
 * Prometheus text exposition format (0.0.4), without an exporter sidecar.
 *
 * Recording happens on every request, from any of the server's threads, so it
 * is only relaxed atomic adds into fixed arrays: no lock, no allocation, no
 * branch that depends on another thread. Relaxed order is enough because
 * every cell is an independent counter; a scrape that runs concurrently may
 * see a request in one family and not yet in another, which Prometheus
 * tolerates (rates are computed per series).
 *
 * Label values come from fixed tables (the status codes tomed sends, GET,
 * HEAD, three encodings), never from the request, so a client cannot blow up
 * the number of series, and every series exists from the first scrape with
 * value 0 (a series that appears only after its first event breaks rate()).
 *
 * The duration histogram is kept in integer microseconds: bucket bounds are
 * compared as integers (so a 50 µs request lands in le="0.00005" exactly),
 * and _sum is printed from an integer µs total, so it never drifts the way a
 * floating-point accumulator would. _count is derived from the buckets, so
 * _count always equals the +Inf bucket within one scrape.
 *
 * Rendering is cold (one scrape every few seconds), so it allocates freely
 * and reads /proc/self for the process_* family as the Prometheus client
 * libraries define it.
 */
#include "tomed/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <brotli/encode.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <yaml.h>
#include <zlib.h>

/* ------------------------------------------------------------------ tables */

/* The codes tomed's handler and libmicrohttpd send; anything else is "other". */
static const unsigned metrics_codes[] = {
    200, 206, 304, 308, 400, 404, 405, 406, 413, 414, 416, 431, 500, 501, 503, 505,
};
#define METRICS_N_CODES (sizeof metrics_codes / sizeof metrics_codes[0])
#define METRICS_CODE_OTHER METRICS_N_CODES
#define METRICS_N_CODE_SLOTS (METRICS_N_CODES + 1)

enum { METRICS_GET, METRICS_HEAD, METRICS_METHOD_OTHER, METRICS_N_METHODS };
static const char *const metrics_methods[METRICS_N_METHODS] = { "GET", "HEAD", "other" };

enum { METRICS_ENC_BR, METRICS_ENC_GZIP, METRICS_ENC_IDENTITY, METRICS_N_ENCODINGS };
static const char *const metrics_encodings[METRICS_N_ENCODINGS] = { "br", "gzip", "identity" };

/* Upper bounds in µs, and the same bounds as Prometheus reads them (seconds).
 * 50 µs is about the cost of a cached response on a Raspberry Pi; 10 s is a
 * large file to a slow client. */
static const uint64_t metrics_bounds_us[] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
static const char *const metrics_bounds_le[] = {
    "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
};
#define METRICS_N_BOUNDS (sizeof metrics_bounds_us / sizeof metrics_bounds_us[0])
#define METRICS_N_BUCKETS (METRICS_N_BOUNDS + 1) /* the last one is +Inf */

_Static_assert(sizeof metrics_bounds_le / sizeof metrics_bounds_le[0] == METRICS_N_BOUNDS,
               "every bound needs its le label");

/* ------------------------------------------------------------------- state */

struct metrics {
    /* hot: written on every request */
    _Atomic uint64_t requests[METRICS_N_METHODS][METRICS_N_CODE_SLOTS];
    _Atomic uint64_t response_bytes[METRICS_N_ENCODINGS];
    _Atomic uint64_t duration_buckets[METRICS_N_BUCKETS]; /* not cumulative */
    _Atomic uint64_t duration_sum_us;
    _Atomic int64_t connections_open;
    _Atomic uint64_t header_timeouts;
    _Atomic uint64_t log_dropped;

    /* cold: written on snapshot publication and reloads */
    _Atomic uint64_t snapshot_generation;
    _Atomic uint64_t snapshot_files;
    _Atomic uint64_t snapshot_identity_bytes;
    _Atomic uint64_t snapshot_compressed_bytes;
    _Atomic uint64_t reloads[2]; /* [0] success, [1] failure */
    _Atomic int64_t last_reload_time;

    /* fixed at creation */
    time_t start_time;
    char build_labels[512]; /* version="…",libmicrohttpd="…",… already escaped */
};

/* ------------------------------------------------------------ build info */

/* Label values are escaped as the text format requires (\\, \", \n), so a
 * distribution's odd version string cannot break the exposition. */
static size_t metrics_escape_label(char *out, size_t cap, const char *v)
{
    size_t n = 0;
    for (; *v && n + 2 < cap; v++) {
        if (*v == '\\' || *v == '"' || *v == '\n') {
            out[n++] = '\\';
            out[n++] = *v == '\n' ? 'n' : *v;
        } else {
            out[n++] = *v;
        }
    }
    out[n] = '\0';
    return n;
}

/* "OpenSSL 3.0.11 19 Sep 2023" -> "3.0.11": the version, not the banner. */
static void metrics_openssl_version(char *out, size_t cap)
{
    const char *s = OpenSSL_version(OPENSSL_VERSION);
    const char *sp = strchr(s, ' ');
    if (sp)
        s = sp + 1;
    size_t n = strcspn(s, " ");
    snprintf(out, cap, "%.*s", (int)(n < 64 ? n : 64), s);
}

static void metrics_build_labels(metrics *m)
{
    uint32_t br = BrotliEncoderVersion(); /* (major << 24) | (minor << 12) | patch */
    char brotli[32], openssl[80];
    snprintf(brotli, sizeof brotli, "%" PRIu32 ".%" PRIu32 ".%" PRIu32, br >> 24,
             (br >> 12) & 0xfff, br & 0xfff);
    metrics_openssl_version(openssl, sizeof openssl);

    const char *names[] = { "version", "libmicrohttpd", "zlib", "brotli", "libyaml", "openssl" };
    const char *values[] = { TOMED_VERSION, MHD_get_version(), zlibVersion(), brotli,
                             yaml_get_version_string(), openssl };
    size_t n = 0, cap = sizeof m->build_labels;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char esc[128];
        metrics_escape_label(esc, sizeof esc, values[i] ? values[i] : "");
        int w = snprintf(m->build_labels + n, cap - n, "%s%s=\"%s\"", i ? "," : "", names[i], esc);
        if (w < 0 || (size_t)w >= cap - n)
            break; /* cannot happen with the sizes above; never render half a label */
        n += (size_t)w;
    }
}

/* ------------------------------------------------------------- lifecycle */

metrics *metrics_new(time_t start_time)
{
    metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    /* calloc's zero bytes are valid zero atomics on every platform we build
     * for, but atomic_init says so portably. */
    for (size_t i = 0; i < METRICS_N_METHODS; i++)
        for (size_t j = 0; j < METRICS_N_CODE_SLOTS; j++)
            atomic_init(&m->requests[i][j], 0);
    for (size_t i = 0; i < METRICS_N_ENCODINGS; i++)
        atomic_init(&m->response_bytes[i], 0);
    for (size_t i = 0; i < METRICS_N_BUCKETS; i++)
        atomic_init(&m->duration_buckets[i], 0);
    atomic_init(&m->duration_sum_us, 0);
    atomic_init(&m->connections_open, 0);
    atomic_init(&m->header_timeouts, 0);
    atomic_init(&m->log_dropped, 0);
    atomic_init(&m->snapshot_generation, 0);
    atomic_init(&m->snapshot_files, 0);
    atomic_init(&m->snapshot_identity_bytes, 0);
    atomic_init(&m->snapshot_compressed_bytes, 0);
    atomic_init(&m->reloads[0], 0);
    atomic_init(&m->reloads[1], 0);
    atomic_init(&m->last_reload_time, 0);
    m->start_time = start_time;
    metrics_build_labels(m);
    return m;
}

void metrics_free(metrics *m)
{
    free(m);
}

/* --------------------------------------------------------------- recording */

#define METRICS_ADD(obj, v) atomic_fetch_add_explicit(&(obj), (v), memory_order_relaxed)
#define METRICS_SET(obj, v) atomic_store_explicit(&(obj), (v), memory_order_relaxed)
#define METRICS_GET(obj) atomic_load_explicit(&(obj), memory_order_relaxed)

static size_t metrics_code_slot(unsigned status)
{
    for (size_t i = 0; i < METRICS_N_CODES; i++)
        if (metrics_codes[i] == status)
            return i;
    return METRICS_CODE_OTHER;
}

static size_t metrics_method_slot(const char *method)
{
    if (method && strcmp(method, "GET") == 0)
        return METRICS_GET;
    if (method && strcmp(method, "HEAD") == 0)
        return METRICS_HEAD;
    return METRICS_METHOD_OTHER;
}

static size_t metrics_encoding_slot(const char *encoding)
{
    if (encoding && strcmp(encoding, "br") == 0)
        return METRICS_ENC_BR;
    if (encoding && strcmp(encoding, "gzip") == 0)
        return METRICS_ENC_GZIP;
    return METRICS_ENC_IDENTITY;
}

/* le is "less than or equal": a sample exactly on a bound belongs to it. */
static size_t metrics_bucket(uint64_t us)
{
    for (size_t i = 0; i < METRICS_N_BOUNDS; i++)
        if (us <= metrics_bounds_us[i])
            return i;
    return METRICS_N_BOUNDS;
}

void metrics_request(metrics *m, const char *method, unsigned status, const char *encoding,
                     uint64_t bytes, uint64_t duration_us)
{
    if (!m)
        return;
    METRICS_ADD(m->requests[metrics_method_slot(method)][metrics_code_slot(status)], 1);
    METRICS_ADD(m->response_bytes[metrics_encoding_slot(encoding)], bytes);
    METRICS_ADD(m->duration_buckets[metrics_bucket(duration_us)], 1);
    METRICS_ADD(m->duration_sum_us, duration_us);
}

void metrics_connection(metrics *m, int delta)
{
    if (m)
        METRICS_ADD(m->connections_open, (int64_t)delta);
}

int64_t metrics_connections_open(const metrics *m)
{
    return m ? METRICS_GET(m->connections_open) : 0;
}

void metrics_header_timeouts(metrics *m, unsigned n)
{
    if (m)
        METRICS_ADD(m->header_timeouts, (uint64_t)n);
}

void metrics_log_dropped(metrics *m)
{
    if (m)
        METRICS_ADD(m->log_dropped, 1);
}

void metrics_snapshot(metrics *m, uint64_t generation, uint64_t files, uint64_t identity_bytes,
                      uint64_t compressed_bytes)
{
    if (!m)
        return;
    METRICS_SET(m->snapshot_generation, generation);
    METRICS_SET(m->snapshot_files, files);
    METRICS_SET(m->snapshot_identity_bytes, identity_bytes);
    METRICS_SET(m->snapshot_compressed_bytes, compressed_bytes);
}

void metrics_reload(metrics *m, int ok, time_t when)
{
    if (!m)
        return;
    METRICS_ADD(m->reloads[ok ? 0 : 1], 1);
    METRICS_SET(m->last_reload_time, (int64_t)when);
}

/* ---------------------------------------------------------- /proc/self */

struct metrics_proc {
    uint64_t cpu_ticks;  /* utime + stime */
    uint64_t vsize;      /* bytes */
    uint64_t rss_pages;
};

/* /proc/self/stat fields after the command name, which may itself hold
 * spaces and parentheses, hence the scan from the last ')'. */
static int metrics_read_stat(struct metrics_proc *p)
{
    char buf[2048];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n;
    do
        n = read(fd, buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = '\0';
    char *s = strrchr(buf, ')');
    if (!s)
        return -EIO;
    /* field 3 (state) onwards; we want 14 utime, 15 stime, 23 vsize, 24 rss */
    unsigned long long f[25] = { 0 };
    char *tok = s + 1, *end;
    for (int i = 3; i <= 24; i++) {
        while (*tok == ' ')
            tok++;
        if (i == 3) { /* state is a letter */
            tok++;
            continue;
        }
        f[i] = strtoull(tok, &end, 10);
        if (end == tok)
            return -EIO;
        tok = end;
    }
    p->cpu_ticks = f[14] + f[15];
    p->vsize = f[23];
    p->rss_pages = f[24];
    return 0;
}

long metrics_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n > 0 ? n - 1 : 0;
}

/* ---------------------------------------------------------------- render */

/* One HELP/TYPE header per family, as promtool insists. */
static void metrics_family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* An integer quantity of 1/den units as an exact decimal, e.g. µs -> seconds
 * or clock ticks -> seconds, without floating point rounding. */
static void metrics_fixed(FILE *f, uint64_t v, uint64_t den)
{
    uint64_t frac = (v % den) * 1000000 / den;
    fprintf(f, "%" PRIu64 ".%06" PRIu64, v / den, frac);
}

static void metrics_render_requests(FILE *f, const metrics *m)
{
    metrics_family(f, "tomed_http_requests_total", "counter",
                   "HTTP requests answered, by method and status code.");
    for (size_t i = 0; i < METRICS_N_METHODS; i++) {
        for (size_t j = 0; j < METRICS_N_CODE_SLOTS; j++) {
            uint64_t v = METRICS_GET(m->requests[i][j]);
            if (j == METRICS_CODE_OTHER)
                fprintf(f, "tomed_http_requests_total{method=\"%s\",code=\"other\"} %" PRIu64 "\n",
                        metrics_methods[i], v);
            else
                fprintf(f, "tomed_http_requests_total{method=\"%s\",code=\"%u\"} %" PRIu64 "\n",
                        metrics_methods[i], metrics_codes[j], v);
        }
    }
    metrics_family(f, "tomed_http_response_bytes_total", "counter",
                   "Response body bytes sent, by content-encoding.");
    for (size_t i = 0; i < METRICS_N_ENCODINGS; i++)
        fprintf(f, "tomed_http_response_bytes_total{encoding=\"%s\"} %" PRIu64 "\n",
                metrics_encodings[i], METRICS_GET(m->response_bytes[i]));
}

static void metrics_render_duration(FILE *f, const metrics *m)
{
    const char *name = "tomed_http_request_duration_seconds";
    metrics_family(f, name, "histogram",
                   "Time from the request line to the last byte queued.");
    uint64_t cumulative = 0;
    for (size_t i = 0; i < METRICS_N_BUCKETS; i++) {
        cumulative += METRICS_GET(m->duration_buckets[i]);
        fprintf(f, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name,
                i < METRICS_N_BOUNDS ? metrics_bounds_le[i] : "+Inf", cumulative);
    }
    fprintf(f, "%s_sum ", name);
    metrics_fixed(f, METRICS_GET(m->duration_sum_us), 1000000);
    fprintf(f, "\n%s_count %" PRIu64 "\n", name, cumulative);
}

static void metrics_render_server(FILE *f, const metrics *m)
{
    int64_t conns = METRICS_GET(m->connections_open);
    metrics_family(f, "tomed_http_connections_open", "gauge", "Client connections open now.");
    fprintf(f, "tomed_http_connections_open %" PRId64 "\n", conns < 0 ? 0 : conns);
    metrics_family(f, "tomed_http_header_timeouts_total", "counter",
                   "Connections closed because no whole request header arrived within "
                   "limits.header_timeout.");
    fprintf(f, "tomed_http_header_timeouts_total %" PRIu64 "\n", METRICS_GET(m->header_timeouts));
    metrics_family(f, "tomed_log_lines_dropped_total", "counter",
                   "Log lines dropped because their reader was too slow: access-log lines "
                   "(stdout, log.buffer full) and tomed's own messages (stderr).");
    fprintf(f, "tomed_log_lines_dropped_total %" PRIu64 "\n", METRICS_GET(m->log_dropped));

    metrics_family(f, "tomed_snapshot_files", "gauge", "Files in the live snapshot.");
    fprintf(f, "tomed_snapshot_files %" PRIu64 "\n", METRICS_GET(m->snapshot_files));
    metrics_family(f, "tomed_snapshot_bytes", "gauge",
                   "Bytes held by the live snapshot, identity and compressed variants.");
    fprintf(f, "tomed_snapshot_bytes{encoding=\"identity\"} %" PRIu64 "\n",
            METRICS_GET(m->snapshot_identity_bytes));
    fprintf(f, "tomed_snapshot_bytes{encoding=\"compressed\"} %" PRIu64 "\n",
            METRICS_GET(m->snapshot_compressed_bytes));
    metrics_family(f, "tomed_snapshot_generation", "gauge",
                   "Generation of the live snapshot; it grows by one per successful reload.");
    fprintf(f, "tomed_snapshot_generation %" PRIu64 "\n", METRICS_GET(m->snapshot_generation));

    metrics_family(f, "tomed_reloads_total", "counter", "Site reload attempts, by result.");
    fprintf(f, "tomed_reloads_total{result=\"success\"} %" PRIu64 "\n",
            METRICS_GET(m->reloads[0]));
    fprintf(f, "tomed_reloads_total{result=\"failure\"} %" PRIu64 "\n",
            METRICS_GET(m->reloads[1]));
    metrics_family(f, "tomed_last_reload_timestamp_seconds", "gauge",
                   "Unix time of the last reload attempt, successful or not (0: none yet).");
    fprintf(f, "tomed_last_reload_timestamp_seconds %" PRId64 "\n",
            METRICS_GET(m->last_reload_time));

    metrics_family(f, "tomed_build_info", "gauge",
                   "Always 1; the labels say which tomed and libraries are running.");
    fprintf(f, "tomed_build_info{%s} 1\n", m->build_labels);
}

/* A family whose source cannot be read is left out rather than reported as
 * 0: an absent series is an honest "unknown", a zero is a lie. */
static void metrics_render_process(FILE *f, const metrics *m)
{
    struct metrics_proc p;
    long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    if (metrics_read_stat(&p) == 0 && hz > 0 && page > 0) {
        metrics_family(f, "process_cpu_seconds_total", "counter",
                       "Total user and system CPU time spent in seconds.");
        fprintf(f, "process_cpu_seconds_total ");
        metrics_fixed(f, p.cpu_ticks, (uint64_t)hz);
        fputc('\n', f);
        metrics_family(f, "process_resident_memory_bytes", "gauge",
                       "Resident memory size in bytes.");
        fprintf(f, "process_resident_memory_bytes %" PRIu64 "\n", p.rss_pages * (uint64_t)page);
        metrics_family(f, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
        fprintf(f, "process_virtual_memory_bytes %" PRIu64 "\n", p.vsize);
    }
    long fds = metrics_open_fds();
    if (fds >= 0) {
        metrics_family(f, "process_open_fds", "gauge", "Number of open file descriptors.");
        fprintf(f, "process_open_fds %ld\n", fds);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        metrics_family(f, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
        if (rl.rlim_cur == RLIM_INFINITY)
            fprintf(f, "process_max_fds +Inf\n");
        else
            fprintf(f, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    }
    metrics_family(f, "process_start_time_seconds", "gauge",
                   "Start time of the process since unix epoch in seconds.");
    fprintf(f, "process_start_time_seconds %lld\n", (long long)m->start_time);
}

char *metrics_render(const metrics *m, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    if (len)
        *len = 0;
    if (!m)
        return NULL;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    metrics_render_requests(f, m);
    metrics_render_duration(f, m);
    metrics_render_server(f, m);
    metrics_render_process(f, m);
    int failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        free(buf);
        return NULL;
    }
    if (len)
        *len = n;
    return buf;
}
