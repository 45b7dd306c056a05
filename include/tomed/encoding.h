/*
 * encoding — content codings: Accept-Encoding negotiation (pure) and the
 * brotli and gzip encoders used once at load time. The only module that knows
 * zlib and brotli.
 */
#ifndef TOMED_ENCODING_H
#define TOMED_ENCODING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum encoding { ENC_IDENTITY = 0, ENC_BR = 1, ENC_GZIP = 2, ENC_COUNT = 3 };

#define ENC_MASK(e) (1u << (e))

/*
 * Choose the coding for a response from the Accept-Encoding header value
 * (NULL when absent) among the available ones (a mask of ENC_MASK bits;
 * identity is always available). Follows RFC 9110 §12.5.3: q-values, "*",
 * "identity;q=0"; "x-gzip" is gzip; the highest q wins and ties go to the
 * smaller coding (br, then gzip, then identity). When nothing offered is
 * acceptable, identity is chosen (the header is then disregarded, as RFC 9110
 * allows), so a client always gets an answer it can at worst ignore.
 */
enum encoding encoding_negotiate(const char *accept_encoding, unsigned available);

/* "br", "gzip", or NULL for identity (the Content-Encoding value). */
const char *encoding_name(enum encoding e);

/* ".br", ".gz" — the precompressed sibling suffixes; NULL for identity. */
const char *encoding_suffix(enum encoding e);

/*
 * Compress in[0..n) with e (ENC_BR at brotli quality `level` 0..11, ENC_GZIP at
 * zlib level 1..9). On success *out is a malloc'd buffer the caller owns and
 * *outn its size. Returns -1 on failure or when the result would not be
 * smaller than the input (a larger variant is never worth keeping).
 */
int encoding_compress(enum encoding e, int level, const unsigned char *in, size_t n,
                      unsigned char **out, size_t *outn);

/* An encoder's input: size bytes at data, or, with data NULL, read from fd
 * (with pread, from offset 0) a chunk at a time. */
typedef struct encoding_input {
    const unsigned char *data;
    int fd;
    uint64_t size;
} encoding_input;

/*
 * The same, streaming: the input is taken 64 KiB at a time (a file is never
 * read whole), and *stop (NULL: never) is looked at before each chunk, so a
 * nonzero stop ends the work within one chunk's encoding (tens of ms at
 * brotli 11) and returns -1. Also -1 when the input cannot be read in full
 * or the output would not be smaller; *out is then NULL. Memory: the encoder's
 * state, one chunk, and the output (less than size).
 */
int encoding_compress_input(enum encoding e, int level, const encoding_input *in,
                            const atomic_int *stop, unsigned char **out, size_t *outn);

/* Does z (zn bytes of coding e, a whole stream) decode to exactly
 * want[0, wn)? 1 yes, 0 no (also for a corrupt or truncated stream). Memory:
 * the decoder's state and one chunk; for checking precompressed siblings. */
int encoding_decodes_to(enum encoding e, const unsigned char *z, size_t zn,
                        const unsigned char *want, size_t wn);

#endif
