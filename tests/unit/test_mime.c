/*
 * Unit tests for mime: extension lookup and the compressibility predicate.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tomed/mime.h"

#define OCTET "application/octet-stream"

struct expect {
    const char *path;
    const char *type;
    int compressible;
};

/* Every extension the table promises, with the exact type a browser gets. */
static const struct expect known[] = {
    { "/index.html", "text/html; charset=utf-8", 1 },
    { "/index.htm", "text/html; charset=utf-8", 1 },
    { "/a.js", "text/javascript; charset=utf-8", 1 },
    { "/a.mjs", "text/javascript; charset=utf-8", 1 },
    { "/a.cjs", "text/javascript; charset=utf-8", 1 },
    { "/a.css", "text/css; charset=utf-8", 1 },
    { "/a.json", "application/json; charset=utf-8", 1 },
    { "/a.js.map", "application/json; charset=utf-8", 1 },
    { "/a.jsonld", "application/ld+json; charset=utf-8", 1 },
    { "/manifest.webmanifest", "application/manifest+json; charset=utf-8", 1 },
    { "/a.wasm", "application/wasm", 1 },
    { "/sitemap.xml", "application/xml; charset=utf-8", 1 },
    { "/feed.rss", "application/rss+xml; charset=utf-8", 1 },
    { "/feed.atom", "application/atom+xml; charset=utf-8", 1 },
    { "/robots.txt", "text/plain; charset=utf-8", 1 },
    { "/README.md", "text/markdown; charset=utf-8", 1 },
    { "/data.csv", "text/csv; charset=utf-8", 1 },
    { "/cal.ics", "text/calendar; charset=utf-8", 1 },
    { "/subs.vtt", "text/vtt; charset=utf-8", 1 },
    { "/logo.svg", "image/svg+xml; charset=utf-8", 1 },
    { "/a.png", "image/png", 0 },
    { "/a.apng", "image/apng", 0 },
    { "/a.jpg", "image/jpeg", 0 },
    { "/a.jpeg", "image/jpeg", 0 },
    { "/a.gif", "image/gif", 0 },
    { "/a.webp", "image/webp", 0 },
    { "/a.avif", "image/avif", 0 },
    { "/favicon.ico", "image/x-icon", 0 },
    { "/a.bmp", "image/bmp", 0 },
    { "/f.woff2", "font/woff2", 0 },
    { "/f.woff", "font/woff", 0 },
    { "/f.ttf", "font/ttf", 0 },
    { "/f.otf", "font/otf", 0 },
    { "/doc.pdf", "application/pdf", 0 },
    { "/a.zip", "application/zip", 0 },
    { "/a.tar.gz", "application/gzip", 0 },
    { "/a.js.br", "application/x-brotli", 0 },
    { "/a.tar", "application/x-tar", 0 },
    { "/v.mp4", "video/mp4", 0 },
    { "/v.webm", "video/webm", 0 },
    { "/s.mp3", "audio/mpeg", 0 },
    { "/s.ogg", "audio/ogg", 0 },
    { "/s.oga", "audio/ogg", 0 },
    { "/s.opus", "audio/ogg", 0 },
    { "/s.wav", "audio/wav", 0 },
    { "/s.flac", "audio/flac", 0 },
    { "/s.m4a", "audio/mp4", 0 },
};

#define N_KNOWN (sizeof known / sizeof known[0])

static void check_type(const char *path, const char *want)
{
    const char *got = mime_for_path(path);

    assert_non_null(got);
    if (strcmp(got, want) != 0)
        print_error("mime_for_path(\"%s\") = \"%s\", want \"%s\"\n", path, got, want);
    assert_string_equal(got, want);
}

static void test_known_extensions(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_KNOWN; i++) check_type(known[i].path, known[i].type);
}

static void test_charset_exactly_on_text(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_KNOWN; i++) {
        const char *t = mime_for_path(known[i].path);
        int is_text = strncmp(t, "text/", 5) == 0 || strstr(t, "json") != NULL ||
                      strstr(t, "xml") != NULL;

        if ((strstr(t, "; charset=utf-8") != NULL) != is_text)
            print_error("charset wrong for %s: \"%s\"\n", known[i].path, t);
        assert_int_equal(strstr(t, "; charset=utf-8") != NULL, is_text);
    }
}

static void test_case_insensitive(void **state)
{
    (void)state;
    check_type("/INDEX.HTML", "text/html; charset=utf-8");
    check_type("/a.Js", "text/javascript; charset=utf-8");
    check_type("/a.CSS", "text/css; charset=utf-8");
    check_type("/P.PNG", "image/png");
    check_type("/m.WebManifest", "application/manifest+json; charset=utf-8");
    check_type("/F.WOFF2", "font/woff2");
}

static void test_only_last_segment(void **state)
{
    (void)state;
    check_type("/a.b/c", OCTET);
    check_type("/a.html/", OCTET);
    check_type("/x.css/y.png", "image/png");
    check_type("/v1.2/readme", OCTET);
}

static void test_last_extension_wins(void **state)
{
    (void)state;
    check_type("/a.min.js", "text/javascript; charset=utf-8");
    check_type("/a.html.gz", "application/gzip");
    check_type("/a.png.txt", "text/plain; charset=utf-8");
    check_type("/a.txt.exe", OCTET);
}

static void test_no_or_unknown_extension(void **state)
{
    (void)state;
    check_type(NULL, OCTET);
    check_type("", OCTET);
    check_type("/", OCTET);
    check_type("/Makefile", OCTET);
    check_type("/a.", OCTET);
    check_type("/a.unknown", OCTET);
    check_type("/a.exe", OCTET);
    check_type("/a.php", OCTET);
    check_type("/a.htmlx", OCTET);
    check_type("/a.htm2", OCTET);
    check_type("/a.jss", OCTET);
    check_type("/a.j", OCTET);
    check_type("/a.h", OCTET);
    check_type("/a.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", OCTET);
    check_type("/a.html\xc3\xa9", OCTET);
    check_type("/a.\xc8TML", OCTET);
}

static void test_dotfiles_have_no_extension(void **state)
{
    (void)state;
    check_type("/.env", OCTET);
    check_type("/.html", OCTET);
    check_type("/a/.css", OCTET);
    check_type("/.well-known/security.txt", "text/plain; charset=utf-8");
    check_type("/..html", "text/html; charset=utf-8");
}

static void test_relative_names(void **state)
{
    (void)state;
    check_type("style.css", "text/css; charset=utf-8");
    check_type("dir/app.js", "text/javascript; charset=utf-8");
}

static void test_compressible_for_every_known_type(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_KNOWN; i++) {
        const char *t = mime_for_path(known[i].path);

        if (mime_is_compressible(t) != known[i].compressible)
            print_error("mime_is_compressible(\"%s\") != %d\n", t, known[i].compressible);
        assert_int_equal(mime_is_compressible(t), known[i].compressible);
    }
    assert_false(mime_is_compressible(mime_for_path("/unknown.bin")));
}

static void test_compressible_strings(void **state)
{
    static const char *const yes[] = {
        "text/html", "text/plain; charset=utf-8", "TEXT/HTML", "Text/Css;charset=UTF-8",
        " text/html", "text/html ; charset=utf-8", "application/javascript",
        "application/json", "application/xml", "application/wasm",
        "application/manifest+json", "application/ld+json", "image/svg+xml",
        "IMAGE/SVG+XML; charset=utf-8", "application/rss+xml", "application/vnd.api+json",
    };
    static const char *const no[] = {
        NULL, "", " ", ";", "text", "text/", "text/;x", "image/png", "image/x-icon",
        "image/jpeg", "font/woff2", "font/woff", "font/ttf", "application/zip",
        "application/gzip", "application/x-brotli", "application/pdf", "video/mp4",
        "audio/mpeg", "application/octet-stream", "application/jsonx", "application/json5",
        "application/xmlfoo", "+json", "+xml", "/+json", "application/javascript-x",
        "application/wasm2", "xtext/html", "application/x-json-but-not",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!mime_is_compressible(yes[i])) print_error("\"%s\" should compress\n", yes[i]);
        assert_true(mime_is_compressible(yes[i]));
    }
    for (i = 0; i < sizeof no / sizeof no[0]; i++) {
        if (mime_is_compressible(no[i])) print_error("\"%s\" should not compress\n", no[i]);
        assert_false(mime_is_compressible(no[i]));
    }
}

static void test_same_pointer_each_time(void **state)
{
    (void)state;
    /* Static strings: callers store the pointer in load-time entries. */
    assert_ptr_equal(mime_for_path("/a.css"), mime_for_path("/b/C.CSS"));
    assert_ptr_equal(mime_for_path("/x"), mime_for_path("/y.nope"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_extensions),
        cmocka_unit_test(test_charset_exactly_on_text),
        cmocka_unit_test(test_case_insensitive),
        cmocka_unit_test(test_only_last_segment),
        cmocka_unit_test(test_last_extension_wins),
        cmocka_unit_test(test_no_or_unknown_extension),
        cmocka_unit_test(test_dotfiles_have_no_extension),
        cmocka_unit_test(test_relative_names),
        cmocka_unit_test(test_compressible_for_every_known_type),
        cmocka_unit_test(test_compressible_strings),
        cmocka_unit_test(test_same_pointer_each_time),
    };

    return cmocka_run_group_tests_name("mime", tests, NULL, NULL);
}
