/*
 * encoding — Accept-Encoding negotiation and the gzip/brotli encoders.
 *
 * Compression happens once per file per snapshot, never per request, so the
 * encoders run at their best ratios (brotli 11, gzip 9): the CPU is spent
 * once and every response after it is smaller.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <brotli/encode.h>
#include <zlib.h>

#include "tomed/encoding.h"

const char *encoding_name(enum encoding e)
{
    return e == ENC_BR ? "br" : e == ENC_GZIP ? "gzip" : NULL;
}

const char *encoding_suffix(enum encoding e)
{
    return e == ENC_BR ? ".br" : e == ENC_GZIP ? ".gz" : NULL;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Parse a qvalue ("1", "1.000", "0", "0.5") into thousandths; -1 if malformed. */
static int parse_q(const char *s, size_t n)
{
    if (n == 0 || n > 5 || (s[0] != '0' && s[0] != '1'))
        return -1;
    int q = (s[0] - '0') * 1000;
    if (n == 1)
        return q;
    if (s[1] != '.')
        return -1;
    int scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        q += (s[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

/* Coding token to index: 0 identity, 1 br, 2 gzip, 3 "*", -1 other. */
static int coding_index(const char *s, size_t n)
{
    if (n == 8 && strncasecmp(s, "identity", 8) == 0)
        return ENC_IDENTITY;
    if (n == 2 && strncasecmp(s, "br", 2) == 0)
        return ENC_BR;
    if ((n == 4 && strncasecmp(s, "gzip", 4) == 0) || (n == 6 && strncasecmp(s, "x-gzip", 6) == 0))
        return ENC_GZIP;
    if (n == 1 && s[0] == '*')
        return 3;
    return -1;
}

enum encoding encoding_negotiate(const char *ae, unsigned available)
{
    if (!ae)
        return ENC_IDENTITY;
    int q[4] = {-1, -1, -1, -1}; /* explicit q per identity, br, gzip, "*"; -1 = not listed */
    const char *p = ae;
    while (*p) {
        while (is_ows(*p) || *p == ',')
            p++;
        if (!*p)
            break;
        const char *tok = p;
        while (*p && *p != ',' && *p != ';' && !is_ows(*p))
            p++;
        int idx = coding_index(tok, (size_t)(p - tok));
        int qv = 1000;
        /* parameters: only q matters; a malformed q makes the element void */
        while (*p && *p != ',') {
            while (is_ows(*p))
                p++;
            if (*p != ';')
                break;
            p++;
            while (is_ows(*p))
                p++;
            if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
                const char *v = p + 2;
                const char *e = v;
                while (*e && *e != ',' && *e != ';' && !is_ows(*e))
                    e++;
                qv = parse_q(v, (size_t)(e - v));
                p = e;
            } else {
                while (*p && *p != ',' && *p != ';')
                    p++;
            }
        }
        while (*p && *p != ',')
            p++; /* skip junk up to the next element */
        if (idx >= 0 && qv >= 0 && qv > q[idx])
            q[idx] = qv;
    }

    /* identity is acceptable unless excluded (by itself or by "*;q=0"), but
     * when unlisted it ranks below any coding the client did list, as nginx and
     * browsers expect ("br;q=0.5" still means "compress, please"); a coding not
     * listed and not covered by "*" is not acceptable */
    int qv[ENC_COUNT];
    qv[ENC_IDENTITY] = q[ENC_IDENTITY] >= 0 ? q[ENC_IDENTITY] : q[3] >= 0 ? q[3] : 1;
    for (int e = ENC_BR; e < ENC_COUNT; e++)
        qv[e] = !(available & ENC_MASK(e)) ? 0 : q[e] >= 0 ? q[e] : q[3] >= 0 ? q[3] : 0;

    /* highest q wins; on a tie the smaller coding: br, then gzip, then identity */
    static const enum encoding preference[ENC_COUNT] = {ENC_BR, ENC_GZIP, ENC_IDENTITY};
    enum encoding best = ENC_IDENTITY;
    int best_q = 0;
    for (int i = 0; i < ENC_COUNT; i++)
        if (qv[preference[i]] > best_q) {
            best_q = qv[preference[i]];
            best = preference[i];
        }
    return best;
}

static int compress_br(int level, const unsigned char *in, size_t n, unsigned char **out,
                       size_t *outn)
{
    size_t cap = BrotliEncoderMaxCompressedSize(n);
    if (cap == 0)
        return -1;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return -1;
    size_t got = cap;
    if (!BrotliEncoderCompress(level, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT, n, in, &got, buf)) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outn = got;
    return 0;
}

static int compress_gzip(int level, const unsigned char *in, size_t n, unsigned char **out,
                         size_t *outn)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* 15 + 16: a gzip wrapper, which is what Content-Encoding: gzip means */
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&zs, (uLong)n);
    unsigned char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&zs);
        return -1;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = buf;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    size_t got = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outn = got;
    return 0;
}

int encoding_compress(enum encoding e, int level, const unsigned char *in, size_t n,
                      unsigned char **out, size_t *outn)
{
    int rc = -1;
    *out = NULL;
    *outn = 0;
    if (n > (size_t)UINT32_MAX)
        return -1; /* zlib's counters are 32-bit; such files are sent as they are */
    if (e == ENC_BR)
        rc = compress_br(level, in, n, out, outn);
    else if (e == ENC_GZIP)
        rc = compress_gzip(level, in, n, out, outn);
    if (rc == 0 && *outn >= n) {
        free(*out);
        *out = NULL;
        *outn = 0;
        rc = -1;
    }
    return rc;
}
