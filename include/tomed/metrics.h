/*
 * metrics — request, connection, snapshot and process metrics, rendered in
 * the Prometheus text exposition format (version 0.0.4).
 *
 * Recording is lock-free: relaxed atomic adds on counters and histogram
 * buckets, so the request path never waits on another thread. Rendering
 * reads the same atomics (a scrape may see one request's counter before its
 * histogram sample; Prometheus tolerates that) and /proc/self for process_*.
 */
#ifndef TOMED_METRICS_H
#define TOMED_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct metrics metrics;

/* NULL when out of memory. start_time is the process start (for process_start_time_seconds). */
metrics *metrics_new(time_t start_time);
/* NULL is a no-op. */
void metrics_free(metrics *m);

/*
 * One finished request. method: any string (counted as GET, HEAD or "other");
 * status: any code (counted per code for the codes tomed sends, else "other");
 * encoding: "br", "gzip" or NULL for identity; bytes: body bytes sent;
 * duration_us: from the request line to the last byte queued.
 */
void metrics_request(metrics *m, const char *method, unsigned status, const char *encoding,
                     uint64_t bytes, uint64_t duration_us);

/* A connection opened (+1) or closed (-1). */
void metrics_connection(metrics *m, int delta);

/* Connections open now (0 for a NULL m). */
int64_t metrics_connections_open(const metrics *m);

/* n connections closed for sending no whole request header in time. */
void metrics_header_timeouts(metrics *m, unsigned n);

/* Descriptors the process has open now (not counting the one this count
 * itself holds), or -1 without /proc: process_open_fds, and what the
 * server sizes its connection limits from. */
long metrics_open_fds(void);

/* One log line dropped (access log or stderr): its queue was full. */
void metrics_log_dropped(metrics *m);

/* The live snapshot's facts, set when a snapshot is published (and when its
 * background compression finishes). */
void metrics_snapshot(metrics *m, uint64_t generation, uint64_t files, uint64_t identity_bytes,
                      uint64_t compressed_bytes);

/* A reload attempt finished: ok nonzero for success; when = wall-clock time
 * (tomed_last_reload_timestamp_seconds is the last attempt, either result). */
void metrics_reload(metrics *m, int ok, time_t when);

/*
 * Render every metric: tomed_http_requests_total{method,code},
 * tomed_http_response_bytes_total{encoding}, tomed_http_request_duration_seconds
 * (histogram, buckets from 50 µs to 10 s), tomed_http_connections_open,
 * tomed_http_header_timeouts_total, tomed_log_lines_dropped_total,
 * tomed_snapshot_files, tomed_snapshot_bytes{encoding}, tomed_snapshot_generation,
 * tomed_reloads_total{result}, tomed_last_reload_timestamp_seconds,
 * tomed_build_info{version,libmicrohttpd,zlib,brotli,libyaml,openssl} 1, and the
 * standard process_* metrics (cpu_seconds_total, resident_memory_bytes,
 * virtual_memory_bytes, open_fds, max_fds, start_time_seconds).
 * Returns a malloc'd buffer the caller frees (*len its length), NULL if out of memory.
 */
char *metrics_render(const metrics *m, size_t *len);

#endif
