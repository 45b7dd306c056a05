/*
 * encoding — Accept-Encoding negotiation and the gzip/brotli encoders.
 *
 * Compression happens once per file per snapshot, never per request, so the
 * encoders run at their best ratios (brotli 11, gzip 9): the CPU is spent
 * once and every response after it is smaller.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <brotli/decode.h>
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

/*
 * The encoders stream: input goes in ENC_CHUNK bytes at a time (from memory,
 * or read from the file's descriptor, so a large file is never held whole),
 * and between chunks the caller's stop flag is looked at, so a reload or
 * SIGTERM waits for one chunk, not for a whole file at brotli 11 (3 s for a
 * 3 MB text file before). Output grows in a buffer that may never reach the
 * input's size: a variant that is not smaller is not kept anyway.
 */
#define ENC_CHUNK (64u * 1024)
#define ENC_BR_MAX_LGWIN 20u

typedef struct enc_out {
    unsigned char *buf;
    size_t len, cap, limit; /* limit: the input's size; reaching it means "not smaller" */
} enc_out;

/* Room for want more bytes (or what is left below limit). 0, or -1 when the
 * output has reached the input's size, or out of memory. */
static int out_reserve(enc_out *o, size_t want)
{
    size_t max = o->limit - 1; /* the longest output still worth keeping */
    if (o->len >= max)
        return -1;
    if (o->cap > o->len && (o->cap - o->len >= want || o->cap == max))
        return 0;
    size_t cap = o->cap ? o->cap * 2 : ENC_CHUNK;
    while (cap < o->len + want)
        cap *= 2;
    if (cap > max)
        cap = max;
    unsigned char *b = realloc(o->buf, cap);
    if (!b)
        return -1;
    o->buf = b;
    o->cap = cap;
    return 0;
}

/* The next chunk of input at offset off into buf; its length, 0 at the end,
 * (size_t)-1 on a read error. */
static size_t in_chunk(const encoding_input *in, uint64_t off, unsigned char *buf,
                       const unsigned char **chunk)
{
    size_t n = in->size - off < ENC_CHUNK ? (size_t)(in->size - off) : ENC_CHUNK;
    if (in->data) {
        *chunk = in->data + off;
        return n;
    }
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(in->fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return (size_t)-1; /* shrunk or unreadable: no variant of it */
        got += (size_t)r;
    }
    *chunk = buf;
    return n;
}

/* One chunk into an encoder; last: the input ends with it. 0 or -1. */
typedef int (*enc_feed_fn)(void *st, const unsigned char *chunk, size_t n, int last, enc_out *o);

/* Feed the whole input, a chunk at a time, looking at stop before each. */
static int stream_input(const encoding_input *in, const atomic_int *stop, unsigned char *scratch,
                        enc_feed_fn feed, void *st, enc_out *o)
{
    uint64_t off = 0;
    for (;;) {
        if (stop && atomic_load_explicit(stop, memory_order_relaxed))
            return -1;
        const unsigned char *chunk = NULL;
        size_t n = in_chunk(in, off, scratch, &chunk);
        if (n == (size_t)-1)
            return -1;
        off += n;
        int last = off >= in->size;
        if (feed(st, chunk, n, last, o) < 0)
            return -1;
        if (last)
            return 0;
    }
}

static int feed_br(void *arg, const unsigned char *chunk, size_t n, int last, enc_out *o)
{
    BrotliEncoderState *st = arg;
    BrotliEncoderOperation op = last ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_PROCESS;
    size_t avail_in = n;
    const uint8_t *next_in = chunk;
    do {
        if (out_reserve(o, ENC_CHUNK / 4) < 0)
            return -1;
        size_t avail_out = o->cap - o->len;
        uint8_t *next_out = o->buf + o->len;
        if (!BrotliEncoderCompressStream(st, op, &avail_in, &next_in, &avail_out, &next_out, NULL))
            return -1;
        o->len = (size_t)(next_out - o->buf);
    } while (avail_in > 0 || BrotliEncoderHasMoreOutput(st) ||
             (last && !BrotliEncoderIsFinished(st)));
    return 0;
}

static int stream_br(int level, const encoding_input *in, const atomic_int *stop, enc_out *o,
                     unsigned char *scratch)
{
    BrotliEncoderState *st = BrotliEncoderCreateInstance(NULL, NULL, NULL);
    if (!st)
        return -1;
    BrotliEncoderSetParameter(st, BROTLI_PARAM_QUALITY, (uint32_t)level);
    /* The window: no larger than the file (the rule brotli's command-line
     * tool follows), and at most 1 MiB. At quality 11 the match finder keeps
     * eight bytes per byte of window, and the stream is not one-shot, so
     * libbrotli does not shrink it to the input: the default 4 MiB window
     * cost a 32 MiB table (an 8 MB file peaked at 70 MiB resident); a 1 MiB
     * one costs 8 MiB and a few tenths of a percent of size. */
    uint32_t lgwin = BROTLI_MIN_WINDOW_BITS;
    while (lgwin < ENC_BR_MAX_LGWIN && ((uint64_t)1 << lgwin) - 16 < in->size)
        lgwin++;
    BrotliEncoderSetParameter(st, BROTLI_PARAM_LGWIN, lgwin);
    BrotliEncoderSetParameter(st, BROTLI_PARAM_MODE, BROTLI_MODE_TEXT);
    /* 64 KiB meta-blocks: at quality 11 one takes tens of ms, so a stop is
     * seen that soon (the default of 256 KiB costs four times as long for
     * a few tenths of a percent of size) */
    BrotliEncoderSetParameter(st, BROTLI_PARAM_LGBLOCK, 16);
    BrotliEncoderSetParameter(st, BROTLI_PARAM_SIZE_HINT,
                              in->size > UINT32_MAX ? UINT32_MAX : (uint32_t)in->size);
    int rc = stream_input(in, stop, scratch, feed_br, st, o);
    BrotliEncoderDestroyInstance(st);
    return rc;
}

static int feed_gzip(void *arg, const unsigned char *chunk, size_t n, int last, enc_out *o)
{
    z_stream *zs = arg;
    int flush = last ? Z_FINISH : Z_NO_FLUSH;
    zs->next_in = (Bytef *)(uintptr_t)chunk;
    zs->avail_in = (uInt)n;
    int z;
    do {
        if (out_reserve(o, ENC_CHUNK / 4) < 0)
            return -1;
        zs->next_out = o->buf + o->len;
        zs->avail_out = (uInt)(o->cap - o->len);
        z = deflate(zs, flush);
        o->len = o->cap - zs->avail_out;
    } while (z == Z_OK && (zs->avail_in > 0 || zs->avail_out == 0 || last));
    if (last)
        return z == Z_STREAM_END ? 0 : -1;
    return z == Z_OK || z == Z_BUF_ERROR ? 0 : -1;
}

static int stream_gzip(int level, const encoding_input *in, const atomic_int *stop, enc_out *o,
                       unsigned char *scratch)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* 15 + 16: a gzip wrapper, which is what Content-Encoding: gzip means */
    if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    int rc = stream_input(in, stop, scratch, feed_gzip, &zs, o);
    deflateEnd(&zs);
    return rc;
}

int encoding_compress_input(enum encoding e, int level, const encoding_input *in,
                            const atomic_int *stop, unsigned char **out, size_t *outn)
{
    *out = NULL;
    *outn = 0;
    if (!in || in->size == 0 || in->size > (uint64_t)UINT32_MAX || (!in->data && in->fd < 0))
        return -1; /* zlib's counters are 32-bit; such files are sent as they are */
    if (e != ENC_BR && e != ENC_GZIP)
        return -1;
    unsigned char *scratch = in->data ? NULL : malloc(ENC_CHUNK);
    if (!in->data && !scratch)
        return -1;
    enc_out o = {.limit = (size_t)in->size};
    int rc = e == ENC_BR ? stream_br(level, in, stop, &o, scratch)
                         : stream_gzip(level, in, stop, &o, scratch);
    free(scratch);
    if (rc < 0 || o.len >= in->size) {
        free(o.buf);
        return -1;
    }
    /* a variant lives as long as its snapshot: give back the slack */
    unsigned char *fit = realloc(o.buf, o.len ? o.len : 1);
    *out = fit ? fit : o.buf;
    *outn = o.len;
    return 0;
}

int encoding_compress(enum encoding e, int level, const unsigned char *in, size_t n,
                      unsigned char **out, size_t *outn)
{
    encoding_input src = {.data = in, .fd = -1, .size = n};
    return encoding_compress_input(e, level, &src, NULL, out, outn);
}

/* Compare a decoder's output chunk with the bytes expected at *off. */
static int dec_match(const unsigned char *out, size_t n, const unsigned char *want, size_t wn,
                     size_t *off)
{
    if (n > wn - *off || memcmp(out, want + *off, n) != 0)
        return 0;
    *off += n;
    return 1;
}

int encoding_decodes_to(enum encoding e, const unsigned char *z, size_t zn,
                        const unsigned char *want, size_t wn)
{
    unsigned char out[ENC_CHUNK];
    size_t off = 0;
    if (e == ENC_BR) {
        BrotliDecoderState *st = BrotliDecoderCreateInstance(NULL, NULL, NULL);
        if (!st)
            return 0;
        size_t avail_in = zn;
        const uint8_t *next_in = z;
        BrotliDecoderResult r;
        int ok = 1;
        do {
            size_t avail_out = sizeof out;
            uint8_t *next_out = out;
            r = BrotliDecoderDecompressStream(st, &avail_in, &next_in, &avail_out, &next_out, NULL);
            ok = dec_match(out, sizeof out - avail_out, want, wn, &off);
        } while (ok && r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT);
        BrotliDecoderDestroyInstance(st);
        return ok && r == BROTLI_DECODER_RESULT_SUCCESS && avail_in == 0 && off == wn;
    }
    if (e == ENC_GZIP) {
        if (zn > UINT32_MAX)
            return 0;
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (inflateInit2(&zs, 15 + 16) != Z_OK)
            return 0;
        zs.next_in = (Bytef *)(uintptr_t)z;
        zs.avail_in = (uInt)zn;
        int r, ok = 1;
        do {
            zs.next_out = out;
            zs.avail_out = sizeof out;
            r = inflate(&zs, Z_NO_FLUSH);
            ok = (r == Z_OK || r == Z_STREAM_END) &&
                 dec_match(out, sizeof out - zs.avail_out, want, wn, &off);
        } while (ok && r == Z_OK);
        int done = ok && r == Z_STREAM_END && zs.avail_in == 0 && off == wn;
        inflateEnd(&zs);
        return done;
    }
    return 0;
}
