/*
 * Unit tests for site's generations: a reload shares the entries of files
 * that did not change (the same object, with its variants), makes new ones
 * for what changed, and shares nothing when the site's _headers changed;
 * bodies come from store packs, not from the site's files; and a snapshot
 * is built from bytes in memory, with no directory (site_builder).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tomed/config.h"
#include "tomed/site.h"
#include "tomed/siteload.h"
#include "tomed/store.h"

typedef struct fixture {
    char dir[64];
    tomed_config *cfg;
} fixture;

/* Write rel with a fixed mtime, so a rewrite with the same bytes keeps it. */
static void put(const char *dir, const char *rel, const char *body, time_t mtime)
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
    struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(utimes(p, tv), 0);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    tomed_error err = {0};
    strcpy(fx->dir, "/tmp/tomed-site-XXXXXX");
    if (!fx || !mkdtemp(fx->dir))
        return -1;
    put(fx->dir, "index.html", "<h1>home</h1><script>1</script>", 1700000000);
    put(fx->dir, "about.html", "<h1>about</h1>", 1700000000);
    put(fx->dir, "_app/immutable/a.js", "export const a = 1;", 1700000000);
    put(fx->dir, "_app/immutable/b.js", "export const b = 2;", 1700000000);
    fx->cfg = config_new(CONFIG_MODE_SERVE);
    if (!fx->cfg || config_set(fx->cfg, "root", fx->dir, "test", &err) != 0 ||
        store_init(NULL, &err) != 0)
        return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    if (system(cmd) != 0)
        return -1;
    config_free(fx->cfg);
    free(fx);
    return 0;
}

static site_snapshot *load_after(fixture *fx, const site_snapshot *prev)
{
    tomed_error err = {0};
    site_snapshot *s = NULL;
    assert_int_equal(site_load_after(fx->cfg, prev ? prev->generation + 1 : 1, prev, &s, &err), 0);
    assert_non_null(s);
    return s;
}

static const site_entry *find(const site_snapshot *s, const char *p)
{
    return site_find(s, p, strlen(p));
}

static void test_unchanged_entries_are_shared(void **state)
{
    fixture *fx = *state;
    site_snapshot *a = load_after(fx, NULL);
    assert_int_equal(a->shared, 0);
    put(fx->dir, "about.html", "<h1>about, changed</h1>", 1700000100);
    site_snapshot *b = load_after(fx, a);
    assert_int_equal(b->n_entries, 4);
    assert_int_equal(b->shared, 3);
    /* the same object, not an equal copy */
    assert_ptr_equal(find(a, "/index.html"), find(b, "/index.html"));
    assert_ptr_equal(find(a, "/_app/immutable/a.js"), find(b, "/_app/immutable/a.js"));
    assert_ptr_not_equal(find(a, "/about.html"), find(b, "/about.html"));
    assert_memory_equal(find(b, "/about.html")->data, "<h1>about, changed</h1>", 23);
    /* the previous generation goes; what b shares stays intact */
    site_snapshot_unref(a);
    const site_entry *idx = find(b, "/index.html");
    assert_int_equal(idx->size, 31);
    assert_memory_equal(idx->data, "<h1>home</h1><script>1</script>", 31);
    assert_non_null(idx->csp); /* csp_auto: the policy with the inline script's hash */
    site_snapshot_unref(b);
}

static void test_touched_file_is_not_shared(void **state)
{
    fixture *fx = *state;
    site_snapshot *a = load_after(fx, NULL);
    /* same bytes, a new mtime: Last-Modified differs, so a new entry */
    put(fx->dir, "_app/immutable/b.js", "export const b = 2;", 1700000500);
    site_snapshot *b = load_after(fx, a);
    assert_int_equal(b->shared, 3);
    assert_ptr_not_equal(find(a, "/_app/immutable/b.js"), find(b, "/_app/immutable/b.js"));
    assert_string_equal(find(a, "/_app/immutable/b.js")->etag,
                        find(b, "/_app/immutable/b.js")->etag);
    site_snapshot_unref(a);
    site_snapshot_unref(b);
}

static void test_new_headers_file_shares_nothing(void **state)
{
    fixture *fx = *state;
    site_snapshot *a = load_after(fx, NULL);
    put(fx->dir, "_headers", "/*\n  X-Test: 1\n", 1700000000);
    site_snapshot *b = load_after(fx, a);
    assert_int_equal(b->shared, 0);
    assert_non_null(find(b, "/index.html")->headers);
    site_snapshot *c = load_after(fx, b); /* the same _headers again: all shared */
    assert_int_equal(c->shared, 4);
    assert_ptr_equal(find(b, "/index.html")->headers, find(c, "/index.html")->headers);
    site_snapshot_unref(a);
    site_snapshot_unref(b);
    site_snapshot_unref(c);
}

static void test_sibling_makes_a_new_entry(void **state)
{
    fixture *fx = *state;
    site_snapshot *a = load_after(fx, NULL);
    /* a precompressed sibling appears next to an unchanged file: the file's
     * entry gets a variant, so it must be a new one (the old generation's
     * entry never changes under it) */
    put(fx->dir, "_app/immutable/a.js.gz", "x", 1700000000);
    site_snapshot *b = load_after(fx, a);
    const site_entry *old = find(a, "/_app/immutable/a.js"), *now = find(b, "/_app/immutable/a.js");
    assert_ptr_not_equal(old, now);
    assert_null(site_entry_variant(old, ENC_GZIP));
    assert_non_null(site_entry_variant(now, ENC_GZIP));
    site_snapshot_unref(a);
    site_snapshot_unref(b);
}

static void test_bodies_survive_the_site_file(void **state)
{
    fixture *fx = *state;
    site_snapshot *a = load_after(fx, NULL);
    char p[512];
    /* the site's file truncated in place: the loaded bytes are tomed's own */
    snprintf(p, sizeof p, "%s/about.html", fx->dir);
    assert_int_equal(truncate(p, 0), 0);
    const site_entry *e = find(a, "/about.html");
    assert_int_equal(e->size, 14);
    assert_memory_equal(e->data, "<h1>about</h1>", 14);
    site_snapshot_unref(a);
}

static unsigned char *dup_bytes(const char *s)
{
    unsigned char *p = malloc(strlen(s) + 1);
    assert_non_null(p);
    memcpy(p, s, strlen(s));
    return p;
}

static void test_builder_in_memory(void **state)
{
    fixture *fx = *state;
    tomed_error err = {0};
    site_snapshot *s = NULL;
    site_builder *b = site_builder_new(fx->cfg, 7, NULL, &err);
    assert_non_null(b);
    char *hdr = strdup("/app.js\n  X-From-Rules: yes\n");
    assert_int_equal(site_builder_rules(b, NULL, 0, hdr, strlen(hdr)), 0);
    assert_int_equal(site_builder_add(b, "/app.js", dup_bytes("let a"), -1, 5, 1700000000, 1), 0);
    assert_int_equal(site_builder_add(b, "/index.html", dup_bytes("<p>hi"), -1, 5, 1700000000, 1),
                     0);
    assert_int_equal(site_builder_finish(b, &s), 0);
    assert_int_equal(s->generation, 7);
    assert_int_equal(s->n_entries, 2);
    const site_entry *e = find(s, "/app.js");
    assert_non_null(e);
    assert_memory_equal(e->data, "let a", 5);
    /* SHA-256("let a"), first 16 bytes, as the strong ETag */
    assert_string_equal(e->etag, "\"21f1173fff072ee5e8022cb485956b08\"");
    assert_non_null(e->headers);
    assert_null(find(s, "/index.html")->headers);
    site_snapshot_unref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unchanged_entries_are_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_touched_file_is_not_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_headers_file_shares_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sibling_makes_a_new_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bodies_survive_the_site_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_builder_in_memory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
