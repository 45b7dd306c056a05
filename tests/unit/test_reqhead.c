/*
 * Unit tests for reqhead: each refused request shape with its status, the
 * valid requests that must still pass, the Host syntax (RFC 3986 §3.2.2),
 * and which checks the library makes per version. Expected answers come
 * from RFC 9110/9112, not from the code under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tomed/reqhead.h"

/* A request as "Name: value" strings, NULL-terminated; a leading '~' marks a
 * field the parser saw folded. Returns the status, reason in *why. */
static unsigned verdict_of(const char *target, const char *version, const char *const *fields,
                           const char **why)
{
    reqhead h;
    reqhead_begin(&h, version, !target || reqhead_target_valid(target, strlen(target)));
    for (size_t i = 0; fields[i]; i++) {
        const char *f = fields[i];
        int folded = f[0] == '~';
        f += folded;
        const char *colon = strchr(f, ':');
        assert_non_null(colon);
        const char *v = colon + 1;
        while (*v == ' ')
            v++; /* libmicrohttpd hands the value without its leading whitespace */
        reqhead_field(&h, f, (size_t)(colon - f), v, strlen(v), folded);
    }
    const char *reason = NULL;
    unsigned st = reqhead_end(&h, &reason);
    assert_true(st == 0 ? reason == NULL : reason != NULL);
    if (why)
        *why = reason;
    return st;
}

#define FIELDS(...) ((const char *const[]){__VA_ARGS__, NULL})

static unsigned check11(const char *const *fields)
{
    return verdict_of("/tomeclicker/about", "HTTP/1.1", fields, NULL);
}

static void test_accepts_valid_requests(void **state)
{
    (void)state;
    assert_int_equal(check11(FIELDS("Host: example.com")), 0);
    assert_int_equal(check11(FIELDS("Host: example.com:8080")), 0);
    assert_int_equal(check11(FIELDS("Host: [::1]:8080")), 0);
    assert_int_equal(check11(FIELDS("Host: [::1]")), 0);
    assert_int_equal(check11(FIELDS("Host: 127.0.0.1:80")), 0);
    assert_int_equal(check11(FIELDS("Host: ")), 0); /* RFC 9112 §3.2: empty when no authority */
    assert_int_equal(check11(FIELDS("hOsT: x", "content-length: 0")), 0);
    assert_int_equal(check11(FIELDS("Host: x", "Content-Length: 0")), 0);
    assert_int_equal(check11(FIELDS("Host: x", "Transfer-Encoding: chunked")), 0);
    assert_int_equal(check11(FIELDS("Host: x", "Transfer-Encoding: Chunked ")), 0);
    assert_int_equal(check11(FIELDS("Host: x", "Accept: */*", "X-Empty: ", "Cookie: a=b; c=d")), 0);
    assert_int_equal(check11(FIELDS("Host: x", "X-Tab: a\tb", "X-High: caf\xc3\xa9")), 0);
    /* HTTP/1.0 may omit Host */
    assert_int_equal(verdict_of("/", "HTTP/1.0", FIELDS("Accept: */*"), NULL), 0);
    assert_int_equal(verdict_of("/", "HTTP/1.0", (const char *const[]){NULL}, NULL), 0);
    /* absolute-form and asterisk-form targets, raw UTF-8 in a target */
    assert_int_equal(verdict_of("http://x:8080/a?b=c", "HTTP/1.1", FIELDS("Host: x"), NULL), 0);
    assert_int_equal(verdict_of("/caf\xc3\xa9", "HTTP/1.1", FIELDS("Host: x"), NULL), 0);
    /* no target known: not checked */
    assert_int_equal(verdict_of(NULL, NULL, FIELDS("Host: x"), NULL), 0);
}

static void test_host_discipline(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(verdict_of("/", "HTTP/1.1", FIELDS("Accept: */*"), &why), 400);
    assert_string_equal(why, "HTTP/1.1 without Host");
    assert_int_equal(verdict_of("/", "HTTP/1.1", FIELDS("Host: a", "Host: b"), &why), 400);
    assert_string_equal(why, "more than one Host");
    /* the same value twice is still two fields */
    assert_int_equal(check11(FIELDS("Host: a", "Host: a")), 400);
    assert_int_equal(verdict_of("/", "HTTP/1.1", FIELDS("Host: a b"), &why), 400);
    assert_string_equal(why, "an invalid Host");
    assert_int_equal(check11(FIELDS("Host: a/b")), 400);
    assert_int_equal(check11(FIELDS("Host: user@a")), 400);
    assert_int_equal(check11(FIELDS("Host: a:8x")), 400);
    assert_int_equal(check11(FIELDS("Host: a:1:2")), 400);
    assert_int_equal(check11(FIELDS("Host: [::1")), 400);
    assert_int_equal(check11(FIELDS("Host: [::g]")), 400);
    assert_int_equal(check11(FIELDS("Host: ::1")), 400);
    /* HTTP/1.0 with a bad or doubled Host is refused too */
    assert_int_equal(verdict_of("/", "HTTP/1.0", FIELDS("Host: a b"), NULL), 400);
    assert_int_equal(verdict_of("/", "HTTP/1.0", FIELDS("Host: a", "Host: b"), NULL), 400);
}

static void test_host_syntax(void **state)
{
    (void)state;
#define HV(s) reqhead_host_valid(s, sizeof s - 1)
    assert_true(HV(""));
    assert_true(HV("a"));
    assert_true(HV("a.b-c_d~e"));
    assert_true(HV("xn--caf-dma.example"));
    assert_true(HV("a%41b"));
    assert_true(HV("!$&'()*+,;="));
    assert_true(HV("a:"));      /* port = *DIGIT */
    assert_true(HV(":80"));     /* reg-name may be empty */
    assert_true(HV("[::1]:8080"));
    assert_true(HV("[2001:db8::7]"));
    assert_true(HV("[::ffff:192.0.2.1]"));
    assert_true(HV("[v1.fe80::a+en1]"));
    assert_false(HV("a%4"));
    assert_false(HV("a%zz"));
    assert_false(HV("a b"));
    assert_false(HV("a\tb"));
    assert_false(HV("a\"b"));
    assert_false(HV("[]"));
    assert_false(HV("[v1.]"));
    assert_false(HV("[v.a]"));
    assert_false(HV("[1::2::3]"));
    assert_false(HV("[::1]x"));
    assert_false(HV("[::1]:8o"));
    assert_false(HV("[::1%25eth0]")); /* RFC 6874 zone ids are not for Host */
    assert_false(reqhead_host_valid("a\0b", 3));
#undef HV
}

static void test_field_syntax(void **state)
{
    (void)state;
    const char *why = NULL;
    /* "X-Bad : 1" reaches tomed as the name "X-Bad " */
    assert_int_equal(verdict_of("/", "HTTP/1.1", FIELDS("Host: x", "X-Bad : 1"), &why), 400);
    assert_string_equal(why, "whitespace between a field name and its colon");
    assert_int_equal(check11(FIELDS("Host: x", "X-Bad\t: 1")), 400);
    assert_int_equal(check11(FIELDS("Host : x")), 400);
    assert_int_equal(check11(FIELDS("Host: x", "X Bad: 1")), 400);
    assert_int_equal(check11(FIELDS("Host: x", "X(Bad): 1")), 400);
    assert_int_equal(check11(FIELDS("Host: x", ": 1")), 400);
    assert_int_equal(check11(FIELDS("Host: x", "X-\x80: 1")), 400);
    /* obs-fold: libmicrohttpd 0.9.75 glues the continuation onto the name */
    assert_int_equal(verdict_of("/", "HTTP/1.1", FIELDS("Host: x", "~X-Ab: a"), &why), 400);
    assert_string_equal(why, "obsolete line folding");
    /* NUL, CR, LF in a value */
    reqhead h;
    reqhead_begin(&h, "HTTP/1.1", 1);
    reqhead_field(&h, "Host", 4, "x", 1, 0);
    reqhead_field(&h, "X-A", 3, "a\0b", 3, 0);
    assert_int_equal(reqhead_end(&h, &why), 400);
    assert_string_equal(why, "NUL, CR or LF in a field value");
    reqhead_begin(&h, "HTTP/1.1", 1);
    reqhead_field(&h, "Host", 4, "x", 1, 0);
    reqhead_field(&h, "X-A", 3, "a\r\nX-B: 1", 9, 0);
    assert_int_equal(reqhead_end(&h, NULL), 400);
    /* a NULL value is an empty one */
    reqhead_begin(&h, "HTTP/1.1", 1);
    reqhead_field(&h, "Host", 4, NULL, 0, 0);
    assert_int_equal(reqhead_end(&h, NULL), 0);
}

static void test_target(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(verdict_of("/a b", "HTTP/1.1", FIELDS("Host: x"), &why), 400);
    assert_string_equal(why, "a space or control byte in the request target");
    assert_int_equal(verdict_of("/a\tb", "HTTP/1.1", FIELDS("Host: x"), NULL), 400);
    assert_int_equal(verdict_of("/a\x7f", "HTTP/1.1", FIELDS("Host: x"), NULL), 400);
    assert_int_equal(verdict_of("/a HTTP/1.1", "HTTP/1.1", FIELDS("Host: x"), NULL), 400);
    assert_false(reqhead_target_valid("/a\0b", 4));
    assert_false(reqhead_target_valid("/a\rb", 4));
    assert_true(reqhead_target_valid("/a?b=c&d", 8));
    assert_true(reqhead_target_valid("", 0));
}

static void test_content_length(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(verdict_of("/", "HTTP/1.1",
                                FIELDS("Host: x", "Content-Length: 5", "Content-Length: 6"), &why),
                     400);
    assert_string_equal(why, "more than one Content-Length");
    /* identical duplicates are refused too (as nginx does) */
    assert_int_equal(check11(FIELDS("Host: x", "Content-Length: 5", "Content-Length: 5")), 400);
    assert_int_equal(verdict_of("/", "HTTP/1.1", FIELDS("Host: x", "Content-Length: 5, 6"), &why),
                     400);
    assert_string_equal(why, "a Content-Length that is not a number");
    assert_int_equal(check11(FIELDS("Host: x", "Content-Length: 5, 5")), 400);
    assert_int_equal(check11(FIELDS("Host: x", "Content-Length: -1")), 400);
    assert_int_equal(check11(FIELDS("Host: x", "Content-Length: +1")), 400);
    assert_int_equal(check11(FIELDS("Host: x", "Content-Length: 0x10")), 400);
    assert_int_equal(check11(FIELDS("Host: x", "Content-Length: ")), 400);
    assert_int_equal(check11(FIELDS("Host: x", "Content-Length: 1 2")), 400);
    assert_int_equal(check11(FIELDS("Host: x", "Content-Length: 12 ")), 0); /* trailing OWS */
    assert_int_equal(check11(FIELDS("Host: x", "Content-Length: 99999999999999999999999")), 0);
}

static void test_transfer_encoding(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(verdict_of("/", "HTTP/1.1", FIELDS("Host: x", "Transfer-Encoding: gzip"), &why),
                     501);
    assert_string_equal(why, "a transfer coding other than chunked");
    assert_int_equal(check11(FIELDS("Host: x", "Transfer-Encoding: gzip, chunked")), 501);
    assert_int_equal(check11(FIELDS("Host: x", "Transfer-Encoding: gzip", "Transfer-Encoding: chunked")),
                     501);
    assert_int_equal(verdict_of("/", "HTTP/1.1",
                                FIELDS("Host: x", "Transfer-Encoding: chunked", "Content-Length: 5"),
                                &why),
                     400);
    assert_string_equal(why, "Transfer-Encoding with Content-Length");
    /* with an unknown coding and a Content-Length, the framing error wins */
    assert_int_equal(check11(FIELDS("Host: x", "Content-Length: 5", "Transfer-Encoding: gzip")), 400);
    assert_int_equal(verdict_of("/", "HTTP/1.1", FIELDS("Host: x", "Transfer-Encoding: chunked, chunked"),
                                &why),
                     400);
    assert_string_equal(why, "chunked applied more than once");
    assert_int_equal(check11(FIELDS("Host: x", "Transfer-Encoding: chunked", "Transfer-Encoding: chunked")),
                     400);
    assert_int_equal(verdict_of("/", "HTTP/1.1", FIELDS("Host: x", "Transfer-Encoding: chunked, gzip"),
                                &why),
                     400);
    assert_string_equal(why, "chunked not the last transfer coding");
    assert_int_equal(check11(FIELDS("Host: x", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip")),
                     400);
    assert_int_equal(check11(FIELDS("Host: x", "Transfer-Encoding: ")), 400);
    assert_int_equal(check11(FIELDS("Host: x", "Transfer-Encoding: ,")), 400);
    assert_int_equal(check11(FIELDS("Host: x", "Transfer-Encoding: chu nked")), 400);
    assert_int_equal(check11(FIELDS("Host: x", "Transfer-Encoding: ;q=1")), 400);
    assert_int_equal(check11(FIELDS("Host: x", "Transfer-Encoding: chunked;x=1")), 0);
    assert_int_equal(check11(FIELDS("Host: x", "Transfer-Encoding: , chunked ,")), 0);
    assert_int_equal(verdict_of("/", "HTTP/1.0", FIELDS("Transfer-Encoding: chunked"), &why), 400);
    assert_string_equal(why, "Transfer-Encoding in HTTP/1.0");
}

static void test_first_reason_wins(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(verdict_of("/a b", "HTTP/1.1",
                                FIELDS("Host: a", "Host: b", "Transfer-Encoding: gzip"), &why),
                     400);
    assert_string_equal(why, "a space or control byte in the request target");
}

/* A header block laid out as libmicrohttpd 0.9.75 leaves it: each line in
 * place, the colon and each CR and LF overwritten with NULs. */
#define LINE0 "GET\0/\0HTTP/1.1\0\0"
#define LINE0_END (sizeof "GET\0/\0HTTP/1.1" - 1) /* the version string's end */

/* Feed the fields of block (names and values found by walking it the way the
 * parser laid it out) and return the verdict. */
static unsigned block_verdict(char *block, size_t n)
{
    reqhead h;
    reqhead_begin(&h, "HTTP/1.1", 1);
    reqhead_block(&h, block, n, block + LINE0_END);
    char *line = block + sizeof LINE0 - 1;
    while (line < block + n && *line) {
        char *colon = memchr(line, '\0', (size_t)(block + n - line));
        assert_non_null(colon);
        char *v = colon + 1;
        while (*v == ' ')
            v++;
        size_t vl = strlen(v);
        reqhead_field(&h, line, (size_t)(colon - line), v, vl, 0);
        line = v + vl;
        while (line < block + n && *line == '\0' && line[1] == '\0' && line + 2 < block + n &&
               line[2])
            line += 2; /* the line end, when another field follows */
        if (line < block + n && *line == '\0' && !(line + 2 < block + n && line[2]))
            break;
    }
    return reqhead_end(&h, NULL);
}

static void test_block_layout(void **state)
{
    (void)state;
    /* what 0.9.75 leaves of "GET / HTTP/1.1\r\nHost: a\r\nX-A: b  \r\n\r\n" */
    char ok[] = LINE0 "Host\0 a\0\0X-A\0 b  \0\0\0\0";
    assert_int_equal(block_verdict(ok, sizeof ok - 1), 0);
    /* a bare LF ends a line with one NUL: the header's last line, a field's */
    char lf_end[] = LINE0 "Host\0 a\0\0\0";
    assert_int_equal(block_verdict(lf_end, sizeof lf_end - 1), 400);
    char lf_line0[] = "GET\0/\0HTTP/1.1\0Host\0 a\0\0\0\0";
    reqhead h;
    const char *why = NULL;
    reqhead_begin(&h, "HTTP/1.1", 1);
    reqhead_block(&h, lf_line0, sizeof lf_line0 - 1, lf_line0 + LINE0_END);
    reqhead_field(&h, lf_line0 + 15, 4, lf_line0 + 21, 1, 0);
    assert_int_equal(reqhead_end(&h, &why), 400);
    assert_non_null(strstr(why, "bare LF"));
    /* "X-A: a\0b": the library hands over "a", "b" is left between fields */
    char nul[] = LINE0 "Host\0 a\0\0X-A\0 a\0b\0\0X-C\0 c\0\0\0\0";
    reqhead_begin(&h, "HTTP/1.1", 1);
    reqhead_block(&h, nul, sizeof nul - 1, nul + LINE0_END);
    reqhead_field(&h, nul + 16, 4, nul + 22, 1, 0);  /* Host = a */
    reqhead_field(&h, nul + 25, 3, nul + 30, 1, 0);  /* X-A = a */
    reqhead_field(&h, nul + 35, 3, nul + 40, 1, 0);  /* X-C = c */
    assert_int_equal(reqhead_end(&h, NULL), 400);
    /* ": x" ends 0.9.75's header: left after the last field it handed over */
    char colon[] = LINE0 "Host\0 a\0\0\0 x\0\0";
    reqhead_begin(&h, "HTTP/1.1", 1);
    reqhead_block(&h, colon, sizeof colon - 1, colon + LINE0_END);
    reqhead_field(&h, colon + 16, 4, colon + 22, 1, 0);
    assert_int_equal(reqhead_end(&h, &why), 400);
    assert_non_null(strstr(why, "starting with a colon"));
    /* the same fields fed by hand from ok: in order they pass */
    reqhead_begin(&h, "HTTP/1.1", 1);
    reqhead_block(&h, ok, sizeof ok - 1, ok + LINE0_END);
    reqhead_field(&h, ok + 16, 4, ok + 22, 1, 0); /* Host = a */
    reqhead_field(&h, ok + 25, 3, ok + 30, 3, 0); /* X-A = "b  " */
    assert_int_equal(reqhead_end(&h, NULL), 0);
    /* out of order, or a field that does not point into the block */
    reqhead_begin(&h, "HTTP/1.1", 1);
    reqhead_block(&h, ok, sizeof ok - 1, ok + LINE0_END);
    reqhead_field(&h, ok + 25, 3, ok + 30, 3, 0);
    reqhead_field(&h, ok + 16, 4, ok + 22, 1, 0);
    assert_int_equal(reqhead_end(&h, NULL), 400);
    char other[] = "Host";
    reqhead_begin(&h, "HTTP/1.1", 1);
    reqhead_block(&h, ok, sizeof ok - 1, ok + LINE0_END);
    reqhead_field(&h, other, 4, "a", 1, 0);
    assert_int_equal(reqhead_end(&h, &why), 400);
    assert_string_equal(why, "a field outside the request header");
    /* no fields (HTTP/1.0): the request line's end and the blank line */
    char bare10[] = "GET\0/\0HTTP/1.0\0\0\0\0";
    reqhead_begin(&h, "HTTP/1.0", 1);
    reqhead_block(&h, bare10, sizeof bare10 - 1, bare10 + LINE0_END);
    assert_int_equal(reqhead_end(&h, NULL), 0);
    /* a folded field is not looked for in the block (its name moved) */
    reqhead_begin(&h, "HTTP/1.1", 1);
    reqhead_block(&h, ok, sizeof ok - 1, ok + LINE0_END);
    reqhead_field(&h, ok + 16, 4, ok + 22, 1, 0);
    reqhead_field(&h, other, 4, ok + 30, 3, 1);
    assert_int_equal(reqhead_end(&h, &why), 400);
    assert_string_equal(why, "obsolete line folding");
    /* which versions have this layout */
    assert_true(reqhead_lib_in_place("0.9.75"));
    assert_true(reqhead_lib_in_place("0.9.72"));
    assert_false(reqhead_lib_in_place("0.9.77"));
    assert_false(reqhead_lib_in_place("1.0.1"));
    assert_false(reqhead_lib_in_place(NULL));
}

static void test_rules_per_library_version(void **state)
{
    (void)state;
    const char *what = NULL;
    assert_false(reqhead_lib_rfc9112("0.9.75"));
    assert_false(reqhead_lib_rfc9112(NULL));
    assert_false(reqhead_lib_rfc9112("garbage"));
    assert_true(reqhead_lib_rfc9112("1.0.1"));
    assert_true(reqhead_lib_rfc9112("1.0.0"));
    int old_tomed = 0, new_tomed = 0;
    for (unsigned i = 0; i < REQHEAD_RULES; i++) {
        int o = reqhead_rule("0.9.75", i, &what);
        int n = reqhead_rule("1.0.1", i, NULL);
        assert_non_null(what);
        assert_true(o >= 0 && n >= 0);
        old_tomed += o == REQHEAD_BY_TOMED;
        new_tomed += n == REQHEAD_BY_TOMED;
        /* 1.0 never leaves to tomed what 0.9 refused */
        if (o == REQHEAD_BY_LIBRARY)
            assert_int_equal(n, REQHEAD_BY_LIBRARY);
    }
    assert_true(old_tomed > new_tomed);
    assert_int_equal(reqhead_rule("0.9.75", REQHEAD_RULES, &what), -1);
    /* the ones issue 14's table measured */
    assert_int_equal(reqhead_rule("0.9.75", 3, &what), REQHEAD_BY_TOMED);
    assert_string_equal(what, "whitespace before a field's colon");
    assert_int_equal(reqhead_rule("1.0.1", 3, NULL), REQHEAD_BY_LIBRARY);
    assert_int_equal(reqhead_rule("0.9.75", 5, &what), REQHEAD_BY_TOMED);
    assert_string_equal(what, "bare LF line ends");
    assert_int_equal(reqhead_rule("1.0.1", 1, &what), REQHEAD_BY_TOMED);
    assert_string_equal(what, "more than one Host");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_valid_requests),
        cmocka_unit_test(test_host_discipline),
        cmocka_unit_test(test_host_syntax),
        cmocka_unit_test(test_field_syntax),
        cmocka_unit_test(test_target),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_transfer_encoding),
        cmocka_unit_test(test_first_reason_wins),
        cmocka_unit_test(test_block_layout),
        cmocka_unit_test(test_rules_per_library_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
