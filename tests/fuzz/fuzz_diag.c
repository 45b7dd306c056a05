/*
 * fuzz_diag — diag_escape and diag_q on arbitrary bytes.
 *
 * Input: [u16 cap][u8 flags] then the bytes to escape (NULs included).
 *
 * Whatever the bytes, the escaped text is one safe line: NUL-terminated at
 * the reported length, inside cap, no byte below 0x20 and no DEL, valid
 * UTF-8 without C1 controls, line/paragraph separators or bidi overrides.
 * With DIAG_ESC_BACKSLASH it decodes (\\ and \xHH) back to exactly the bytes
 * consumed, which are all of them when cap is large enough, and a cut never
 * falls inside an escape. diag_q's result obeys the same rules, is bounded
 * by DIAG_Q_MAX, and is the whole input or a prefix of it followed by "...".
 */
#include "fuzz_util.h"

#include "tomed/diag.h"
#include "tomed/utf8.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The output rules every escaped text obeys. */
static void check_safe(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        CHECKF(p[i] >= 0x20 && p[i] != 0x7f, "raw control byte 0x%02x at %zu", p[i], i);
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = utf8_seq_len(p + i, n - i);
        CHECKF(l > 0, "invalid UTF-8 at %zu", i);
        CHECK(!(l == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0));
        CHECK(!(l == 3 && p[i] == 0xe2 && p[i + 1] == 0x80 && p[i + 2] >= 0xa8 && p[i + 2] <= 0xae));
        CHECK(!(l == 3 && p[i] == 0xe2 && p[i + 1] == 0x81 && p[i + 2] >= 0xa6 && p[i + 2] <= 0xa9));
        i += l;
    }
}

/* Decode \\ and \xHH (the backslash-escaping form); -1 if malformed. */
static long decode(const char *s, size_t n, unsigned char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            out[o++] = (unsigned char)s[i];
            continue;
        }
        if (i + 1 < n && s[i + 1] == '\\') {
            out[o++] = '\\';
            i++;
            continue;
        }
        if (i + 3 < n && s[i + 1] == 'x' && hexval(s[i + 2]) >= 0 && hexval(s[i + 3]) >= 0) {
            out[o++] = (unsigned char)(hexval(s[i + 2]) << 4 | hexval(s[i + 3]));
            i += 3;
            continue;
        }
        return -1;
    }
    return (long)o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t cap = (size_t)(data[0] | data[1] << 8) % 8192 + 1;
    unsigned flags = data[2] & DIAG_ESC_BACKSLASH;
    const char *src = (const char *)data + 3;
    size_t len = size - 3;

    char *dst = malloc(cap);
    /* decoding never lengthens: room for the longer of both outputs */
    unsigned char *dec = malloc(cap > DIAG_Q_MAX ? cap : DIAG_Q_MAX + 1);
    if (!dst || !dec)
        abort();
    size_t out = 12345;
    size_t used = diag_escape(dst, cap, src, len, flags, &out);
    CHECK(used <= len);
    CHECK(out < cap);
    CHECK(dst[out] == '\0');
    CHECK(memchr(dst, '\0', out) == NULL);
    check_safe(dst, out);
    if (cap > 4 * len)
        CHECKF(used == len, "consumed %zu of %zu with cap %zu", used, len, cap);
    if (flags & DIAG_ESC_BACKSLASH) {
        long n = decode(dst, out, dec);
        CHECKF(n >= 0, "the escaped text does not decode");
        CHECKF((size_t)n == used && memcmp(dec, src, used) == 0, "decodes to other bytes");
    }

    /* diag_q takes a C string: up to the first NUL */
    char *str = malloc(len + 1);
    if (!str)
        abort();
    memcpy(str, src, len);
    str[len] = '\0';
    const char *q = diag_q(str);
    size_t qn = strlen(q);
    CHECK(qn <= DIAG_Q_MAX);
    check_safe(q, qn);
    long n = decode(q, qn, dec);
    if (n < 0 || (size_t)n != strlen(str) || memcmp(dec, str, (size_t)n) != 0) {
        /* cut: a prefix, then "..." */
        CHECKF(qn >= 3 && memcmp(q + qn - 3, "...", 3) == 0, "diag_q changed its input");
        n = decode(q, qn - 3, dec);
        CHECKF(n >= 0 && memcmp(dec, str, (size_t)n) == 0, "diag_q's cut is not a prefix");
    }
    free(str);
    free(dst);
    free(dec);
    return 0;
}
