/*
 * fuzz_reqhead — the request-head validator against a slow reference.
 *
 * Input: [u8 flags] then lines separated by '\n': the first is the request
 * target, each further one a field "name:value" cut at its first ':' (a
 * line without one is a field with an empty value). A line starting with
 * '~' is a field the parser saw folded. flags bit 0: HTTP/1.0 (else 1.1);
 * bit 1: no target known (target_ok 1); bit 2 and up: see reqhead_block below.
 *
 * Checked on top of ASan/UBSan: the verdict is 0, 400 or 501, with a reason
 * exactly when it is not 0; it equals what reference() works out, written
 * separately and plainly from RFC 9110/9112; reqhead_host_valid agrees with
 * host_reference(); and feeding the same fields again to a fresh state gives
 * the same verdict (no hidden state).
 *
 * reqhead_block: the fields are also laid out in one exact-size block as
 * libmicrohttpd 0.9.75 leaves them ("name\0 value\0\0" per line) and fed
 * from it: the verdict must not change; with flags bit 2, a stray byte
 * ('x', before the line flags >> 3 picks) is put between two lines, and
 * the verdict must be 400.
 */
#include "fuzz_util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <strings.h>

#include "tomed/reqhead.h"

#define MAX_FIELDS 64
#define LINE0_END 14 /* in check_block's block: the end of "GET\0/\0HTTP/1.1" */

typedef struct field {
    char *name, *value;
    size_t nl, vl;
    int folded;
} field;

static int tchar(int c)
{
    return isalnum(c) && c < 0x80 ? 1 : (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* uri-host [ ":" port ] by a different route: split off the port first. */
static int host_reference(const char *v, size_t n)
{
    size_t end = n;
    /* a port: the digits after the last ':' that is not inside brackets */
    const char *rb = NULL;
    for (size_t i = 0; i < n; i++)
        if (v[i] == ']')
            rb = v + i;
    size_t from = rb ? (size_t)(rb - v) + 1 : 0;
    for (size_t i = from; i < n; i++)
        if (v[i] == ':') {
            for (size_t k = i + 1; k < n; k++)
                if (v[k] < '0' || v[k] > '9')
                    return 0;
            end = i;
            break;
        }
    if (end && v[0] == '[') {
        if (v[end - 1] != ']' || end < 3)
            return 0;
        const char *in = v + 1;
        size_t m = end - 2;
        if (in[0] == 'v' || in[0] == 'V') {
            const char *dot = memchr(in, '.', m);
            if (!dot || dot == in + 1 || dot == in + m - 1)
                return 0;
            for (const char *p = in + 1; p < dot; p++)
                if (!isxdigit((unsigned char)*p))
                    return 0;
            for (const char *p = dot + 1; p < in + m; p++)
                if (!isalnum((unsigned char)*p) && !(*p && strchr("-._~!$&'()*+,;=:", *p)))
                    return 0;
            return 1;
        }
        char buf[64];
        unsigned char a[16];
        if (m >= sizeof buf || memchr(in, '\0', m))
            return 0;
        memcpy(buf, in, m);
        buf[m] = '\0';
        return inet_pton(AF_INET6, buf, a) == 1 && strspn(buf, "0123456789abcdefABCDEF:.") == m;
    }
    for (size_t i = 0; i < end; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '%') {
            if (i + 2 >= end || !isxdigit((unsigned char)v[i + 1]) || !isxdigit((unsigned char)v[i + 2]))
                return 0;
            i += 2;
        } else if (!(c < 0x80 && isalnum(c)) && !(c && strchr("-._~!$&'()*+,;=", c))) {
            return 0;
        }
    }
    return 1;
}

static void trimmed(const char *v, size_t n, const char **o, size_t *on)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    *o = v;
    *on = n;
}

static unsigned reference(int http10, int target_ok, const field *f, size_t nf)
{
    int bad = !target_ok;
    unsigned hosts = 0, cls = 0, tes = 0, chunked = 0, unknown = 0, last_chunked = 0;
    for (size_t i = 0; i < nf; i++) {
        bad |= f[i].folded || f[i].nl == 0;
        for (size_t k = 0; k < f[i].nl; k++)
            bad |= !tchar((unsigned char)f[i].name[k]);
        for (size_t k = 0; k < f[i].vl; k++)
            bad |= f[i].value[k] == '\0' || f[i].value[k] == '\r' || f[i].value[k] == '\n';
        const char *v;
        size_t n;
        trimmed(f[i].value, f[i].vl, &v, &n);
        if (f[i].nl == 4 && strncasecmp(f[i].name, "host", 4) == 0) {
            hosts++;
            bad |= !host_reference(v, n);
        } else if (f[i].nl == 14 && strncasecmp(f[i].name, "content-length", 14) == 0) {
            cls++;
            bad |= n == 0;
            for (size_t k = 0; k < n; k++)
                bad |= v[k] < '0' || v[k] > '9';
        } else if (f[i].nl == 17 && strncasecmp(f[i].name, "transfer-encoding", 17) == 0) {
            tes++;
            /* each list element: token [; params] */
            size_t s = 0;
            for (size_t k = 0; k <= n; k++) {
                if (k < n && v[k] != ',')
                    continue;
                const char *e;
                size_t en;
                trimmed(v + s, k - s, &e, &en);
                s = k + 1;
                if (!en)
                    continue;
                size_t tl = 0;
                while (tl < en && e[tl] != ';')
                    tl++;
                const char *t;
                size_t tn;
                trimmed(e, tl, &t, &tn);
                if (!tn) {
                    bad = 1;
                    continue;
                }
                for (size_t q = 0; q < tn; q++)
                    bad |= !tchar((unsigned char)t[q]);
                int is_chunked = tn == 7 && strncasecmp(t, "chunked", 7) == 0;
                chunked += is_chunked;
                unknown += !is_chunked;
                last_chunked = is_chunked;
            }
        }
    }
    bad |= hosts > 1 || cls > 1;
    bad |= !http10 && hosts == 0;
    if (tes)
        bad |= cls > 0 || http10 || (!chunked && !unknown) || chunked > 1 ||
               (chunked && !last_chunked);
    if (bad)
        return 400;
    return unknown ? 501 : 0;
}

static unsigned run_in(const char *block, size_t bn, int http10, int target_ok, const field *f,
                       size_t nf)
{
    reqhead h;
    reqhead_begin(&h, http10 ? "HTTP/1.0" : "HTTP/1.1", target_ok);
    if (block)
        reqhead_block(&h, block, bn, block + LINE0_END);
    for (size_t i = 0; i < nf; i++)
        reqhead_field(&h, f[i].name, f[i].nl, f[i].value, f[i].vl, f[i].folded);
    const char *why = NULL;
    unsigned st = reqhead_end(&h, &why);
    CHECKF(st == 0 || st == 400 || st == 501, "status %u", st);
    CHECKF((st == 0) == (why == NULL), "status %u reason %s", st, why ? why : "(null)");
    return st;
}

static unsigned run(int http10, int target_ok, const field *f, size_t nf)
{
    return run_in(NULL, 0, http10, target_ok, f, nf);
}

/* The fields laid out as 0.9.75 leaves them, after a request line; stray > 0
 * puts an 'x' before line stray (nf + 1: after the last one). */
static void check_block(int http10, int target_ok, const field *f, size_t nf, unsigned plain,
                        size_t stray)
{
    static const char line0[] = "GET\0/\0HTTP/1.1\0\0";
    size_t n = sizeof line0 - 1 + 2 + (stray ? 1 : 0);
    for (size_t i = 0; i < nf; i++)
        n += f[i].nl + 2 + f[i].vl + 2;
    char *block = malloc(n);
    field *g = malloc((nf ? nf : 1) * sizeof *g);
    CHECK(block && g);
    size_t p = sizeof line0 - 1;
    memcpy(block, line0, p);
    for (size_t i = 0; i <= nf; i++) {
        if (stray == i + 1)
            block[p++] = 'x';
        if (i == nf)
            break;
        g[i] = f[i];
        g[i].name = block + p;
        memcpy(block + p, f[i].name, f[i].nl);
        p += f[i].nl;
        block[p++] = '\0';
        block[p++] = ' ';
        g[i].value = block + p;
        memcpy(block + p, f[i].value, f[i].vl);
        p += f[i].vl;
        block[p++] = '\0';
        block[p++] = '\0';
    }
    block[p++] = '\0';
    block[p++] = '\0';
    CHECK(p == n);
    unsigned got = run_in(block, n, http10, target_ok, g, nf);
    if (!stray)
        CHECKF(got == plain, "in a block %u, alone %u", got, plain);
    else
        CHECKF(got == 400, "a stray byte before line %zu gives %u", stray, got);
    free(g);
    free(block);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp in = {data, size};
    uint8_t flags = fdp_u8(&in);
    int http10 = flags & 1;
    size_t tl;
    char *target = fdp_str(&in, '\n', &tl);
    int target_ok = (flags & 2) ? 1 : reqhead_target_valid(target, tl);
    int ref_target_ok = 1;
    if (!(flags & 2))
        for (size_t i = 0; i < tl; i++)
            ref_target_ok &= (unsigned char)target[i] > 0x20 && (unsigned char)target[i] != 0x7f;
    CHECK(target_ok == ref_target_ok);

    field f[MAX_FIELDS];
    size_t nf = 0;
    while (in.n && nf < MAX_FIELDS) {
        size_t ll;
        char *line = fdp_str(&in, '\n', &ll);
        int folded = ll && line[0] == '~';
        char *colon = memchr(line + folded, ':', ll - (size_t)folded);
        size_t nl = colon ? (size_t)(colon - line) - (size_t)folded : ll - (size_t)folded;
        /* exact-size copies, so ASan sees a read past either */
        f[nf].name = malloc(nl ? nl : 1);
        memcpy(f[nf].name, line + folded, nl);
        f[nf].nl = nl;
        f[nf].vl = colon ? ll - (size_t)(colon - line) - 1 : 0;
        f[nf].value = malloc(f[nf].vl ? f[nf].vl : 1);
        if (colon)
            memcpy(f[nf].value, colon + 1, f[nf].vl);
        f[nf].folded = folded;
        free(line);
        nf++;
    }

    unsigned got = run(http10, target_ok, f, nf);
    size_t stray_at = flags >> 3;
    check_block(http10, target_ok, f, nf, got, (flags & 4) ? stray_at % (nf + 1) + 1 : 0);
    unsigned want = reference(http10, target_ok, f, nf);
    CHECKF(got == want, "reqhead says %u, the reference %u", got, want);
    CHECK(run(http10, target_ok, f, nf) == got);
    for (size_t i = 0; i < nf; i++) {
        const char *v;
        size_t n;
        trimmed(f[i].value, f[i].vl, &v, &n);
        CHECKF(reqhead_host_valid(v, n) == host_reference(v, n), "host \"%.*s\"", (int)n, v);
        free(f[i].name);
        free(f[i].value);
    }
    free(target);
    return 0;
}
