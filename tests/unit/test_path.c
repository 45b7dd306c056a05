/*
 * Unit tests for path: normalisation, base stripping and hidden files.
 *
 * Every input is copied into a heap buffer of exactly its length, without a
 * terminator, so an AddressSanitizer build (make asan) catches any read past
 * len; the output buffer gets a canary to catch writes past outcap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tomed/path.h"

#define MAX_LEN 8192
#define CANARY ((char)0x5a)

/* Run path_normalize on raw[0..len) as the server would, with an exact-size
 * input copy and an output buffer of outcap followed by canaries. */
static int normalize(const char *raw, size_t len, size_t max_len, size_t outcap,
                     char *result, size_t *outlen)
{
    char *in = malloc(len ? len : 1);
    char *out = malloc(outcap + 8);
    size_t i;
    int rc;

    assert_non_null(in);
    assert_non_null(out);
    if (len) memcpy(in, raw, len);
    memset(out, CANARY, outcap + 8);
    *outlen = 12345;
    rc = path_normalize(in, len, max_len, out, outcap, outlen);
    for (i = outcap; i < outcap + 8; i++) assert_int_equal(out[i], CANARY);
    if (rc == PATH_OK) {
        assert_true(*outlen < outcap);
        assert_int_equal(out[*outlen], '\0');
        memcpy(result, out, *outlen + 1);
    } else {
        assert_int_equal(*outlen, 0);
        if (outcap) assert_int_equal(out[0], '\0');
        result[0] = '\0';
    }
    free(in);
    free(out);
    return rc;
}

static void expect_ok_n(const char *raw, size_t len, const char *want)
{
    char got[MAX_LEN + 1];
    size_t n;
    int rc = normalize(raw, len, MAX_LEN, MAX_LEN + 1, got, &n);

    if (rc != PATH_OK || strcmp(got, want) != 0)
        print_error("path_normalize(\"%.*s\") = %d \"%s\", want \"%s\"\n", (int)len, raw, rc,
                    got, want);
    assert_int_equal(rc, PATH_OK);
    assert_string_equal(got, want);
    assert_int_equal(n, strlen(want));
}

static void expect_ok(const char *raw, const char *want)
{
    expect_ok_n(raw, strlen(raw), want);
}

static void expect_rc_n(const char *raw, size_t len, int want)
{
    char got[MAX_LEN + 1];
    size_t n;
    int rc = normalize(raw, len, MAX_LEN, MAX_LEN + 1, got, &n);

    if (rc != want)
        print_error("path_normalize(\"%.*s\") = %d \"%s\", want %d\n", (int)len, raw, rc, got,
                    want);
    assert_int_equal(rc, want);
}

static void expect_bad(const char *raw)
{
    expect_rc_n(raw, strlen(raw), PATH_BAD);
}

/* ---- path_normalize: accepted paths ---------------------------------------- */

static void test_root_and_plain(void **state)
{
    (void)state;
    expect_ok("/", "/");
    expect_ok("/a", "/a");
    expect_ok("/a/", "/a/");
    expect_ok("/index.html", "/index.html");
    expect_ok("/_app/immutable/entry/start.BX3hY1.js", "/_app/immutable/entry/start.BX3hY1.js");
}

static void test_slash_runs_collapse(void **state)
{
    (void)state;
    expect_ok("//", "/");
    expect_ok("///", "/");
    expect_ok("//a", "/a");
    expect_ok("///a///b//", "/a/b/");
    expect_ok("/a//b", "/a/b");
}

static void test_dot_segments_vanish(void **state)
{
    (void)state;
    expect_ok("/.", "/");
    expect_ok("/./", "/");
    expect_ok("/././.", "/");
    expect_ok("/a/.", "/a/");
    expect_ok("/a/./", "/a/");
    expect_ok("/a/./b", "/a/b");
    expect_ok("/./a/./b/.", "/a/b/");
    expect_ok("/a/.//./b", "/a/b");
}

static void test_dotdot_pops(void **state)
{
    (void)state;
    expect_ok("/a/..", "/");
    expect_ok("/a/../", "/");
    expect_ok("/a/b/..", "/a/");
    expect_ok("/a/b/../", "/a/");
    expect_ok("/a/b/../c", "/a/c");
    expect_ok("/a/b/c/../../d", "/a/d");
    expect_ok("/a/../b/./c/", "/b/c/");
    expect_ok("/a//..", "/");
    expect_ok("/a/b//../..", "/");
    expect_ok("/long-name/x/../../y", "/y");
}

static void test_dot_lookalikes_are_names(void **state)
{
    (void)state;
    expect_ok("/...", "/...");
    expect_ok("/..../", "/..../");
    expect_ok("/a/..b", "/a/..b");
    expect_ok("/a/b..", "/a/b..");
    expect_ok("/.a", "/.a");
    expect_ok("/a/.b/..", "/a/");
    expect_ok("/. /", "/. /");
    expect_ok("/.. ", "/.. ");
}

static void test_percent_decoding(void **state)
{
    (void)state;
    expect_ok("/%41%42c", "/ABc");
    expect_ok("/%61%62", "/ab");
    expect_ok("/a%20b", "/a b");
    expect_ok("/%3F%23", "/?#");
    expect_ok("/%25", "/%");
    expect_ok("/caf%C3%A9", "/caf\xc3\xa9");
    expect_ok("/caf%c3%a9", "/caf\xc3\xa9");
    expect_ok("/%fF", "/\xff");
}

static void test_decoded_once(void **state)
{
    (void)state;
    /* The result of decoding is never decoded again. */
    expect_ok("/%252e", "/%2e");
    expect_ok("/%252e%252e/", "/%2e%2e/");
    expect_ok("/%252F", "/%2F");
    expect_ok("/%2525", "/%25");
    expect_ok("/%25%32%65", "/%2e");
}

static void test_encoded_dots_are_dots(void **state)
{
    (void)state;
    expect_ok("/%2e", "/");
    expect_ok("/%2E/", "/");
    expect_ok("/a/%2e", "/a/");
    expect_ok("/a/%2e%2E", "/");
    expect_ok("/a/b/.%2e/c", "/a/c");
    expect_ok("/a/b/%2e./", "/a/");
}

static void test_encoded_slash_is_slash(void **state)
{
    (void)state;
    expect_ok("/a%2Fb", "/a/b");
    expect_ok("/a%2fb", "/a/b");
    expect_ok("/a%2f%2f%2fb", "/a/b");
    expect_ok("/a%2F..%2Fb", "/b");
    expect_ok("/a%2F", "/a/");
    expect_ok("/%2F", "/");
    expect_ok("/a/b%2F%2E%2E", "/a/");
}

static void test_utf8_passes_through(void **state)
{
    (void)state;
    expect_ok("/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.html", "/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.html");
    /* Not valid UTF-8, but the file system compares bytes and no byte >= 0x80
     * is a separator or a dot, so these cannot climb. */
    expect_ok("/\xff\xfe\x80", "/\xff\xfe\x80");
    expect_ok("/%c0%ae%c0%ae/x", "/\xc0\xae\xc0\xae/x");
}

static void test_printable_ascii_kept(void **state)
{
    char raw[128], want[128];
    size_t n = 1;
    int c;

    (void)state;
    raw[0] = want[0] = '/';
    for (c = 0x20; c < 0x7f; c++) {
        if (c == '/' || c == '%' || c == '\\') continue;
        raw[n] = want[n] = (char)c;
        n++;
    }
    raw[n] = want[n] = '\0';
    expect_ok(raw, want);
}

/* ---- path_normalize: refused paths ----------------------------------------- */

static void test_must_be_absolute(void **state)
{
    (void)state;
    expect_rc_n("", 0, PATH_BAD);
    expect_bad("a");
    expect_bad("a/b");
    expect_bad(".");
    expect_bad("../x");
    expect_bad("%2F");
    expect_bad("%2Fa");
    expect_bad("\\a");
    expect_bad("http://x/");
    expect_bad("*");
}

static void test_null_raw(void **state)
{
    char out[16];
    size_t n = 7;

    (void)state;
    assert_int_equal(path_normalize(NULL, 0, 10, out, sizeof out, &n), PATH_BAD);
    assert_int_equal(n, 0);
    assert_int_equal(path_normalize(NULL, 3, 10, out, sizeof out, &n), PATH_BAD);
}

static void test_climb_above_root(void **state)
{
    (void)state;
    expect_bad("/..");
    expect_bad("/../");
    expect_bad("/../a");
    expect_bad("/./..");
    expect_bad("//..");
    expect_bad("/a/../..");
    expect_bad("/a/../../b");
    expect_bad("/a/b/../../..");
    expect_bad("/a/./../..");
    expect_bad("/a/b/c/../../../../etc/passwd");
}

static void test_encoded_climb(void **state)
{
    (void)state;
    expect_bad("/%2e%2e");
    expect_bad("/%2E%2e/");
    expect_bad("/.%2e");
    expect_bad("/%2e.");
    expect_bad("/..%2f");
    expect_bad("/..%2F");
    expect_bad("/%2e%2e%2f");
    expect_bad("/%2e%2e%2fetc%2fpasswd");
    expect_bad("/a%2F..%2F..");
    expect_bad("/a/%2e%2e/%2e%2e");
    expect_bad("%2F..");
}

static void test_bad_escapes(void **state)
{
    (void)state;
    expect_bad("/%");
    expect_bad("/%2");
    expect_bad("/%4");
    expect_bad("/a%");
    expect_bad("/a%a");
    expect_bad("/%zz");
    expect_bad("/%g0");
    expect_bad("/%0g");
    expect_bad("/%%");
    expect_bad("/%%41");
    expect_bad("/%-1");
    expect_bad("/% 1");
    expect_bad("/%+1");
    expect_bad("/%0x");
    expect_bad("/%\xc3\xa9");
    expect_bad("/ok/%");
    expect_bad("/%41%");
}

static void test_escape_truncated_by_len(void **state)
{
    (void)state;
    /* The bytes after len form a valid escape; they must not be read. */
    expect_rc_n("/%41", 3, PATH_BAD);
    expect_rc_n("/%41", 2, PATH_BAD);
    expect_ok_n("/%41", 4, "/A");
    expect_ok_n("/abc", 2, "/a");
    expect_ok_n("/a/..", 3, "/a/");
    expect_ok_n("/a/..", 4, "/a/");
    expect_ok_n("/a/..x", 5, "/");
}

static void test_control_bytes(void **state)
{
    char raw[4];
    char esc[8];
    int c;

    (void)state;
    for (c = 0; c < 0x20; c++) {
        raw[0] = '/';
        raw[1] = 'a';
        raw[2] = (char)c;
        expect_rc_n(raw, 3, PATH_BAD);
        snprintf(esc, sizeof esc, "/a%%%02x", c);
        expect_bad(esc);
        snprintf(esc, sizeof esc, "/a%%%02X", c);
        expect_bad(esc);
    }
    expect_bad("/\x7f");
    expect_bad("/%7f");
    expect_bad("/%7F");
    expect_bad("/a\tb");
    expect_bad("/a\r\nb");
    expect_bad("/%0d%0aSet-Cookie:x");
}

static void test_nul_bytes(void **state)
{
    (void)state;
    expect_rc_n("/a\0b", 4, PATH_BAD);
    expect_rc_n("/\0", 2, PATH_BAD);
    expect_rc_n("/index.html\0.png", 16, PATH_BAD);
    expect_bad("/%00");
    expect_bad("/index.html%00.png");
}

static void test_backslash(void **state)
{
    (void)state;
    expect_bad("/a\\b");
    expect_bad("/\\");
    expect_bad("/..\\..\\windows");
    expect_bad("/%5c");
    expect_bad("/%5C");
    expect_bad("/a%5C..%5C..");
}

/* ---- path_normalize: limits ------------------------------------------------ */

static void test_max_len(void **state)
{
    char got[64];
    size_t n;

    (void)state;
    assert_int_equal(normalize("/abcd", 5, 5, 64, got, &n), PATH_OK);
    assert_string_equal(got, "/abcd");
    assert_int_equal(normalize("/abcd", 5, 4, 64, got, &n), PATH_TOO_LONG);
    assert_int_equal(normalize("/abcd", 5, 0, 64, got, &n), PATH_TOO_LONG);
    /* Length is checked before content: a long bad path is still too long. */
    assert_int_equal(normalize("/../%zz", 7, 6, 64, got, &n), PATH_TOO_LONG);
    assert_int_equal(normalize("", 0, 0, 64, got, &n), PATH_BAD);
}

static void test_output_capacity(void **state)
{
    char got[64];
    size_t n;

    (void)state;
    assert_int_equal(normalize("/abcd", 5, 100, 6, got, &n), PATH_OK);
    assert_string_equal(got, "/abcd");
    assert_int_equal(n, 5);
    assert_int_equal(normalize("/abcd", 5, 100, 5, got, &n), PATH_TOO_LONG);
    assert_int_equal(normalize("/abcd/", 6, 100, 6, got, &n), PATH_TOO_LONG);
    assert_int_equal(normalize("/", 1, 100, 2, got, &n), PATH_OK);
    assert_string_equal(got, "/");
    assert_int_equal(normalize("/", 1, 100, 1, got, &n), PATH_TOO_LONG);
    assert_int_equal(normalize("/", 1, 100, 0, got, &n), PATH_TOO_LONG);
    /* Decoding shrinks: 10 raw bytes, 4 decoded. */
    assert_int_equal(normalize("/%41%42%43", 10, 100, 5, got, &n), PATH_OK);
    assert_string_equal(got, "/ABC");
    /* Collapsed and removed parts need no room in the result... */
    assert_int_equal(normalize("//////a", 7, 100, 3, got, &n), PATH_OK);
    assert_string_equal(got, "/a");
    assert_int_equal(normalize("/a/./././b", 10, 100, 5, got, &n), PATH_OK);
    assert_string_equal(got, "/a/b");
    /* ...but a name removed by a later ".." does (out is the working buffer,
     * documented in path.h): callers give out max_len + 1 bytes. */
    assert_int_equal(normalize("/abcdefgh/..", 12, 100, 4, got, &n), PATH_TOO_LONG);
    assert_int_equal(normalize("/abcdefgh/..", 12, 100, 13, got, &n), PATH_OK);
    assert_string_equal(got, "/");
}

static void test_null_out_and_outlen(void **state)
{
    char out[16];
    size_t n = 9;

    (void)state;
    assert_int_equal(path_normalize("/a", 2, 10, NULL, 0, &n), PATH_TOO_LONG);
    assert_int_equal(n, 0);
    assert_int_equal(path_normalize("/a", 2, 10, NULL, 16, &n), PATH_TOO_LONG);
    assert_int_equal(path_normalize("/a/./b", 6, 10, out, sizeof out, NULL), PATH_OK);
    assert_string_equal(out, "/a/b");
    assert_int_equal(path_normalize("/..", 3, 10, out, sizeof out, NULL), PATH_BAD);
    assert_string_equal(out, "");
}

/* ---- path_normalize: adversarial volume ------------------------------------ */

static char *repeat(const char *head, const char *unit, size_t times, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail), i;
    char *s = malloc(hl + ul * times + tl + 1);
    char *p = s;

    assert_non_null(s);
    memcpy(p, head, hl);
    p += hl;
    for (i = 0; i < times; i++, p += ul) memcpy(p, unit, ul);
    memcpy(p, tail, tl + 1);
    return s;
}

static void test_long_runs(void **state)
{
    char *s;

    (void)state;
    s = repeat("/a/b", "/..", 1000, "");
    expect_bad(s);
    free(s);
    s = repeat("/", "../", 2000, "etc/passwd");
    expect_bad(s);
    free(s);
    s = repeat("/", "%2e%2e%2f", 800, "");
    expect_bad(s);
    free(s);
    /* Balanced climbs that stay inside the root. */
    {
        char *down = repeat("/", "a/", 1000, "");
        char *both = repeat(down, "../", 1000, "x");

        expect_ok(both, "/x");
        free(down);
        free(both);
    }
    s = repeat("/", "./", 4000, "");
    expect_ok(s, "/");
    free(s);
    s = repeat("", "/", 8000, "a");
    expect_ok(s, "/a");
    free(s);
    s = repeat("/", "%%", 2000, "");
    expect_bad(s);
    free(s);
    s = repeat("/", "%2", 2000, "");
    expect_bad(s);
    free(s);
    s = repeat("/", "%2F", 2000, "z");
    expect_ok(s, "/z");
    free(s);
}

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void test_random_invariants(void **state)
{
    static const char alphabet[] = "/./%2eEfF5cC0a\\\0\x7f\xc3z";
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    char raw[64], out[64], again[64];
    size_t iter, n, m, i;

    (void)state;
    for (iter = 0; iter < 200000; iter++) {
        size_t len = (size_t)(rng_next(&seed) % 40);
        int rc;

        for (i = 0; i < len; i++)
            raw[i] = alphabet[rng_next(&seed) % (sizeof alphabet - 1)];
        if (len && rng_next(&seed) % 4) raw[0] = '/';
        rc = normalize(raw, len, sizeof raw, sizeof out, out, &n);
        assert_true(rc == PATH_OK || rc == PATH_BAD);
        if (rc != PATH_OK) continue;

        assert_int_equal(out[0], '/');
        assert_int_equal(strlen(out), n);
        assert_null(strstr(out, "//"));
        assert_null(strstr(out, "/./"));
        assert_null(strstr(out, "/../"));
        assert_false(n >= 2 && strcmp(out + n - 2, "/.") == 0);
        assert_false(n >= 3 && strcmp(out + n - 3, "/..") == 0);
        assert_null(strchr(out, '\\'));
        for (i = 0; i < n; i++)
            assert_true((unsigned char)out[i] >= 0x20 && out[i] != 0x7f);
        assert_true(n <= len);
        /* With nothing left to decode, normalising is idempotent. */
        if (!strchr(out, '%')) {
            assert_int_equal(normalize(out, n, sizeof again, sizeof again, again, &m), PATH_OK);
            assert_string_equal(again, out);
        }
    }
}

/* ---- path_strip_base ------------------------------------------------------- */

static void test_strip_root_base(void **state)
{
    const char *rest = "unset";
    const char *p = "/x/y";

    (void)state;
    assert_int_equal(path_strip_base(p, "/", &rest), PATH_BASE_INSIDE);
    assert_ptr_equal(rest, p);
    assert_int_equal(path_strip_base("/", "/", &rest), PATH_BASE_INSIDE);
    assert_string_equal(rest, "/");
    assert_int_equal(path_strip_base(p, "", &rest), PATH_BASE_INSIDE);
    assert_ptr_equal(rest, p);
}

static void test_strip_named_base(void **state)
{
    const char *rest;
    const char *p;

    (void)state;
    rest = "unset";
    assert_int_equal(path_strip_base("/tomeclicker", "/tomeclicker", &rest), PATH_BASE_EXACT);
    assert_null(rest);

    p = "/tomeclicker/";
    assert_int_equal(path_strip_base(p, "/tomeclicker", &rest), PATH_BASE_INSIDE);
    assert_ptr_equal(rest, p + 12);
    assert_string_equal(rest, "/");

    p = "/tomeclicker/x";
    assert_int_equal(path_strip_base(p, "/tomeclicker", &rest), PATH_BASE_INSIDE);
    assert_string_equal(rest, "/x");

    assert_int_equal(path_strip_base("/tomeclicker/_app/a.js", "/tomeclicker", &rest),
                     PATH_BASE_INSIDE);
    assert_string_equal(rest, "/_app/a.js");
}

static void test_strip_outside(void **state)
{
    static const char *const outside[] = {
        "/tomeclicker-x", "/tomeclickerx", "/tomeclicker.html", "/", "/tome", "/tomeclick",
        "/Tomeclicker/", "/TOMECLICKER", "", "/x/tomeclicker/", "//tomeclicker/",
    };
    const char *rest;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        rest = "unset";
        if (path_strip_base(outside[i], "/tomeclicker", &rest) != PATH_BASE_OUTSIDE)
            print_error("\"%s\" should be outside\n", outside[i]);
        assert_int_equal(path_strip_base(outside[i], "/tomeclicker", &rest), PATH_BASE_OUTSIDE);
        assert_null(rest);
    }
}

static void test_strip_nested_base(void **state)
{
    const char *rest;

    (void)state;
    assert_int_equal(path_strip_base("/a/b/c", "/a/b", &rest), PATH_BASE_INSIDE);
    assert_string_equal(rest, "/c");
    assert_int_equal(path_strip_base("/a/b", "/a/b", &rest), PATH_BASE_EXACT);
    assert_int_equal(path_strip_base("/a/b/", "/a/b", &rest), PATH_BASE_INSIDE);
    assert_string_equal(rest, "/");
    assert_int_equal(path_strip_base("/a", "/a/b", &rest), PATH_BASE_OUTSIDE);
    assert_int_equal(path_strip_base("/a/", "/a/b", &rest), PATH_BASE_OUTSIDE);
    assert_int_equal(path_strip_base("/a/bc", "/a/b", &rest), PATH_BASE_OUTSIDE);
}

static void test_strip_tolerates_trailing_slash_on_base(void **state)
{
    const char *rest;

    (void)state;
    assert_int_equal(path_strip_base("/tomeclicker/x", "/tomeclicker/", &rest), PATH_BASE_INSIDE);
    assert_string_equal(rest, "/x");
    assert_int_equal(path_strip_base("/tomeclicker", "/tomeclicker/", &rest), PATH_BASE_EXACT);
    assert_int_equal(path_strip_base("/tomeclicker-x", "/tomeclicker/", &rest), PATH_BASE_OUTSIDE);
}

static void test_strip_nulls(void **state)
{
    const char *rest = "unset";

    (void)state;
    assert_int_equal(path_strip_base(NULL, "/", &rest), PATH_BASE_OUTSIDE);
    assert_null(rest);
    assert_int_equal(path_strip_base("/a", NULL, &rest), PATH_BASE_OUTSIDE);
    assert_int_equal(path_strip_base("/a/b", "/a", NULL), PATH_BASE_INSIDE);
    assert_int_equal(path_strip_base("/a", "/a", NULL), PATH_BASE_EXACT);
    /* A relative path is never inside anything. */
    assert_int_equal(path_strip_base("a", "/", &rest), PATH_BASE_OUTSIDE);
}

/* ---- path_is_hidden -------------------------------------------------------- */

static void test_hidden(void **state)
{
    static const char *const hidden[] = {
        "/.env", "/.git", "/.git/", "/a/.git/config", "/.htaccess", "/a/b/.DS_Store",
        "/a/.hidden/", "/a/.well-known/x", "/.well-known/.secret", "/.well-knownx/a",
        "/.well-known-x", "/.WELL-KNOWN/x", "/...", "/.", "/..", "/x/.well-known",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
        if (!path_is_hidden(hidden[i])) print_error("\"%s\" should be hidden\n", hidden[i]);
        assert_true(path_is_hidden(hidden[i]));
    }
    assert_true(path_is_hidden(NULL));
}

static void test_not_hidden(void **state)
{
    static const char *const visible[] = {
        "/", "", "/index.html", "/a.b/c", "/a/b.", "/a/b.c/d.e",
        "/_app/immutable/chunks/x.js", "/.well-known/security.txt", "/.well-known/",
        "/.well-known", "/.well-known/a/b", "/a..b",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof visible / sizeof visible[0]; i++) {
        if (path_is_hidden(visible[i])) print_error("\"%s\" should be visible\n", visible[i]);
        assert_false(path_is_hidden(visible[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_and_plain),
        cmocka_unit_test(test_slash_runs_collapse),
        cmocka_unit_test(test_dot_segments_vanish),
        cmocka_unit_test(test_dotdot_pops),
        cmocka_unit_test(test_dot_lookalikes_are_names),
        cmocka_unit_test(test_percent_decoding),
        cmocka_unit_test(test_decoded_once),
        cmocka_unit_test(test_encoded_dots_are_dots),
        cmocka_unit_test(test_encoded_slash_is_slash),
        cmocka_unit_test(test_utf8_passes_through),
        cmocka_unit_test(test_printable_ascii_kept),
        cmocka_unit_test(test_must_be_absolute),
        cmocka_unit_test(test_null_raw),
        cmocka_unit_test(test_climb_above_root),
        cmocka_unit_test(test_encoded_climb),
        cmocka_unit_test(test_bad_escapes),
        cmocka_unit_test(test_escape_truncated_by_len),
        cmocka_unit_test(test_control_bytes),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_backslash),
        cmocka_unit_test(test_max_len),
        cmocka_unit_test(test_output_capacity),
        cmocka_unit_test(test_null_out_and_outlen),
        cmocka_unit_test(test_long_runs),
        cmocka_unit_test(test_random_invariants),
        cmocka_unit_test(test_strip_root_base),
        cmocka_unit_test(test_strip_named_base),
        cmocka_unit_test(test_strip_outside),
        cmocka_unit_test(test_strip_nested_base),
        cmocka_unit_test(test_strip_tolerates_trailing_slash_on_base),
        cmocka_unit_test(test_strip_nulls),
        cmocka_unit_test(test_hidden),
        cmocka_unit_test(test_not_hidden),
    };

    return cmocka_run_group_tests_name("path", tests, NULL, NULL);
}
