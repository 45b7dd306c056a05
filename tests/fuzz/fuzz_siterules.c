/*
 * fuzz_siterules — the _redirects / _headers parsers and matchers.
 *
 * Input: [u8 cap] then NUL-separated strings: _redirects text, _headers
 *        text, then site paths to redirect and file paths to match.
 *
 * Checked on top of ASan and UBSan: every warning names its file and a
 * line that exists; a redirect has a supported status and a target that
 * is an http(s) URL or a site path not starting with "//", with no byte a
 * Location header cannot carry (controls, spaces, non-ASCII) and within
 * the buffer; header sets hold token names and values without line
 * breaks, and a file that matched no rule matches none the second time;
 * describe never fails.
 */
#include "fuzz_util.h"

#include "tomed/siterules.h"

static unsigned lines_of(const char *s, size_t n)
{
    unsigned k = 1;
    for (size_t i = 0; i < n; i++)
        k += s[i] == '\n';
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp f = {data, size};
    size_t cap = (size_t)fdp_u8(&f) * 4 + 1;
    size_t rlen, hlen;
    char *red = fdp_str(&f, '\0', &rlen);
    char *hdr = fdp_str(&f, '\0', &hlen);
    siterules *r = siterules_parse(red, rlen, hdr, hlen);
    CHECK(r != NULL);
    for (size_t i = 0; i < siterules_warning_count(r); i++) {
        const char *w = siterules_warning(r, i);
        unsigned line = 0;
        int red_w = strncmp(w, "_redirects:", 11) == 0;
        CHECKF(red_w || strncmp(w, "_headers:", 9) == 0, "warning %s", w);
        line = (unsigned)strtoul(w + (red_w ? 11 : 9), NULL, 10);
        CHECKF(line >= 1 && line <= lines_of(red_w ? red : hdr, red_w ? rlen : hlen), "line of %s", w);
    }
    CHECK(siterules_warning(r, siterules_warning_count(r)) == NULL);
    char *d = siterules_describe(r);
    CHECK(d != NULL);
    free(d);
    while (f.n > 0) {
        char *p = fdp_str(&f, '\0', NULL);
        char *out = malloc(cap);
        int q = -1;
        unsigned st = siterules_redirect(r, p, out, cap, &q);
        if (st) {
            CHECKF(st == 301 || st == 302 || st == 303 || st == 307 || st == 308, "status %u", st);
            size_t n = strlen(out);
            CHECK(n < cap);
            CHECK(q == 0 || q == 1);
            CHECKF(strncmp(out, "http://", 7) == 0 || strncmp(out, "https://", 8) == 0 ||
                       (out[0] == '/' && out[1] != '/'),
                   "target %s", out);
            for (size_t i = 0; i < n; i++)
                CHECKF((unsigned char)out[i] > 0x20 && (unsigned char)out[i] < 0x7f,
                       "byte %02x in %s", (unsigned char)out[i], out);
            CHECK((strchr(out, '?') != NULL) == (q == 1));
        }
        free(out);
        const siterules_headerset *hs = siterules_headers_for(r, p);
        CHECK(hs == siterules_headers_for(r, p) || hs != NULL);
        for (size_t i = 0; hs && i < hs->n; i++) {
            CHECK(hs->h[i].name[0] != '\0');
            CHECK(strpbrk(hs->h[i].name, " \t:\r\n") == NULL);
            CHECK(!hs->h[i].value || strpbrk(hs->h[i].value, "\r\n") == NULL);
            CHECK(siterules_header_find(hs, hs->h[i].name) != NULL);
        }
        free(p);
    }
    siterules_free(r);
    free(red);
    free(hdr);
    return 0;
}
