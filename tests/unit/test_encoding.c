/* Unit tests for encoding: negotiation rules and encoder round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <brotli/decode.h>
#include <zlib.h>

#include "tomed/encoding.h"

#define ALL (ENC_MASK(ENC_BR) | ENC_MASK(ENC_GZIP))

static void test_negotiate_basics(void **state)
{
    (void)state;
    assert_int_equal(encoding_negotiate(NULL, ALL), ENC_IDENTITY);
    assert_int_equal(encoding_negotiate("", ALL), ENC_IDENTITY);
    assert_int_equal(encoding_negotiate("gzip", ALL), ENC_GZIP);
    assert_int_equal(encoding_negotiate("br", ALL), ENC_BR);
    assert_int_equal(encoding_negotiate("gzip, deflate, br", ALL), ENC_BR); /* tie: smaller wins */
    assert_int_equal(encoding_negotiate("br, gzip", ENC_MASK(ENC_GZIP)), ENC_GZIP);
    assert_int_equal(encoding_negotiate("br", ENC_MASK(ENC_GZIP)), ENC_IDENTITY);
    assert_int_equal(encoding_negotiate("deflate", ALL), ENC_IDENTITY);
    assert_int_equal(encoding_negotiate("GZIP", ALL), ENC_GZIP);
    assert_int_equal(encoding_negotiate("x-gzip", ALL), ENC_GZIP);
}

static void test_negotiate_qvalues(void **state)
{
    (void)state;
    assert_int_equal(encoding_negotiate("br;q=0.5, gzip;q=0.8", ALL), ENC_GZIP);
    assert_int_equal(encoding_negotiate("br;q=0.9, gzip;q=0.8", ALL), ENC_BR);
    assert_int_equal(encoding_negotiate("br;q=0, gzip", ALL), ENC_GZIP);
    assert_int_equal(encoding_negotiate("br ; q=0 , gzip ; Q=0.001", ALL), ENC_GZIP);
    assert_int_equal(encoding_negotiate("gzip;q=0.5, identity", ALL), ENC_IDENTITY);
    assert_int_equal(encoding_negotiate("gzip;q=1.0, identity;q=1", ALL), ENC_GZIP);
    /* malformed q voids that element only */
    assert_int_equal(encoding_negotiate("br;q=2, gzip", ALL), ENC_GZIP);
    assert_int_equal(encoding_negotiate("br;q=0.5x, gzip;q=0.1", ALL), ENC_GZIP);
    assert_int_equal(encoding_negotiate("br;q=abc", ALL), ENC_IDENTITY);
    /* an unlisted identity ranks below any listed coding; a listed one competes on q */
    assert_int_equal(encoding_negotiate("gzip;q=0.001", ALL), ENC_GZIP);
    assert_int_equal(encoding_negotiate("gzip;q=0.5, identity;q=0.6", ALL), ENC_IDENTITY);
}

static void test_negotiate_star_and_identity(void **state)
{
    (void)state;
    assert_int_equal(encoding_negotiate("*", ALL), ENC_BR);
    assert_int_equal(encoding_negotiate("*", 0), ENC_IDENTITY);
    assert_int_equal(encoding_negotiate("*;q=0.5, gzip", ALL), ENC_GZIP);
    assert_int_equal(encoding_negotiate("identity;q=0", ENC_MASK(ENC_GZIP)), ENC_IDENTITY);
    assert_int_equal(encoding_negotiate("gzip;q=0.1, identity;q=0", ALL), ENC_GZIP);
    assert_int_equal(encoding_negotiate("*;q=0, gzip;q=0.2", ALL), ENC_GZIP);
    /* nothing acceptable: identity rather than an error */
    assert_int_equal(encoding_negotiate("*;q=0", ALL), ENC_IDENTITY);
    assert_int_equal(encoding_negotiate(",,, ;;; ,", ALL), ENC_IDENTITY);
}

static unsigned char *sample(size_t n)
{
    unsigned char *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)("function tome(){return 42;}\n"[i % 28]);
    return b;
}

static void test_gzip_round_trip(void **state)
{
    (void)state;
    size_t n = 100000, zn = 0;
    unsigned char *in = sample(n), *z = NULL;
    assert_int_equal(encoding_compress(ENC_GZIP, 9, in, n, &z, &zn), 0);
    assert_true(zn < n);
    assert_int_equal(z[0], 0x1f); /* gzip magic, not a raw zlib stream */
    assert_int_equal(z[1], 0x8b);
    unsigned char *out = malloc(n);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    zs.next_in = z;
    zs.avail_in = (uInt)zn;
    zs.next_out = out;
    zs.avail_out = (uInt)n;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(zs.total_out, n);
    inflateEnd(&zs);
    assert_memory_equal(out, in, n);
    free(in);
    free(z);
    free(out);
}

static void test_brotli_round_trip(void **state)
{
    (void)state;
    size_t n = 100000, zn = 0;
    unsigned char *in = sample(n), *z = NULL;
    assert_int_equal(encoding_compress(ENC_BR, 11, in, n, &z, &zn), 0);
    assert_true(zn < n);
    unsigned char *out = malloc(n);
    size_t outn = n;
    assert_int_equal(BrotliDecoderDecompress(zn, z, &outn, out), BROTLI_DECODER_RESULT_SUCCESS);
    assert_int_equal(outn, n);
    assert_memory_equal(out, in, n);
    free(in);
    free(z);
    free(out);
}

static void test_incompressible_is_refused(void **state)
{
    (void)state;
    unsigned char in[256];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof in; i++) {
        x = x * 1103515245u + 12345u;
        in[i] = (unsigned char)(x >> 16);
    }
    unsigned char *z = (unsigned char *)1;
    size_t zn = 7;
    assert_int_equal(encoding_compress(ENC_GZIP, 9, in, sizeof in, &z, &zn), -1);
    assert_null(z);
    assert_int_equal(zn, 0);
    assert_int_equal(encoding_compress(ENC_IDENTITY, 9, in, sizeof in, &z, &zn), -1);
}

/* Text that brotli and gzip must work at: words from a small vocabulary in
 * an order a linear congruential generator picks. */
static unsigned char *wordy(size_t n)
{
    static const char *const words[] = {"tome", "clicker", "function", "return", "const ",
                                        "{", "}", ";\n", "export", " => ", "42", "page"};
    unsigned char *b = malloc(n);
    uint32_t x = 7;
    for (size_t i = 0; i < n;) {
        x = x * 1103515245u + 12345u;
        const char *w = words[(x >> 16) % 12];
        for (; *w && i < n; w++)
            b[i++] = (unsigned char)*w;
    }
    return b;
}

static void expect_decodes(enum encoding e, const unsigned char *z, size_t zn,
                           const unsigned char *in, size_t n)
{
    unsigned char *out = malloc(n + 1);
    size_t outn = n + 1;
    if (e == ENC_BR) {
        assert_int_equal(BrotliDecoderDecompress(zn, z, &outn, out), BROTLI_DECODER_RESULT_SUCCESS);
    } else {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
        zs.next_in = (Bytef *)(uintptr_t)z;
        zs.avail_in = (uInt)zn;
        zs.next_out = out;
        zs.avail_out = (uInt)outn;
        assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
        outn = zs.total_out;
        inflateEnd(&zs);
    }
    assert_int_equal(outn, n);
    assert_memory_equal(out, in, n);
    free(out);
}

/* Streaming from a descriptor, across many chunks, decodes back to the file;
 * so do tiny inputs held in memory (one partial chunk). */
static void test_stream_from_fd(void **state)
{
    (void)state;
    size_t n = 700000; /* ten and a bit chunks */
    unsigned char *in = wordy(n);
    char path[] = "/tmp/tomed-enc-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, in, n), (ssize_t)n);
    for (int e = ENC_BR; e < ENC_COUNT; e++) {
        encoding_input src = {.data = NULL, .fd = fd, .size = n};
        unsigned char *z = NULL;
        size_t zn = 0;
        atomic_int stop;
        atomic_init(&stop, 0);
        assert_int_equal(encoding_compress_input((enum encoding)e, e == ENC_BR ? 5 : 6, &src,
                                                 &stop, &z, &zn), 0);
        assert_true(zn < n);
        expect_decodes((enum encoding)e, z, zn, in, n);
        free(z);
        /* a file that shrank since it was loaded: no variant */
        src.size = n + 10;
        assert_int_equal(encoding_compress_input((enum encoding)e, 1, &src, NULL, &z, &zn), -1);
        assert_null(z);
        /* small, from memory */
        unsigned char *small = wordy(300);
        assert_int_equal(encoding_compress((enum encoding)e, 9, small, 300, &z, &zn), 0);
        expect_decodes((enum encoding)e, z, zn, small, 300);
        free(z);
        free(small);
    }
    close(fd);
    free(in);
}

/* A stop that is already set ends the work before any of it, with no output. */
static void test_stop_flag(void **state)
{
    (void)state;
    size_t n = 200000;
    unsigned char *in = wordy(n);
    atomic_int stop;
    atomic_init(&stop, 1);
    for (int e = ENC_BR; e < ENC_COUNT; e++) {
        encoding_input src = {.data = in, .fd = -1, .size = n};
        unsigned char *z = (unsigned char *)1;
        size_t zn = 9;
        assert_int_equal(encoding_compress_input((enum encoding)e, 9, &src, &stop, &z, &zn), -1);
        assert_null(z);
        assert_int_equal(zn, 0);
    }
    free(in);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(encoding_name(ENC_BR), "br");
    assert_string_equal(encoding_name(ENC_GZIP), "gzip");
    assert_null(encoding_name(ENC_IDENTITY));
    assert_string_equal(encoding_suffix(ENC_GZIP), ".gz");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negotiate_basics),
        cmocka_unit_test(test_negotiate_qvalues),
        cmocka_unit_test(test_negotiate_star_and_identity),
        cmocka_unit_test(test_gzip_round_trip),
        cmocka_unit_test(test_brotli_round_trip),
        cmocka_unit_test(test_incompressible_is_refused),
        cmocka_unit_test(test_stream_from_fd),
        cmocka_unit_test(test_stop_flag),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests_name("encoding", tests, NULL, NULL);
}
