/* Unit tests for siterules: the _redirects and _headers parsers and matchers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tomed/siterules.h"

static siterules *redirects(const char *text)
{
    siterules *r = siterules_parse(text, strlen(text), NULL, 0);
    assert_non_null(r);
    return r;
}

static siterules *headers(const char *text)
{
    siterules *r = siterules_parse(NULL, 0, text, strlen(text));
    assert_non_null(r);
    return r;
}

/* "STATUS target" for sp, or "none". */
static const char *go(const siterules *r, const char *sp)
{
    static char buf[512];
    char loc[256];
    int q = -1;
    unsigned st = siterules_redirect(r, sp, loc, sizeof loc, &q);
    if (!st)
        return "none";
    snprintf(buf, sizeof buf, "%u %s%s", st, loc, q ? " (q)" : "");
    return buf;
}

static void test_redirect_basics(void **state)
{
    (void)state;
    siterules *r = redirects("# moved pages\n"
                             "/old /new\n"
                             "\n"
                             "/temp /elsewhere 302\n"
                             "/perm /x 308\n"
                             "/t7 /x 307\n"
                             "/forced /x 301!\n"
                             "/ext https://example.com/a?b=1 301\n");
    assert_int_equal(siterules_redirect_count(r), 6);
    assert_int_equal(siterules_warning_count(r), 0);
    assert_string_equal(go(r, "/old"), "301 /new");
    assert_string_equal(go(r, "/old/"), "301 /new"); /* one trailing slash is ignored */
    assert_string_equal(go(r, "/older"), "none");
    assert_string_equal(go(r, "/old/x"), "none");
    assert_string_equal(go(r, "/temp"), "302 /elsewhere");
    assert_string_equal(go(r, "/perm"), "308 /x");
    assert_string_equal(go(r, "/t7"), "307 /x");
    assert_string_equal(go(r, "/forced"), "301 /x");
    assert_string_equal(go(r, "/ext"), "301 https://example.com/a?b=1 (q)");
    assert_string_equal(go(r, "/"), "none");
    siterules_free(r);
}

static void test_redirect_first_match_wins(void **state)
{
    (void)state;
    siterules *r = redirects("/a /first\n/a /second 302\n");
    assert_string_equal(go(r, "/a"), "301 /first");
    siterules_free(r);
    /* rules are looked up by first segment, but file order still decides
     * between a literal first segment and a placeholder or splat */
    r = redirects("/en/x /literal-first\n"
                  "/:lang/x /wild-second\n"
                  "/:lang/y /wild-first\n"
                  "/en/y /literal-second\n"
                  "/* /catch-all 302\n"
                  "/en/z /never\n"
                  "/ /root 307\n");
    assert_string_equal(go(r, "/en/x"), "301 /literal-first");
    assert_string_equal(go(r, "/de/x"), "301 /wild-second");
    assert_string_equal(go(r, "/en/y"), "301 /wild-first");
    assert_string_equal(go(r, "/en/z"), "302 /catch-all");
    assert_string_equal(go(r, "/"), "302 /catch-all");
    assert_string_equal(go(r, "/enx/x"), "301 /wild-second");
    assert_string_equal(go(r, "/enx/q"), "302 /catch-all");
    siterules_free(r);
    r = redirects("/ /root 307\n/a/b /ab\n/a /a1\n/ab /ab1\n");
    assert_string_equal(go(r, "/"), "307 /root");
    assert_string_equal(go(r, "/a/b"), "301 /ab");
    assert_string_equal(go(r, "/a"), "301 /a1");
    assert_string_equal(go(r, "/ab"), "301 /ab1");
    assert_string_equal(go(r, "/b"), "none");
    siterules_free(r);
}

static void test_splats_and_placeholders(void **state)
{
    (void)state;
    siterules *r = redirects("/blog/* /news/:splat 301\n"
                             "/posts/:year/:month/:slug /archive/:year-:month/:slug.html 302\n"
                             "/u/:id https://example.com/users/:id?from=:id\n"
                             "/keep/:x /k/:unknown/:x\n");
    assert_string_equal(go(r, "/blog/2024/hello"), "301 /news/2024/hello");
    assert_string_equal(go(r, "/blog/"), "301 /news/");
    assert_string_equal(go(r, "/blog"), "301 /news/");
    assert_string_equal(go(r, "/posts/2024/05/hi"), "302 /archive/2024-05/hi.html");
    assert_string_equal(go(r, "/posts/2024/05"), "none");
    assert_string_equal(go(r, "/posts/2024/05/hi/more"), "none");
    assert_string_equal(go(r, "/u/42"), "301 https://example.com/users/42?from=42 (q)");
    /* a placeholder the pattern did not define stays as written */
    assert_string_equal(go(r, "/keep/v"), "301 /k/:unknown/v");
    siterules_free(r);
}

static void test_substituted_values_are_encoded(void **state)
{
    (void)state;
    siterules *r = redirects("/a/* /b/:splat\n/c/* /:splat\n");
    /* the site path is decoded: what it holds is encoded again, and cannot
     * add a query or a fragment */
    assert_string_equal(go(r, "/a/x y?#%\"é"), "301 /b/x%20y%3F%23%25%22%C3%A9");
    /* an empty first segment cannot make a protocol-relative URL */
    assert_string_equal(go(r, "/c/evil.com"), "301 /evil.com");
    siterules_free(r);
}

static void test_encoded_from_matches_decoded_path(void **state)
{
    (void)state;
    siterules *r = redirects("/team/john%20smith /about\n");
    assert_string_equal(go(r, "/team/john smith"), "301 /about");
    siterules_free(r);
}

static void test_redirect_warnings(void **state)
{
    (void)state;
    siterules *r = redirects("/ok /fine\n"                  /* 1 */
                             "/lonely\n"                    /* 2 */
                             "/a /b 200\n"                  /* 3 */
                             "/a /b 404\n"                  /* 4 */
                             "/a /b abc\n"                  /* 5 */
                             "/store id=:id /blog/:id 301\n" /* 6 */
                             "/a /b 302 Country=au\n"       /* 7 */
                             "old /b\n"                     /* 8 */
                             "/a b\n"                       /* 9 */
                             "/a //evil.com\n"              /* 10 */
                             "/a*b /c\n"                    /* 11 */
                             "/x-:id /c\n"                  /* 12 */
                             "https://other.example/* /c\n" /* 13 */
                             "/a?x=1 /c\n"                  /* 14 */
                             "/a\x01 /c\n"                  /* 15 */
                             "/../x /c\n");                 /* 16 */
    assert_int_equal(siterules_redirect_count(r), 1);
    assert_int_equal(siterules_warning_count(r), 15);
    const char *want[] = {
        "_redirects:2: expected \"from to [status]\"",
        "_redirects:3: status 200 is not supported: rewrites (200) are not",
        "_redirects:4: status 404 is not supported",
        "_redirects:5: status \"abc\" is not a number",
        "_redirects:6: conditions and query-parameter matching are not supported",
        "_redirects:7: conditions and query-parameter matching",
        "_redirects:8: the path must start with \"/\"",
        "_redirects:9: the target must be a path",
        "_redirects:10: a target starting with \"//\"",
        "_redirects:11: \"*\" must be the whole last segment",
        "_redirects:12: a placeholder must be a whole segment",
        "_redirects:13: rules for a whole domain are not supported",
        "_redirects:14: query strings in a pattern are not supported",
        "_redirects:15: holds a control byte",
        "_redirects:16: the path is not a valid URL path",
    };
    for (size_t i = 0; i < 15; i++)
        assert_true(strncmp(siterules_warning(r, i), want[i], strlen(want[i])) == 0 ||
                    (fprintf(stderr, "got: %s\n", siterules_warning(r, i)), 0));
    assert_null(siterules_warning(r, 15));
    siterules_free(r);
}

static void test_limits(void **state)
{
    (void)state;
    size_t cap = 1100 * 16 + 2000;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t o = 0;
    for (int i = 0; i < 1002; i++)
        o += (size_t)snprintf(text + o, cap - o, "/r%d /t\n", i);
    o += (size_t)snprintf(text + o, cap - o, "/%01100d /t\n", 0);
    siterules *r = siterules_parse(text, o, NULL, 0);
    assert_int_equal(siterules_redirect_count(r), SITERULES_RULES_MAX);
    assert_int_equal(siterules_warning_count(r), 1);
    assert_string_equal(siterules_warning(r, 0),
                        "_redirects:1001: more than 1000 rules: this line and the rest are ignored");
    siterules_free(r);
    r = redirects("/x /y\n/aaaa" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(siterules_redirect_count(r), 1); /* a last line without '\n' counts */
    siterules_free(r);
    memset(text, 'a', 1200);
    text[0] = '/';
    memcpy(text + 1200, " /t\n", 4);
    r = siterules_parse(text, 1204, NULL, 0);
    assert_int_equal(siterules_warning_count(r), 1);
    assert_string_equal(siterules_warning(r, 0), "_redirects:1: longer than 1000 bytes");
    siterules_free(r);
    free(text);
}

static void test_describe(void **state)
{
    (void)state;
    siterules *r = siterules_parse("/a /b 302\n", 10, "/x\n  X-A: 1\n  ! X-Frame-Options\n", 33);
    char *d = siterules_describe(r);
    assert_string_equal(d, "_redirects:1: /a -> /b 302\n"
                           "_headers:1: /x: X-A: 1; ! X-Frame-Options\n");
    free(d);
    siterules_free(r);
}

/* "Name=value|..." of the set for a file, "-" for a removal, or "none". */
static const char *hdrs(siterules *r, const char *file)
{
    static char buf[1024];
    const siterules_headerset *hs = siterules_headers_for(r, file);
    if (!hs)
        return "none";
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < hs->n; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s=%s", i ? "|" : "", hs->h[i].name,
                              hs->h[i].value ? hs->h[i].value : "-");
    return buf;
}

static void test_headers_match_files_by_their_urls(void **state)
{
    (void)state;
    siterules *r = headers("# comment\n"
                           "/about\n"
                           "  X-Frame-Options: SAMEORIGIN\n"
                           "  Content-Security-Policy: default-src 'self'; frame-ancestors 'self'\n"
                           "/docs/\n"
                           "\tX-Docs: yes\n"
                           "/_app/*\n"
                           "  Access-Control-Allow-Origin: *\n");
    assert_int_equal(siterules_header_rule_count(r), 3);
    assert_int_equal(siterules_warning_count(r), 0);
    assert_string_equal(hdrs(r, "/about.html"),
                        "X-Frame-Options=SAMEORIGIN|Content-Security-Policy=default-src 'self'; "
                        "frame-ancestors 'self'");
    assert_string_equal(hdrs(r, "/docs/index.html"), "X-Docs=yes");
    assert_string_equal(hdrs(r, "/_app/immutable/x.js"), "Access-Control-Allow-Origin=*");
    assert_string_equal(hdrs(r, "/index.html"), "none");
    assert_string_equal(hdrs(r, "/about/x.html"), "none");
    siterules_free(r);
}

static void test_headers_merge_in_order(void **state)
{
    (void)state;
    siterules *r = headers("/*\n"
                           "  X-Robots-Tag: noindex\n"
                           "  Link: </a.css>; rel=preload\n"
                           "/secret\n"
                           "  ! X-Robots-Tag\n"
                           "  Link: </b.css>; rel=preload\n"
                           "  ! Permissions-Policy\n");
    assert_string_equal(hdrs(r, "/index.html"), "X-Robots-Tag=noindex|Link=</a.css>; rel=preload");
    assert_string_equal(hdrs(r, "/secret.html"),
                        "X-Robots-Tag=-|Link=</a.css>; rel=preload, </b.css>; rel=preload|"
                        "Permissions-Policy=-");
    /* files matched by the same rules share one set */
    assert_ptr_equal(siterules_headers_for(r, "/a.js"), siterules_headers_for(r, "/b.css"));
    assert_non_null(siterules_header_find(siterules_headers_for(r, "/a.js"), "x-robots-tag"));
    assert_null(siterules_header_find(siterules_headers_for(r, "/a.js"), "X-Nope"));
    assert_null(siterules_header_find(NULL, "X-Nope"));
    siterules_free(r);
}

static void test_header_warnings(void **state)
{
    (void)state;
    siterules *r = headers("  X-Early: 1\n"            /* 1 */
                           "/a\n"                      /* 2 */
                           "  no colon here\n"         /* 3 */
                           "  Bad Name: 1\n"           /* 4 */
                           "  Content-Length: 5\n"     /* 5 */
                           "  ETag: \"x\"\n"           /* 6 */
                           "  X-Empty:\n"              /* 7 */
                           "  X-Fine: ok\n"            /* 8 */
                           "/b c\n"                    /* 9 */
                           "  X-Skipped: 1\n"          /* 10 */
                           "b\n"                       /* 11 */
                           "  X-Skipped: 2\n");        /* 12 */
    assert_int_equal(siterules_header_rule_count(r), 1);
    const char *want[] = {
        "_headers:1: a header line before any path",
        "_headers:3: expected \"Name: value\" or \"! Name\"",
        "_headers:4: \"Bad Name\" is not a header name",
        "_headers:5: Content-Length is set by tomed",
        "_headers:6: ETag is set by tomed",
        "_headers:7: X-Empty has no value",
        "_headers:9: a path pattern is one word",
        "_headers:11: the path must start with \"/\"",
    };
    assert_int_equal(siterules_warning_count(r), 8);
    for (size_t i = 0; i < 8; i++)
        assert_true(strncmp(siterules_warning(r, i), want[i], strlen(want[i])) == 0 ||
                    (fprintf(stderr, "got: %s\n", siterules_warning(r, i)), 0));
    assert_string_equal(hdrs(r, "/a"), "X-Fine=ok");
    siterules_free(r);
}

static void test_crlf_and_empty(void **state)
{
    (void)state;
    siterules *r = siterules_parse("/a /b\r\n", 7, "/x\r\n  X-A: 1\r\n", 14);
    assert_string_equal(go(r, "/a"), "301 /b");
    assert_string_equal(hdrs(r, "/x"), "X-A=1");
    siterules_free(r);
    r = siterules_parse("", 0, "", 0);
    assert_string_equal(go(r, "/a"), "none");
    assert_string_equal(hdrs(r, "/x"), "none");
    siterules_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redirect_basics),
        cmocka_unit_test(test_redirect_first_match_wins),
        cmocka_unit_test(test_splats_and_placeholders),
        cmocka_unit_test(test_substituted_values_are_encoded),
        cmocka_unit_test(test_encoded_from_matches_decoded_path),
        cmocka_unit_test(test_redirect_warnings),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_headers_match_files_by_their_urls),
        cmocka_unit_test(test_headers_merge_in_order),
        cmocka_unit_test(test_header_warnings),
        cmocka_unit_test(test_crlf_and_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
