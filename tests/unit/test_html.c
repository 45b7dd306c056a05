/* Unit tests for html: the one tokenizer walk csp.c and rewrite.c share.
 *
 * Each case is one of the places where the two used to disagree with each
 * other or with a browser (issue 11); tests/integration/test_html_browser.py
 * checks the same cases in Chromium. The helpers render what the walk yields
 * as short strings: the texts of the scripts a browser runs inline, and a
 * token list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tomed/csp.h"
#include "tomed/html.h"
#include "tomed/rewrite.h"

static char out[8192];

static void put(const char *s, size_t n)
{
    size_t len = strlen(out);
    assert_true(len + n + 1 < sizeof(out));
    memcpy(out + len, s, n);
    out[len + n] = '\0';
}

/* The text of every script a browser runs inline, joined with '|'; and
 * checks that csp.c hashes exactly those spans and that rewrite.c treats
 * the same spans as running script. */
static const char *inline_scripts(const char *html)
{
    size_t n = strlen(html);
    html_walk w;
    html_tok t;
    size_t k = 0;
    csp_page pg;
    rewrite_span *sp = NULL;
    size_t nsp = 0, nruns = 0;
    out[0] = '\0';
    assert_int_equal(csp_scan(html, n, &pg), 0);
    assert_int_equal(rewrite_html_scripts(html, n, RW_HTML, &sp, &nsp), 0);
    html_walk_init(&w, html, n, 0, 0);
    int r;
    while ((r = html_walk_next(&w, &t)) > 0) {
        if (t.type != HTML_TOK_START || t.text_kind != HTML_TEXT_SCRIPT ||
            html_script_classify(html, n, &t) != HTML_SCRIPT_INLINE)
            continue;
        if (out[0])
            put("|", 1);
        put(html + t.text, t.text_len);
        assert_true(k < pg.nscript_spans);
        assert_int_equal(pg.script_spans[k].at, t.text);
        assert_int_equal(pg.script_spans[k].len, t.text_len);
        k++;
    }
    assert_int_equal(r, 0);
    html_walk_free(&w);
    assert_int_equal(k, pg.nscript_spans);
    for (size_t i = 0; i < nsp; i++) {
        if (!sp[i].runs)
            continue;
        assert_true(nruns < pg.nscript_spans);
        assert_int_equal(sp[i].at, pg.script_spans[nruns].at);
        assert_int_equal(sp[i].len, pg.script_spans[nruns].len);
        nruns++;
    }
    assert_int_equal(nruns, pg.nscript_spans);
    free(sp);
    csp_page_free(&pg);
    return out;
}

#define RUNS(html, want) assert_string_equal(inline_scripts(html), want)

static void test_raw_text_elements(void **state)
{
    (void)state;
    RUNS("<title><script>a</script></title><script>b</script>", "b");
    RUNS("<textarea><script>a</script></textarea>", "");
    RUNS("<TEXTAREA><script>a</script></TEXTAREA ><script>b</script>", "b");
    RUNS("<xmp><script>a</script></xmp><iframe><script>a</script></iframe>"
         "<noembed><script>a</script></noembed><noframes><script>a</script></noframes>",
         "");
    RUNS("<style>x{}</style><script>s</script><style><script>a</script></style>", "s");
    RUNS("<plaintext><script>a</script>", "");
    /* an end tag needs a blank, '/' or '>' after the name */
    RUNS("<title></titlex><script>a</script></title>", "");
}

static void test_noscript(void **state)
{
    (void)state;
    /* scripting on: raw text, never a script (rewrite.c used to read it as markup) */
    RUNS("<noscript><script>a</script></noscript><script>b</script>", "b");
    /* scripting off (HTML_WALK_NOSCRIPT): a plain element */
    const char *h = "<noscript><script>a</script></noscript>";
    html_walk w;
    html_tok t;
    int scripts = 0;
    html_walk_init(&w, h, strlen(h), 0, HTML_WALK_NOSCRIPT);
    while (html_walk_next(&w, &t) > 0)
        scripts += t.type == HTML_TOK_START && t.text_kind == HTML_TEXT_SCRIPT;
    html_walk_free(&w);
    assert_int_equal(scripts, 1);
    /* the rewriter still rewrites the markup inside for script-less clients,
     * but not the scripts there (they never run) */
    const char *in = "<noscript><img src=\"/b/i.png\"><script>x=\"/b/y\"</script></noscript>";
    char *o = NULL;
    size_t on = 0, count = 0;
    assert_int_equal(rewrite_base(in, strlen(in), "/b", "", RW_HTML, &o, &on, &count), 0);
    assert_int_equal(count, 1);
    assert_string_equal(o, "<noscript><img src=\"/i.png\"><script>x=\"/b/y\"</script></noscript>");
    free(o);
}

static void test_comments(void **state)
{
    (void)state;
    RUNS("<!-- <script>a</script> --><script>b</script>", "b");
    RUNS("<!--><script>a</script>", "a");  /* abrupt "<!-->" */
    RUNS("<!---><script>a</script>", "a"); /* and "<!--->" */
    RUNS("<!-- --!><script>a</script>", "a");
    RUNS("<!-- -- ><script>a</script>", ""); /* "-- >" does not close */
    RUNS("<!-- unterminated <script>a</script>", "");
    /* bogus comments and the doctype end at the first '>' */
    RUNS("<!DOCTYPE html PUBLIC \"a>\"><script>a</script>", "a");
    RUNS("<?php x ?><script>a</script>", "a");
    RUNS("</ x><script>a</script></><script>b</script>", "a|b");
}

static void test_cdata(void **state)
{
    (void)state;
    /* in HTML content "<![CDATA[" is a bogus comment up to the first '>' */
    RUNS("<![CDATA[ x ]]><script>a</script>", "a");
    RUNS("<![CDATA[ <script>a</script> ]]>", "");
    /* in SVG it is a CDATA section up to "]]>": no element inside */
    RUNS("<svg><![CDATA[ x > <script>a</script> ]]></svg><script>b</script>", "b");
}

static void test_template(void **state)
{
    (void)state;
    /* inert where it stands, but it runs once stamped into the document */
    RUNS("<template><script>a</script></template>", "a");
}

static void test_attributes(void **state)
{
    (void)state;
    RUNS("<div title=\"<script>a</script>\"><script>b</script>", "b");
    RUNS("<div title='>'><script>b</script>", "b");
    RUNS("<div title=a>b><script>c</script>", "c");
    /* unquoted values run to a blank or '>': type=module/ is no module */
    RUNS("<script type=module>a</script><script type=module/>b</script>", "a");
    /* the first of repeated attributes wins */
    RUNS("<script type=application/json type=module>a</script>", "");
    RUNS("<script type=module type=application/json>a</script>", "a");
    /* attribute iteration */
    const char *h = "<a x y = 'b c' =z w=\"q\"/>";
    html_walk w;
    html_tok t;
    html_walk_init(&w, h, strlen(h), 0, 0);
    assert_int_equal(html_walk_next(&w, &t), 1);
    assert_true(html_tok_is(h, &t, "a"));
    size_t pos = t.attrs;
    html_attr a;
    char got[256] = "";
    while (html_attr_next(h, strlen(h), &pos, &a)) {
        char one[64];
        snprintf(one, sizeof one, "[%.*s=%.*s]", (int)a.name_len, h + a.name, (int)a.value_len,
                 h + a.value);
        strcat(got, one);
    }
    assert_string_equal(got, "[x=][y=b c][=z=][w=q]");
    assert_true(t.self_closing);
    assert_int_equal(html_walk_next(&w, &t), 0);
    html_walk_free(&w);
}

static void test_script_end(void **state)
{
    (void)state;
    RUNS("<script>a</script >", "a");
    RUNS("<script>a</script\t>", "a");
    RUNS("<SCRIPT>a</SCRIPT>", "a");
    RUNS("<script>a</script/>", "a");
    RUNS("<script>a</script x='>'>b", "a");
    RUNS("<script>a</scripts></script>", "a</scripts>");
    /* the double-escaped state: "<!--" then "<script>" keeps "</script>" inside */
    RUNS("<script><!--<script></script>x--></script>", "<!--<script></script>x-->");
    RUNS("<script><!--</script>b", "<!--");
    /* cut off by the end of the input: never runs */
    RUNS("<script>a", "");
    RUNS("<script>a</script", "");
    RUNS("<script>a</script x", "");
    /* a start tag cut off is dropped */
    RUNS("<script", "");
}

static void test_script_types(void **state)
{
    (void)state;
    RUNS("<script type=\"text/javascript\">a</script><script type=\"\">b</script>"
         "<script type>c</script><script type=\"MODULE\">d</script>"
         "<script type=\" text/javascript \">e</script><script language=\"JavaScript\">f</script>"
         "<script language=\"\">g</script>",
         "a|b|c|d|e|f|g");
    /* import maps and speculation rules are inline scripts to CSP */
    RUNS("<script type=importmap>{}</script><script type=speculationrules>{}</script>", "{}|{}");
    /* data blocks never run */
    RUNS("<script type=\"application/json\">a</script><script type=\"application/ld+json\">b"
         "</script><script type=\"text/template\">c</script><script language=vbscript>d</script>"
         "<script type=\"text/javascript; charset=utf-8\">e</script><script type=\" \">f</script>",
         "");
    /* src: the inline text is ignored; nonce and integrity change nothing */
    RUNS("<script src=x.js>a</script><script src>b</script>"
         "<script nonce=abc integrity=sha256-x>c</script>",
         "c");
}

static void test_foreign_content(void **state)
{
    (void)state;
    /* an SVG script runs; its text is data, not raw text */
    RUNS("<svg><script>a</script></svg>", "a");
    RUNS("<svg><script type=text/javascript>a</script></svg>", "a");
    /* <title>, <textarea>, <noscript> are plain SVG elements */
    RUNS("<svg><textarea><script>a</script></textarea></svg>", "a");
    RUNS("<svg><noscript><script>a</script></noscript></svg>", "a");
    /* svg <title> is an HTML integration point: an HTML script inside */
    RUNS("<svg><title><script>a<!--</script></title></svg>", "a<!--");
    RUNS("<svg><foreignObject><script>a</script></foreignObject></svg>", "a");
    /* <svg><script/> is empty (self-closing in foreign content) */
    RUNS("<svg><script/><script>a</script></svg>", "a");
    /* a breakout tag leaves foreign content */
    RUNS("<svg><p><title><script>a</script></title>", "");
    RUNS("<svg></p><title><script>a</script></title>", "");
    RUNS("<svg><font color=red><title><script>a</script></title>", "");
    RUNS("<svg><font><title><script>a</script></title></font></svg>", "a");
    /* </svg> ends it: <title> is HTML's RCDATA again */
    RUNS("<svg></svg><title><script>a</script></title>", "");
    /* MathML text integration points and annotation-xml */
    RUNS("<math><mi><script>a</script></mi></math>", "a");
    RUNS("<math><annotation-xml encoding=\"text/html\"><script>a</script></annotation-xml></math>",
         "a");
    RUNS("<math><annotation-xml><svg><script>a</script></svg></annotation-xml></math>", "a");
    /* deeper than HTML_WALK_MAX_DEPTH: counted, and closed in order */
    {
        size_t depth = 300, len = 0;
        char *h = malloc(depth * 8 + 200);
        assert_non_null(h);
        len += (size_t)sprintf(h + len, "<svg>");
        for (size_t i = 0; i < depth; i++)
            len += (size_t)sprintf(h + len, "<g>");
        for (size_t i = 0; i < depth; i++)
            len += (size_t)sprintf(h + len, "</g>");
        sprintf(h + len, "</svg><title><script>a</script></title><script>b</script>");
        RUNS(h, "b");
        free(h);
    }
    /* a MathML <script> is no script */
    RUNS("<math><script>a</script></math>", "");
    /* an SVG script whose text has markup or references: the DOM text is not
     * the bytes, so no hash; counted so the loader can warn */
    const char *h = "<svg><script>a&amp;b</script><script>a<!--c-->b</script>"
                    "<style>x&lt;</style><style>x<b>y</b></style></svg>";
    csp_page pg;
    assert_int_equal(csp_scan(h, strlen(h), &pg), 0);
    assert_int_equal(pg.nscript_hashes, 0);
    assert_int_equal(pg.nstyle_hashes, 0);
    assert_int_equal(pg.unhashable, 4);
    csp_page_free(&pg);
    /* an SVG <style> whose text is in CDATA sections (as SVG editors write
     * it), or split by comments: hashed as the DOM's text, the pieces joined */
    h = "<svg><style>x<![CDATA[y<z]]><!-- c -->w\r\n</style>"
        "<style><![CDATA[a&amp;]]></style></svg>";
    assert_int_equal(csp_scan(h, strlen(h), &pg), 0);
    assert_int_equal(pg.unhashable, 0);
    assert_int_equal(pg.nstyle_hashes, 2);
    char want[CSP_HASH_SIZE];
    assert_int_equal(csp_hash("xy<zw\n", 6, want), 0);
    assert_string_equal(pg.style_hashes[0], want);
    assert_int_equal(csp_hash("a&amp;", 6, want), 0);
    assert_string_equal(pg.style_hashes[1], want);
    csp_page_free(&pg);
    h = "<svg><style>&amp;<![CDATA[x]]></style><style><![CDATA[x]]><g/></style>";
    assert_int_equal(csp_scan(h, strlen(h), &pg), 0);
    assert_int_equal(pg.nstyle_hashes, 0);
    assert_int_equal(pg.unhashable, 2);
    csp_page_free(&pg);
    RUNS("<svg><script>a && b</script></svg>", "a && b"); /* no reference */
}

static void test_rewriter_script_kinds(void **state)
{
    (void)state;
    const char *h = "<script type=importmap>1</script><script type=\"application/ld+json\">2"
                    "</script><script type=text/template>3</script><script src=x>4</script>"
                    "<script>5";
    rewrite_span *sp = NULL;
    size_t n = 0;
    assert_int_equal(rewrite_html_scripts(h, strlen(h), RW_HTML, &sp, &n), 0);
    assert_int_equal(n, 5);
    assert_int_equal(sp[0].kind, RW_JSON);
    assert_true(sp[0].runs);
    assert_int_equal(sp[1].kind, RW_JSON);
    assert_false(sp[1].runs);
    assert_int_equal(sp[2].kind, RW_JS);
    assert_false(sp[2].runs);
    assert_false(sp[3].runs);
    assert_false(sp[4].runs);
    free(sp);
    /* XML: "<script/>" is empty; CDATA is skipped */
    h = "<svg><script/><![CDATA[<script>x</script>]]><script>y</script></svg>";
    assert_int_equal(rewrite_html_scripts(h, strlen(h), RW_XML, &sp, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(sp[0].len, 1);
    assert_memory_equal(h + sp[0].at, "y", 1);
    free(sp);
}

static void test_any_bytes(void **state)
{
    (void)state;
    /* deep nesting and garbage: linear, no crash, every offset in range */
    size_t n = 200000;
    char *h = malloc(n);
    assert_non_null(h);
    for (size_t i = 0; i < n; i++)
        h[i] = "<svg>g/ab'\"=!-[]"[(i * 7919u + i / 13) % 16];
    for (int flags = 0; flags < 4; flags++) {
        html_walk w;
        html_tok t;
        html_walk_init(&w, h, n, 0, (unsigned)flags);
        size_t last = 0;
        while (html_walk_next(&w, &t) > 0) {
            assert_true(t.start >= last && t.end <= n && t.text + t.text_len <= n);
            last = t.start;
        }
        html_walk_free(&w);
    }
    free(h);
    /* 100,000 nested SVG elements and as many unmatched end tags: linear
     * (each end tag looks at most HTML_WALK_MAX_DEPTH open elements) */
    size_t depth = 100000;
    h = malloc(depth * 7 + 16);
    assert_non_null(h);
    size_t len = (size_t)sprintf(h, "<svg>");
    for (size_t i = 0; i < depth; i++)
        len += (size_t)sprintf(h + len, "<g>");
    for (size_t i = 0; i < depth; i++)
        len += (size_t)sprintf(h + len, "</x>");
    html_walk w;
    html_tok t;
    size_t tokens = 0;
    html_walk_init(&w, h, len, 0, 0);
    while (html_walk_next(&w, &t) > 0)
        tokens++;
    assert_int_equal(tokens, 1 + 2 * depth);
    assert_int_equal(w.nopen, HTML_WALK_MAX_DEPTH);
    html_walk_free(&w);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_text_elements), cmocka_unit_test(test_noscript),
        cmocka_unit_test(test_comments),          cmocka_unit_test(test_cdata),
        cmocka_unit_test(test_template),          cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_script_end),        cmocka_unit_test(test_script_types),
        cmocka_unit_test(test_foreign_content),   cmocka_unit_test(test_rewriter_script_kinds),
        cmocka_unit_test(test_any_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
