/*
 * fuzz_http_conditional — If-None-Match, If-Modified-Since, If-Range and the
 * HTTP date parser/formatter.
 *
 * Input: [u64 time][u8 flags] then NUL-separated strings:
 *        If-None-Match, If-Modified-Since, ETag, If-Range, date
 * flags: bit0 If-None-Match absent, bit1 If-Modified-Since absent, bit2 If-Range
 * absent, bit3 use a fixed server ETag instead of the input one, bit4/5 put
 * Last-Modified next to the If-Modified-Since date (-1, 0, +1 s).
 */
#include "fuzz_util.h"

#include <time.h>

#include "tomed/http.h"

static const char *trim(const char *s, size_t *n)
{
    size_t len = strlen(s);
    while (len && (*s == ' ' || *s == '\t')) s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    *n = len;
    return s;
}

/* [W/]"etagc*" exactly, as RFC 9110 spells it. */
static int valid_tag(const char *s, size_t n, int *weak)
{
    *weak = 0;
    if (n >= 2 && s[0] == 'W' && s[1] == '/') s += 2, n -= 2, *weak = 1;
    if (n < 2 || s[0] != '"' || s[n - 1] != '"') return 0;
    for (size_t i = 1; i + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(c == 0x21 || (c >= 0x23 && c != 0x7f))) return 0;
    }
    return 1;
}

static void check_date(const char *d)
{
    time_t t;
    char buf[64], again[64];
    if (http_parse_date(d, &t) != 0) return;
    size_t n = strlen(d);
    CHECK(n == 29 || n == 24 || (n >= 30 && n <= 33));
    http_format_date(t, buf, sizeof buf);
    /* the one date past 9999: "31 Dec 9999 23:59:60", whose leap second is
     * folded into the year 10000, which the format cannot write */
    if (t > 253402300799LL) {
        CHECKF(memcmp(d + n - 12, "23:59:60", 8) == 0 ||
                   memcmp(d + 11, "23:59:60", 8) == 0,
               "parsed \"%s\" to %lld, past 9999", d, (long long)t);
        CHECK(buf[0] == '\0');
        return;
    }
    CHECKF(buf[0] != '\0', "parsed \"%s\" to %lld, which does not format", d, (long long)t);
    time_t t2 = 0;
    CHECKF(http_parse_date(buf, &t2) == 0 && t2 == t, "\"%s\" -> %lld -> \"%s\"", d, (long long)t, buf);
    /* IMF-fixdate reads back as itself, but for the day name (not checked
     * against the date) and a leap second (folded into the next minute) */
    if (n == 29 && memcmp(d + 23, "60", 2) != 0)
        CHECKF(strcmp(buf + 3, d + 3) == 0, "\"%s\" -> \"%s\"", d, buf);
    /* surrounding whitespace is not part of a date */
    snprintf(again, sizeof again, " %s", d);
    CHECK(http_parse_date(again, &t2) != 0);
    snprintf(again, sizeof again, "%s ", d);
    CHECK(http_parse_date(again, &t2) != 0);
}

static void check_time(time_t t)
{
    char buf[64];
    time_t back = 0;
    http_format_date(t, buf, sizeof buf);
    if (buf[0] == '\0') return; /* year outside 0000..9999 */
    CHECK(strlen(buf) == 29);
    CHECKF(http_parse_date(buf, &back) == 0 && back == t, "%lld -> \"%s\" -> %lld", (long long)t,
           buf, (long long)back);
    /* a short buffer gets all or nothing */
    char small[29];
    http_format_date(t, small, sizeof small);
    CHECK(small[0] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp f = {data, size};
    time_t lm = (time_t)fdp_uint(&f, 8);
    uint8_t flags = fdp_u8(&f);
    char *inm = fdp_str(&f, '\0', NULL);
    char *ims = fdp_str(&f, '\0', NULL);
    char *etag_in = fdp_str(&f, '\0', NULL);
    char *ifr = fdp_str(&f, '\0', NULL);
    char *date = fdp_str(&f, '\0', NULL);
    char *etag = (flags & 8) ? fuzz_dup("\"5d41402abc4b2a76b9719d911017c592\"") : fuzz_dup(etag_in);
    const char *h_inm = (flags & 1) ? NULL : inm;
    const char *h_ims = (flags & 2) ? NULL : ims;
    const char *h_ifr = (flags & 4) ? NULL : ifr;
    time_t since;
    int since_ok = http_parse_date(ims, &since) == 0;
    if (since_ok && (flags & 0x30)) lm = since + ((flags >> 4) & 3) - 2;

    check_date(date);
    check_date(ims);
    check_time(lm);

    /* If-None-Match */
    size_t tn;
    const char *tv = trim(inm, &tn);
    int m = http_etag_matches(inm, etag);
    int ew;
    int etag_valid = valid_tag(etag, strlen(etag), &ew);
    if (tn == 1 && tv[0] == '*') {
        CHECK(m == 1);
    } else if (m) {
        /* a match means the server's opaque tag is literally in the header */
        CHECK(etag_valid);
        const char *op = etag[0] == 'W' ? etag + 2 : etag;
        CHECKF(strstr(inm, op) != NULL, "\"%s\" matched \"%s\"", inm, etag);
    }
    if (etag_valid) {
        int w2;
        /* the header being exactly the server's tag, weak or not, matches */
        if (valid_tag(tv, tn, &w2)) {
            const char *a = tv[0] == 'W' ? tv + 2 : tv;
            const char *b = etag[0] == 'W' ? etag + 2 : etag;
            size_t al = tn - (size_t)(a - tv);
            if (al == strlen(b) && memcmp(a, b, al) == 0)
                CHECKF(m == 1, "\"%s\" vs \"%s\"", inm, etag);
            else
                CHECKF(m == 0, "\"%s\" vs \"%s\"", inm, etag);
        }
    }
    (void)ew;

    /* RFC 9110 §13.2.2 precedence */
    int nm = http_not_modified(h_inm, h_ims, etag, lm);
    if (h_inm)
        CHECK(nm == m);
    else if (!h_ims || !since_ok)
        CHECK(nm == 0);
    else
        CHECK(nm == (lm <= since));

    /* If-Range: strong comparison or an exact date */
    int ok = http_if_range_ok(h_ifr, etag, lm);
    if (!h_ifr) {
        CHECK(ok == 1);
    } else if (ok) {
        size_t rn;
        const char *rv = trim(ifr, &rn);
        int w = 1;
        int tag_eq = rn == strlen(etag) && memcmp(rv, etag, rn) == 0 && valid_tag(rv, rn, &w) && !w;
        char *d = malloc(rn + 1);
        if (!d) abort();
        memcpy(d, rv, rn);
        d[rn] = '\0';
        time_t t;
        int date_eq = http_parse_date(d, &t) == 0 && t == lm;
        free(d);
        CHECKF(tag_eq || date_eq, "If-Range \"%s\" accepted for %s / %lld", ifr, etag, (long long)lm);
    }

    CHECK(http_etag_matches(NULL, etag) == 0);
    CHECK(http_etag_matches(inm, NULL) == 0);
    time_t dummy;
    CHECK(http_parse_date(NULL, &dummy) != 0);
    CHECK(http_parse_date(date, NULL) != 0);

    free(inm); free(ims); free(etag_in); free(ifr); free(date); free(etag);
    return 0;
}
