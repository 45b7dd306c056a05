/*
 * http — pure parsers and predicates for the request headers a static server
 * honours: conditional requests (RFC 9110 §13) and single byte ranges (§14).
 * No I/O and no allocation, so they are unit-tested and fuzzed directly.
 */
#ifndef TOMED_HTTP_H
#define TOMED_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Format t as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into buf (>= 30 bytes).
 * Locale-independent. Writes "" when cap < 30 or the year does not have four digits. */
void http_format_date(time_t t, char *buf, size_t cap);

/* Parse IMF-fixdate, RFC 850 or asctime dates. 0 and *out on success, -1 otherwise.
 * The whole string must be the date (no surrounding whitespace); names are
 * case-sensitive as in RFC 9110; fields out of range ("31 Apr", "24:00:00")
 * are refused; the day name must be valid but is not checked against the date.
 * RFC 850 two-digit years: 70-99 are 19xx, 00-69 are 20xx. */
int http_parse_date(const char *s, time_t *out);

/* If-None-Match: nonzero when the header (a "*" or a comma-separated list of
 * entity tags, weak or strong) matches etag under the weak comparison.
 * etag is a quoted strong tag such as "\"abc\"". A header with any malformed
 * element matches nothing (the caller then sends 200, which is always safe). */
int http_etag_matches(const char *if_none_match, const char *etag);

/* Decide whether a GET/HEAD may answer 304, following RFC 9110 §13.2.2:
 * If-None-Match (when present) decides and If-Modified-Since is ignored;
 * otherwise If-Modified-Since >= last_modified means not modified.
 * Either header may be NULL. Nonzero = answer 304. */
int http_not_modified(const char *if_none_match, const char *if_modified_since,
                      const char *etag, time_t last_modified);

enum http_range_result {
    HTTP_RANGE_NONE = 0,        /* no usable Range: serve the whole representation (200) */
    HTTP_RANGE_OK = 1,          /* one satisfiable range: 206 with *start, *length */
    HTTP_RANGE_UNSATISFIABLE = 2 /* 416 with "Content-Range: bytes * / size" */
};

/*
 * Parse a Range header against a representation of size bytes. Only a single
 * "bytes=" range is honoured ("a-b", "a-", "-n"); several ranges, other units
 * and malformed headers give HTTP_RANGE_NONE (RFC 9110 lets a server ignore
 * Range). A syntactically valid range that starts at or beyond size (or a
 * suffix of 0) is HTTP_RANGE_UNSATISFIABLE; with size 0 every valid range is.
 * "a-b" with b < a, and numbers that do not fit in 64 bits, are malformed
 * (NONE). An end past the representation is clamped to size - 1; a suffix
 * longer than it selects the whole. Whitespace is allowed only around the
 * field value and around commas (RFC 9110 list syntax), and empty list
 * elements ("bytes=,0-1,") are accepted. *start and *length are 0 unless OK.
 */
enum http_range_result http_parse_range(const char *range, uint64_t size,
                                        uint64_t *start, uint64_t *length);

/* If-Range: nonzero when the range may be honoured: header absent (NULL), or
 * equal to the strong etag under the strong comparison (a W/ tag on either side
 * never matches), or an HTTP date equal to last_modified. Anything else,
 * including garbage, is zero: the caller then ignores Range and sends 200. */
int http_if_range_ok(const char *if_range, const char *etag, time_t last_modified);

#endif
