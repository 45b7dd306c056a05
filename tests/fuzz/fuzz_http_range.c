/*
 * fuzz_http_range — http_parse_range against random representation sizes.
 *
 * Input: [u8 size selector][u64 size][Range header value...]
 * The selector picks the size: the u64 as is, small (u64 % 4096), 0, 1, or
 * near UINT64_MAX, so the edges are hit often.
 *
 * On OK the range must lie inside the representation and be non-empty; on
 * anything else start and length are 0. For the simple forms
 * ("bytes=a-b", "bytes=a-", "bytes=-n") the exact answer is also checked.
 */
#include "fuzz_util.h"

#include "tomed/http.h"

static int digits_u64(const char *s, size_t n, uint64_t *v, int *overflow)
{
    uint64_t x = 0;
    *overflow = 0;
    if (n == 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10) *overflow = 1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

/* Reference for header values that are exactly "bytes=<a>-<b>" (either side
 * may be empty, not both): returns 1 and the expected result, 0 if the form
 * does not apply. */
static int simple_form(const char *h, uint64_t size, enum http_range_result *want, uint64_t *ws,
                       uint64_t *wl)
{
    if (strncmp(h, "bytes=", 6) != 0) return 0;
    const char *a = h + 6, *dash = strchr(a, '-');
    if (!dash || strchr(dash + 1, '-')) return 0;
    const char *b = dash + 1;
    size_t an = (size_t)(dash - a), bn = strlen(b);
    uint64_t av = 0, bv = 0;
    int aof = 0, bof = 0;
    if (an == 0 && bn == 0) return 0;
    if (an && digits_u64(a, an, &av, &aof)) return 0;
    if (bn && digits_u64(b, bn, &bv, &bof)) return 0;
    *ws = *wl = 0;
    if (aof || bof) { *want = HTTP_RANGE_NONE; return 1; }
    if (an == 0) { /* suffix */
        if (bv == 0 || size == 0) { *want = HTTP_RANGE_UNSATISFIABLE; return 1; }
        if (bv > size) bv = size;
        *want = HTTP_RANGE_OK;
        *ws = size - bv;
        *wl = bv;
        return 1;
    }
    if (bn && bv < av) { *want = HTTP_RANGE_NONE; return 1; }
    if (av >= size) { *want = HTTP_RANGE_UNSATISFIABLE; return 1; }
    uint64_t last = (!bn || bv > size - 1) ? size - 1 : bv;
    *want = HTTP_RANGE_OK;
    *ws = av;
    *wl = last - av + 1;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    fdp f = {data, n};
    uint8_t sel = fdp_u8(&f);
    uint64_t size = fdp_uint(&f, 8);
    switch (sel % 5) {
    case 0: break;
    case 1: size %= 4096; break;
    case 2: size = 0; break;
    case 3: size = 1 + size % 2; break;
    case 4: size = UINT64_MAX - size % 4; break;
    }
    char *h = fdp_str(&f, '\0', NULL);

    uint64_t start = 99, length = 99;
    enum http_range_result r = http_parse_range(h, size, &start, &length);
    CHECK(r == HTTP_RANGE_NONE || r == HTTP_RANGE_OK || r == HTTP_RANGE_UNSATISFIABLE);
    if (r == HTTP_RANGE_OK) {
        CHECK(length > 0);
        CHECK(start < size);
        CHECKF(length <= size - start, "start %llu length %llu size %llu",
               (unsigned long long)start, (unsigned long long)length, (unsigned long long)size);
    } else {
        CHECK(start == 0 && length == 0);
    }
    if (size == 0) CHECK(r != HTTP_RANGE_OK);

    enum http_range_result want;
    uint64_t ws, wl;
    if (simple_form(h, size, &want, &ws, &wl)) {
        CHECKF(r == want && start == ws && length == wl,
               "\"%s\" size %llu: got %d %llu+%llu, want %d %llu+%llu", h, (unsigned long long)size,
               r, (unsigned long long)start, (unsigned long long)length, want,
               (unsigned long long)ws, (unsigned long long)wl);
    }

    /* NULL outputs and NULL header are refused, not dereferenced */
    CHECK(http_parse_range(h, size, NULL, &length) == HTTP_RANGE_NONE);
    CHECK(http_parse_range(h, size, &start, NULL) == HTTP_RANGE_NONE);
    CHECK(http_parse_range(NULL, size, &start, &length) == HTTP_RANGE_NONE);
    free(h);
    return 0;
}
