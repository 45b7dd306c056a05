/* Unit tests for rewrite: base-path rewriting of text assets. The last tests
 * read the committed example site (examples/site/docs, built with base
 * /tomeclicker); run from the repository root, as `make unit` does. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tomed/mime.h"
#include "tomed/rewrite.h"

#define FROM "/tomeclicker"
#define PREVIEW "/preview/x"

/* Rewrite a C string; returns the result (a copy of the input when nothing
 * changed) and the number of replacements. */
static char *rw(const char *in, rewrite_kind kind, const char *to, size_t *count)
{
    char *out = NULL;
    size_t outn = 0, n = 0;
    assert_int_equal(rewrite_base(in, strlen(in), FROM, to, kind, &out, &outn, &n), 0);
    if (count)
        *count = n;
    if (!out) {
        assert_int_equal(n, 0);
        assert_int_equal(outn, 0);
        out = strdup(in);
        assert_non_null(out);
    } else {
        assert_true(n > 0);
        assert_int_equal(strlen(out), outn);
    }
    return out;
}

/* Expect in -> want with exactly `count` replacements. */
static void expect(const char *in, rewrite_kind kind, const char *to, const char *want,
                   size_t count)
{
    size_t n = 0;
    char *got = rw(in, kind, to, &n);
    if (strcmp(got, want) != 0 || n != count)
        print_error("in:   %s\nwant: %s (%zu)\ngot:  %s (%zu)\n", in, want, count, got, n);
    assert_string_equal(got, want);
    assert_int_equal(n, count);
    free(got);
}

/* Input that must never change, to the root or to another prefix. */
static void unchanged(const char *in, rewrite_kind kind)
{
    expect(in, kind, "", in, 0);
    expect(in, kind, PREVIEW, in, 0);
}

static void test_kind_for(void **state)
{
    (void)state;
    assert_int_equal(rewrite_kind_for("/index.html", "text/html; charset=utf-8"), RW_HTML);
    assert_int_equal(rewrite_kind_for("/a.js", "text/javascript; charset=utf-8"), RW_JS);
    assert_int_equal(rewrite_kind_for("/a.js", "Application/JavaScript"), RW_JS);
    assert_int_equal(rewrite_kind_for("/a.css", "text/css; charset=utf-8"), RW_CSS);
    assert_int_equal(rewrite_kind_for("/m.webmanifest", "application/manifest+json"), RW_JSON);
    assert_int_equal(rewrite_kind_for("/v.json", "application/json; charset=utf-8"), RW_JSON);
    assert_int_equal(rewrite_kind_for("/x.jsonld", "application/ld+json"), RW_JSON);
    assert_int_equal(rewrite_kind_for("/i.svg", "image/svg+xml; charset=utf-8"), RW_XML);
    assert_int_equal(rewrite_kind_for("/s.xml", "application/xml"), RW_XML);
    assert_int_equal(rewrite_kind_for("/f.rss", "application/rss+xml"), RW_XML);
    assert_int_equal(rewrite_kind_for("/robots.txt", "text/plain; charset=utf-8"), RW_ROBOTS);
    assert_int_equal(rewrite_kind_for("/sub/robots.txt", "text/plain"), RW_ROBOTS);
    /* other plain text is prose; robots.txt with another type is not robots */
    assert_int_equal(rewrite_kind_for("/notes.txt", "text/plain; charset=utf-8"), RW_NONE);
    assert_int_equal(rewrite_kind_for("/robots.txt", "text/html"), RW_HTML);
    assert_int_equal(rewrite_kind_for(NULL, "text/plain"), RW_NONE);
    assert_int_equal(rewrite_kind_for("/a.png", "image/png"), RW_NONE);
    assert_int_equal(rewrite_kind_for("/f.woff2", "font/woff2"), RW_NONE);
    assert_int_equal(rewrite_kind_for("/a.wasm", "application/wasm"), RW_NONE);
    assert_int_equal(rewrite_kind_for("/a.bin", "application/octet-stream"), RW_NONE);
    /* without a type, the extension decides */
    assert_int_equal(rewrite_kind_for("/a/B.HTML", NULL), RW_HTML);
    assert_int_equal(rewrite_kind_for("x.mjs", NULL), RW_JS);
    assert_int_equal(rewrite_kind_for("x.css", NULL), RW_CSS);
    assert_int_equal(rewrite_kind_for("manifest.webmanifest", NULL), RW_JSON);
    assert_int_equal(rewrite_kind_for("a.js.map", NULL), RW_JSON);
    assert_int_equal(rewrite_kind_for("i.svg", NULL), RW_XML);
    assert_int_equal(rewrite_kind_for("robots.txt", NULL), RW_ROBOTS);
    assert_int_equal(rewrite_kind_for("README", NULL), RW_NONE);
    assert_int_equal(rewrite_kind_for(".html", NULL), RW_NONE);
    assert_int_equal(rewrite_kind_for(NULL, NULL), RW_NONE);
    /* agrees with the mime module the loader uses */
    assert_int_equal(rewrite_kind_for("/a.html", mime_for_path("/a.html")), RW_HTML);
    assert_int_equal(rewrite_kind_for("/robots.txt", mime_for_path("/robots.txt")), RW_ROBOTS);
    assert_int_equal(rewrite_kind_for("/m.webmanifest", mime_for_path("/m.webmanifest")), RW_JSON);
    assert_int_equal(rewrite_kind_for("/i.svg", mime_for_path("/i.svg")), RW_XML);
    assert_string_equal(rewrite_kind_name(RW_HTML), "html");
    assert_string_equal(rewrite_kind_name(RW_ROBOTS), "robots");
    assert_string_equal(rewrite_kind_name((rewrite_kind)99), "none");
}

/* SvelteKit 2's start-up script in a prerendered page with relative paths:
 * base is computed from location, assets is absolute. */
static void test_startup_script_relative(void **state)
{
    (void)state;
    const char *page = "<div style=\"display: contents\">\n<script>\n{\n"
                       "__sveltekit_1vzh90 = {\n"
                       "base: new URL(\".\", location).pathname.slice(0, -1),\n"
                       "assets: \"/tomeclicker\"\n};\n"
                       "Promise.all([import(\"./_app/immutable/entry/start.D_WmpNkC.js\")]);\n"
                       "}\n</script>\n</div>";
    char *want = strdup(page);
    assert_non_null(want);
    char *p = strstr(want, "assets: \"/tomeclicker\"");
    assert_non_null(p);
    memmove(p + 9, p + 9 + strlen(FROM), strlen(p + 9 + strlen(FROM)) + 1); /* assets: "" */
    expect(page, RW_HTML, "", want, 1);
    free(want);

    size_t n;
    char *got = rw(page, RW_HTML, PREVIEW, &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(got, "assets: \"/preview/x\"\n"));
    assert_non_null(strstr(got, "new URL(\".\", location)"));
    free(got);
}

/* A build without relative paths writes base as a string too. */
static void test_startup_script_absolute(void **state)
{
    (void)state;
    expect("<script>__sveltekit_x = {\n\tbase: \"/tomeclicker\",\n\tassets: \"/tomeclicker\"\n};"
           "</script>",
           RW_HTML, "",
           "<script>__sveltekit_x = {\n\tbase: \"\",\n\tassets: \"\"\n};</script>", 2);
    expect("<script>__sveltekit_x = {\n\tbase: \"/tomeclicker\",\n\tassets: \"/tomeclicker\"\n};"
           "</script>",
           RW_HTML, PREVIEW,
           "<script>__sveltekit_x = {\n\tbase: \"/preview/x\",\n\tassets: \"/preview/x\"\n};"
           "</script>",
           2);
}

static void test_manifest(void **state)
{
    (void)state;
    const char *m = "{\n\t\"name\": \"TomeClicker\",\n\t\"start_url\": \"/tomeclicker/\",\n"
                    "\t\"scope\": \"/tomeclicker/\",\n"
                    "\t\"icons\": [{ \"src\": \"favicon.png\" }]\n}";
    expect(m, RW_JSON, "",
           "{\n\t\"name\": \"TomeClicker\",\n\t\"start_url\": \"/\",\n\t\"scope\": \"/\",\n"
           "\t\"icons\": [{ \"src\": \"favicon.png\" }]\n}",
           2);
    expect(m, RW_JSON, PREVIEW,
           "{\n\t\"name\": \"TomeClicker\",\n\t\"start_url\": \"/preview/x/\",\n"
           "\t\"scope\": \"/preview/x/\",\n\t\"icons\": [{ \"src\": \"favicon.png\" }]\n}",
           2);
    /* A bare base in JSON is a URL: to the root it is "/", never "". */
    expect("{\"start_url\":\"/tomeclicker\",\"scope\":\"/tomeclicker\"}", RW_JSON, "",
           "{\"start_url\":\"/\",\"scope\":\"/\"}", 2);
    expect("{\"start_url\":\"/tomeclicker\"}", RW_JSON, PREVIEW, "{\"start_url\":\"/preview/x\"}",
           1);
    expect("{\"start_url\":\"/tomeclicker?source=pwa\",\"id\":\"/tomeclicker#a\"}", RW_JSON, "",
           "{\"start_url\":\"/?source=pwa\",\"id\":\"/#a\"}", 2);
    expect("{\"start_url\":\"/tomeclicker?source=pwa\"}", RW_JSON, PREVIEW,
           "{\"start_url\":\"/preview/x?source=pwa\"}", 1);
    /* JSON has only double-quoted strings */
    unchanged("{'a': '/tomeclicker/'}", RW_JSON);
    unchanged("{\"a\": \"x/tomeclicker/\", \"b\": \"https://h/tomeclicker/\"}", RW_JSON);
}

/* A SPA fallback page (adapter-static `fallback: '200.html'`) is rendered
 * without relative paths: everything is absolute. */
static const char fallback_page[] =
    "<!doctype html>\n<html lang=\"en\">\n\t<head>\n\t\t<meta charset=\"utf-8\" />\n"
    "\t\t<link rel=\"icon\" href=\"/tomeclicker/favicon.png\" />\n"
    "\t\t<link rel=\"manifest\" href=\"/tomeclicker/manifest.webmanifest\" />\n"
    "\t\t<link href=\"/tomeclicker/_app/immutable/entry/start.D_WmpNkC.js\" "
    "rel=\"modulepreload\">\n"
    "\t\t<link href=\"/tomeclicker/_app/immutable/chunks/yX51dH24.js\" rel=\"modulepreload\">\n"
    "\t\t<link href=\"/tomeclicker/_app/immutable/assets/0.Cljn5r8F.css\" rel=\"stylesheet\">\n"
    "\t</head>\n\t<body data-sveltekit-preload-data=\"hover\">\n"
    "\t\t<div style=\"display: contents\">\n\t\t\t<script>\n\t\t\t\t{\n"
    "\t\t\t\t\t__sveltekit_1vzh90 = {\n\t\t\t\t\t\tbase: \"/tomeclicker\",\n"
    "\t\t\t\t\t\tassets: \"/tomeclicker\"\n\t\t\t\t\t};\n\n"
    "\t\t\t\t\tconst element = document.currentScript.parentElement;\n\n"
    "\t\t\t\t\tPromise.all([\n"
    "\t\t\t\t\t\timport(\"/tomeclicker/_app/immutable/entry/start.D_WmpNkC.js\"),\n"
    "\t\t\t\t\t\timport(\"/tomeclicker/_app/immutable/entry/app.IokiD3n2.js\")\n"
    "\t\t\t\t\t]).then(([kit, app]) => {\n\t\t\t\t\t\tkit.start(app, element);\n"
    "\t\t\t\t\t});\n\t\t\t\t}\n\t\t\t</script>\n\t\t</div>\n\t</body>\n</html>\n";

/* Replace every "/tomeclicker" of s by base (naive, for building the
 * expected output of inputs where every occurrence is a reference). */
static char *replace_all(const char *s, const char *base)
{
    size_t cap = strlen(s) * 2 + 64, w = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (const char *p = s; *p;) {
        if (strncmp(p, FROM, strlen(FROM)) == 0) {
            memcpy(out + w, base, strlen(base));
            w += strlen(base);
            p += strlen(FROM);
        } else {
            out[w++] = *p++;
        }
    }
    out[w] = '\0';
    return out;
}

static void test_spa_fallback(void **state)
{
    (void)state;
    /* 5 links + base + assets + 2 imports */
    char *want = replace_all(fallback_page, PREVIEW);
    expect(fallback_page, RW_HTML, PREVIEW, want, 9);
    free(want);

    size_t n;
    char *got = rw(fallback_page, RW_HTML, "", &n);
    assert_int_equal(n, 9);
    assert_non_null(strstr(got, "href=\"/favicon.png\""));
    assert_non_null(strstr(got, "href=\"/_app/immutable/entry/start.D_WmpNkC.js\""));
    assert_non_null(strstr(got, "base: \"\",\n"));
    assert_non_null(strstr(got, "assets: \"\"\n"));
    assert_non_null(strstr(got, "import(\"/_app/immutable/entry/app.IokiD3n2.js\")"));
    assert_null(strstr(got, FROM));
    free(got);
}

/* Vite chunks carry the configured base as a fallback when the global is
 * missing; minified with template literals, or as an object. */
static void test_js_chunk_fallback(void **state)
{
    (void)state;
    const char *chunk = "var S=globalThis.__sveltekit_1vzh90?.base??`/tomeclicker`,"
                        "de=globalThis.__sveltekit_1vzh90?.assets??S??``,fe=`1.0.0`";
    expect(chunk, RW_JS, "",
           "var S=globalThis.__sveltekit_1vzh90?.base??``,"
           "de=globalThis.__sveltekit_1vzh90?.assets??S??``,fe=`1.0.0`",
           1);
    expect(chunk, RW_JS, PREVIEW,
           "var S=globalThis.__sveltekit_1vzh90?.base??`/preview/x`,"
           "de=globalThis.__sveltekit_1vzh90?.assets??S??``,fe=`1.0.0`",
           1);
    expect("let e={base:\"/tomeclicker\",assets:\"/tomeclicker\"};", RW_JS, "",
           "let e={base:\"\",assets:\"\"};", 2);
    expect("let e={base:'/tomeclicker',assets:'/tomeclicker'};", RW_JS, PREVIEW,
           "let e={base:'/preview/x',assets:'/preview/x'};", 2);
    expect("export let base = \"/tomeclicker\";", RW_JS, "", "export let base = \"\";", 1);
    expect("fetch(\"/tomeclicker/_app/version.json\")", RW_JS, "",
           "fetch(\"/_app/version.json\")", 1);
    expect("fetch(`/tomeclicker/api/${id}.json`)", RW_JS, PREVIEW,
           "fetch(`/preview/x/api/${id}.json`)", 1);
    /* a string holding markup with escaped quotes */
    expect("h='<a href=\\'/tomeclicker\\'>'", RW_JS, PREVIEW, "h='<a href=\\'/preview/x\\'>'", 1);
}

/* Navigations are URLs: a bare base to the root must become "/". This is
 * what SvelteKit writes into prerendered redirect pages. */
static void test_js_navigation(void **state)
{
    (void)state;
    expect("location.href=\"/tomeclicker\";", RW_JS, "", "location.href=\"/\";", 1);
    expect("location.href = '/tomeclicker';", RW_JS, "", "location.href = '/';", 1);
    expect("window.location = \"/tomeclicker\"", RW_JS, "", "window.location = \"/\"", 1);
    expect("location.assign(\"/tomeclicker\")", RW_JS, "", "location.assign(\"/\")", 1);
    expect("location.replace( '/tomeclicker' )", RW_JS, "", "location.replace( '/' )", 1);
    expect("location.href=\"/tomeclicker\";", RW_JS, PREVIEW, "location.href=\"/preview/x\";", 1);
    /* a comparison or a string method is not a navigation: base value */
    expect("if(location.href==\"/tomeclicker\")", RW_JS, "", "if(location.href==\"\")", 1);
    expect("p.replace(\"/tomeclicker\",\"\")", RW_JS, "", "p.replace(\"\",\"\")", 1);
    expect("myhref=\"/tomeclicker\"", RW_JS, "", "myhref=\"\"", 1);
    const char *redirect = "<script>location.href=\"/tomeclicker\";</script>"
                           "<meta http-equiv=\"refresh\" content=\"0;url=/tomeclicker\">";
    expect(redirect, RW_HTML, "",
           "<script>location.href=\"/\";</script>"
           "<meta http-equiv=\"refresh\" content=\"0;url=/\">",
           2);
    expect(redirect, RW_HTML, PREVIEW,
           "<script>location.href=\"/preview/x\";</script>"
           "<meta http-equiv=\"refresh\" content=\"0;url=/preview/x\">",
           2);
}

static void test_query_and_fragment(void **state)
{
    (void)state;
    expect("x(\"/tomeclicker?a=1\",'/tomeclicker#top')", RW_JS, "", "x(\"/?a=1\",'/#top')", 2);
    expect("x(\"/tomeclicker?a=1\",'/tomeclicker#top')", RW_JS, PREVIEW,
           "x(\"/preview/x?a=1\",'/preview/x#top')", 2);
    expect("<a href=\"/tomeclicker?a\">a</a><a href='/tomeclicker#b'>b</a>", RW_HTML, "",
           "<a href=\"/?a\">a</a><a href='/#b'>b</a>", 2);
    expect(".a{background:url(/tomeclicker?v=2)}", RW_CSS, "", ".a{background:url(/?v=2)}", 1);
}

static void test_css(void **state)
{
    (void)state;
    const char *css = "@font-face{font-family:T;src:url(/tomeclicker/fonts/x.woff2) "
                      "format(\"woff2\")}\n"
                      ".a{background:url( \"/tomeclicker/i/a.png\" )}\n"
                      ".b{background:URL('/tomeclicker/i/b.png')}\n"
                      "@import \"/tomeclicker/extra.css\";\n"
                      ".c{background:url(  /tomeclicker/i/c.png  )}";
    char *want = replace_all(css, PREVIEW);
    expect(css, RW_CSS, PREVIEW, want, 5);
    free(want);
    want = replace_all(css, "");
    expect(css, RW_CSS, "", want, 5);
    free(want);
    /* the bare base as a URL is the root */
    expect(".a{background:url(/tomeclicker)}", RW_CSS, "", ".a{background:url(/)}", 1);
    expect(".a{background:url('/tomeclicker')}", RW_CSS, "", ".a{background:url('/')}", 1);
    /* not url(: a custom function, or text */
    unchanged(".a{background:myurl(/tomeclicker/x)} .b{grid-area: a /tomeclicker/b}", RW_CSS);
    unchanged(".a{background:url(/tomeclicker-x/a.png),url(/tomeclickers/b.png)}", RW_CSS);
    unchanged(".a{background:url(https://h/tomeclicker/a.png),url(//h/tomeclicker/b.png)}",
              RW_CSS);
}

static void test_robots(void **state)
{
    (void)state;
    const char *robots = "User-agent: *\nAllow: /tomeclicker/\nDisallow: /tomeclicker/private\r\n"
                         "  disallow:/tomeclicker\n"
                         "Disallow : /tomeclicker*.json$\n"
                         "Sitemap: /tomeclicker/sitemap.xml\n"
                         "Sitemap: https://example.com/tomeclicker/sitemap.xml\n"
                         "# Disallow: /tomeclicker/\n"
                         "Disallow: /tomeclickers\n"
                         "Disallow: /tomeclicker-x/\n"
                         "User-agent: /tomeclicker/\n"
                         "Disallow: /a /tomeclicker/\n"
                         "Disallow: /tomeclicker";
    expect(robots, RW_ROBOTS, "",
           "User-agent: *\nAllow: /\nDisallow: /private\r\n"
           "  disallow:/\n"
           "Disallow : /*.json$\n"
           "Sitemap: /sitemap.xml\n"
           "Sitemap: https://example.com/tomeclicker/sitemap.xml\n"
           "# Disallow: /tomeclicker/\n"
           "Disallow: /tomeclickers\n"
           "Disallow: /tomeclicker-x/\n"
           "User-agent: /tomeclicker/\n"
           "Disallow: /a /tomeclicker/\n"
           "Disallow: /",
           6);
    expect("Allow: /tomeclicker/\nDisallow: /tomeclicker\n", RW_ROBOTS, PREVIEW,
           "Allow: /preview/x/\nDisallow: /preview/x\n", 2);
    /* the same text as another kind is untouched where it is prose */
    unchanged("Allow: /tomeclicker/\n", RW_HTML);
}

/* Things that look close but are not references to the base. */
static void test_near_misses(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        rewrite_kind kind;
    } cases[] = {
        {"<a href=\"/tomeclicker-x/\">x</a>", RW_HTML},
        {"<a href=\"/tomeclickers\">x</a>", RW_HTML},
        {"<a href=\"/tomeclicker.json\">x</a>", RW_HTML},
        {"<a href=\"/tomeclick/\">x</a>", RW_HTML},
        {"<a href=\"/TomeClicker/\">x</a>", RW_HTML},
        {"<a href=\"https://example.com/tomeclicker/\">x</a>", RW_HTML},
        {"<a href=\"//cdn.example/tomeclicker/\">x</a>", RW_HTML},
        {"<a href=\"./tomeclicker/\">x</a><a href=\"../tomeclicker/\">y</a>", RW_HTML},
        {"<a href=\"x/tomeclicker/\">x</a>", RW_HTML},
        {"<p>see /tomeclicker/about</p>", RW_HTML},
        {"<p>see \"/tomeclicker/about\" or '/tomeclicker/'</p>", RW_HTML},
        {"<p>url(/tomeclicker/x)</p>", RW_HTML},
        {"<!-- <a href=\"/tomeclicker/\">old</a> -->", RW_HTML},
        {"<title>\"/tomeclicker/\"</title><textarea>'/tomeclicker/'</textarea>", RW_HTML},
        {"<img alt=\"see /tomeclicker/ for more\" title=\"x /tomeclicker\">", RW_HTML},
        {"<img src=\"a.png\" data-note=\"a,/tomeclicker/b\">", RW_HTML},
        {"localStorage.getItem(`tomeclicker.count`)", RW_JS},
        {"const tomeclicker = 1; x.tomeclicker = tomeclicker/2;", RW_JS},
        {"const r = a/tomeclicker/g;", RW_JS},
        {"// see /tomeclicker/about\n/* and /tomeclicker/x */", RW_JS},
        {"x = \"https://example.com/tomeclicker/\"", RW_JS},
        {"x = \"a /tomeclicker/\"", RW_JS},
        {"x = \"/tomeclicker-x\" + '/tomeclickers' + `/tomeclicker_x` + \"/tomeclicker.js\"",
         RW_JS},
        {"x = \"/tomeclicker", RW_JS},
        {"x = \"/tomeclicker x\"", RW_JS},
        {"x = \"/tomeclicker'", RW_JS},
        {"/tomeclicker/ at the very start", RW_JS},
        {"{\"a\":\"\\/tomeclicker\\/\"}", RW_JSON},
        {"<svg><text>/tomeclicker/</text><![CDATA[ \"/tomeclicker/\" ]]></svg>", RW_XML},
        {"<urlset><url><loc>https://example.com/tomeclicker/</loc></url></urlset>", RW_XML},
        {"Allow: /tomeclicker/", RW_NONE},
        {"", RW_HTML},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        unchanged(cases[i].in, cases[i].kind);
}

/* A quoted path in a JS comment is rewritten: there is no JS lexer, and the
 * change is harmless. Documented in rewrite.h. */
static void test_js_comment_documented(void **state)
{
    (void)state;
    expect("// fallback \"/tomeclicker/\"\nx()", RW_JS, PREVIEW,
           "// fallback \"/preview/x/\"\nx()", 1);
}

static void test_html_attribute_contexts(void **state)
{
    (void)state;
    /* unquoted, single-quoted, blanks around '=' and inside the value */
    expect("<a href=/tomeclicker/x>a</a><a href='/tomeclicker/y'>b</a>"
           "<a href = \" /tomeclicker/z \">c</a>",
           RW_HTML, PREVIEW,
           "<a href=/preview/x/x>a</a><a href='/preview/x/y'>b</a>"
           "<a href = \" /preview/x/z \">c</a>",
           3);
    /* a bare base in an attribute is a URL */
    expect("<a href=\"/tomeclicker\">h</a><a href=/tomeclicker>i</a>", RW_HTML, "",
           "<a href=\"/\">h</a><a href=/>i</a>", 2);
    /* '>' inside a quoted value does not end the tag */
    expect("<a title=\"a>b\" href=\"/tomeclicker/x\">a</a>", RW_HTML, "",
           "<a title=\"a>b\" href=\"/x\">a</a>", 1);
    /* srcset and imagesrcset candidates */
    expect("<img srcset=\"/tomeclicker/a.png 1x, /tomeclicker/b.png 2x,/tomeclicker/c.png 3x\">"
           "<link rel=preload as=image imagesrcset=\"/tomeclicker/a.png 1x, /tomeclicker/b.png "
           "2x\">",
           RW_HTML, PREVIEW,
           "<img srcset=\"/preview/x/a.png 1x, /preview/x/b.png 2x,/preview/x/c.png 3x\">"
           "<link rel=preload as=image imagesrcset=\"/preview/x/a.png 1x, /preview/x/b.png "
           "2x\">",
           5);
    /* style attributes, event handlers, meta refresh */
    expect("<div style=\"background:url(/tomeclicker/a.png)\" "
           "onclick=\"location.href='/tomeclicker/b'\"></div>"
           "<meta http-equiv=\"refresh\" content=\"0; URL=/tomeclicker/c\">",
           RW_HTML, "",
           "<div style=\"background:url(/a.png)\" onclick=\"location.href='/b'\"></div>"
           "<meta http-equiv=\"refresh\" content=\"0; URL=/c\">",
           3);
    /* upper-case tags and attributes; the <base> element */
    expect("<BASE HREF=\"/tomeclicker/\"><IMG SRC=\"/tomeclicker/a.png\">", RW_HTML, "",
           "<BASE HREF=\"/\"><IMG SRC=\"/a.png\">", 2);
    /* a tag cut off by the end of input is dropped by browsers, and by the
     * shared walk (html.c): nothing in it is a URL */
    unchanged("<a href=\"/tomeclicker/x", RW_HTML);
    /* end tags have no meaningful attributes */
    unchanged("</a href=\"/tomeclicker/\">", RW_HTML);
}

static void test_html_script_and_style_bodies(void **state)
{
    (void)state;
    /* <style> text is CSS, <script> text is JS; JSON blocks are URLs */
    expect("<style>.a{background:url(/tomeclicker/a.png)}</style>"
           "<script type=\"module\">import(\"/tomeclicker/x.js\")</script>"
           "<script type=\"application/json\">{\"u\":\"/tomeclicker\"}</script>"
           "<script type=\"importmap\">{\"imports\":{\"a\":\"/tomeclicker\"}}</script>"
           "<script type=\"Application/LD+JSON\">{\"url\":\"/tomeclicker\"}</script>"
           "<script>var b=\"/tomeclicker\"</script>",
           RW_HTML, "",
           "<style>.a{background:url(/a.png)}</style>"
           "<script type=\"module\">import(\"/x.js\")</script>"
           "<script type=\"application/json\">{\"u\":\"/\"}</script>"
           "<script type=\"importmap\">{\"imports\":{\"a\":\"/\"}}</script>"
           "<script type=\"Application/LD+JSON\">{\"url\":\"/\"}</script>"
           "<script>var b=\"\"</script>",
           6);
    /* script text ends only at </script followed by a blank, '/' or '>' */
    expect("<script>a=\"</scripts>\";b=\"/tomeclicker\"</SCRIPT >", RW_HTML, "",
           "<script>a=\"</scripts>\";b=\"\"</SCRIPT >", 1);
    /* markup inside script text is not HTML */
    expect("<script>x='<a href=/tomeclicker/p>'</script>", RW_HTML, "",
           "<script>x='<a href=/tomeclicker/p>'</script>", 0);
    /* comments and raw text elements do not hide what follows them */
    expect("<!-- x --><title>t</title><textarea>/tomeclicker/</textarea>"
           "<a href=\"/tomeclicker/\">", RW_HTML, "",
           "<!-- x --><title>t</title><textarea>/tomeclicker/</textarea><a href=\"/\">", 1);
    expect("<!--><a href=\"/tomeclicker/\"><!---><img src=\"/tomeclicker/i\">", RW_HTML, "",
           "<!--><a href=\"/\"><!---><img src=\"/i\">", 2);
    /* <noscript> markup is for script-less clients: rewritten */
    expect("<noscript><link rel=stylesheet href=\"/tomeclicker/ns.css\"></noscript>", RW_HTML,
           "", "<noscript><link rel=stylesheet href=\"/ns.css\"></noscript>", 1);
    /* <plaintext> makes the rest of the document text */
    unchanged("<plaintext><a href=\"/tomeclicker/\">", RW_HTML);
    /* unterminated script text is still JS */
    expect("<script>a=\"/tomeclicker/x\"", RW_HTML, "", "<script>a=\"/x\"", 1);
}

static void test_xml_svg(void **state)
{
    (void)state;
    const char *svg = "<?xml version=\"1.0\"?>\n"
                      "<?xml-stylesheet type=\"text/css\" href=\"/tomeclicker/s.css\"?>\n"
                      "<svg xmlns=\"http://www.w3.org/2000/svg\" "
                      "xmlns:xlink=\"http://www.w3.org/1999/xlink\">"
                      "<style>.a{fill:url(/tomeclicker/g.svg#x)}</style>"
                      "<image href=\"/tomeclicker/a.png\"/>"
                      "<use xlink:href=\"/tomeclicker/sprite.svg#i\"/>"
                      "<script/><text>/tomeclicker/ \"/tomeclicker/\"</text>"
                      "<![CDATA[ '/tomeclicker/' ]]></svg>";
    expect(svg, RW_XML, PREVIEW,
           "<?xml version=\"1.0\"?>\n"
           "<?xml-stylesheet type=\"text/css\" href=\"/preview/x/s.css\"?>\n"
           "<svg xmlns=\"http://www.w3.org/2000/svg\" "
           "xmlns:xlink=\"http://www.w3.org/1999/xlink\">"
           "<style>.a{fill:url(/preview/x/g.svg#x)}</style>"
           "<image href=\"/preview/x/a.png\"/>"
           "<use xlink:href=\"/preview/x/sprite.svg#i\"/>"
           "<script/><text>/tomeclicker/ \"/tomeclicker/\"</text>"
           "<![CDATA[ '/tomeclicker/' ]]></svg>",
           4);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    char *out = (char *)"sentinel";
    size_t outn = 7, count = 7;
    const char *in = "\"/tomeclicker/\"";
    size_t n = strlen(in);
    static const char *const bad_from[] = {"", "/", "tomeclicker", "/tomeclicker/", "/a b",
                                           "/a\"b", "/a//b", "/a<b", "/a'b", "/a(b", "/a,b"};
    for (size_t i = 0; i < sizeof(bad_from) / sizeof(bad_from[0]); i++) {
        assert_int_equal(rewrite_base(in, n, bad_from[i], "", RW_JS, &out, &outn, &count), -1);
        assert_null(out);
        assert_int_equal(count, 0);
    }
    static const char *const bad_to[] = {"/", "x", "/x/", "/a\"b", "/a b", "/a\nb"};
    for (size_t i = 0; i < sizeof(bad_to) / sizeof(bad_to[0]); i++)
        assert_int_equal(rewrite_base(in, n, FROM, bad_to[i], RW_JS, &out, &outn, &count), -1);
    assert_int_equal(rewrite_base(in, n, NULL, "", RW_JS, &out, &outn, &count), -1);
    assert_int_equal(rewrite_base(in, n, FROM, NULL, RW_JS, &out, &outn, &count), -1);
    assert_int_equal(rewrite_base(in, n, FROM, "", RW_JS, NULL, &outn, &count), -1);
    assert_int_equal(rewrite_base(in, n, FROM, "", RW_JS, &out, NULL, &count), -1);
    assert_int_equal(rewrite_base(in, n, FROM, "", RW_JS, &out, &outn, NULL), -1);
    assert_int_equal(rewrite_base(NULL, 3, FROM, "", RW_JS, &out, &outn, &count), -1);
    /* valid but nothing to do */
    assert_int_equal(rewrite_base(NULL, 0, FROM, "", RW_JS, &out, &outn, &count), 0);
    assert_null(out);
    assert_int_equal(rewrite_base(in, n, FROM, FROM, RW_JS, &out, &outn, &count), 0);
    assert_null(out);
    assert_int_equal(count, 0);
    assert_int_equal(rewrite_base(in, n, FROM, "", RW_NONE, &out, &outn, &count), 0);
    assert_null(out);
    assert_int_equal(rewrite_base(in, n, FROM, "", (rewrite_kind)42, &out, &outn, &count), 0);
    assert_null(out);
    /* unusual but valid bases */
    assert_int_equal(rewrite_base(in, n, FROM, "/a-b.c_d~e/%20/@x+y!$:z", RW_JS, &out, &outn,
                                  &count), 0);
    assert_int_equal(count, 1);
    assert_string_equal(out, "\"/a-b.c_d~e/%20/@x+y!$:z/\"");
    free(out);
}

/* Inputs holding NUL bytes are fine: they are lengths, not strings. */
static void test_embedded_nul(void **state)
{
    (void)state;
    const char in[] = "a\0\"/tomeclicker/\"\0b";
    char *out = NULL;
    size_t outn = 0, count = 0;
    assert_int_equal(rewrite_base(in, sizeof(in) - 1, FROM, "", RW_JS, &out, &outn, &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(outn, sizeof(in) - 1 - strlen(FROM));
    assert_memory_equal(out, "a\0\"/\"\0b", outn);
    free(out);
}

static const char *const samples[] = {
    fallback_page,
    "var S=globalThis.__sveltekit_1vzh90?.base??`/tomeclicker`",
    "{\"start_url\": \"/tomeclicker/\", \"scope\": \"/tomeclicker\"}",
    ".a{background:url(/tomeclicker/a.png)}",
    "Allow: /tomeclicker/\nDisallow: /tomeclicker\n",
};
static const rewrite_kind sample_kinds[] = {RW_HTML, RW_JS, RW_JSON, RW_CSS, RW_ROBOTS};

/* Rewriting is a fixpoint: once moved, nothing refers to the old base, and
 * moving to a prefix and back restores every byte. */
static void test_idempotence_and_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        const char *to[] = {"", PREVIEW};
        for (size_t t = 0; t < 2; t++) {
            char *out = NULL, *again = NULL;
            size_t outn, count, count2;
            assert_int_equal(rewrite_base(samples[i], strlen(samples[i]), FROM, to[t],
                                          sample_kinds[i], &out, &outn, &count),
                             0);
            assert_non_null(out);
            assert_true(count > 0);
            /* again from the old base: nothing left */
            assert_int_equal(
                rewrite_base(out, outn, FROM, to[t], sample_kinds[i], &again, &outn, &count2), 0);
            assert_null(again);
            assert_int_equal(count2, 0);
            free(out);
        }
        /* there and back: byte-identical */
        char *there = NULL, *back = NULL;
        size_t n1, n2, c1, c2;
        assert_int_equal(rewrite_base(samples[i], strlen(samples[i]), FROM, PREVIEW,
                                      sample_kinds[i], &there, &n1, &c1),
                         0);
        assert_int_equal(rewrite_base(there, n1, PREVIEW, FROM, sample_kinds[i], &back, &n2, &c2),
                         0);
        assert_int_equal(c1, c2);
        assert_int_equal(n2, strlen(samples[i]));
        assert_memory_equal(back, samples[i], n2);
        /* from == to is a no-op */
        char *same = NULL;
        assert_int_equal(rewrite_base(there, n1, PREVIEW, PREVIEW, sample_kinds[i], &same, &n2,
                                      &c2), 0);
        assert_null(same);
        assert_int_equal(c2, 0);
        free(there);
        free(back);
    }
}

/* The count is exact: a same-length target changes exactly count windows. */
static void test_count_accuracy(void **state)
{
    (void)state;
    char buf[4096];
    size_t w = 0;
    for (int k = 0; k < 100; k++)
        w += (size_t)snprintf(buf + w, sizeof(buf) - w, "a[%d]=\"/tomeclicker/%d\";", k, k);
    char *out = NULL;
    size_t outn, count;
    assert_int_equal(rewrite_base(buf, w, FROM, "/TOMECLICKER", RW_JS, &out, &outn, &count), 0);
    assert_int_equal(count, 100);
    assert_int_equal(outn, w);
    size_t diffs = 0;
    for (size_t i = 0; i + strlen(FROM) <= w; i++)
        if (memcmp(out + i, "/TOMECLICKER", strlen(FROM)) == 0 &&
            memcmp(buf + i, FROM, strlen(FROM)) == 0)
            diffs++;
    assert_int_equal(diffs, 100);
    free(out);
    assert_int_equal(rewrite_base(buf, w, FROM, "", RW_JS, &out, &outn, &count), 0);
    assert_int_equal(count, 100);
    assert_int_equal(outn, w - 100 * strlen(FROM));
    free(out);
}

/* A small deterministic fuzz over the characters that matter to the rules:
 * no crash, no read out of bounds (run under ASan), consistent results. */
static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void test_random_inputs(void **state)
{
    (void)state;
    static const char *const atoms[] = {
        "/tomeclicker", "/tomeclicker/", "<", ">", "\"", "'", "`", "=", " ", "\n", "\r", "/",
        "?", "#", "(", ")", "url(", "url=", ",", "<script>", "</script>", "<style>",
        "</style>", "<!--", "-->", "<a href=", " srcset=", "<title>", "</title>", "\\", "\0",
        "Allow:", "x", "-", "location.href=", "<![CDATA[", "]]>", "<?", "/>", "<plaintext>"};
    uint32_t seed = 12345;
    char buf[512];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 0, parts = lcg(&seed) % 40;
        for (size_t p = 0; p < parts; p++) {
            const char *a = atoms[lcg(&seed) % (sizeof(atoms) / sizeof(atoms[0]))];
            size_t len = a[0] ? strlen(a) : 1;
            if (n + len > sizeof(buf))
                break;
            memcpy(buf + n, a, len);
            n += len;
        }
        rewrite_kind kind = (rewrite_kind)(lcg(&seed) % 7);
        const char *to = (lcg(&seed) & 1) ? "" : "/TOMECLICKER";
        char *out = NULL;
        size_t outn = 0, count = 0;
        assert_int_equal(rewrite_base(buf, n, FROM, to, kind, &out, &outn, &count), 0);
        assert_true((out == NULL) == (count == 0));
        if (out && to[0]) {
            assert_int_equal(outn, n); /* same length target */
            /* and back again restores the input */
            char *back = NULL;
            size_t bn, bc;
            assert_int_equal(rewrite_base(out, outn, "/TOMECLICKER", FROM, kind, &back, &bn, &bc),
                             0);
            assert_int_equal(bc, count);
            assert_memory_equal(back, buf, n);
            free(back);
        }
        free(out);
    }
}

/* ---------------------------------------------------------------- the example site */

#define SITE "examples/site/docs"

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0) {
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

/* An independent, naive count of "/tomeclicker" references: after a quote,
 * '(' or a blank, before a quote, '/', ')', '?', '#', a blank or the end. */
static size_t naive_refs(const char *s, size_t n)
{
    size_t c = 0, fl = strlen(FROM);
    for (size_t i = 1; i + fl <= n; i++) {
        if (memcmp(s + i, FROM, fl) != 0 || !strchr("\"'`( \t", s[i - 1]) || !s[i - 1])
            continue;
        if (i + fl == n || (s[i + fl] && strchr("\"'`/)?# \t\r\n", s[i + fl])))
            c++;
    }
    return c;
}

typedef struct site_file {
    char path[512]; /* relative to SITE, with a leading '/' */
} site_file;

static void walk(const char *dir, const char *rel, site_file *files, size_t *nfiles, size_t cap)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char full[1024], r[512];
        snprintf(full, sizeof(full), "%s/%s", dir, e->d_name);
        snprintf(r, sizeof(r), "%s/%s", rel, e->d_name);
        struct stat st;
        assert_int_equal(stat(full, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            walk(full, r, files, nfiles, cap);
        } else if (S_ISREG(st.st_mode) && *nfiles < cap) {
            snprintf(files[*nfiles].path, sizeof(files[*nfiles].path), "%s", r);
            (*nfiles)++;
        }
    }
    closedir(d);
}

/* Changes per file when the site moves to "/", established by reading the
 * build: each prerendered page's start-up script carries assets, the
 * manifest has start_url and scope, robots.txt one Allow line. Files under
 * _app/immutable/ have content-hashed names, so they are checked against the
 * naive count instead, and in total (one chunk holds the fallback base). */
static const struct {
    const char *path;
    size_t count;
} site_expect[] = {
    {"/index.html", 1},           {"/about.html", 1},
    {"/settings.html", 1},        {"/docs/guide.html", 1},
    {"/manifest.webmanifest", 2}, {"/robots.txt", 1},
    {"/_app/version.json", 0},
};

static void test_example_site(void **state)
{
    (void)state;
    static site_file files[512];
    size_t nfiles = 0, text_files = 0, immutable_total = 0, total = 0, matched_expect = 0;
    walk(SITE, "", files, &nfiles, sizeof(files) / sizeof(files[0]));
    assert_true(nfiles >= 10);

    for (size_t f = 0; f < nfiles; f++) {
        const char *rel = files[f].path;
        rewrite_kind kind = rewrite_kind_for(rel, mime_for_path(rel));
        if (kind == RW_NONE)
            continue;
        text_files++;
        char full[1024];
        int fl = snprintf(full, sizeof(full), "%s%s", SITE, rel);
        assert_true(fl > 0 && (size_t)fl < sizeof(full));
        size_t n = 0;
        char *in = read_file(full, &n);
        assert_non_null(in);

        /* to the root */
        char *out = NULL, *again = NULL;
        size_t outn = 0, count = 0, c2 = 0, n2 = 0;
        assert_int_equal(rewrite_base(in, n, FROM, "", kind, &out, &outn, &count), 0);
        const char *res = out ? out : in;
        size_t resn = out ? outn : n;
        print_message("  %-48s %-6s %zu\n", rel, rewrite_kind_name(kind), count);
        if (naive_refs(res, resn) != 0)
            print_error("%s: a /tomeclicker reference survived\n", rel);
        assert_int_equal(naive_refs(res, resn), 0);
        assert_int_equal(rewrite_base(res, resn, FROM, "", kind, &again, &n2, &c2), 0);
        assert_null(again);
        assert_int_equal(c2, 0);

        int listed = 0;
        for (size_t k = 0; k < sizeof(site_expect) / sizeof(site_expect[0]); k++) {
            if (strcmp(site_expect[k].path, rel) == 0) {
                assert_int_equal(count, site_expect[k].count);
                listed = 1;
                matched_expect++;
            }
        }
        if (strncmp(rel, "/_app/immutable/", 16) == 0) {
            assert_int_equal(count, naive_refs(in, n));
            immutable_total += count;
        } else if (!listed) {
            print_error("%s: no expectation for this file\n", rel);
            fail();
        }
        total += count;

        /* to a prefix and back: byte-identical */
        char *there = NULL, *back = NULL;
        size_t tn = 0, tc = 0, bn = 0, bc = 0;
        assert_int_equal(rewrite_base(in, n, FROM, PREVIEW, kind, &there, &tn, &tc), 0);
        assert_int_equal(tc, count);
        if (there) {
            assert_int_equal(rewrite_base(there, tn, PREVIEW, FROM, kind, &back, &bn, &bc), 0);
            assert_int_equal(bc, tc);
            assert_int_equal(bn, n);
            assert_memory_equal(back, in, n);
        }
        free(there);
        free(back);
        free(out);
        free(in);
    }
    print_message("  %zu text files, %zu references rewritten\n", text_files, total);
    assert_int_equal(matched_expect, sizeof(site_expect) / sizeof(site_expect[0]));
    assert_int_equal(immutable_total, 1);
    assert_int_equal(total, 8);
}

/* The rewritten index.html: exactly the start-up script's assets changed. */
static void test_example_index_diff(void **state)
{
    (void)state;
    size_t n = 0;
    char *in = read_file(SITE "/index.html", &n);
    assert_non_null(in);
    char *out = NULL;
    size_t outn = 0, count = 0;
    assert_int_equal(rewrite_base(in, n, FROM, "", RW_HTML, &out, &outn, &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(outn, n - strlen(FROM));
    const char *a = strstr(in, "assets: \"/tomeclicker\"");
    assert_non_null(a);
    size_t at = (size_t)(a - in) + 9;
    assert_memory_equal(out, in, at);
    assert_memory_equal(out + at, in + at + strlen(FROM), n - at - strlen(FROM));
    free(out);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_for),
        cmocka_unit_test(test_startup_script_relative),
        cmocka_unit_test(test_startup_script_absolute),
        cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_spa_fallback),
        cmocka_unit_test(test_js_chunk_fallback),
        cmocka_unit_test(test_js_navigation),
        cmocka_unit_test(test_query_and_fragment),
        cmocka_unit_test(test_css),
        cmocka_unit_test(test_robots),
        cmocka_unit_test(test_near_misses),
        cmocka_unit_test(test_js_comment_documented),
        cmocka_unit_test(test_html_attribute_contexts),
        cmocka_unit_test(test_html_script_and_style_bodies),
        cmocka_unit_test(test_xml_svg),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_idempotence_and_round_trip),
        cmocka_unit_test(test_count_accuracy),
        cmocka_unit_test(test_random_inputs),
        cmocka_unit_test(test_example_site),
        cmocka_unit_test(test_example_index_diff),
    };

    return cmocka_run_group_tests_name("rewrite", tests, NULL, NULL);
}
