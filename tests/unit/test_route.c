/*
 * Unit tests for route: every status decision, against a snapshot loaded from
 * a small tree made in a temporary directory (site_load is the only way a
 * snapshot is made, so the tests use it too).
 */
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

#include "tomed/config.h"
#include "tomed/route.h"
#include "tomed/site.h"
#include "tomed/siteload.h"

typedef struct fixture {
    char dir[64];
    tomed_config *cfg;
    site_snapshot *snap;
    char loc[4096];
} fixture;

static void write_file(const char *dir, const char *rel, const char *body)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    for (char *s = p + strlen(dir) + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(body, f);
    fclose(f);
}

static void load(fixture *fx, const char *base, const char *spa)
{
    tomed_error err = {0};
    fx->cfg = config_new(CONFIG_MODE_SERVE);
    assert_non_null(fx->cfg);
    assert_int_equal(config_set(fx->cfg, "root", fx->dir, "test", &err), 0);
    assert_int_equal(config_set(fx->cfg, "base", base, "test", &err), 0);
    if (spa)
        assert_int_equal(config_set(fx->cfg, "spa_fallback", spa, "test", &err), 0);
    assert_int_equal(site_load(fx->cfg, 1, &fx->snap, &err), 0);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    strcpy(fx->dir, "/tmp/tomed-route-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    write_file(fx->dir, "index.html", "<h1>home</h1>");
    write_file(fx->dir, "about.html", "<h1>about</h1>");
    write_file(fx->dir, "docs/guide.html", "guide");
    write_file(fx->dir, "blog/index.html", "blog");
    write_file(fx->dir, "_app/immutable/x.js", "x");
    write_file(fx->dir, "404.html", "missing");
    write_file(fx->dir, "200.html", "spa");
    write_file(fx->dir, ".env", "SECRET");
    write_file(fx->dir, ".well-known/security.txt", "contact");
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    char cmd[128];
    site_snapshot_unref(fx->snap);
    config_free(fx->cfg);
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
    if (system(cmd) != 0)
        return -1;
    free(fx);
    return 0;
}

static route_result get(fixture *fx, const char *method, const char *path, const char *query)
{
    route_request rq = {.method = method, .path = path, .path_len = strlen(path), .query = query};
    route_result r;
    route_decide(fx->cfg, fx->snap, &rq, &r, fx->loc, sizeof fx->loc);
    return r;
}

#define ASSERT_FILE(r, st, p)                                                                      \
    do {                                                                                           \
        assert_int_equal((r).kind, ROUTE_FILE);                                                    \
        assert_int_equal((r).status, (st));                                                        \
        assert_string_equal((r).entry->path, (p));                                                 \
    } while (0)

static void test_pretty_urls_and_indexes(void **state)
{
    fixture *fx = *state;
    load(fx, "/", NULL);
    route_result r = get(fx, "GET", "/", NULL);
    ASSERT_FILE(r, 200, "/index.html");
    r = get(fx, "GET", "/about", NULL);
    ASSERT_FILE(r, 200, "/about.html");
    r = get(fx, "HEAD", "/about.html", NULL);
    ASSERT_FILE(r, 200, "/about.html");
    r = get(fx, "GET", "/docs/guide", NULL);
    ASSERT_FILE(r, 200, "/docs/guide.html");
    r = get(fx, "GET", "/blog/", NULL);
    ASSERT_FILE(r, 200, "/blog/index.html");
}

static void test_trailing_slash_redirects(void **state)
{
    fixture *fx = *state;
    load(fx, "/", NULL);
    route_result r = get(fx, "GET", "/blog", "x=1");
    assert_int_equal(r.kind, ROUTE_REDIRECT);
    assert_int_equal(r.status, 308);
    assert_string_equal(r.location, "/blog/?x=1");
    r = get(fx, "GET", "/about/", NULL);
    assert_int_equal(r.kind, ROUTE_REDIRECT);
    assert_string_equal(r.location, "/about");
    r = get(fx, "GET", "/docs/", NULL); /* a directory with no index */
    ASSERT_FILE(r, 404, "/404.html");
}

static void test_mount_base(void **state)
{
    fixture *fx = *state;
    load(fx, "/tomeclicker", NULL);
    route_result r = get(fx, "GET", "/tomeclicker", "a=1&b");
    assert_int_equal(r.kind, ROUTE_REDIRECT);
    assert_string_equal(r.location, "/tomeclicker/?a=1&b");
    r = get(fx, "GET", "/tomeclicker/", NULL);
    ASSERT_FILE(r, 200, "/index.html");
    r = get(fx, "GET", "/tomeclicker/about", NULL);
    ASSERT_FILE(r, 200, "/about.html");
    r = get(fx, "GET", "/tomeclicker/blog", NULL);
    assert_string_equal(r.location, "/tomeclicker/blog/");
    r = get(fx, "GET", "/about", NULL);
    ASSERT_FILE(r, 404, "/404.html");
    r = get(fx, "GET", "/tomeclicker-x/about", NULL);
    ASSERT_FILE(r, 404, "/404.html");
    r = get(fx, "GET", "/healthz", NULL);
    assert_int_equal(r.kind, ROUTE_HEALTH);
    r = get(fx, "GET", "/tomeclicker/healthz", NULL);
    ASSERT_FILE(r, 404, "/404.html");
}

static void test_methods_and_bad_paths(void **state)
{
    fixture *fx = *state;
    load(fx, "/", NULL);
    route_result r = get(fx, "POST", "/", NULL);
    assert_int_equal(r.kind, ROUTE_ERROR);
    assert_int_equal(r.status, 405);
    r = get(fx, "OPTIONS", "/about", NULL);
    assert_int_equal(r.status, 405);
    r = get(fx, "GET", "/../etc/passwd", NULL);
    assert_int_equal(r.status, 400);
    r = get(fx, "GET", "/%2e%2e/etc/passwd", NULL);
    assert_int_equal(r.status, 400);
    r = get(fx, "GET", "/a%00b", NULL);
    assert_int_equal(r.status, 400);
    r = get(fx, "GET", "//about", NULL);
    ASSERT_FILE(r, 200, "/about.html");
    /* a raw NUL the server found in the target: the path before it exists */
    route_request nul = {.method = "GET", .path = "/about", .path_len = 6, .target_nul = 1};
    route_decide(fx->cfg, fx->snap, &nul, &r, fx->loc, sizeof fx->loc);
    assert_int_equal(r.kind, ROUTE_ERROR);
    assert_int_equal(r.status, 400);
    char longpath[5000];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    r = get(fx, "GET", longpath, NULL);
    assert_int_equal(r.status, 414);
}

static void test_hidden_files(void **state)
{
    fixture *fx = *state;
    load(fx, "/", NULL);
    route_result r = get(fx, "GET", "/.env", NULL);
    ASSERT_FILE(r, 404, "/404.html");
    r = get(fx, "GET", "/.well-known/security.txt", NULL);
    ASSERT_FILE(r, 200, "/.well-known/security.txt");
}

static void test_spa_fallback_only_for_pages(void **state)
{
    fixture *fx = *state;
    load(fx, "/", "200.html");
    route_result r = get(fx, "GET", "/some/client/route", NULL);
    ASSERT_FILE(r, 200, "/200.html");
    r = get(fx, "GET", "/_app/immutable/missing.js", NULL);
    ASSERT_FILE(r, 404, "/404.html");
    r = get(fx, "GET", "/images/missing.png", NULL);
    ASSERT_FILE(r, 404, "/404.html");
    r = get(fx, "GET", "/_app/immutable/chunks", NULL); /* no extension, but an asset path */
    ASSERT_FILE(r, 404, "/404.html");
}

static void test_conditional_and_range(void **state)
{
    fixture *fx = *state;
    load(fx, "/", NULL);
    const site_entry *e = site_find(fx->snap, "/about.html", 11);
    assert_non_null(e);
    route_request rq = {.method = "GET", .path = "/about", .path_len = 6, .if_none_match = e->etag};
    route_result r;
    route_decide(fx->cfg, fx->snap, &rq, &r, fx->loc, sizeof fx->loc);
    assert_int_equal(r.kind, ROUTE_NOT_MODIFIED);
    assert_int_equal(r.status, 304);

    rq.if_none_match = "\"other\"";
    rq.range = "bytes=1-3";
    route_decide(fx->cfg, fx->snap, &rq, &r, fx->loc, sizeof fx->loc);
    assert_int_equal(r.kind, ROUTE_PARTIAL);
    assert_int_equal(r.range_start, 1);
    assert_int_equal(r.range_len, 3);

    rq.if_range = "\"stale\"";
    route_decide(fx->cfg, fx->snap, &rq, &r, fx->loc, sizeof fx->loc);
    assert_int_equal(r.kind, ROUTE_FILE);
    assert_int_equal(r.status, 200);

    rq.if_range = NULL;
    rq.range = "bytes=9999-";
    route_decide(fx->cfg, fx->snap, &rq, &r, fx->loc, sizeof fx->loc);
    assert_int_equal(r.kind, ROUTE_UNSATISFIABLE);
    assert_int_equal(r.status, 416);

    /* the 404 page is never a 304 or a 206: those only make sense for the resource asked for */
    rq.path = "/nope";
    rq.path_len = 5;
    rq.range = "bytes=0-1";
    route_decide(fx->cfg, fx->snap, &rq, &r, fx->loc, sizeof fx->loc);
    assert_int_equal(r.kind, ROUTE_FILE);
    assert_int_equal(r.status, 404);
}

static void test_redirect_location_is_encoded(void **state)
{
    fixture *fx = *state;
    write_file(fx->dir, "a b/index.html", "spaced");
    load(fx, "/", NULL);
    route_result r = get(fx, "GET", "/a%20b", NULL);
    assert_int_equal(r.kind, ROUTE_REDIRECT);
    assert_string_equal(r.location, "/a%20b/");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pretty_urls_and_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_slash_redirects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mount_base, setup, teardown),
        cmocka_unit_test_setup_teardown(test_methods_and_bad_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hidden_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spa_fallback_only_for_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conditional_and_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redirect_location_is_encoded, setup, teardown),
    };
    return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}
