/*
 * log — the access log (off, common log format, or one JSON object a line)
 * and the error log.
 *
 * Formatting is pure and bounded: every byte that came from the client is
 * escaped, so a request cannot forge a log line or break the JSON. Lines are
 * capped at LOG_LINE_MAX. While serving, lines go through a log_queue: a
 * bounded ring drained by one writer thread, so a stalled log reader costs
 * dropped (and counted) lines, never a blocked request thread.
 */
#ifndef TOMED_LOG_H
#define TOMED_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum log_format { LOG_OFF = 0, LOG_CLF = 1, LOG_JSON = 2 };

#define LOG_LINE_MAX 4096 /* <= PIPE_BUF: one atomic write */

typedef struct log_access {
    struct timespec time;     /* when the request finished (CLOCK_REALTIME) */
    const char *remote;       /* client address, e.g. "10.0.0.7" or "::1" */
    const char *method;
    const char *path;         /* the raw request target path, as received */
    const char *query;        /* raw query without '?', or NULL */
    const char *protocol;     /* "HTTP/1.1" */
    unsigned status;
    uint64_t bytes;           /* body bytes sent */
    uint64_t duration_us;
    const char *encoding;     /* "br", "gzip" or NULL (identity) */
    const char *user_agent;   /* or NULL */
    const char *referer;      /* or NULL */
} log_access;

/* Parse "off", "clf" (or "common"), "json". -1 if unknown. */
int log_parse_format(const char *s);

/*
 * Format one line (ending in '\n') into buf of cap bytes (cap <= LOG_LINE_MAX
 * is fine: long fields are truncated with "..." so the line always fits and
 * stays valid). buf is NUL-terminated; returns the line's length (< cap);
 * 0 for LOG_OFF, and 0 when cap cannot hold the fixed text plus "..." per
 * field (never more than 128 bytes for CLF, 256 for JSON).
 * CLF: remote - - [10/Oct/2000:13:55:36 +0000] "GET /p?q HTTP/1.1" 200 2326 "referer" "ua"
 *      (the combined format); bytes outside printable ASCII, '"' and '\\' are written \xHH.
 * JSON: {"time":"2026-11-25T03:34:11.123Z","remote":"…","method":"…","path":"…",
 *        "query":"…","protocol":"…","status":200,"bytes":123,"duration_us":45,
 *        "encoding":"br","user_agent":"…","referer":"…"} with JSON string escaping
 *        (control bytes as \u00XX, invalid UTF-8 bytes as \u00XX of the byte).
 *        A NULL string field is "-" in CLF and null in JSON, except encoding,
 *        which NULL means "identity" in JSON (as the metrics label says).
 */
size_t log_format_access(enum log_format f, const log_access *a, char *buf, size_t cap);

/* Write a formatted line to stdout directly, retrying on EINTR and short
 * writes (blocks when stdout does; the server uses a log_queue instead). */
void log_write_access(const char *line, size_t len);

/*
 * A bounded queue of log lines in front of a descriptor (stdout for the
 * access log), drained by its own writer thread.
 *
 * log_queue_start: a ring of cap bytes (at least LOG_LINE_MAX) and the writer
 * thread. NULL when out of memory or threads. The caller owns the queue and
 * ends it with log_queue_stop; fd must stay open until then.
 *
 * log_queue_push: copy one whole line (len <= cap) into the ring and return
 * 0; never waits for the descriptor (only for a memcpy under a short lock).
 * When the line does not fit, or the descriptor has failed for good (EPIPE),
 * or the queue is stopping, the line is dropped, counted, and -1 returned.
 * Safe from any thread. A NULL queue accepts and ignores every line.
 *
 * log_queue_dropped: lines dropped so far.
 *
 * log_queue_stop: stop accepting lines, write what is queued for at most
 * flush_ms (a reader that does not read gets nothing more), end the writer
 * and free q. Returns within about flush_ms + 1 s even when write(2) itself
 * sleeps; the writer is then left behind, detached. NULL is a no-op.
 */
typedef struct log_queue log_queue;
log_queue *log_queue_start(int fd, size_t cap);
int log_queue_push(log_queue *q, const char *line, size_t len);
uint64_t log_queue_dropped(const log_queue *q);
void log_queue_stop(log_queue *q, unsigned flush_ms);

#endif
