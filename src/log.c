/*
 * log — the access log: one line per request on stdout, in the combined log
 * format that every log tool reads, or as one JSON object that Loki's json
 * stage turns into labels without a regex.
 *
 * Nearly every field of an access line comes from the client, and a client
 * that can put a CR/LF or a quote into its User-Agent can forge a whole line
 * ("127.0.0.1 - - [...] \"GET /admin ...") or break the JSON for everything
 * after it. So each client string is escaped byte by byte, and nothing is
 * ever copied raw:
 *   CLF  — bytes outside printable ASCII, '"' and '\\' become \xHH (what
 *          nginx and Apache do, so existing parsers understand it);
 *   JSON — '"' and '\\' get their backslash, control bytes, DEL, C1 controls
 *          and every byte that is not part of valid UTF-8 become \u00HH;
 *          valid UTF-8 passes through, so non-Latin paths stay readable.
 *
 * A line is written with one write(2), which is atomic between threads only
 * up to PIPE_BUF, so lines are capped (LOG_LINE_MAX). When the fields do not
 * fit, the longest ones are cut (the short ones are kept whole: a 100 KB
 * User-Agent must not cost us the path), each cut ends in "...", and a cut
 * never falls inside an escape or a UTF-8 sequence.
 *
 * The line is laid out first as a list of pieces: literal text that tomed
 * produced (timestamps, numbers, punctuation) and client fields to escape.
 * Measuring, sharing the space out and writing then work on that one list,
 * the same for both formats.
 */
#include "tomed/log.h"
#include "tomed/utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int log_parse_format(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "off") == 0)
        return LOG_OFF;
    if (strcmp(s, "clf") == 0 || strcmp(s, "common") == 0)
        return LOG_CLF;
    if (strcmp(s, "json") == 0)
        return LOG_JSON;
    return -1;
}

/* --------------------------------------------------------------- escaping */

#define LOG_UNIT_MAX 6 /* the longest escape: \u00HH */

static const char log_hex[] = "0123456789abcdef";

static size_t log_hex_escape(char *out, const char *prefix, unsigned char c)
{
    size_t n = strlen(prefix);
    memcpy(out, prefix, n);
    out[n++] = log_hex[c >> 4];
    out[n++] = log_hex[c & 15];
    return n;
}

/* One escape unit of a CLF field: a byte, or its \xHH. Sets *used to the
 * bytes consumed, returns the bytes written to out. */
static size_t log_unit_clf(const unsigned char *p, size_t n, char *out, size_t *used)
{
    (void)n;
    *used = 1;
    if (p[0] < 0x20 || p[0] >= 0x7f || p[0] == '"' || p[0] == '\\')
        return log_hex_escape(out, "\\x", p[0]);
    out[0] = (char)p[0];
    return 1;
}

/* One escape unit of a JSON string: a whole UTF-8 sequence, or one escape. */
static size_t log_unit_json(const unsigned char *p, size_t n, char *out, size_t *used)
{
    unsigned char c = p[0];
    *used = 1;
    if (c == '"' || c == '\\') {
        out[0] = '\\';
        out[1] = (char)c;
        return 2;
    }
    if (c < 0x20 || c == 0x7f)
        return log_hex_escape(out, "\\u00", c);
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    size_t len = utf8_seq_len(p, n);
    if (len == 0)
        return log_hex_escape(out, "\\u00", c); /* the byte, as U+00HH */
    *used = len;
    if (len == 2 && c == 0xc2 && p[1] < 0xa0)
        return log_hex_escape(out, "\\u00", p[1]); /* C1 control: terminals obey it */
    memcpy(out, p, len);
    return len;
}

typedef size_t (*log_unit_fn)(const unsigned char *p, size_t n, char *out, size_t *used);

/* ----------------------------------------------------------------- pieces */

#define LOG_MAX_PIECES 64
#define LOG_MAX_FIELDS LOG_MAX_PIECES

struct log_piece {
    const char *s;
    size_t len;     /* of s */
    int field;      /* 1: client text, escaped and perhaps cut */
    size_t natural; /* fields: escaped length, counted no further than the line cap */
    size_t budget;  /* fields: bytes it may take in the line */
};

struct log_layout {
    struct log_piece p[LOG_MAX_PIECES];
    size_t n;
    log_unit_fn unit;
};

static void log_lit(struct log_layout *l, const char *s)
{
    if (l->n < LOG_MAX_PIECES)
        l->p[l->n++] = (struct log_piece){ .s = s, .len = strlen(s) };
}

static void log_field(struct log_layout *l, const char *s)
{
    if (l->n < LOG_MAX_PIECES)
        l->p[l->n++] = (struct log_piece){ .s = s, .len = strlen(s), .field = 1 };
}

/* Escaped length of a field, stopping once it passes limit: a 100 KB header
 * is cut anyway, and counting it all would cost time on the request path. */
static size_t log_measure(log_unit_fn unit, const char *s, size_t len, size_t limit)
{
    const unsigned char *p = (const unsigned char *)s;
    char tmp[LOG_UNIT_MAX];
    size_t out = 0, i = 0, used;
    while (i < len && out <= limit) {
        out += unit(p + i, len - i, tmp, &used);
        i += used;
    }
    return out;
}

/* Write a field into at most budget bytes of dst; returns bytes written.
 * Whole units only, and "..." when the field did not fit. */
static size_t log_emit_field(log_unit_fn unit, const struct log_piece *f, char *dst)
{
    const unsigned char *p = (const unsigned char *)f->s;
    int cut = f->natural > f->budget;
    size_t room = cut ? f->budget - 3 : f->budget;
    size_t out = 0, i = 0, used;
    char tmp[LOG_UNIT_MAX];
    while (i < f->len) {
        size_t w = unit(p + i, f->len - i, tmp, &used);
        if (out + w > room)
            break;
        memcpy(dst + out, tmp, w);
        out += w;
        i += used;
    }
    if (cut) {
        memcpy(dst + out, "...", 3);
        out += 3;
    }
    return out;
}

/*
 * Share avail bytes among the fields: the shortest first, each taking what
 * it needs up to an equal share of what is left, so the long ones split the
 * remainder evenly. Returns -1 when even "..." per field does not fit.
 */
static int log_share(struct log_layout *l, size_t avail)
{
    struct log_piece *f[LOG_MAX_FIELDS];
    size_t nf = 0;
    for (size_t i = 0; i < l->n && nf < LOG_MAX_FIELDS; i++)
        if (l->p[i].field)
            f[nf++] = &l->p[i];
    for (size_t i = 1; i < nf; i++) /* insertion sort by natural length */
        for (size_t j = i; j > 0 && f[j - 1]->natural > f[j]->natural; j--) {
            struct log_piece *t = f[j];
            f[j] = f[j - 1];
            f[j - 1] = t;
        }
    for (size_t i = 0; i < nf; i++) {
        size_t share = avail / (nf - i);
        f[i]->budget = f[i]->natural <= share ? f[i]->natural : share;
        if (f[i]->budget < f[i]->natural && f[i]->budget < 3)
            return -1;
        avail -= f[i]->budget;
    }
    return 0;
}

/* Measure, share and write: the line, NUL-terminated, in at most cap bytes. */
static size_t log_render(struct log_layout *l, char *buf, size_t cap)
{
    size_t fixed = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct log_piece *pc = &l->p[i];
        if (pc->field)
            pc->natural = log_measure(l->unit, pc->s, pc->len, cap);
        else
            fixed += pc->len;
    }
    if (fixed + 1 > cap || log_share(l, cap - 1 - fixed) < 0) {
        buf[0] = '\0';
        return 0;
    }
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct log_piece *pc = &l->p[i];
        if (pc->field) {
            n += log_emit_field(l->unit, pc, buf + n);
        } else {
            memcpy(buf + n, pc->s, pc->len);
            n += pc->len;
        }
    }
    buf[n] = '\0';
    return n;
}

/* ----------------------------------------------------------------- formats */

/* Month names and digits by hand: strftime follows the locale, and a log
 * parser does not. */
static const char *const log_months[12] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static void log_time_clf(const struct timespec *ts, char *out, size_t cap)
{
    struct tm tm;
    time_t t = ts->tv_sec;
    if (!gmtime_r(&t, &tm))
        memset(&tm, 0, sizeof tm);
    snprintf(out, cap, "%02d/%s/%04d:%02d:%02d:%02d +0000", tm.tm_mday,
             log_months[tm.tm_mon >= 0 && tm.tm_mon < 12 ? tm.tm_mon : 0], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void log_time_json(const struct timespec *ts, char *out, size_t cap)
{
    struct tm tm;
    time_t t = ts->tv_sec;
    if (!gmtime_r(&t, &tm))
        memset(&tm, 0, sizeof tm);
    long ms = ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L ? ts->tv_nsec / 1000000L : 0;
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

/* Scratch text owned by the caller's stack while the layout refers to it. */
struct log_scratch {
    char time[64];
    char status[16];
    char bytes[24];
    char duration[24];
};

static void log_clf_or_dash(struct log_layout *l, const char *s)
{
    if (s)
        log_field(l, s);
    else
        log_lit(l, "-");
}

/* remote - - [time] "METHOD path?query PROTO" status bytes "referer" "ua" */
static void log_layout_clf(struct log_layout *l, const log_access *a, struct log_scratch *s)
{
    log_time_clf(&a->time, s->time, sizeof s->time);
    snprintf(s->status, sizeof s->status, "%u", a->status);
    snprintf(s->bytes, sizeof s->bytes, "%" PRIu64, a->bytes);
    l->unit = log_unit_clf;
    log_clf_or_dash(l, a->remote);
    log_lit(l, " - - [");
    log_lit(l, s->time);
    log_lit(l, "] \"");
    log_clf_or_dash(l, a->method);
    log_lit(l, " ");
    log_clf_or_dash(l, a->path);
    if (a->query) {
        log_lit(l, "?");
        log_field(l, a->query);
    }
    log_lit(l, " ");
    log_clf_or_dash(l, a->protocol);
    log_lit(l, "\" ");
    log_lit(l, s->status);
    log_lit(l, " ");
    log_lit(l, s->bytes);
    log_lit(l, " \"");
    log_clf_or_dash(l, a->referer);
    log_lit(l, "\" \"");
    log_clf_or_dash(l, a->user_agent);
    log_lit(l, "\"\n");
}

/* ,"key":"escaped" — or ,"key":null when the client sent nothing. */
static void log_json_string(struct log_layout *l, const char *key_lit, const char *v)
{
    log_lit(l, key_lit);
    if (!v) {
        log_lit(l, "null");
        return;
    }
    log_lit(l, "\"");
    log_field(l, v);
    log_lit(l, "\"");
}

static void log_layout_json(struct log_layout *l, const log_access *a, struct log_scratch *s)
{
    log_time_json(&a->time, s->time, sizeof s->time);
    snprintf(s->status, sizeof s->status, "%u", a->status);
    snprintf(s->bytes, sizeof s->bytes, "%" PRIu64, a->bytes);
    snprintf(s->duration, sizeof s->duration, "%" PRIu64, a->duration_us);
    l->unit = log_unit_json;
    log_lit(l, "{\"time\":\"");
    log_lit(l, s->time);
    log_lit(l, "\"");
    log_json_string(l, ",\"remote\":", a->remote);
    log_json_string(l, ",\"method\":", a->method);
    log_json_string(l, ",\"path\":", a->path);
    log_json_string(l, ",\"query\":", a->query);
    log_json_string(l, ",\"protocol\":", a->protocol);
    log_lit(l, ",\"status\":");
    log_lit(l, s->status);
    log_lit(l, ",\"bytes\":");
    log_lit(l, s->bytes);
    log_lit(l, ",\"duration_us\":");
    log_lit(l, s->duration);
    /* NULL encoding means the identity body was sent: say so, as the
     * metrics' encoding label does. */
    log_json_string(l, ",\"encoding\":", a->encoding ? a->encoding : "identity");
    log_json_string(l, ",\"user_agent\":", a->user_agent);
    log_json_string(l, ",\"referer\":", a->referer);
    log_lit(l, "}\n");
}

size_t log_format_access(enum log_format f, const log_access *a, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return 0;
    buf[0] = '\0';
    if (!a || (f != LOG_CLF && f != LOG_JSON))
        return 0;
    struct log_layout l = { .n = 0 };
    struct log_scratch s;
    if (f == LOG_CLF)
        log_layout_clf(&l, a, &s);
    else
        log_layout_json(&l, a, &s);
    return log_render(&l, buf, cap);
}

/* ------------------------------------------------------------------ write */

void log_write_access(const char *line, size_t len)
{
    while (len > 0) {
        ssize_t w = write(STDOUT_FILENO, line, len);
        if (w < 0 && errno == EINTR)
            continue;
        /* A full non-blocking pipe or a closed stdout: drop the line rather
         * than spin or stall the request path on the log reader. */
        if (w <= 0)
            return;
        line += w;
        len -= (size_t)w;
    }
}

/* ------------------------------------------------------------------ queue */

/*
 * The access log must never stop the server: a log collector that stalls
 * (a full pipe, a slow journald, a `tomed run | less` left in the
 * background) would otherwise block every request thread in write(2). So
 * request threads only copy their line into a ring of bytes and one writer
 * thread drains it. When the ring is full the line is dropped and counted;
 * losing log lines is the lesser harm than losing the service.
 *
 * The writer waits for the descriptor with poll(2) and writes at most
 * PIPE_BUF bytes per call, so with a pipe it never sleeps inside write(2)
 * (a pipe that polls writable has at least a page free) and it looks at the
 * stop flag at least every LOG_POLL_MS. Only the writer writes to the
 * descriptor, so lines stay whole in the stream even when a write is short.
 *
 * The lock protects only the ring's indices and is held for a memcpy of at
 * most LOG_LINE_MAX bytes, never across a system call.
 */
#define LOG_POLL_MS 100

struct log_queue {
    int fd;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;        /* lines arrived, or stop */
    char *ring;
    size_t cap, head, used;     /* head: next byte to fill; the oldest is at head - used */
    int stop;                   /* under lock */
    int broken;                 /* the descriptor failed for good: drop everything */
    struct timespec deadline;   /* CLOCK_MONOTONIC, once stop is set */
    atomic_uint_fast64_t dropped;
};

static int log_past(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void *log_writer(void *arg)
{
    log_queue *q = arg;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (q->used == 0 || q->broken) {
            if (q->stop)
                break;
            pthread_cond_wait(&q->wake, &q->lock);
            continue;
        }
        if (q->stop && log_past(&q->deadline))
            break;
        size_t tail = (q->head + q->cap - q->used) % q->cap;
        size_t n = q->cap - tail < q->used ? q->cap - tail : q->used;
        if (n > PIPE_BUF)
            n = PIPE_BUF;
        pthread_mutex_unlock(&q->lock);
        /* the bytes [tail, tail + n) are the writer's alone until it
         * advances past them: producers only fill the free part */
        ssize_t w = 0;
        int err = 0;
        struct pollfd p = {.fd = q->fd, .events = POLLOUT};
        int ready = poll(&p, 1, LOG_POLL_MS);
        if (ready > 0 && (p.revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL))) {
            w = write(q->fd, q->ring + tail, n);
            err = w < 0 ? errno : 0;
        }
        pthread_mutex_lock(&q->lock);
        if (w > 0)
            q->used -= (size_t)w;
        else if (w < 0 && err != EINTR && err != EAGAIN && err != EWOULDBLOCK)
            q->broken = 1; /* EPIPE, EBADF, ENOSPC: nobody will read these lines */
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

log_queue *log_queue_start(int fd, size_t cap)
{
    if (cap < LOG_LINE_MAX)
        cap = LOG_LINE_MAX;
    log_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->fd = fd;
    q->cap = cap;
    atomic_init(&q->dropped, 0);
    q->ring = malloc(cap);
    if (!q->ring || pthread_mutex_init(&q->lock, NULL) != 0) {
        free(q->ring);
        free(q);
        return NULL;
    }
    if (pthread_cond_init(&q->wake, NULL) != 0) {
        pthread_mutex_destroy(&q->lock);
        free(q->ring);
        free(q);
        return NULL;
    }
    if (pthread_create(&q->thread, NULL, log_writer, q) != 0) {
        pthread_cond_destroy(&q->wake);
        pthread_mutex_destroy(&q->lock);
        free(q->ring);
        free(q);
        return NULL;
    }
    return q;
}

int log_queue_push(log_queue *q, const char *line, size_t len)
{
    if (!q || len == 0)
        return 0;
    pthread_mutex_lock(&q->lock);
    int fits = !q->stop && !q->broken && len <= q->cap - q->used;
    if (fits) {
        size_t first = q->cap - q->head < len ? q->cap - q->head : len;
        memcpy(q->ring + q->head, line, first);
        memcpy(q->ring, line + first, len - first);
        q->head = (q->head + len) % q->cap;
        q->used += len;
        if (q->used == len)
            pthread_cond_signal(&q->wake); /* it was empty: the writer may be asleep */
    }
    pthread_mutex_unlock(&q->lock);
    if (!fits)
        atomic_fetch_add_explicit(&q->dropped, 1, memory_order_relaxed);
    return fits ? 0 : -1;
}

uint64_t log_queue_dropped(const log_queue *q)
{
    return q ? (uint64_t)atomic_load_explicit(&q->dropped, memory_order_relaxed) : 0;
}

/* Queues whose writer was still stuck at stop: kept reachable, never freed
 * (the process is on its way out), so leak checkers stay quiet. */
static log_queue *log_abandoned;

void log_queue_stop(log_queue *q, unsigned flush_ms)
{
    if (!q)
        return;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += flush_ms / 1000;
    until.tv_nsec += (long)(flush_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->lock);
    q->stop = 1;
    q->deadline = until;
    pthread_cond_signal(&q->wake);
    pthread_mutex_unlock(&q->lock);
    /* The writer ends within LOG_POLL_MS of the deadline unless write(2)
     * itself sleeps (a socket or terminal that polls writable but takes
     * less than PIPE_BUF): then give up on it rather than on exiting. */
    struct timespec join_by;
    clock_gettime(CLOCK_REALTIME, &join_by);
    join_by.tv_sec += flush_ms / 1000 + 1;
    if (pthread_timedjoin_np(q->thread, NULL, &join_by) != 0) {
        pthread_detach(q->thread); /* stop is set: nothing new is queued */
        log_abandoned = q;
        return;
    }
    pthread_cond_destroy(&q->wake);
    pthread_mutex_destroy(&q->lock);
    free(q->ring);
    free(q);
}
