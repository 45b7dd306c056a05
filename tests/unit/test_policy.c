/* Unit tests for policy: glob matching, Cache-Control selection, security headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tomed/policy.h"

static void test_glob_literal_and_question(void **state)
{
    (void)state;
    assert_true(policy_glob_match("/robots.txt", "/robots.txt"));
    assert_false(policy_glob_match("/robots.txt", "/robots.txtx"));
    assert_false(policy_glob_match("/robots.txt", "/robots.tx"));
    assert_true(policy_glob_match("/a?c", "/abc"));
    assert_false(policy_glob_match("/a?c", "/a/c"));
}

static void test_glob_single_star_stays_in_segment(void **state)
{
    (void)state;
    assert_true(policy_glob_match("/*.js", "/app.js"));
    assert_true(policy_glob_match("/*.js", "/.js"));
    assert_false(policy_glob_match("/*.js", "/a/app.js"));
    assert_true(policy_glob_match("/images/*", "/images/hero.png"));
    assert_false(policy_glob_match("/images/*", "/images/big/hero.png"));
    assert_true(policy_glob_match("/a*b*c", "/aXbYc"));
    assert_false(policy_glob_match("/a*b*c", "/aXbY/c"));
}

static void test_glob_double_star_crosses_segments(void **state)
{
    (void)state;
    assert_true(policy_glob_match("/_app/immutable/**", "/_app/immutable/chunks/x.js"));
    assert_true(policy_glob_match("/**/*.woff2", "/fonts/sub/tome.woff2"));
    assert_false(policy_glob_match("/**/*.woff2", "/fonts/tome.woff"));
    assert_true(policy_glob_match("/**", "/anything/at/all"));
    assert_false(policy_glob_match("/downloads/**", "/download/x"));
}

static void test_glob_hostile_pattern_terminates(void **state)
{
    (void)state;
    char path[4096];
    memset(path, 'a', sizeof path - 2);
    path[0] = '/';
    path[sizeof path - 2] = 'b';
    path[sizeof path - 1] = '\0';
    assert_false(policy_glob_match("/*a*a*a*a*a*a*a*a*a*a*a*c", path));
    assert_false(policy_glob_match("/**a**a**a**a**a**a**a**c", path));
}

static tomed_config base_config(void)
{
    tomed_config c;
    memset(&c, 0, sizeof c);
    c.cache_immutable = "public, max-age=31536000, immutable";
    c.cache_revalidate = "no-cache";
    c.cache_default = "public, max-age=600, must-revalidate";
    return c;
}

static void test_cache_defaults_fit_sveltekit(void **state)
{
    (void)state;
    tomed_config c = base_config();
    assert_string_equal(policy_cache_control(&c, "/_app/immutable/chunks/x.js", "text/javascript"),
                        "public, max-age=31536000, immutable");
    assert_string_equal(policy_cache_control(&c, "/about.html", "text/html; charset=utf-8"),
                        "no-cache");
    assert_string_equal(policy_cache_control(&c, "/_app/version.json", "application/json"),
                        "no-cache");
    assert_string_equal(policy_cache_control(&c, "/service-worker.js", "text/javascript"),
                        "no-cache");
    assert_string_equal(policy_cache_control(&c, "/images/hero.png", "image/png"),
                        "public, max-age=600, must-revalidate");
    /* not under /_app/immutable/: the name says immutable but the path does not */
    assert_string_equal(policy_cache_control(&c, "/immutable/x.js", "text/javascript"),
                        "public, max-age=600, must-revalidate");
}

static void test_cache_rules_first_match_wins(void **state)
{
    (void)state;
    tomed_config c = base_config();
    config_cache_rule rules[] = {
        {"/fonts/**", "public, max-age=86400"},
        {"/**/*.woff2", "no-store"},
        {"/_app/immutable/**", "private"},
    };
    c.cache_rules = rules;
    c.n_cache_rules = 3;
    assert_string_equal(policy_cache_control(&c, "/fonts/tome.woff2", "font/woff2"),
                        "public, max-age=86400");
    assert_string_equal(policy_cache_control(&c, "/x/tome.woff2", "font/woff2"), "no-store");
    assert_string_equal(policy_cache_control(&c, "/_app/immutable/a.js", "text/javascript"),
                        "private");
    assert_string_equal(policy_cache_control(&c, "/index.html", "text/html"), "no-cache");
}

static void test_security_headers_skip_removed(void **state)
{
    (void)state;
    tomed_config c = base_config();
    c.csp = "default-src 'self'";
    c.x_content_type_options = "nosniff";
    c.referrer_policy = "";
    c.x_frame_options = "DENY";
    c.cross_origin_opener_policy = "same-origin";
    c.permissions_policy = "";
    policy_header h[8];
    size_t n = policy_security_headers(&c, h, 8);
    assert_int_equal(n, 4);
    assert_string_equal(h[0].name, "Content-Security-Policy");
    assert_string_equal(h[1].name, "X-Content-Type-Options");
    assert_string_equal(h[2].name, "X-Frame-Options");
    assert_string_equal(h[3].name, "Cross-Origin-Opener-Policy");
    assert_int_equal(policy_security_headers(&c, h, 2), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob_literal_and_question),
        cmocka_unit_test(test_glob_single_star_stays_in_segment),
        cmocka_unit_test(test_glob_double_star_crosses_segments),
        cmocka_unit_test(test_glob_hostile_pattern_terminates),
        cmocka_unit_test(test_cache_defaults_fit_sveltekit),
        cmocka_unit_test(test_cache_rules_first_match_wins),
        cmocka_unit_test(test_security_headers_skip_removed),
    };
    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
