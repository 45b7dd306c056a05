/*
 * fuzz_path — path_normalize, path_strip_base, path_is_hidden.
 *
 * Input: [u16 max_len][u16 outcap (0 = max_len + 1)][u8 n][n bytes: base][raw path...]
 *
 * path_normalize is compared with a slow reference written from path.h
 * (decode everything, then resolve segments on a stack), and its output is
 * checked for the properties the server relies on: absolute, no "//", no
 * dot-segments, no control byte or backslash, and a fixed point (encoding
 * '%' as "%25" and normalising again gives the same path).
 */
#include "fuzz_util.h"

#include "tomed/path.h"

static int hexv(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reference: PATH_OK with the result in out (big enough: len + 2), or PATH_BAD.
 * (Too long is decided by the caller from len and max_len.) */
static int ref_normalize(const char *raw, size_t len, char *out)
{
    unsigned char *dec = malloc(len + 1);
    size_t dn = 0;
    if (!dec) abort();
    if (len == 0 || raw[0] != '/') { free(dec); return PATH_BAD; }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '%') {
            if (i + 2 >= len || hexv((unsigned char)raw[i + 1]) < 0 || hexv((unsigned char)raw[i + 2]) < 0) {
                free(dec);
                return PATH_BAD;
            }
            c = (unsigned char)(hexv((unsigned char)raw[i + 1]) * 16 + hexv((unsigned char)raw[i + 2]));
            i += 2;
        }
        if (c < 0x20 || c == 0x7f || c == '\\') { free(dec); return PATH_BAD; }
        dec[dn++] = c;
    }
    /* segments after the leading '/' */
    size_t *starts = malloc((dn + 1) * sizeof *starts), *lens = malloc((dn + 1) * sizeof *lens);
    size_t depth = 0;
    int trailing = 0;
    if (!starts || !lens) abort();
    size_t i = 1;
    for (;;) {
        size_t s = i;
        while (i < dn && dec[i] != '/') i++;
        size_t n = i - s;
        int last = i >= dn;
        if (n == 0 || (n == 1 && dec[s] == '.')) {
            trailing = 1;
        } else if (n == 2 && dec[s] == '.' && dec[s + 1] == '.') {
            if (depth == 0) { free(dec); free(starts); free(lens); return PATH_BAD; }
            depth--;
            trailing = 1;
        } else {
            starts[depth] = s;
            lens[depth] = n;
            depth++;
            trailing = 0;
        }
        if (last) break;
        i++; /* past '/' */
    }
    size_t o = 0;
    out[o++] = '/';
    for (size_t d = 0; d < depth; d++) {
        memcpy(out + o, dec + starts[d], lens[d]);
        o += lens[d];
        if (d + 1 < depth || trailing) out[o++] = '/';
    }
    out[o] = '\0';
    free(dec); free(starts); free(lens);
    return PATH_OK;
}

static void check_normalized(const char *out, size_t outlen)
{
    CHECK(strlen(out) == outlen);
    CHECK(outlen >= 1 && out[0] == '/');
    CHECKF(strstr(out, "//") == NULL, "\"%s\"", out);
    for (size_t i = 0; i < outlen; i++) {
        unsigned char c = (unsigned char)out[i];
        CHECK(c >= 0x20 && c != 0x7f && c != '\\');
    }
    /* no "." or ".." segment anywhere, trailing one included */
    for (const char *s = out + 1; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        CHECKF(!(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.'), "\"%s\"", out);
        if (!e) break;
        s = e + 1;
    }
}

/* Encode '%' so the output is again a raw request path meaning the same. */
static void check_fixed_point(const char *out, size_t outlen)
{
    size_t cap = outlen * 3 + 1, n = 0;
    char *enc = malloc(cap), *again = malloc(cap + 1);
    size_t again_len = 12345;
    if (!enc || !again) abort();
    for (size_t i = 0; i < outlen; i++) {
        if (out[i] == '%') { memcpy(enc + n, "%25", 3); n += 3; }
        else enc[n++] = out[i];
    }
    int r = path_normalize(enc, n, n, again, n + 1, &again_len);
    CHECKF(r == PATH_OK, "renormalising \"%s\" gave %d", out, r);
    CHECK(again_len == outlen && memcmp(again, out, outlen + 1) == 0);
    free(enc);
    free(again);
}

static void check_strip_base(const char *path, const char *base)
{
    const char *rest = (const char *)1;
    enum path_base_result r = path_strip_base(path, base, &rest);
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/') bl--;
    size_t pl = strlen(path);

    /* reference */
    enum path_base_result want;
    const char *want_rest = NULL;
    if (bl == 0) {
        want = path[0] == '/' ? PATH_BASE_INSIDE : PATH_BASE_OUTSIDE;
        if (want == PATH_BASE_INSIDE) want_rest = path;
    } else if (pl >= bl && memcmp(path, base, bl) == 0 && path[bl] == '\0') {
        want = PATH_BASE_EXACT;
    } else if (pl > bl && memcmp(path, base, bl) == 0 && path[bl] == '/') {
        want = PATH_BASE_INSIDE;
        want_rest = path + bl;
    } else {
        want = PATH_BASE_OUTSIDE;
    }
    CHECKF(r == want, "path \"%s\" base \"%s\": %d, want %d", path, base, (int)r, (int)want);
    CHECK(rest == want_rest);
    if (r == PATH_BASE_INSIDE) {
        CHECK(rest[0] == '/');
        /* the hidden-file rule, from its description */
        int hidden = 0, first = 1;
        for (const char *s = rest; *s;) {
            while (*s == '/') s++;
            if (!*s) break;
            const char *e = strchr(s, '/');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            if (s[0] == '.' && !(first && n == 11 && memcmp(s, ".well-known", 11) == 0)) hidden = 1;
            first = 0;
            s += n;
        }
        CHECKF(path_is_hidden(rest) == hidden, "path_is_hidden(\"%s\")", rest);
    }
    /* rest may be NULL */
    CHECK(path_strip_base(path, base, NULL) == r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp f = {data, size};
    size_t max_len = (size_t)fdp_uint(&f, 2);
    size_t outcap = (size_t)fdp_uint(&f, 2);
    size_t bn = fdp_u8(&f);
    if (bn > f.n) bn = f.n;
    char *base = malloc(bn + 1);
    if (!base) abort();
    memcpy(base, f.p, bn);
    base[bn] = '\0'; /* a NUL inside just shortens it */
    f.p += bn;
    f.n -= bn;
    size_t len;
    char *raw = fdp_rest(&f, &len);

    int recommended = outcap == 0;
    if (recommended) outcap = max_len + 1;
    char *out = malloc(outcap ? outcap : 1);
    size_t outlen = 777;
    if (!out) abort();
    /* exact-size raw copy, without the terminator fdp_rest adds */
    char *exact = malloc(len ? len : 1);
    if (!exact) abort();
    memcpy(exact, raw, len);
    int r = path_normalize(exact, len, max_len, outcap ? out : NULL, outcap, &outlen);

    char *ref = malloc(len + 2);
    if (!ref) abort();
    int want = len > max_len ? PATH_TOO_LONG : ref_normalize(raw, len, ref);

    if (r != PATH_OK) {
        CHECK(outlen == 0);
        if (outcap) CHECK(out[0] == '\0');
    }
    if (r == PATH_TOO_LONG)
        CHECKF(len > max_len || outcap < len + 1, "TOO_LONG with len %zu max %zu cap %zu", len, max_len, outcap);
    if (recommended || outcap >= len + 1)
        CHECKF(r == want, "path_normalize gave %d, reference %d (ref \"%s\")", r, want,
               want == PATH_OK ? ref : "");
    else
        CHECK(r == want || r == PATH_TOO_LONG);
    if (r == PATH_OK) {
        CHECKF(strcmp(out, ref) == 0, "got \"%s\", reference \"%s\"", out, ref);
        check_normalized(out, outlen);
        CHECK(outlen <= len);
        check_fixed_point(out, outlen);
        check_strip_base(out, base);
        /* the "rest" of a stripped path is itself normalised */
        const char *rest;
        if (path_strip_base(out, base, &rest) == PATH_BASE_INSIDE) check_normalized(rest, strlen(rest));
        CHECK(path_is_hidden(NULL) != 0);
    } else {
        /* strip_base must cope with any string, normalised or not */
        check_strip_base(raw, base);
    }
    free(ref);
    free(exact);
    free(out);
    free(raw);
    free(base);
    return 0;
}
