/*
 * fuzz_log — log_format_access with random fields and buffer sizes.
 *
 * Input: [u8 format][u8 null mask][u16 cap][u32 status][u64 bytes]
 *        [u64 duration][u64 tv_sec][u32 tv_nsec] then NUL-separated strings:
 *        remote, method, path, query, protocol, encoding, user_agent, referer
 *
 * The line fits the buffer, ends in its only '\n', and a client cannot break
 * it: CLF has only printable ASCII and exactly six '"'; JSON is valid UTF-8
 * without raw control bytes, parses as one object with the documented keys in
 * order, and every string field decodes to the client's text (code point for
 * code point, invalid bytes read as U+00HH), or to a prefix of it followed by
 * "..." when it was cut.
 */
#include "fuzz_util.h"

#include "tomed/log.h"

enum { F_REMOTE, F_METHOD, F_PATH, F_QUERY, F_PROTOCOL, F_ENCODING, F_UA, F_REFERER, F_COUNT };

/* ---- code points ---- */

static size_t utf8_strict(const unsigned char *p, size_t n, uint32_t *cp)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xc2 && c <= 0xdf) len = 2, v = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) len = 3, v = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, v = c & 0x07, min = 0x10000;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        v = v << 6 | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

/* The client's bytes as code points, an invalid byte standing for U+00HH. */
static size_t to_cps(const char *s, uint32_t *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, k = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = utf8_strict(p + i, n - i, &cp);
        if (l == 0) cp = p[i], l = 1;
        out[k++] = cp;
        i += l;
    }
    return k;
}

/* decoded == orig, or decoded == prefix(orig) + "..." */
static void check_field(const char *name, const uint32_t *dec, size_t dn, const char *orig)
{
    uint32_t *o = malloc((strlen(orig) + 1) * sizeof *o);
    if (!o) abort();
    size_t on = to_cps(orig, o);
    int same = dn == on && memcmp(dec, o, dn * sizeof *dec) == 0;
    int cut = dn >= 3 && dec[dn - 1] == '.' && dec[dn - 2] == '.' && dec[dn - 3] == '.' &&
              dn - 3 <= on && memcmp(dec, o, (dn - 3) * sizeof *dec) == 0;
    CHECKF(same || cut, "field %s does not decode to the client's text \"%s\"", name, orig);
    free(o);
}

/* ---- a small JSON reader for the one object shape we expect ---- */

struct jr {
    const char *p, *end;
};

static int hex4(const char *s, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

/* A JSON string at r->p into code points (out has room for the line's length). */
static size_t j_string(struct jr *r, uint32_t *out)
{
    size_t k = 0;
    CHECK(r->p < r->end && *r->p == '"');
    r->p++;
    for (;;) {
        CHECKF(r->p < r->end, "unterminated JSON string");
        unsigned char c = (unsigned char)*r->p;
        if (c == '"') { r->p++; return k; }
        CHECKF(c >= 0x20, "raw control byte %#x in a JSON string", c);
        if (c == '\\') {
            CHECK(r->end - r->p >= 2);
            char e = r->p[1];
            r->p += 2;
            switch (e) {
            case '"': out[k++] = '"'; break;
            case '\\': out[k++] = '\\'; break;
            case '/': out[k++] = '/'; break;
            case 'b': out[k++] = '\b'; break;
            case 'f': out[k++] = '\f'; break;
            case 'n': out[k++] = '\n'; break;
            case 'r': out[k++] = '\r'; break;
            case 't': out[k++] = '\t'; break;
            case 'u': {
                uint32_t v;
                CHECK(r->end - r->p >= 4 && hex4(r->p, &v) == 0);
                CHECKF(v < 0xd800 || v > 0xdfff, "lone surrogate escape");
                r->p += 4;
                out[k++] = v;
                break;
            }
            default: CHECKF(0, "bad JSON escape \\%c", e);
            }
            continue;
        }
        uint32_t cp;
        size_t l = utf8_strict((const unsigned char *)r->p, (size_t)(r->end - r->p), &cp);
        CHECKF(l > 0, "invalid UTF-8 in JSON output");
        out[k++] = cp;
        r->p += l;
    }
}

static void j_lit(struct jr *r, const char *lit)
{
    size_t n = strlen(lit);
    CHECKF((size_t)(r->end - r->p) >= n && memcmp(r->p, lit, n) == 0, "expected %s at \"%.20s\"", lit, r->p);
    r->p += n;
}

static void j_number(struct jr *r)
{
    const char *s = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') r->p++;
    CHECK(r->p > s);
}

static void check_json(const char *line, size_t n, const char *const *fields)
{
    static const char *const keys[] = {"time", "remote", "method", "path", "query", "protocol",
                                       "status", "bytes", "duration_us", "encoding",
                                       "user_agent", "referer"};
    static const int field_of[] = {-1, F_REMOTE, F_METHOD, F_PATH, F_QUERY, F_PROTOCOL, -2, -2, -2,
                                   F_ENCODING, F_UA, F_REFERER};
    struct jr r = {line, line + n - 1}; /* without the '\n' */
    uint32_t *buf = malloc((n + 1) * sizeof *buf);
    if (!buf) abort();
    j_lit(&r, "{");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (i) j_lit(&r, ",");
        size_t kn = j_string(&r, buf);
        CHECK(kn == strlen(keys[i]));
        for (size_t j = 0; j < kn; j++) CHECK(buf[j] == (unsigned char)keys[i][j]);
        j_lit(&r, ":");
        if (field_of[i] == -2) {
            j_number(&r);
        } else if (field_of[i] == -1) {
            j_string(&r, buf);
        } else {
            const char *orig = fields[field_of[i]];
            if (field_of[i] == F_ENCODING && !orig) orig = "identity";
            if (!orig) {
                j_lit(&r, "null");
            } else {
                size_t dn = j_string(&r, buf);
                check_field(keys[i], buf, dn, orig);
            }
        }
    }
    j_lit(&r, "}");
    CHECKF(r.p == r.end, "trailing bytes after the JSON object");
    free(buf);
}

/* CLF: the last two quoted fields are referer and user agent. */
static void clf_unescape_check(const char *name, const char *s, size_t n, const char *orig)
{
    uint32_t *dec = malloc((n + 1) * sizeof *dec);
    size_t k = 0;
    if (!dec) abort();
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            uint32_t v;
            char h[5] = {'0', '0', 0, 0, 0};
            CHECK(i + 3 < n && s[i + 1] == 'x');
            h[2] = s[i + 2];
            h[3] = s[i + 3];
            CHECK(hex4(h, &v) == 0);
            dec[k++] = v;
            i += 3;
        } else {
            dec[k++] = (unsigned char)s[i];
        }
    }
    /* compare bytes: the original as bytes, not code points */
    size_t on = strlen(orig);
    int same = k == on;
    for (size_t i = 0; same && i < k; i++) same = dec[i] == (unsigned char)orig[i];
    int cut = k >= 3 && dec[k - 1] == '.' && dec[k - 2] == '.' && dec[k - 3] == '.' && k - 3 <= on;
    for (size_t i = 0; cut && i + 3 < k; i++) cut = dec[i] == (unsigned char)orig[i];
    CHECKF(same || cut, "CLF %s \"%.*s\" does not decode to \"%s\"", name, (int)n, s, orig);
    free(dec);
}

static void check_clf(const char *line, size_t n, const char *const *fields)
{
    size_t q[6], nq = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned char c = (unsigned char)line[i];
        CHECKF(c >= 0x20 && c < 0x7f, "byte %#x in a CLF line", c);
        if (c == '"') {
            CHECKF(nq < 6, "more than six quotes in: %s", line);
            q[nq++] = i;
        }
    }
    CHECKF(nq == 6, "%zu quotes in: %s", nq, line);
    CHECK(line[q[5] + 1] == '\n');
    if (fields[F_REFERER])
        clf_unescape_check("referer", line + q[2] + 1, q[3] - q[2] - 1, fields[F_REFERER]);
    else
        CHECK(q[3] - q[2] == 2 && line[q[2] + 1] == '-');
    if (fields[F_UA])
        clf_unescape_check("user_agent", line + q[4] + 1, q[5] - q[4] - 1, fields[F_UA]);
    else
        CHECK(q[5] - q[4] == 2 && line[q[4] + 1] == '-');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp f = {data, size};
    uint8_t fmt = fdp_u8(&f);
    uint8_t nulls = fdp_u8(&f);
    size_t cap = (size_t)fdp_uint(&f, 2) % (LOG_LINE_MAX + 1);
    log_access a;
    memset(&a, 0, sizeof a);
    a.status = (unsigned)fdp_uint(&f, 4);
    a.bytes = fdp_uint(&f, 8);
    a.duration_us = fdp_uint(&f, 8);
    a.time.tv_sec = (time_t)fdp_uint(&f, 8);
    a.time.tv_nsec = (long)(int32_t)fdp_uint(&f, 4);
    char *s[F_COUNT];
    const char *fields[F_COUNT];
    for (int i = 0; i < F_COUNT; i++) {
        s[i] = fdp_str(&f, '\0', NULL);
        fields[i] = (nulls >> i) & 1 ? NULL : s[i];
    }
    a.remote = fields[F_REMOTE];
    a.method = fields[F_METHOD];
    a.path = fields[F_PATH];
    a.query = fields[F_QUERY];
    a.protocol = fields[F_PROTOCOL];
    a.encoding = fields[F_ENCODING];
    a.user_agent = fields[F_UA];
    a.referer = fields[F_REFERER];

    enum log_format lf = fmt % 3 == 0 ? LOG_CLF : fmt % 3 == 1 ? LOG_JSON : (enum log_format)(fmt % 7);
    char *buf = malloc(cap ? cap : 1);
    if (!buf) abort();
    size_t n = log_format_access(lf, &a, cap ? buf : NULL, cap);
    if (cap == 0 || (lf != LOG_CLF && lf != LOG_JSON)) {
        CHECK(n == 0);
    } else {
        CHECK(n < cap);
        CHECK(strlen(buf) == n);
        if (n > 0) {
            CHECK(buf[n - 1] == '\n');
            CHECK(memchr(buf, '\n', n - 1) == NULL);
            if (lf == LOG_CLF)
                check_clf(buf, n, fields);
            else
                check_json(buf, n, fields);
        }
        /* log.h: a line always fits 128 bytes (CLF) or 256 (JSON), given a
         * clock that reads a year 0..9999 and a three-digit status */
        int sane = a.time.tv_sec >= 0 && a.time.tv_sec <= 253402300799LL && a.status < 1000;
        if (sane && cap >= (lf == LOG_CLF ? 128u : 256u))
            CHECKF(n > 0, "no line in %zu bytes", cap);
    }
    free(buf);
    for (int i = 0; i < F_COUNT; i++) free(s[i]);
    return 0;
}
