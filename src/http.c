/*
 * http — the request headers a static server honours beyond the path:
 * validators for conditional requests (RFC 9110 §13) and single byte ranges
 * (RFC 9110 §14).
 *
 * Every function reads client bytes, so each one is written to fail closed:
 * anything malformed is treated as if the header were absent, which for these
 * headers always means "send the full 200 response" — never a wrong 304 or a
 * wrong 206. Numbers are accumulated with explicit overflow checks, strings are
 * walked against an end pointer, and nothing depends on the locale (no
 * strftime/strptime, no <ctype.h>), so the results are the same under a fuzzer
 * as in production.
 */
#include "tomed/http.h"

#include <stdio.h>
#include <string.h>

static const char day_short[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const day_long[7] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
};
static const char month_short[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Length of an IMF-fixdate, without terminator. */
#define IMF_FIXDATE_LEN 29

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && is_ows(*p)) p++;
    return p;
}

/* Header values reach us with their surrounding whitespace when the engine
 * keeps it; the field grammar never gives it meaning. */
static void trim_ows(const char **p, const char **end)
{
    *p = skip_ows(*p, *end);
    while (*end > *p && is_ows((*end)[-1])) (*end)--;
}

/* ---- dates ---------------------------------------------------------------- */

void http_format_date(time_t t, char *buf, size_t cap)
{
    struct tm tm;

    if (!buf || cap == 0) return;
    buf[0] = '\0';
    /* A truncated date would be a wrong date: write all or nothing. */
    if (cap < IMF_FIXDATE_LEN + 1) return;
    /* The format has room for a four-digit year only. */
    if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) return;
    if (tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11) return;
    (void)snprintf(buf, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                   day_short[tm.tm_wday], tm.tm_mday, month_short[tm.tm_mon],
                   tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Exactly n decimal digits at s (n <= 4, so no overflow). */
static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (!is_digit(s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Index of the three-letter name at s in table, or -1. Names are
 * case-sensitive in RFC 9110 (%s"Mon"). */
static int short_name(const char *s, const char (*table)[4], int count)
{
    int i;

    for (i = 0; i < count; i++)
        if (memcmp(s, table[i], 3) == 0) return i;
    return -1;
}

/* "HH:MM:SS" */
static int parse_clock(const char *s, int *h, int *m, int *sec)
{
    if (s[2] != ':' || s[5] != ':') return -1;
    if (digits(s, 2, h) || digits(s + 3, 2, m) || digits(s + 6, 2, sec)) return -1;
    return 0;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Validate the fields (timegm would silently normalise "31 Feb" to March)
 * and convert. mon is 0-based. */
static int make_time(int year, int mon, int mday, int hour, int min, int sec, time_t *out)
{
    static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    struct tm tm;
    time_t t;
    int dim;

    if (mon < 0 || mon > 11) return -1;
    dim = mdays[mon] + (mon == 1 && is_leap(year));
    /* Second 60 is a leap second (RFC 5322); timegm folds it into the next minute. */
    if (mday < 1 || mday > dim || hour > 23 || min > 59 || sec > 60) return -1;

    memset(&tm, 0, sizeof tm);
    tm.tm_year = year - 1900;
    tm.tm_mon = mon;
    tm.tm_mday = mday;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    t = timegm(&tm);
    /* -1 is also a real instant; anything else returning -1 overflowed time_t
     * (years past 2038 with a 32-bit time_t). */
    if (t == (time_t)-1 &&
        !(year == 1969 && mon == 11 && mday == 31 && hour == 23 && min == 59 && sec == 59))
        return -1;
    *out = t;
    return 0;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static int parse_imf_fixdate(const char *s, size_t n, time_t *out)
{
    int mday, mon, year, h, m, sec;

    if (n != IMF_FIXDATE_LEN) return -1;
    if (short_name(s, day_short, 7) < 0 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' ||
        s[11] != ' ' || s[16] != ' ' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
        return -1;
    if (digits(s + 5, 2, &mday) || (mon = short_name(s + 8, month_short, 12)) < 0 ||
        digits(s + 12, 4, &year) || parse_clock(s + 17, &h, &m, &sec))
        return -1;
    return make_time(year, mon, mday, h, m, sec, out);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" (obsolete, two-digit year) */
static int parse_rfc850(const char *s, size_t n, time_t *out)
{
    static const size_t tail = sizeof ", 06-Nov-94 08:49:37 GMT" - 1;
    int i, mday, mon, yy, h, m, sec;
    size_t w = 0;

    for (i = 0; i < 7; i++) {
        size_t k = strlen(day_long[i]);

        if (n == k + tail && memcmp(s, day_long[i], k) == 0) {
            w = k;
            break;
        }
    }
    if (w == 0) return -1;
    s += w;
    if (s[0] != ',' || s[1] != ' ' || s[4] != '-' || s[8] != '-' || s[11] != ' ' ||
        s[20] != ' ' || memcmp(s + 21, "GMT", 3) != 0)
        return -1;
    if (digits(s + 2, 2, &mday) || (mon = short_name(s + 5, month_short, 12)) < 0 ||
        digits(s + 9, 2, &yy) || parse_clock(s + 12, &h, &m, &sec))
        return -1;
    /* RFC 9110 §5.6.7 wants a date more than 50 years in the future read as
     * the past century. A fixed pivot keeps this pure and satisfies that
     * until 2069 — and only ancient clients send this form at all. */
    return make_time(yy < 70 ? 2000 + yy : 1900 + yy, mon, mday, h, m, sec, out);
}

/* "Sun Nov  6 08:49:37 1994" (C asctime; day is " 6" or "06") */
static int parse_asctime(const char *s, size_t n, time_t *out)
{
    int mday, mon, year, h, m, sec;

    if (n != 24) return -1;
    if (short_name(s, day_short, 7) < 0 || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' ||
        s[19] != ' ')
        return -1;
    if ((mon = short_name(s + 4, month_short, 12)) < 0) return -1;
    if (s[8] == ' ') {
        if (digits(s + 9, 1, &mday)) return -1;
    } else if (digits(s + 8, 2, &mday)) {
        return -1;
    }
    if (parse_clock(s + 11, &h, &m, &sec) || digits(s + 20, 4, &year)) return -1;
    return make_time(year, mon, mday, h, m, sec, out);
}

static int parse_date_n(const char *s, size_t n, time_t *out)
{
    /* Every form is at least 24 bytes, so the fixed offsets below stay in range. */
    if (n < 24) return -1;
    if (s[3] == ',') return parse_imf_fixdate(s, n, out);
    if (s[3] == ' ') return parse_asctime(s, n, out);
    return parse_rfc850(s, n, out);
}

int http_parse_date(const char *s, time_t *out)
{
    time_t t;

    if (!s || !out) return -1;
    if (parse_date_n(s, strlen(s), &t) != 0) return -1;
    *out = t;
    return 0;
}

/* ---- entity tags ---------------------------------------------------------- */

/* etagc = %x21 / %x23-7E / obs-text: anything visible but '"' */
static int is_etagc(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

/*
 * Parse one entity-tag at p: [ "W/" ] DQUOTE *etagc DQUOTE. On success
 * returns the byte after it and sets *weak and the opaque-tag (with its
 * quotes) in *op, *oplen; NULL when p does not start with a valid tag.
 */
static const char *parse_entity_tag(const char *p, const char *end, int *weak,
                                    const char **op, size_t *oplen)
{
    const char *q;

    *weak = 0;
    if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
        *weak = 1;
        p += 2;
    }
    if (p >= end || *p != '"') return NULL;
    for (q = p + 1; q < end && is_etagc((unsigned char)*q); q++) {
    }
    if (q >= end || *q != '"') return NULL;
    q++;
    *op = p;
    *oplen = (size_t)(q - p);
    return q;
}

/* The whole of s must be one entity-tag (our own ETag, or an If-Range value). */
static int parse_whole_tag(const char *s, const char *end, int *weak, const char **op,
                           size_t *oplen)
{
    const char *q = parse_entity_tag(s, end, weak, op, oplen);

    return q != NULL && q == end;
}

int http_etag_matches(const char *if_none_match, const char *etag)
{
    const char *p, *end, *e_op, *op;
    size_t e_len, oplen;
    int weak, matched = 0;

    if (!if_none_match || !etag) return 0;
    p = if_none_match;
    end = p + strlen(p);
    trim_ows(&p, &end);
    /* "*" matches any current representation, and having an ETag means we
     * have one. It is only valid on its own, never inside a list. */
    if (end - p == 1 && *p == '*') return 1;

    if (!parse_whole_tag(etag, etag + strlen(etag), &weak, &e_op, &e_len)) return 0;

    /* #entity-tag, with the empty elements RFC 9110 §5.6.1 tells recipients
     * to accept. One malformed element voids the whole header: guessing what
     * a broken client meant could produce a 304 for the wrong content. */
    for (;;) {
        const char *q;

        p = skip_ows(p, end);
        if (p == end) break;
        if (*p == ',') {
            p++;
            continue;
        }
        q = parse_entity_tag(p, end, &weak, &op, &oplen);
        if (!q) return 0;
        /* Weak comparison: the W/ flags play no part. */
        if (oplen == e_len && memcmp(op, e_op, oplen) == 0) matched = 1;
        p = skip_ows(q, end);
        if (p != end && *p != ',') return 0;
    }
    return matched;
}

int http_not_modified(const char *if_none_match, const char *if_modified_since,
                      const char *etag, time_t last_modified)
{
    time_t since;

    /* RFC 9110 §13.2.2: If-None-Match, when present, is the whole answer;
     * the ETag is more precise than a one-second timestamp. */
    if (if_none_match) return http_etag_matches(if_none_match, etag);
    if (!if_modified_since) return 0;
    /* §13.1.3: an invalid date means the header is ignored. */
    if (http_parse_date(if_modified_since, &since) != 0) return 0;
    return last_modified <= since;
}

/* ---- ranges --------------------------------------------------------------- */

/* One or more digits into *v; NULL when there are none or the value does not
 * fit in 64 bits (such a range is not worth honouring). */
static const char *parse_u64(const char *p, const char *end, uint64_t *v)
{
    const char *start = p;
    uint64_t n = 0;

    while (p < end && is_digit(*p)) {
        unsigned d = (unsigned)(*p - '0');

        if (n > (UINT64_MAX - d) / 10) return NULL;
        n = n * 10 + d;
        p++;
    }
    if (p == start) return NULL;
    *v = n;
    return p;
}

enum http_range_result http_parse_range(const char *range, uint64_t size,
                                        uint64_t *start, uint64_t *length)
{
    const char *p, *end;
    uint64_t first = 0, last = 0;
    int suffix = 0, has_last = 0;

    if (start) *start = 0;
    if (length) *length = 0;
    if (!range || !start || !length) return HTTP_RANGE_NONE;

    p = range;
    end = p + strlen(p);
    trim_ows(&p, &end);
    /* Range units are case-insensitive (§14.1); no whitespace around '='. */
    if (end - p < 6 || (p[0] | 0x20) != 'b' || (p[1] | 0x20) != 'y' || (p[2] | 0x20) != 't' ||
        (p[3] | 0x20) != 'e' || (p[4] | 0x20) != 's' || p[5] != '=')
        return HTTP_RANGE_NONE;
    p += 6;

    /* 1#range-spec opens with *( "," OWS ). */
    while (p < end && *p == ',') p = skip_ows(p + 1, end);

    if (p < end && *p == '-') {
        suffix = 1;
        p = parse_u64(p + 1, end, &last);
    } else {
        p = parse_u64(p, end, &first);
        if (p && p < end && *p == '-') {
            p++;
            if (p < end && is_digit(*p)) {
                has_last = 1;
                p = parse_u64(p, end, &last);
            }
        } else {
            p = NULL;
        }
    }
    if (!p) return HTTP_RANGE_NONE;

    /* Only empty list elements may follow. A second range is ignored whole
     * rather than served as multipart/byteranges: browsers never need it and
     * it is the classic amplification vector. */
    for (; p < end; p++)
        if (*p != ',' && !is_ows(*p)) return HTTP_RANGE_NONE;

    if (suffix) {
        if (last == 0 || size == 0) return HTTP_RANGE_UNSATISFIABLE;
        if (last > size) last = size;
        *start = size - last;
        *length = last;
        return HTTP_RANGE_OK;
    }
    /* last < first is syntactically invalid (§14.1.1), so ignored, not 416. */
    if (has_last && last < first) return HTTP_RANGE_NONE;
    if (first >= size) return HTTP_RANGE_UNSATISFIABLE;
    if (!has_last || last > size - 1) last = size - 1;
    *start = first;
    *length = last - first + 1;
    return HTTP_RANGE_OK;
}

int http_if_range_ok(const char *if_range, const char *etag, time_t last_modified)
{
    const char *p, *end, *op, *e_op;
    size_t oplen, e_len;
    int weak, e_weak;
    time_t t;

    if (!if_range) return 1;
    p = if_range;
    end = p + strlen(p);
    trim_ows(&p, &end);

    /* §13.1.5: If-Range needs a strong comparison, so a weak tag on either
     * side never matches; a date starts with a day name, never '"' or "W/". */
    if (p < end && (*p == '"' || (end - p >= 2 && p[0] == 'W' && p[1] == '/'))) {
        if (!etag || !parse_whole_tag(p, end, &weak, &op, &oplen) || weak) return 0;
        if (!parse_whole_tag(etag, etag + strlen(etag), &e_weak, &e_op, &e_len) || e_weak)
            return 0;
        return oplen == e_len && memcmp(op, e_op, oplen) == 0;
    }
    if (parse_date_n(p, (size_t)(end - p), &t) != 0) return 0;
    return t == last_modified;
}
