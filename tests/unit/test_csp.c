/* Unit tests for csp: inline script/style hashes and policy merging.
 *
 * Known vectors were computed with the OpenSSL command line, as
 *     printf '%s' '<text>' | openssl dgst -sha256 -binary | base64
 * and the example pages are checked against the same command at run time
 * (skipped when the openssl binary is missing). Run from the repository root,
 * as `make unit` does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tomed/csp.h"

#define H_EMPTY "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
#define H_ABC "'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0='"
#define H_DISPLAY "'sha256-tcbDxjMo+xKqM21aCGYbs/QAJqB7yUXC06oPWDapBgc='" /* display: contents */
#define H_ALERT "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"   /* alert(1) */

static void hash_of(const char *s, char out[CSP_HASH_SIZE])
{
    assert_int_equal(csp_hash(s, strlen(s), out), 0);
}

static void scan(const char *html, csp_page *p)
{
    assert_int_equal(csp_scan(html, strlen(html), p), 0);
}

static char *policy(const char *html, const char *tmpl)
{
    char *out = NULL;
    assert_int_equal(csp_for_html(html, strlen(html), tmpl, &out), 0);
    assert_non_null(out);
    return out;
}

static void expect_policy(const char *html, const char *tmpl, const char *want)
{
    char *got = policy(html, tmpl);
    if (strcmp(got, want) != 0)
        print_error("html: %s\ntmpl: %s\nwant: %s\ngot:  %s\n", html, tmpl ? tmpl : "(null)",
                    want, got);
    assert_string_equal(got, want);
    free(got);
}

/* Run the openssl CLI on bytes; 0 and out filled, or -1 if unavailable. */
static int openssl_hash(const char *data, size_t n, char out[CSP_HASH_SIZE])
{
    char path[] = "/tmp/tomed-csp-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    int ok = write(fd, data, n) == (ssize_t)n;
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -binary < %s 2>/dev/null | base64 -w0", path);
    FILE *p = ok ? popen(cmd, "r") : NULL;
    char b64[64] = {0};
    size_t got = p ? fread(b64, 1, sizeof(b64) - 1, p) : 0;
    int st = p ? pclose(p) : -1;
    unlink(path);
    if (st != 0 || got != 44)
        return -1;
    memcpy(out, "'sha256-", 8);
    memcpy(out + 8, b64, 44);
    memcpy(out + 52, "'", 2);
    return 0;
}

static void test_hash_vectors(void **state)
{
    (void)state;
    char h[CSP_HASH_SIZE];
    hash_of("", h);
    assert_string_equal(h, H_EMPTY);
    hash_of("abc", h);
    assert_string_equal(h, H_ABC);
    hash_of("display: contents", h);
    assert_string_equal(h, H_DISPLAY);
    hash_of("alert(1)", h);
    assert_string_equal(h, H_ALERT);
    assert_int_equal(strlen(h), CSP_HASH_SIZE - 1);
    assert_int_equal(csp_hash(NULL, 0, h), 0);
    assert_string_equal(h, H_EMPTY);

    /* and against the openssl binary on awkward bytes */
    const char odd[] = "\0\xff\r\n\t<script>\xe2\x82\xac";
    char want[CSP_HASH_SIZE];
    if (openssl_hash(odd, sizeof(odd) - 1, want) != 0)
        skip();
    assert_int_equal(csp_hash(odd, sizeof(odd) - 1, h), 0);
    assert_string_equal(h, want);
}

/* What the browser hashes is the element's text, exactly. */
static void test_single_script_and_style(void **state)
{
    (void)state;
    csp_page p;
    scan("<html><head><style>abc</style></head><body><script>alert(1)</script></body></html>",
         &p);
    assert_int_equal(p.scripts, 1);
    assert_int_equal(p.styles, 1);
    assert_int_equal(p.nscript_hashes, 1);
    assert_int_equal(p.nstyle_hashes, 1);
    assert_string_equal(p.script_hashes[0], H_ALERT);
    assert_string_equal(p.style_hashes[0], H_ABC);
    assert_int_equal(p.style_attrs, 0);
    assert_int_equal(p.sveltekit, 0);
    csp_page_free(&p);
    /* whitespace is part of the text */
    scan("<script> alert(1)</script>", &p);
    assert_string_not_equal(p.script_hashes[0], H_ALERT);
    csp_page_free(&p);
    scan("<style></style><script></script>", &p);
    assert_string_equal(p.style_hashes[0], H_EMPTY);
    assert_string_equal(p.script_hashes[0], H_EMPTY);
    csp_page_free(&p);
}

static void test_multiple_and_duplicates(void **state)
{
    (void)state;
    csp_page p;
    scan("<script>abc</script><script>alert(1)</script><script>abc</script>"
         "<style>abc</style><style>abc</style>",
         &p);
    assert_int_equal(p.scripts, 3);
    assert_int_equal(p.nscript_hashes, 2);
    assert_string_equal(p.script_hashes[0], H_ABC); /* document order */
    assert_string_equal(p.script_hashes[1], H_ALERT);
    assert_int_equal(p.styles, 2);
    assert_int_equal(p.nstyle_hashes, 1);
    csp_page_free(&p);
    expect_policy("<script>abc</script><script>abc</script><script>alert(1)</script>",
                  "script-src 'self' " H_ABC, "script-src 'self' " H_ABC " " H_ALERT);
}

static void test_external_and_data_scripts(void **state)
{
    (void)state;
    csp_page p;
    scan("<script src=\"/a.js\"></script><script SRC=x>abc</script><script src>abc</script>"
         "<script type=\"application/json\">{\"a\":1}</script>"
         "<script type=\"application/ld+json\">{}</script>"
         "<script type=\"text/template\"><b>x</b></script>"
         "<script type=\"text/javascript; charset=utf-8\">abc</script>"
         "<script language=\"vbscript\">abc</script>"
         "<script type=\"  \">abc</script>"
         "<script language=\"javascript \">abc</script>"
         "<script type=\"\" language=\"vbscript\">alert(1)</script>",
         &p);
    assert_int_equal(p.scripts, 1); /* only the last: an empty type is JavaScript */
    assert_int_equal(p.data_blocks, 7);
    assert_string_equal(p.script_hashes[0], H_ALERT);
    csp_page_free(&p);

    /* every type a browser runs */
    static const char *const runs[] = {
        "<script>abc</script>",
        "<script type=\"text/javascript\">abc</script>",
        "<script type=\" TEXT/JavaScript \">abc</script>",
        "<script type=application/javascript>abc</script>",
        "<script type=\"module\">abc</script>",
        "<script type=\"Module\" async>abc</script>",
        "<script type=\"importmap\">abc</script>",
        "<script type=\"speculationrules\">abc</script>",
        "<script language=\"javascript\">abc</script>",
        "<script language=\"JavaScript1.2\">abc</script>",
        "<script language=\"\">abc</script>",
        "<script type=\"text/ecmascript\" type=\"text/plain\">abc</script>", /* first wins */
    };
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        scan(runs[i], &p);
        if (p.scripts != 1)
            print_error("not run: %s\n", runs[i]);
        assert_int_equal(p.scripts, 1);
        assert_string_equal(p.script_hashes[0], H_ABC);
        csp_page_free(&p);
    }
}

static void test_tag_syntax(void **state)
{
    (void)state;
    csp_page p;
    static const char *const same[] = {
        "<SCRIPT>abc</SCRIPT>",
        "<Script>abc</sCrIpT >",
        "<script>abc</script\n>",
        "<script>abc</script/>",
        "<script>abc</script foo=\"bar\">",
        "<script data-x=\"a>b\" data-y='c>d'>abc</script>",
        "<script\n\tdefer\n>abc</script>",
        "<!-- <script>no</script> --><script>abc</script>",
        "<!--><script>abc</script>",
        "<!---><script>abc</script>",
        "<!-- a --!><script>abc</script>",
        "<textarea><script>no</script></textarea><script>abc</script>",
        "<title><script>no</script></title><script>abc</script>",
        "<noscript><script>no</script></noscript><script>abc</script>",
        "<iframe><script>no</script></iframe><script>abc</script>",
        "<xmp><script>no</script></xmp><script>abc</script>",
        "<!doctype html><?php no ?><script>abc</script>",
        "</ 3><script>abc</script>",
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        scan(same[i], &p);
        if (p.scripts != 1 || p.nscript_hashes != 1 || strcmp(p.script_hashes[0], H_ABC) != 0)
            print_error("case: %s\n", same[i]);
        assert_int_equal(p.scripts, 1);
        assert_string_equal(p.script_hashes[0], H_ABC);
        csp_page_free(&p);
    }
    /* "</scripts>" and "</script" + other bytes do not close */
    scan("<script>a</scripts>b</script>", &p);
    char h[CSP_HASH_SIZE];
    hash_of("a</scripts>b", h);
    assert_string_equal(p.script_hashes[0], h);
    csp_page_free(&p);
    /* a <script> tag cut off by the end is no element at all */
    scan("<script src=x", &p);
    assert_int_equal(p.scripts + p.unterminated, 0);
    csp_page_free(&p);
    /* <plaintext>: the rest is text */
    scan("<plaintext><script>abc</script>", &p);
    assert_int_equal(p.scripts, 0);
    csp_page_free(&p);
    /* style text ends only at </style> */
    scan("<style>a</script>b</style>", &p);
    hash_of("a</script>b", h);
    assert_string_equal(p.style_hashes[0], h);
    csp_page_free(&p);
}

/* The script data "escaped" states: inside <!-- ... -->, a <script> opens a
 * region where </script> does not end the element. */
static void test_script_escape_states(void **state)
{
    (void)state;
    csp_page p;
    char h[CSP_HASH_SIZE];
    const char *body = "<!--<script>x</script>-->y";
    char html[128];
    snprintf(html, sizeof(html), "<script>%s</script><p>after</p>", body);
    scan(html, &p);
    hash_of(body, h);
    assert_int_equal(p.scripts, 1);
    assert_string_equal(p.script_hashes[0], h);
    csp_page_free(&p);
    /* escaped without the inner <script>: </script> closes */
    scan("<script><!-- a </script>-->", &p);
    hash_of("<!-- a ", h);
    assert_string_equal(p.script_hashes[0], h);
    csp_page_free(&p);
    /* "-->" leaves the escaped state, so a later <script> is plain text */
    scan("<script><!-- a --><script></script>", &p);
    hash_of("<!-- a --><script>", h);
    assert_string_equal(p.script_hashes[0], h);
    csp_page_free(&p);
    /* never closed: the browser never runs it */
    scan("<script><!--<script></script>", &p);
    assert_int_equal(p.scripts, 0);
    assert_int_equal(p.unterminated, 1);
    csp_page_free(&p);
}

/* The parser's input stream normalisation happens before hashing. */
static void test_newline_and_nul_normalisation(void **state)
{
    (void)state;
    csp_page p;
    char h[CSP_HASH_SIZE];
    scan("<script>a\r\nb\rc\n</script>", &p);
    hash_of("a\nb\nc\n", h);
    assert_string_equal(p.script_hashes[0], h);
    csp_page_free(&p);
    const char nul[] = "<style>a\0b</style>";
    assert_int_equal(csp_scan(nul, sizeof(nul) - 1, &p), 0);
    hash_of("a\xef\xbf\xbd" "b", h);
    assert_string_equal(p.style_hashes[0], h);
    csp_page_free(&p);
    /* CR before the end tag */
    scan("<script>abc\r</script\r>", &p);
    hash_of("abc\n", h);
    assert_string_equal(p.script_hashes[0], h);
    csp_page_free(&p);
}

static void test_unterminated(void **state)
{
    (void)state;
    csp_page p;
    char h[CSP_HASH_SIZE];
    /* a script cut off by the end of the file is never run: no hash */
    scan("<p>x</p><script>alert(1)", &p);
    assert_int_equal(p.scripts, 0);
    assert_int_equal(p.nscript_hashes, 0);
    assert_int_equal(p.unterminated, 1);
    csp_page_free(&p);
    scan("<script>alert(1)</script", &p);
    assert_int_equal(p.unterminated, 1);
    csp_page_free(&p);
    /* an end tag cut off inside is never emitted: still not run */
    scan("<script>alert(1)</script data-x=\"1\"", &p);
    assert_int_equal(p.scripts, 0);
    assert_int_equal(p.unterminated, 1);
    csp_page_free(&p);
    /* a style cut off is applied: hashed to the end */
    scan("<style>abc", &p);
    assert_int_equal(p.styles, 1);
    assert_string_equal(p.style_hashes[0], H_ABC);
    csp_page_free(&p);
    scan("<style>abc</style", &p);
    hash_of("abc</style", h);
    assert_string_equal(p.style_hashes[0], h);
    csp_page_free(&p);
    /* unterminated comment hides the rest */
    scan("<!-- <script>abc</script>", &p);
    assert_int_equal(p.scripts, 0);
    csp_page_free(&p);
}

static void test_attributes_reported(void **state)
{
    (void)state;
    csp_page p;
    scan("<div style=\"display: contents\"><p STYLE=color:red onclick=\"f()\" "
         "onMouseOver='g()'>x</p><a href=\"javascript:void(0)\">a</a>"
         "<a href=\" java\tscript:x\">b</a><a href=\"/javascript:x\">c</a>"
         "<form action=JAVASCRIPT:x></form><img one-day=\"x\" on=\"y\"></div>",
         &p);
    assert_int_equal(p.style_attrs, 2);
    assert_int_equal(p.handlers, 6); /* onclick, onMouseOver, 3 javascript: URLs, one-day */
    assert_int_equal(p.scripts, 0);
    csp_page_free(&p);
    /* attributes of end tags and of text in raw elements do not count */
    scan("</div style=\"x\"><textarea><p style=\"x\"></textarea>", &p);
    assert_int_equal(p.style_attrs, 0);
    csp_page_free(&p);
}

/* ------------------------------------------------------------ policy merge */

static void test_merge_default_src_template(void **state)
{
    (void)state;
    /* the example from the issue */
    expect_policy("<script>alert(1)</script>", "default-src 'self'; img-src 'self' data:",
                  "default-src 'self'; img-src 'self' data:; script-src 'self' " H_ALERT);
    expect_policy("<style>abc</style><script>alert(1)</script>",
                  "default-src 'self'; img-src 'self' data:",
                  "default-src 'self'; img-src 'self' data:; script-src 'self' " H_ALERT
                  "; style-src 'self' " H_ABC);
    /* a SvelteKit-like page: style attribute and start-up script */
    expect_policy("<style>abc</style><div style=\"display: contents\">"
                  "<script>__sveltekit_x = {};</script></div>",
                  "default-src 'self'",
                  "default-src 'self'; script-src 'self' "
                  "'sha256-DSReAsmS5OjyvIXFbGTVpYlGR/GjzIINMZ7Cy+8uCVM='; style-src 'self' " H_ABC
                  "; style-src-attr 'unsafe-inline'");
}

static void test_merge_existing_directives(void **state)
{
    (void)state;
    /* 'unsafe-inline' leaves when hashes arrive */
    expect_policy("<script>alert(1)</script>",
                  "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.example",
                  "default-src 'self'; script-src 'self' https://cdn.example " H_ALERT);
    expect_policy("<script>alert(1)</script>", "script-src 'UNSAFE-INLINE' 'self'",
                  "script-src 'self' " H_ALERT);
    /* ...but stays when there is nothing to hash */
    expect_policy("<p>x</p>", "script-src 'self' 'unsafe-inline'",
                  "script-src 'self' 'unsafe-inline'");
    /* a hash already there is not repeated */
    expect_policy("<script>alert(1)</script>", "script-src 'self' " H_ALERT,
                  "script-src 'self' " H_ALERT);
    /* script-src-elem takes precedence in CSP3 browsers: it gets them too */
    expect_policy("<script>alert(1)</script>",
                  "default-src 'self'; script-src-elem 'self' 'unsafe-inline'",
                  "default-src 'self'; script-src-elem 'self' " H_ALERT
                  "; script-src 'self' " H_ALERT);
    /* style-src-elem likewise, and a template style-src-attr is left alone */
    expect_policy("<style>abc</style><p style=\"x\">",
                  "style-src 'self'; style-src-elem 'self'; style-src-attr 'none'",
                  "style-src 'self' " H_ABC "; style-src-elem 'self' " H_ABC
                  "; style-src-attr 'none'");
    /* strict-dynamic and nonces are kept */
    expect_policy("<script>alert(1)</script>", "script-src 'strict-dynamic' 'nonce-abc'",
                  "script-src 'strict-dynamic' 'nonce-abc' " H_ALERT);
    /* directive names are case-insensitive; the first of repeats wins and
     * the repeats go */
    expect_policy("<script>alert(1)</script>",
                  "Script-Src 'self'; img-src *; script-src 'unsafe-inline'; IMG-SRC 'none'",
                  "Script-Src 'self' " H_ALERT "; img-src *");
}

static void test_merge_missing_directives(void **state)
{
    (void)state;
    /* no template: strict by default */
    expect_policy("<script>alert(1)</script>", NULL, "script-src 'self' " H_ALERT);
    expect_policy("<script>alert(1)</script><style>abc</style>", "",
                  "script-src 'self' " H_ALERT "; style-src 'self' " H_ABC);
    expect_policy("<script>alert(1)</script>", "img-src 'self' data:",
                  "img-src 'self' data:; script-src 'self' " H_ALERT);
    /* default-src 'none' and 'unsafe-inline' do not carry over */
    expect_policy("<script>alert(1)</script>", "default-src 'none'",
                  "default-src 'none'; script-src " H_ALERT);
    expect_policy("<script>alert(1)</script>", "default-src 'self' 'unsafe-inline' data:",
                  "default-src 'self' 'unsafe-inline' data:; script-src 'self' data: " H_ALERT);
    /* nothing inline: the template, normalised */
    expect_policy("<p>hi</p>", "  default-src   'self' ;; img-src\t* ; ",
                  "default-src 'self'; img-src *");
    expect_policy("<p>hi</p>", NULL, "");
    expect_policy("", "default-src 'self'", "default-src 'self'");
}

/* Style attributes need 'unsafe-inline' scoped to attributes only when the
 * style rules would otherwise block them. */
static void test_merge_style_attributes(void **state)
{
    (void)state;
    const char *attr = "<p style=\"color:red\">x</p>";
    expect_policy(attr, "default-src 'self'",
                  "default-src 'self'; style-src-attr 'unsafe-inline'");
    expect_policy(attr, "style-src 'self' 'unsafe-inline'", "style-src 'self' 'unsafe-inline'");
    expect_policy(attr, "style-src 'self' 'unsafe-inline' 'nonce-x'",
                  "style-src 'self' 'unsafe-inline' 'nonce-x'; style-src-attr 'unsafe-inline'");
    expect_policy(attr, "img-src 'self'", "img-src 'self'"); /* styles unrestricted */
    expect_policy(attr, "default-src 'self'; style-src-attr 'none'",
                  "default-src 'self'; style-src-attr 'none'");
    /* a SvelteKit page without style attributes still gets it: the client
     * sets some at run time (the route announcer) */
    expect_policy("<script>__sveltekit_1 = {}</script>", "default-src 'self'",
                  "default-src 'self'; script-src 'self' "
                  "'sha256-Dq7PgsVV3v29GXikw1ucJqlSk9Rgzo5/YirUQzqjOqc='; "
                  "style-src-attr 'unsafe-inline'");
    /* event handlers are never allowed */
    char *got = policy("<button onclick=\"go()\">x</button><script>abc</script>",
                       "default-src 'self'");
    assert_null(strstr(got, "unsafe"));
    free(got);
}

/* The template comes from config; control bytes never reach the header. */
static void test_merge_header_safety(void **state)
{
    (void)state;
    expect_policy("<script>abc</script>", "default-src 'self'\r\nX-Evil: 1\0ignored",
                  "default-src 'self' X-Evil: 1; script-src 'self' X-Evil: 1 " H_ABC);
    char *got = policy("<p>x</p>", "img-src\x01\x7f'self'\n");
    assert_string_equal(got, "img-src 'self'");
    free(got);
}

static void test_api_errors(void **state)
{
    (void)state;
    char *out = (char *)"x";
    assert_int_equal(csp_for_html("", 0, NULL, NULL), -1);
    assert_int_equal(csp_merge(NULL, NULL, &out), -1);
    assert_null(out);
    assert_int_equal(csp_scan("x", 1, NULL), -1);
    csp_page p;
    assert_int_equal(csp_scan(NULL, 5, &p), 0);
    assert_int_equal(p.scripts, 0);
    csp_page_free(&p);
    csp_page_free(NULL);
}

/* ------------------------------------------------------------ the example site */

#define SITE "examples/site/docs"

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    *n = fread(buf, 1, (size_t)st.st_size, f);
    buf[*n] = '\0';
    fclose(f);
    return buf;
}

/* Text between open and close, found naively: the pages' elements carry no
 * attributes and hold no CR, so this needs no tokenizer. */
static int between(const char *s, const char *open, const char *close, const char **b, size_t *n)
{
    const char *o = strstr(s, open);
    if (!o)
        return -1;
    o += strlen(open);
    const char *c = strstr(o, close);
    if (!c)
        return -1;
    *b = o;
    *n = (size_t)(c - o);
    return 0;
}

static void test_example_pages(void **state)
{
    (void)state;
    static const char *const pages[] = {"/index.html", "/about.html", "/settings.html",
                                        "/docs/guide.html"};
    int have_openssl = 1;
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), "%s%s", SITE, pages[i]);
        size_t n = 0;
        char *html = read_file(path, &n);
        assert_non_null(html);
        csp_page p;
        assert_int_equal(csp_scan(html, n, &p), 0);
        assert_int_equal(p.scripts, 1);
        assert_int_equal(p.styles, 1);
        assert_int_equal(p.data_blocks, 0);
        assert_int_equal(p.style_attrs, 1); /* <div style="display: contents"> */
        assert_int_equal(p.handlers, 0);
        assert_int_equal(p.sveltekit, 1);

        const char *b = NULL;
        size_t bn = 0;
        char want[CSP_HASH_SIZE];
        assert_int_equal(between(html, "<script>", "</script>", &b, &bn), 0);
        assert_null(memchr(b, '\r', bn));
        if (openssl_hash(b, bn, want) == 0)
            assert_string_equal(p.script_hashes[0], want);
        else
            have_openssl = 0;
        assert_int_equal(between(html, "<style>", "</style>", &b, &bn), 0);
        if (openssl_hash(b, bn, want) == 0)
            assert_string_equal(p.style_hashes[0], want);
        else
            have_openssl = 0;

        char *pol = NULL;
        assert_int_equal(csp_merge("default-src 'self'; img-src 'self' data:", &p, &pol), 0);
        char exp[512];
        snprintf(exp, sizeof(exp),
                 "default-src 'self'; img-src 'self' data:; script-src 'self' %s; "
                 "style-src 'self' %s; style-src-attr 'unsafe-inline'",
                 p.script_hashes[0], p.style_hashes[0]);
        assert_string_equal(pol, exp);
        print_message("  %-18s %s\n", pages[i], pol);
        free(pol);
        csp_page_free(&p);
        free(html);
    }
    if (!have_openssl)
        skip(); /* structure checked; hashes not cross-checked */
}

/* Start-up scripts differ per page, hence per-page policies. */
static void test_example_pages_differ(void **state)
{
    (void)state;
    size_t n1, n2;
    char *a = read_file(SITE "/index.html", &n1);
    char *b = read_file(SITE "/about.html", &n2);
    assert_non_null(a);
    assert_non_null(b);
    csp_page pa, pb;
    assert_int_equal(csp_scan(a, n1, &pa), 0);
    assert_int_equal(csp_scan(b, n2, &pb), 0);
    assert_string_not_equal(pa.script_hashes[0], pb.script_hashes[0]);
    csp_page_free(&pa);
    csp_page_free(&pb);
    free(a);
    free(b);
}

/* A small deterministic fuzz (run under ASan): no crash, and every policy is
 * one line of printable ASCII. */
static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void test_random_inputs(void **state)
{
    (void)state;
    static const char *const atoms[] = {
        "<script>", "</script>", "<script src=x>", "<script type=module>",
        "<script type=\"application/json\">", "<style>", "</style>", "<!--", "-->", "--!>",
        "<", ">", "/", "\"", "'", "=", " ", "\r", "\n", "\0", "x", "-", "<!", "</", "<?",
        "<textarea>", "</textarea>", "<p style=", "onclick=", "javascript:", "__sveltekit_",
        "<plaintext>", "<noscript>", "</SCRIPT", "<SCRIPT"};
    static const char *const tmpls[] = {NULL, "", "default-src 'self'",
                                        "script-src 'unsafe-inline'; style-src 'none'",
                                        "; ;default-src\r\n'self' ; script-src-elem x",
                                        "style-src-attr 'self'; style-src-elem a; a; a; b"};
    uint32_t seed = 4242;
    char buf[512];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 0, parts = lcg(&seed) % 40;
        for (size_t k = 0; k < parts; k++) {
            const char *a = atoms[lcg(&seed) % (sizeof(atoms) / sizeof(atoms[0]))];
            size_t len = a[0] ? strlen(a) : 1;
            if (n + len > sizeof(buf))
                break;
            memcpy(buf + n, a, len);
            n += len;
        }
        char *out = NULL;
        const char *t = tmpls[lcg(&seed) % (sizeof(tmpls) / sizeof(tmpls[0]))];
        assert_int_equal(csp_for_html(buf, n, t, &out), 0);
        assert_non_null(out);
        for (const char *c = out; *c; c++)
            assert_true(*c >= 0x20 && *c < 0x7f);
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_vectors),
        cmocka_unit_test(test_single_script_and_style),
        cmocka_unit_test(test_multiple_and_duplicates),
        cmocka_unit_test(test_external_and_data_scripts),
        cmocka_unit_test(test_tag_syntax),
        cmocka_unit_test(test_script_escape_states),
        cmocka_unit_test(test_newline_and_nul_normalisation),
        cmocka_unit_test(test_unterminated),
        cmocka_unit_test(test_attributes_reported),
        cmocka_unit_test(test_merge_default_src_template),
        cmocka_unit_test(test_merge_existing_directives),
        cmocka_unit_test(test_merge_missing_directives),
        cmocka_unit_test(test_merge_style_attributes),
        cmocka_unit_test(test_merge_header_safety),
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test(test_example_pages),
        cmocka_unit_test(test_example_pages_differ),
        cmocka_unit_test(test_random_inputs),
    };

    return cmocka_run_group_tests_name("csp", tests, NULL, NULL);
}
