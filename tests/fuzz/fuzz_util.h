/*
 * Helpers shared by the libFuzzer targets: a tiny data provider that cuts the
 * input into fixed-size numbers and strings, and CHECK, an assertion that
 * survives NDEBUG and says what failed before aborting (libFuzzer then saves
 * the input as crash-<sha1>).
 *
 * Every string handed to the code under test is its own malloc'd copy of
 * exactly the right size, so AddressSanitizer sees a read one byte past it.
 */
#ifndef TOMED_FUZZ_UTIL_H
#define TOMED_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libFuzzer's entry points (declared for -Wmissing-prototypes). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Like CHECK, with a printf-style explanation (the inputs that disagree). */
#define CHECKF(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "CHECK failed: %s (%s:%d): ", #cond, __FILE__, __LINE__);              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct fdp {
    const uint8_t *p;
    size_t n;
} fdp;

static inline uint8_t fdp_u8(fdp *f)
{
    if (f->n == 0)
        return 0;
    f->n--;
    return *f->p++;
}

/* Little-endian: the seed files are written that way. */
static inline uint64_t fdp_uint(fdp *f, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)fdp_u8(f) << (8 * i);
    return v;
}

/* The next string up to (not including) sep, or the rest; NUL-terminated,
 * malloc'd to its exact size; *len (if given) excludes the terminator.
 * With sep == '\0' the string can never hide a NUL. */
static inline char *fdp_str(fdp *f, uint8_t sep, size_t *len)
{
    const uint8_t *end = memchr(f->p, sep, f->n);
    size_t n = end ? (size_t)(end - f->p) : f->n;
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, f->p, n);
    s[n] = '\0';
    f->p += n + (end ? 1 : 0);
    f->n -= n + (end ? 1 : 0);
    if (len)
        *len = n;
    return s;
}

/* Everything left, as a NUL-terminated copy (may contain NULs; see *len). */
static inline char *fdp_rest(fdp *f, size_t *len)
{
    char *s = malloc(f->n + 1);
    if (!s)
        abort();
    memcpy(s, f->p, f->n);
    s[f->n] = '\0';
    if (len)
        *len = f->n;
    f->p += f->n;
    f->n = 0;
    return s;
}

/* An exact-size copy of a NUL-terminated string. */
static inline char *fuzz_dup(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (!d)
        abort();
    memcpy(d, s, n + 1);
    return d;
}

/* Remembers hashes of texts already verified, so a costly round trip (the
 * config dump reloaded) is not repeated for the same text on every input.
 * Returns 1 when s was seen before; otherwise records it and returns 0. */
static inline int fuzz_seen(const char *s)
{
    static uint64_t table[1 << 14];
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    h |= 1; /* 0 marks an empty slot */
    size_t mask = (sizeof table / sizeof table[0]) - 1;
    for (size_t i = (size_t)h & mask, probes = 0; probes < 16; i = (i + 1) & mask, probes++) {
        if (table[i] == h) return 1;
        if (table[i] == 0) {
            table[i] = h;
            return 0;
        }
    }
    table[(size_t)h & mask] = h; /* full neighbourhood: overwrite */
    return 0;
}

/* The HTML parser's input normalisation, which CSP hashes see: CR LF and CR
 * become LF, NUL becomes U+FFFD. Returns a malloc'd copy, *outn its length. */
static inline char *fuzz_html_normalise(const char *t, size_t n, size_t *outn)
{
    char *o = malloc(n * 3 + 1);
    size_t w = 0;
    if (!o)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '\r') {
            o[w++] = '\n';
            if (i + 1 < n && t[i + 1] == '\n')
                i++;
        } else if (t[i] == '\0') {
            memcpy(o + w, "\xef\xbf\xbd", 3);
            w += 3;
        } else {
            o[w++] = t[i];
        }
    }
    *outn = w;
    return o;
}

#endif
