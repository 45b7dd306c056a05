/*
 * test_config — unit tests for the config module: layering (defaults < YAML <
 * env < flags), every class of error with its exact message and line:col,
 * value parsers, validation, the dump round trip, and that the shipped
 * conf/tomed.yaml loads. Run from the repository root (make unit does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tomed/config.h"

#define EXAMPLE "conf/tomed.yaml"

/* ---- helpers ------------------------------------------------------------ */

static int load(tomed_config *cfg, const char *yaml, tomed_error *err)
{
    return config_load_buffer(cfg, "conf/x.yaml", yaml, strlen(yaml), err);
}

/* Loads yaml over RUN defaults and expects exactly the message msg. */
static void expect_load_error(const char *yaml, const char *msg)
{
    tomed_config *cfg = config_new(CONFIG_MODE_RUN);
    tomed_error err = {0};

    assert_non_null(cfg);
    assert_int_equal(load(cfg, yaml, &err), -1);
    assert_int_equal(err.status, TOMED_EXIT_CONFIG);
    assert_string_equal(err.msg, msg);
    config_free(cfg);
}

/* config_set on a fresh config; msg NULL means it must succeed. */
static void expect_set(const char *key, const char *value, const char *msg)
{
    tomed_config *cfg = config_new(CONFIG_MODE_RUN);
    tomed_error err = {0};
    int rc;

    assert_non_null(cfg);
    rc = config_set(cfg, key, value, "--flag", &err);
    if (msg == NULL) {
        if (rc != 0)
            fail_msg("%s=\"%s\": unexpected error: %s", key, value, err.msg);
    } else {
        assert_int_equal(rc, -1);
        assert_int_equal(err.status, TOMED_EXIT_CONFIG);
        assert_string_equal(err.msg, msg);
    }
    config_free(cfg);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf != NULL)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Every key set to a non-default value, used by the round-trip tests. */
static const char all_keys_yaml[] =
    "root: \"/tmp/site with \\\"quotes\\\" and \\\\ and \\u00e9\"\n"
    "listen: \"[::1]:0\"\n"
    "base: /tomeclicker/\n"
    "health_path: /_health\n"
    "not_found_page: errors/404.html\n"
    "spa_fallback: 200.html\n"
    "cache:\n"
    "  immutable: public, max-age=1\n"
    "  revalidate: no-store\n"
    "  default: 'public, max-age=60'\n"
    "  rules:\n"
    "    - match: /downloads/**\n"
    "      cache_control: public, max-age=86400\n"
    "    - {match: '/*.txt', cache_control: \"no-cache # not a comment\"}\n"
    "headers:\n"
    "  content_security_policy: \"default-src 'none'\"\n"
    "  x_content_type_options: \"\"\n"
    "  referrer_policy: ~\n"
    "  x_frame_options: SAMEORIGIN\n"
    "  cross_origin_opener_policy: same-origin-allow-popups\n"
    "  permissions_policy: \"camera=(self) \\U0001F600\"\n"
    "limits:\n"
    "  memory_file_max: 2MiB\n"
    "  max_connections: 7\n"
    "  max_connections_per_ip: 3\n"
    "  connection_timeout: 1500ms\n"
    "  max_url_length: 64\n"
    "server:\n"
    "  threads: 256\n"
    "  shutdown_timeout: 2m\n";

/* ---- defaults and lifetime ---------------------------------------------- */

static void test_defaults_run(void **state)
{
    tomed_config *cfg = config_new(CONFIG_MODE_RUN);

    (void)state;
    assert_non_null(cfg);
    assert_int_equal(cfg->mode, CONFIG_MODE_RUN);
    assert_string_equal(cfg->root, "/srv/docs");
    assert_string_equal(cfg->root_origin.where, "default");
    assert_string_equal(config_origin_of(cfg, "cache.rules"), "default");
    assert_string_equal(config_origin_of(cfg, "server.shutdown_timeout"), "default");
    assert_string_equal(cfg->listen, "0.0.0.0:8080");
    assert_string_equal(cfg->base, "/");
    assert_string_equal(cfg->health_path, "/healthz");
    assert_string_equal(cfg->not_found_page, "404.html");
    assert_string_equal(cfg->spa_fallback, "");
    assert_string_equal(cfg->cache_immutable, "public, max-age=31536000, immutable");
    assert_string_equal(cfg->cache_revalidate, "no-cache");
    assert_string_equal(cfg->cache_default, "public, max-age=600, must-revalidate");
    assert_null(cfg->cache_rules);
    assert_int_equal(cfg->n_cache_rules, 0);
    assert_string_equal(cfg->csp,
                        "default-src 'self'; script-src 'self'; style-src 'self' "
                        "'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
                        "manifest-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
                        "frame-ancestors 'none'");
    assert_string_equal(cfg->x_content_type_options, "nosniff");
    assert_string_equal(cfg->referrer_policy, "strict-origin-when-cross-origin");
    assert_string_equal(cfg->x_frame_options, "DENY");
    assert_string_equal(cfg->cross_origin_opener_policy, "same-origin");
    assert_string_equal(cfg->permissions_policy, "camera=(), microphone=(), geolocation=()");
    assert_int_equal(cfg->memory_file_max, 1024 * 1024);
    assert_int_equal(cfg->max_connections, 1024);
    assert_int_equal(cfg->max_connections_per_ip, 0);
    assert_int_equal(cfg->connection_timeout_s, 30);
    assert_int_equal(cfg->max_url_length, 4096);
    assert_int_equal(cfg->threads, 0);
    assert_int_equal(cfg->shutdown_timeout_s, 10);
    assert_int_equal(cfg->admin_on_public, 1);
    assert_int_equal(cfg->admin_public_metrics, 0); /* not on the public port by default */
    assert_null(cfg->config_file);
    config_free(cfg);
}

static void test_defaults_serve(void **state)
{
    tomed_config *cfg = config_new(CONFIG_MODE_SERVE);

    (void)state;
    assert_non_null(cfg);
    assert_int_equal(cfg->mode, CONFIG_MODE_SERVE);
    assert_string_equal(cfg->root, "./docs");
    assert_string_equal(cfg->listen, "127.0.0.1:4173");
    assert_string_equal(cfg->base, "/");
    assert_int_equal(cfg->admin_public_metrics, 1); /* the preview keeps one port for all */
    config_free(cfg);
}

static void test_free_null(void **state)
{
    (void)state;
    config_free(NULL);
}

static void test_error_first_wins(void **state)
{
    tomed_error err = {0};

    (void)state;
    assert_int_equal(error_set(&err, TOMED_EXIT_CONFIG, "first %d", 1), -1);
    assert_int_equal(error_set(&err, TOMED_EXIT_RUNTIME, "second"), -1);
    assert_int_equal(err.status, TOMED_EXIT_CONFIG);
    assert_string_equal(err.msg, "first 1");
    assert_int_equal(error_set(NULL, TOMED_EXIT_CONFIG, "nowhere"), -1);
}

/* ---- YAML: values ------------------------------------------------------- */

static void test_load_all_keys(void **state)
{
    tomed_config *cfg = config_new(CONFIG_MODE_RUN);
    tomed_error err = {0};

    (void)state;
    assert_int_equal(load(cfg, all_keys_yaml, &err), 0);
    assert_string_equal(cfg->root, "/tmp/site with \"quotes\" and \\ and \xc3\xa9");
    assert_string_equal(cfg->root_origin.where, "conf/x.yaml:1:7");
    assert_string_equal(cfg->listen, "[::1]:0");
    assert_string_equal(cfg->base, "/tomeclicker");
    assert_string_equal(cfg->health_path, "/_health");
    assert_string_equal(cfg->not_found_page, "errors/404.html");
    assert_string_equal(cfg->spa_fallback, "200.html");
    assert_string_equal(cfg->cache_immutable, "public, max-age=1");
    assert_string_equal(cfg->cache_revalidate, "no-store");
    assert_string_equal(cfg->cache_default, "public, max-age=60");
    assert_int_equal(cfg->n_cache_rules, 2);
    assert_string_equal(cfg->cache_rules[0].match, "/downloads/**");
    assert_string_equal(cfg->cache_rules[0].cache_control, "public, max-age=86400");
    assert_string_equal(cfg->cache_rules[1].match, "/*.txt");
    assert_string_equal(cfg->cache_rules[1].cache_control, "no-cache # not a comment");
    assert_string_equal(cfg->csp, "default-src 'none'");
    assert_string_equal(cfg->x_content_type_options, "");
    assert_string_equal(cfg->referrer_policy, "");
    assert_string_equal(cfg->x_frame_options, "SAMEORIGIN");
    assert_string_equal(cfg->cross_origin_opener_policy, "same-origin-allow-popups");
    assert_string_equal(cfg->permissions_policy, "camera=(self) \xf0\x9f\x98\x80");
    assert_int_equal(cfg->memory_file_max, 2 * 1024 * 1024);
    assert_int_equal(cfg->max_connections, 7);
    assert_int_equal(cfg->max_connections_per_ip, 3);
    assert_int_equal(cfg->connection_timeout_s, 2);
    assert_int_equal(cfg->max_url_length, 64);
    assert_int_equal(cfg->threads, 256);
    assert_int_equal(cfg->shutdown_timeout_s, 120);
    config_free(cfg);
}

static void test_empty_documents(void **state)
{
    static const char *const empties[] = {
        "", "\n\n", "# only a comment\n", "---\n", "--- ~\n", "---\n...\n", "limits:\n", "cache: ~\n",
    };

    (void)state;
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
        tomed_config *cfg = config_new(CONFIG_MODE_SERVE);
        tomed_error err = {0};
        char *before = config_dump(cfg), *after;

        if (load(cfg, empties[i], &err) != 0)
            fail_msg("\"%s\": %s", empties[i], err.msg);
        after = config_dump(cfg);
        assert_string_equal(before, after);
        free(before);
        free(after);
        config_free(cfg);
    }
}

static void test_header_removal(void **state)
{
    tomed_config *cfg = config_new(CONFIG_MODE_RUN);
    tomed_error err = {0};

    (void)state;
    assert_int_equal(load(cfg,
                          "headers:\n"
                          "  content_security_policy: \"\"\n"
                          "  x_frame_options: null\n"
                          "  referrer_policy:\n"
                          "  permissions_policy: ~\n"
                          "  x_content_type_options: 'null'\n",
                          &err),
                     0);
    assert_string_equal(cfg->csp, "");
    assert_string_equal(cfg->x_frame_options, "");
    assert_string_equal(cfg->referrer_policy, "");
    assert_string_equal(cfg->permissions_policy, "");
    assert_string_equal(cfg->x_content_type_options, "null"); /* quoted: a string */
    assert_string_equal(cfg->cross_origin_opener_policy, "same-origin");
    /* and through the environment and flags */
    char *envp[] = {"TOMED_HEADERS_CROSS_ORIGIN_OPENER_POLICY=", NULL};
    assert_int_equal(config_apply_env(cfg, envp, &err), 0);
    assert_string_equal(cfg->cross_origin_opener_policy, "");
    assert_int_equal(config_set(cfg, "headers.csp", "x", "--csp", &err), -1);
    assert_string_equal(err.msg,
                        "--csp: unknown key \"headers.csp\"; every key is in conf/tomed.yaml and tomed --help");
    config_free(cfg);
}

static void test_header_values_rejected(void **state)
{
    (void)state;
    expect_load_error("headers:\n  x_frame_options: \"DENY\\r\\nSet-Cookie: a=b\"\n",
                      "conf/x.yaml:2:20: headers.x_frame_options: must not contain control characters "
                      "(line breaks, tabs), got \"DENY\\x0d\\x0aSet-Cookie: a=b\"");
    expect_load_error("headers:\n  referrer_policy: \"a\\tb\"\n",
                      "conf/x.yaml:2:20: headers.referrer_policy: must not contain control characters "
                      "(line breaks, tabs), got \"a\\x09b\"");
    expect_load_error("headers:\n  referrer_policy: \"a\\0b\"\n",
                      "conf/x.yaml:2:20: headers.referrer_policy: must not contain a NUL byte");
    expect_set("headers.x_frame_options", "DENY\n", "--flag: headers.x_frame_options: must not contain "
               "control characters (line breaks, tabs), got \"DENY\\x0a\"");
    expect_set("headers.x_frame_options", "\xff", "--flag: headers.x_frame_options: is not valid UTF-8, "
               "got \"\xff\"");
}

/* ---- YAML: errors -------------------------------------------------------- */

static void test_unknown_key_top(void **state)
{
    (void)state;
    expect_load_error("root: /srv/docs\n\n\n\n\n\n  # comment\nlimts:\n  max_connections: 5\n",
                      "conf/x.yaml:8:1: unknown key \"limts\" (expected one of: root, listen, base, "
                      "health_path, readiness_path, metrics_path, not_found_page, spa_fallback, cache, headers, "
                      "limits, server, compression, storage, log, admin, rewrite, reload)");
    /* a dotted key is not a YAML path */
    expect_load_error("limits.max_connections: 5\n",
                      "conf/x.yaml:1:1: unknown key \"limits.max_connections\" (expected one of: root, "
                      "listen, base, health_path, readiness_path, metrics_path, not_found_page, spa_fallback, "
                      "cache, headers, limits, server, compression, storage, log, admin, rewrite, reload)");
}

static void test_unknown_key_nested(void **state)
{
    (void)state;
    expect_load_error("limits:\n  max_connections: 5\n  max_conections: 6\n",
                      "conf/x.yaml:3:3: limits: unknown key \"max_conections\" (expected one of: "
                      "memory_file_max, max_connections, max_connections_per_ip, connection_timeout, header_timeout, "
                      "max_url_length, max_header_size)");
    expect_load_error("cache: {immutable: a, revalidat: b}\n",
                      "conf/x.yaml:1:23: cache: unknown key \"revalidat\" (expected one of: immutable, "
                      "revalidate, default, rules)");
    expect_load_error("server:\n  threads: 1\n  x_frame_options: DENY\n",
                      "conf/x.yaml:3:3: server: unknown key \"x_frame_options\" (expected one of: threads, "
                      "shutdown_timeout, drain_delay, turbo, epoll, user, allow_root, trusted_proxies)");
    expect_load_error("headers:\n  ? [a]\n  : b\n",
                      "conf/x.yaml:2:5: headers: expected a key name, got a sequence");
}

static void test_wrong_type(void **state)
{
    (void)state;
    expect_load_error("root: {a: 1}\n", "conf/x.yaml:1:7: root: expected a string, got a mapping");
    expect_load_error("listen:\n  - a\n", "conf/x.yaml:2:3: listen: expected a string, got a sequence");
    expect_load_error("root:\n", "conf/x.yaml:1:6: root: expected a string, got an empty value");
    expect_load_error("base: null\n", "conf/x.yaml:1:7: base: expected a string, got null");
    expect_load_error("cache: 5\n", "conf/x.yaml:1:8: cache: expected a mapping, got \"5\"");
    expect_load_error("limits: [1, 2]\n", "conf/x.yaml:1:9: limits: expected a mapping, got a sequence");
    expect_load_error("server:\n  threads: [1]\n",
                      "conf/x.yaml:2:12: server.threads: expected a whole number, got a sequence");
    expect_load_error("limits:\n  memory_file_max: {}\n",
                      "conf/x.yaml:2:20: limits.memory_file_max: expected a size, got a mapping");
    expect_load_error("root: \"\"\n", "conf/x.yaml:1:7: root: must not be empty");
    expect_load_error("cache: {default: ''}\n", "conf/x.yaml:1:18: cache.default: must not be empty");
}

static void test_bad_number(void **state)
{
    (void)state;
    expect_load_error("limits:\n  max_connections: many\n",
                      "conf/x.yaml:2:20: limits.max_connections: expected a whole number, got \"many\"");
    expect_load_error("limits:\n  max_connections: \"5\"\n",
                      "conf/x.yaml:2:20: limits.max_connections: expected a whole number without quotes, "
                      "got \"5\"");
    expect_load_error("limits:\n  max_connections: -5\n",
                      "conf/x.yaml:2:20: limits.max_connections: expected a whole number, got \"-5\"");
    expect_load_error("limits:\n  max_connections: +5\n",
                      "conf/x.yaml:2:20: limits.max_connections: expected a whole number, got \"+5\"");
    expect_load_error("limits:\n  max_connections: 0\n",
                      "conf/x.yaml:2:20: limits.max_connections: must be at least 1, got \"0\"");
    expect_load_error("limits:\n  max_connections: 4294967296\n",
                      "conf/x.yaml:2:20: limits.max_connections: must be at most 4294967295, "
                      "got \"4294967296\"");
    expect_load_error("limits:\n  max_url_length: 63\n",
                      "conf/x.yaml:2:19: limits.max_url_length: must be between 64 and 65536, got \"63\"");
    expect_load_error("server: {threads: 257}\n",
                      "conf/x.yaml:1:19: server.threads: must be at most 256, got \"257\"");
    expect_load_error("server: {threads: 1.5}\n",
                      "conf/x.yaml:1:19: server.threads: expected a whole number, got \"1.5\"");
    expect_load_error("server: {threads: 0x10}\n",
                      "conf/x.yaml:1:19: server.threads: expected a whole number, got \"0x10\"");
    expect_set("server.threads", "", "--flag: server.threads: expected a whole number, got \"\"");
    expect_set("server.threads", " 1", "--flag: server.threads: expected a whole number, got \" 1\"");
    expect_set("limits.max_connections_per_ip", "4294967295", NULL);
}

struct number_case {
    const char *key, *value;
    uint64_t want; /* UINT64_MAX - 1 = must fail */
};

#define BAD (UINT64_MAX - 1)

static uint64_t number_of(const tomed_config *cfg, const char *key)
{
    if (strcmp(key, "limits.memory_file_max") == 0)
        return cfg->memory_file_max;
    if (strcmp(key, "limits.connection_timeout") == 0)
        return cfg->connection_timeout_s;
    return cfg->shutdown_timeout_s;
}

static void test_sizes_and_durations(void **state)
{
    static const struct number_case cases[] = {
        {"limits.memory_file_max", "0", 0},
        {"limits.memory_file_max", "123", 123},
        {"limits.memory_file_max", "123B", 123},
        {"limits.memory_file_max", "2K", 2048},
        {"limits.memory_file_max", "2KiB", 2048},
        {"limits.memory_file_max", "3M", 3 << 20},
        {"limits.memory_file_max", "3MiB", 3 << 20},
        {"limits.memory_file_max", "4G", 4ULL << 30},
        {"limits.memory_file_max", "4GiB", 4ULL << 30},
        {"limits.memory_file_max", "18446744073709551615", UINT64_MAX},
        {"limits.memory_file_max", "18446744073709551616", BAD},
        {"limits.memory_file_max", "17179869184G", BAD},
        {"limits.memory_file_max", "1MB", BAD},
        {"limits.memory_file_max", "1k", BAD},
        {"limits.memory_file_max", "1 MiB", BAD},
        {"limits.memory_file_max", "MiB", BAD},
        {"limits.memory_file_max", "-1", BAD},
        {"limits.connection_timeout", "45", 45},
        {"limits.connection_timeout", "45s", 45},
        {"limits.connection_timeout", "2m", 120},
        {"limits.connection_timeout", "1h", 3600},
        {"limits.connection_timeout", "1ms", 1},
        {"limits.connection_timeout", "1000ms", 1},
        {"limits.connection_timeout", "1001ms", 2},
        {"limits.connection_timeout", "0s", BAD},
        {"limits.connection_timeout", "0ms", BAD},
        {"limits.connection_timeout", "1d", BAD},
        {"limits.connection_timeout", "1.5s", BAD},
        {"limits.connection_timeout", "4294967295", 4294967295ULL},
        {"limits.connection_timeout", "1193047h", BAD},
        {"limits.connection_timeout", "5124095576030432h", BAD}, /* overflows uint64 */
        {"server.shutdown_timeout", "0", 0},
        {"server.shutdown_timeout", "0ms", 0},
        {"server.shutdown_timeout", "18446744073709551615ms", BAD},
        {"server.shutdown_timeout", "4294967295000ms", 4294967295ULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tomed_config *cfg = config_new(CONFIG_MODE_RUN);
        tomed_error err = {0};
        int rc = config_set(cfg, cases[i].key, cases[i].value, "--x", &err);

        if (cases[i].want == BAD && rc == 0)
            fail_msg("%s=%s: accepted", cases[i].key, cases[i].value);
        if (cases[i].want != BAD && rc != 0)
            fail_msg("%s=%s: %s", cases[i].key, cases[i].value, err.msg);
        if (rc == 0 && number_of(cfg, cases[i].key) != cases[i].want)
            fail_msg("%s=%s: got %llu", cases[i].key, cases[i].value,
                     (unsigned long long)number_of(cfg, cases[i].key));
        config_free(cfg);
    }
}

static void test_bad_size_duration_messages(void **state)
{
    (void)state;
    expect_load_error("limits:\n  memory_file_max: 1MB\n",
                      "conf/x.yaml:2:20: limits.memory_file_max: expected a size such as 1048576, 512K or "
                      "1MiB, got \"1MB\"");
    expect_load_error("limits:\n  connection_timeout: soon\n",
                      "conf/x.yaml:2:23: limits.connection_timeout: expected a duration such as 30, 30s, "
                      "500ms, 5m or 1h, got \"soon\"");
    expect_load_error("limits:\n  connection_timeout: 0ms\n",
                      "conf/x.yaml:2:23: limits.connection_timeout: must be at least 1s, got \"0ms\"");
    expect_load_error("limits:\n  memory_file_max: 99999999999G\n",
                      "conf/x.yaml:2:20: limits.memory_file_max: must be at most 18446744073709551615 bytes, "
                      "got \"99999999999G\"");
    expect_load_error("server:\n  shutdown_timeout: '10s'\n",
                      "conf/x.yaml:2:21: server.shutdown_timeout: expected a duration without quotes, "
                      "got \"10s\"");
}

static void test_duplicate_key(void **state)
{
    (void)state;
    expect_load_error("root: /a\nbase: /b\nroot: /c\n",
                      "conf/x.yaml:3:1: duplicate key \"root\" (first set at line 1)");
    expect_load_error("limits:\n  max_connections: 1\n  max_connections: 2\n",
                      "conf/x.yaml:3:3: limits: duplicate key \"max_connections\" (first set at line 2)");
    expect_load_error("limits: {max_connections: 1}\nbase: /\nlimits: {max_url_length: 100}\n",
                      "conf/x.yaml:3:1: duplicate key \"limits\" (first set at line 1)");
    expect_load_error("cache:\n  rules:\n    - match: /a\n      match: /b\n      cache_control: x\n",
                      "conf/x.yaml:4:7: cache.rules[0]: duplicate key \"match\" (first set at line 3)");
}

static void test_syntax_error(void **state)
{
    (void)state;
    expect_load_error("root: /srv/docs\nlisten: [a\n",
                      "conf/x.yaml:3:1: syntax error: did not find expected ',' or ']' "
                      "(while parsing a flow sequence at line 2, column 9)");
    expect_load_error("root: \"abc\n",
                      "conf/x.yaml:2:1: syntax error: found unexpected end of stream "
                      "(while scanning a quoted scalar at line 1, column 7)");
    expect_load_error("root: /a\n  base: /b\n",
                      "conf/x.yaml:2:7: syntax error: mapping values are not allowed in this context");
    expect_load_error("root: *nowhere\n",
                      "conf/x.yaml:1:7: syntax error: found undefined alias");
    /* libyaml reports bad bytes by offset; the message still has line:col */
    expect_load_error("root: /a\nbase: /\xff\n", "conf/x.yaml:2:8: invalid text: invalid leading UTF-8 octet");
}

static void test_document_shape(void **state)
{
    (void)state;
    expect_load_error("- root\n- base\n",
                      "conf/x.yaml:1:1: the document must be a mapping of keys such as \"root: ./docs\", "
                      "got a sequence");
    expect_load_error("just text\n",
                      "conf/x.yaml:1:1: the document must be a mapping of keys such as \"root: ./docs\", "
                      "got \"just text\"");
    expect_load_error("root: /a\n---\nroot: /b\n",
                      "conf/x.yaml:2:1: more than one document (the file must hold one mapping)");
    expect_load_error("root: /a\n...\n---\nbase: /\n",
                      "conf/x.yaml:3:1: more than one document (the file must hold one mapping)");
}

static void test_listen(void **state)
{
    static const struct {
        const char *in, *host;
        unsigned port;
    } good[] = {
        {"127.0.0.1:4173", "127.0.0.1", 4173}, {"0.0.0.0:8080", "0.0.0.0", 8080},
        {":8080", "", 8080},                   {":0", "", 0},
        {"[::1]:0", "::1", 0},                 {"[::]:65535", "::", 65535},
        {"localhost:80", "localhost", 80},     {"[::ffff:10.0.0.1]:1", "::ffff:10.0.0.1", 1},
        {"my-host.example:00080", "my-host.example", 80},
    };
    static const char *const bad[] = {
        "", "8080", "host", "host:", ":", ":65536", ":99999", ":123456", ":-1", ":+1", ": 80",
        "::1:80", "[::1]", "[::1]80", "[]:80", "[::1:80", "[zz]:80", "[127.0.0.1]:80", "a b:80",
        "host:80:", "*:80", "host_x:80",
    };
    char host[64];
    unsigned port;

    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (config_parse_listen(good[i].in, host, sizeof host, &port) != 0)
            fail_msg("\"%s\" refused", good[i].in);
        assert_string_equal(host, good[i].host);
        assert_int_equal(port, good[i].port);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (config_parse_listen(bad[i], host, sizeof host, &port) == 0)
            fail_msg("\"%s\" accepted", bad[i]);
    }
    assert_int_equal(config_parse_listen("abcdefgh:1", host, 8, &port), -1); /* host does not fit */
    assert_int_equal(config_parse_listen("abcdefg:1", host, 8, &port), 0);
    assert_int_equal(config_parse_listen(NULL, host, sizeof host, &port), -1);

    expect_load_error("listen: \":99999\"\n",
                      "conf/x.yaml:1:9: listen: port must be 0..65535, got \"99999\"");
    expect_load_error("listen: 8080\n",
                      "conf/x.yaml:1:9: listen: expected \"host:port\", \"[v6]:port\" or \":port\", "
                      "got \"8080\"");
    expect_set("listen", "::1:8080", "--flag: listen: an IPv6 address needs brackets, as in \"[::1]:8080\", "
               "got \"::1:8080\"");
    expect_set("listen", "[fe80::1%eth0]:80", "--flag: listen: invalid IPv6 address \"fe80::1%eth0\"");
    expect_set("listen", "a b:80", "--flag: listen: invalid host \"a b\"");
}

static void test_base_and_paths(void **state)
{
    static const struct {
        const char *in, *want;
    } good[] = {
        {"/", "/"}, {"/tomeclicker", "/tomeclicker"}, {"/tomeclicker/", "/tomeclicker"},
        {"/a/b.c/d", "/a/b.c/d"}, {"/...", "/..."}, {"/.well-known", "/.well-known"},
    };
    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"tomeclicker", "must start with \"/\", got \"tomeclicker\""},
        {"", "must not be empty"},
        {"//", "must not contain \"//\", got \"//\""},
        {"/a//b", "must not contain \"//\", got \"/a//b\""},
        {"/a/./b", "must not contain \".\" or \"..\" segments, got \"/a/./b\""},
        {"/a/..", "must not contain \".\" or \"..\" segments, got \"/a/..\""},
        {"/.", "must not contain \".\" or \"..\" segments, got \"/.\""},
        {"/../x/", "must not contain \".\" or \"..\" segments, got \"/../x/\""},
        {"/a?b", "must not contain \"?\", got \"/a?b\""},
        {"/a#b", "must not contain \"#\", got \"/a#b\""},
        {"/a%2fb", "must not contain \"%\", got \"/a%2fb\""},
        {"/a\\b", "must not contain \"\\\\\", got \"/a\\\\b\""},
        {"/a b", "must not contain whitespace, got \"/a b\""},
        {"/a\tb", "must not contain control characters (line breaks, tabs), got \"/a\\x09b\""},
        {"/a\x7f", "must not contain control characters (line breaks, tabs), got \"/a\\x7f\""},
    };
    char msg[512];

    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        tomed_config *cfg = config_new(CONFIG_MODE_RUN);
        tomed_error err = {0};
        if (config_set(cfg, "base", good[i].in, "--base", &err) != 0)
            fail_msg("\"%s\": %s", good[i].in, err.msg);
        assert_string_equal(cfg->base, good[i].want);
        config_free(cfg);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(msg, sizeof msg, "--flag: base: %s", bad[i].msg);
        expect_set("base", bad[i].in, msg);
    }
    expect_load_error("root: /srv\nbase: tomeclicker\n",
                      "conf/x.yaml:2:7: base: must start with \"/\", got \"tomeclicker\"");

    /* health_path: same rules, may be "", must not end with '/' */
    expect_set("health_path", "", NULL);
    expect_set("health_path", "/-/health", NULL);
    expect_set("health_path", "/healthz/", "--flag: health_path: must not end with \"/\", got \"/healthz/\"");
    expect_set("health_path", "/", "--flag: health_path: must not end with \"/\", got \"/\"");
    expect_set("health_path", "healthz", "--flag: health_path: must start with \"/\", got \"healthz\"");
    expect_set("health_path", "/a/../b", "--flag: health_path: must not contain \".\" or \"..\" segments, "
               "got \"/a/../b\"");

    /* site files */
    expect_set("not_found_page", "", NULL);
    expect_set("not_found_page", "errors/404.html", NULL);
    expect_set("spa_fallback", "200.html", NULL);
    expect_set("spa_fallback", "./index.html", NULL);
    expect_set("spa_fallback", "/200.html", "--flag: spa_fallback: must be relative to the site root, without "
               "a leading \"/\", got \"/200.html\"");
    expect_set("not_found_page", "../secret", "--flag: not_found_page: must not contain a \"..\" segment, "
               "got \"../secret\"");
    expect_set("not_found_page", "a/../../b", "--flag: not_found_page: must not contain a \"..\" segment, "
               "got \"a/../../b\"");
    expect_set("not_found_page", "errors/", "--flag: not_found_page: must name a file, not a directory, "
               "got \"errors/\"");
    expect_load_error("not_found_page: /404.html\n",
                      "conf/x.yaml:1:17: not_found_page: must be relative to the site root, without a "
                      "leading \"/\", got \"/404.html\"");
}

static void test_cache_rules(void **state)
{
    tomed_config *cfg = config_new(CONFIG_MODE_RUN);
    tomed_error err = {0};

    (void)state;
    assert_int_equal(load(cfg,
                          "cache:\n"
                          "  rules:\n"
                          "    - match: /a/**\n"
                          "      cache_control: no-store\n"
                          "    - cache_control: public, max-age=5\n"
                          "      match: \"/*.json\"\n",
                          &err),
                     0);
    assert_int_equal(cfg->n_cache_rules, 2);
    assert_string_equal(config_origin_of(cfg, "cache.rules"), "conf/x.yaml:3:5");
    assert_string_equal(cfg->cache_rules[0].match, "/a/**");
    assert_string_equal(cfg->cache_rules[0].cache_control, "no-store");
    assert_string_equal(cfg->cache_rules[1].match, "/*.json");
    assert_string_equal(cfg->cache_rules[1].cache_control, "public, max-age=5");
    /* a later layer replaces the list as a whole */
    assert_int_equal(load(cfg, "cache:\n  rules:\n    - {match: /x, cache_control: y}\n", &err), 0);
    assert_int_equal(cfg->n_cache_rules, 1);
    assert_string_equal(cfg->cache_rules[0].match, "/x");
    assert_int_equal(load(cfg, "cache:\n  rules: []\n", &err), 0);
    assert_int_equal(cfg->n_cache_rules, 0);
    assert_null(cfg->cache_rules);
    assert_int_equal(load(cfg, "cache: {rules: [{match: /x, cache_control: y}]}\n", &err), 0);
    assert_int_equal(load(cfg, "cache:\n  rules:\n", &err), 0);
    assert_int_equal(cfg->n_cache_rules, 0);
    /* a failed load leaves the previous rules in place */
    assert_int_equal(load(cfg, "cache: {rules: [{match: /x, cache_control: y}]}\n", &err), 0);
    assert_int_equal(load(cfg, "cache: {rules: [{match: /z, cache_control: y}, {match: z}]}\n", &err), -1);
    assert_int_equal(cfg->n_cache_rules, 1);
    assert_string_equal(cfg->cache_rules[0].match, "/x");
    config_free(cfg);

    expect_load_error("cache:\n  rules:\n    - match: downloads/*\n      cache_control: x\n",
                      "conf/x.yaml:3:14: cache.rules[0].match: must start with \"/\", got \"downloads/*\"");
    expect_load_error("cache:\n  rules:\n    - match: /a\n      cache_control: x\n    - match: /b\n",
                      "conf/x.yaml:5:7: cache.rules[1]: missing \"cache_control\"");
    expect_load_error("cache:\n  rules:\n    - cache_control: x\n",
                      "conf/x.yaml:3:7: cache.rules[0]: missing \"match\"");
    expect_load_error("cache:\n  rules:\n    - {match: /a, cache_control: x, when: always}\n",
                      "conf/x.yaml:3:37: cache.rules[0]: unknown key \"when\" (expected one of: match, "
                      "cache_control)");
    expect_load_error("cache:\n  rules:\n    - /a\n",
                      "conf/x.yaml:3:7: cache.rules[0]: expected a mapping with \"match\" and "
                      "\"cache_control\", got \"/a\"");
    expect_load_error("cache:\n  rules: {match: /a}\n",
                      "conf/x.yaml:2:10: cache.rules: expected a sequence of {match, cache_control} "
                      "mappings, got a mapping");
    expect_load_error("cache:\n  rules:\n    - {match: /a, cache_control: ~}\n",
                      "conf/x.yaml:3:34: cache.rules[0].cache_control: expected a string, got null");
    expect_load_error("cache:\n  rules:\n    - {match: /a, cache_control: \"\"}\n",
                      "conf/x.yaml:3:34: cache.rules[0].cache_control: must not be empty");
    expect_load_error("cache:\n  rules:\n    - {match: [/a], cache_control: x}\n",
                      "conf/x.yaml:3:15: cache.rules[0].match: expected a string, got a sequence");
    expect_load_error("cache:\n  rules:\n    - {match: /a, cache_control: \"x\\ny\"}\n",
                      "conf/x.yaml:3:34: cache.rules[0].cache_control: must not contain control characters "
                      "(line breaks, tabs), got \"x\\x0ay\"");
    /* only settable in YAML */
    expect_set("cache.rules", "/a=x", "--flag: cache.rules: can only be set in the YAML file, as a list of "
               "{match, cache_control} mappings");
    cfg = config_new(CONFIG_MODE_RUN);
    memset(&err, 0, sizeof err);
    char *envp[] = {"TOMED_CACHE_RULES=[]", NULL};
    assert_int_equal(config_apply_env(cfg, envp, &err), -1);
    assert_string_equal(err.msg, "TOMED_CACHE_RULES: cache.rules: can only be set in the YAML file, as a list "
                                 "of {match, cache_control} mappings");
    config_free(cfg);
}

static void test_too_many_rules(void **state)
{
    size_t cap = 300 * 40 + 64, o;
    char *yaml = malloc(cap);

    (void)state;
    o = (size_t)snprintf(yaml, cap, "cache:\n  rules:\n");
    for (int i = 0; i < 257; i++)
        o += (size_t)snprintf(yaml + o, cap - o, "    - {match: /%d, cache_control: x}\n", i);
    expect_load_error(yaml, "conf/x.yaml:3:5: cache.rules: has 257 rules, more than the limit of 256");
    free(yaml);
}

/* ---- layers -------------------------------------------------------------- */

static void test_env_over_file(void **state)
{
    tomed_config *cfg = config_new(CONFIG_MODE_RUN);
    tomed_error err = {0};
    char *envp[] = {
        "PATH=/usr/bin",
        "TOMED_CONFIG=/etc/tomed/tomed.yaml", /* reserved: names the file */
        "TOMED_LISTEN=:9000",
        "TOMED_LIMITS_MAX_CONNECTIONS=50",
        "TOMED_ROOT=/env/docs",
        "TOMED_HEADERS_X_FRAME_OPTIONS=SAMEORIGIN",
        "tomed_root=/ignored",
        NULL,
    };

    (void)state;
    assert_int_equal(load(cfg, "root: /file/docs\nlisten: 127.0.0.1:1\nlimits:\n  max_connections: 10\n"
                               "  max_url_length: 100\n", &err), 0);
    assert_string_equal(cfg->root_origin.where, "conf/x.yaml:1:7");
    assert_int_equal(config_apply_env(cfg, envp, &err), 0);
    assert_string_equal(cfg->listen, ":9000");
    assert_int_equal(cfg->max_connections, 50);
    assert_int_equal(cfg->max_url_length, 100); /* from the file, not overridden */
    assert_string_equal(cfg->root, "/env/docs");
    assert_string_equal(cfg->root_origin.where, "TOMED_ROOT");
    assert_string_equal(cfg->x_frame_options, "SAMEORIGIN");
    assert_string_equal(config_origin_of(cfg, "limits.max_connections"), "TOMED_LIMITS_MAX_CONNECTIONS");
    assert_string_equal(config_origin_of(cfg, "limits.max_url_length"), "conf/x.yaml:5:19");
    assert_string_equal(config_origin_of(cfg, "base"), "default");
    assert_int_equal(err.status, 0);
    assert_int_equal(config_apply_env(cfg, NULL, &err), 0);
    config_free(cfg);
}

static void test_flag_over_env(void **state)
{
    tomed_config *cfg = config_new(CONFIG_MODE_SERVE);
    tomed_error err = {0};
    char *envp[] = {"TOMED_LISTEN=:9000", "TOMED_ROOT=/env/docs", "TOMED_SERVER_THREADS=4", NULL};

    (void)state;
    assert_int_equal(config_apply_env(cfg, envp, &err), 0);
    assert_int_equal(config_set(cfg, "listen", "[::1]:0", "--listen", &err), 0);
    assert_int_equal(config_set(cfg, "root", "/flag/docs", "--root", &err), 0);
    /* flags spell words with '-' */
    assert_int_equal(config_set(cfg, "limits.max-connections", "9", "--limits.max-connections", &err), 0);
    assert_string_equal(cfg->listen, "[::1]:0");
    assert_string_equal(cfg->root, "/flag/docs");
    assert_string_equal(cfg->root_origin.where, "--root");
    assert_int_equal(cfg->threads, 4);
    assert_int_equal(cfg->max_connections, 9);
    assert_string_equal(config_origin_of(cfg, "listen"), "--listen");
    assert_string_equal(config_origin_of(cfg, "limits.max-connections"), "--limits.max-connections");
    assert_string_equal(config_origin_of(cfg, "server.threads"), "TOMED_SERVER_THREADS");
    assert_null(config_origin_of(cfg, "nope"));
    assert_null(config_origin_of(NULL, "root"));

    assert_int_equal(config_set(cfg, "listen", ":99999", "--listen", &err), -1);
    assert_string_equal(err.msg, "--listen: listen: port must be 0..65535, got \"99999\"");
    assert_int_equal(err.status, TOMED_EXIT_CONFIG);
    assert_string_equal(cfg->listen, "[::1]:0"); /* unchanged by the failed set */
    config_free(cfg);
}

static void test_env_errors(void **state)
{
    tomed_config *cfg = config_new(CONFIG_MODE_RUN);
    tomed_error err = {0};
    char *bad_value[] = {"TOMED_LISTEN=:99999", NULL};
    char *unknown[] = {"TOMED_LIMTS_MAX_CONNECTIONS=5", NULL};
    char *bad_number[] = {"TOMED_LIMITS_MAX_CONNECTIONS=many", NULL};

    (void)state;
    assert_int_equal(config_apply_env(cfg, bad_value, &err), -1);
    assert_string_equal(err.msg, "TOMED_LISTEN: listen: port must be 0..65535, got \"99999\"");
    assert_int_equal(err.status, TOMED_EXIT_CONFIG);

    memset(&err, 0, sizeof err);
    assert_int_equal(config_apply_env(cfg, unknown, &err), -1);
    assert_int_equal(err.status, TOMED_EXIT_CONFIG);
    assert_string_equal(err.msg,
                        "TOMED_LIMTS_MAX_CONNECTIONS: unknown variable (did you mean TOMED_LIMITS_MAX_CONNECTIONS?); "
                        "every key is in conf/tomed.yaml, as TOMED_<KEY> with dots as underscores");

    memset(&err, 0, sizeof err);
    assert_int_equal(config_apply_env(cfg, bad_number, &err), -1);
    assert_string_equal(err.msg, "TOMED_LIMITS_MAX_CONNECTIONS: limits.max_connections: expected a whole "
                                 "number, got \"many\"");
    config_free(cfg);
}

/* ---- files, validation, dump --------------------------------------------- */

static void test_load_file_errors(void **state)
{
    tomed_config *cfg = config_new(CONFIG_MODE_RUN);
    tomed_error err = {0};
    char dir[] = "/tmp/tomed-test-XXXXXX", path[64];
    FILE *f;

    (void)state;
    assert_int_equal(config_load_file(cfg, "conf/does-not-exist.yaml", &err), -1);
    assert_int_equal(err.status, TOMED_EXIT_CONFIG);
    assert_string_equal(err.msg, "conf/does-not-exist.yaml: cannot read: No such file or directory");

    assert_non_null(mkdtemp(dir));
    memset(&err, 0, sizeof err);
    assert_int_equal(config_load_file(cfg, dir, &err), -1);
    snprintf(path, sizeof path, "%s: cannot read: Is a directory", dir);
    assert_string_equal(err.msg, path);

    snprintf(path, sizeof path, "%s/t.yaml", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("root: /x\nlimits:\n  max_connections: 0\n", f);
    fclose(f);
    memset(&err, 0, sizeof err);
    assert_int_equal(config_load_file(cfg, path, &err), -1);
    char want[160];
    snprintf(want, sizeof want, "%s:3:20: limits.max_connections: must be at least 1, got \"0\"", path);
    assert_string_equal(err.msg, want);
    assert_null(cfg->config_file);

    /* root ignores file permissions, so only check unreadable files as others */
    if (geteuid() != 0) {
        chmod(path, 0);
        memset(&err, 0, sizeof err);
        assert_int_equal(config_load_file(cfg, path, &err), -1);
        snprintf(want, sizeof want, "%s: cannot read: Permission denied", path);
        assert_string_equal(err.msg, want);
    }
    unlink(path);

    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    memset(&err, 0, sizeof err);
    assert_int_equal(config_load_file(cfg, path, &err), 0); /* empty file: nothing changes */
    assert_string_equal(cfg->config_file, path);
    unlink(path);
    rmdir(dir);
    config_free(cfg);
}

static void test_validate(void **state)
{
    tomed_config *cfg = config_new(CONFIG_MODE_RUN);
    tomed_error err = {0};
    char dir[] = "/tmp/tomed-test-XXXXXX", file[64], want[256];
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(load(cfg, "root: /nonexistent/tomed/docs\n", &err), 0);
    assert_int_equal(config_validate(cfg, &err), -1);
    assert_int_equal(err.status, TOMED_EXIT_CONFIG);
    assert_string_equal(err.msg, "conf/x.yaml:1:7: root: \"/nonexistent/tomed/docs\": No such file or directory");

    char *envp[] = {"TOMED_ROOT=/nonexistent/env", NULL};
    assert_int_equal(config_apply_env(cfg, envp, &err), 0);
    memset(&err, 0, sizeof err);
    assert_int_equal(config_validate(cfg, &err), -1);
    assert_string_equal(err.msg, "TOMED_ROOT: root: \"/nonexistent/env\": No such file or directory");

    snprintf(file, sizeof file, "%s/index.html", dir);
    f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(config_set(cfg, "root", file, "--root", &err), 0);
    memset(&err, 0, sizeof err);
    assert_int_equal(config_validate(cfg, &err), -1);
    snprintf(want, sizeof want, "--root: root: \"%s\": is not a directory", file);
    assert_string_equal(err.msg, want);

    assert_int_equal(config_set(cfg, "root", dir, "--root", &err), 0);
    memset(&err, 0, sizeof err);
    assert_int_equal(config_validate(cfg, &err), 0);
    assert_int_equal(err.status, 0);

    tomed_config *def = config_new(CONFIG_MODE_RUN);
    assert_int_equal(config_set(def, "root", "/nonexistent/default", "x", &err), 0);
    snprintf(def->root_origin.where, sizeof def->root_origin.where, "default");
    assert_int_equal(config_validate(def, &err), -1);
    assert_string_equal(err.msg, "default: root: \"/nonexistent/default\": No such file or directory");
    config_free(def);

    unlink(file);
    rmdir(dir);
    config_free(cfg);
}

/* Loads the dump of cfg into a fresh config of the other mode and compares
 * the two dumps: every key, including rules and escapes, must survive. */
static void assert_round_trip(const tomed_config *cfg)
{
    char *dump = config_dump(cfg), *again;
    tomed_config *copy = config_new(cfg->mode == CONFIG_MODE_RUN ? CONFIG_MODE_SERVE : CONFIG_MODE_RUN);
    tomed_error err = {0};

    assert_non_null(dump);
    if (config_load_buffer(copy, "dump", dump, strlen(dump), &err) != 0)
        fail_msg("dump does not load: %s\n%s", err.msg, dump);
    again = config_dump(copy);
    assert_string_equal(dump, again);
    free(dump);
    free(again);
    config_free(copy);
}

static void test_dump_round_trip(void **state)
{
    tomed_config *cfg = config_new(CONFIG_MODE_RUN);
    tomed_error err = {0};
    char *dump;

    (void)state;
    assert_round_trip(cfg);
    assert_int_equal(load(cfg, all_keys_yaml, &err), 0);
    assert_int_equal(config_set(cfg, "limits.memory_file_max", "18446744073709551615", "--x", &err), 0);
    assert_int_equal(config_set(cfg, "headers.referrer_policy", "a: b # c ' \" \\ \xe2\x80\xa8 \xef\xbb\xbf",
                                "--x", &err), 0);
    assert_int_equal(config_set(cfg, "not_found_page", "- [x] {y}: &z *w !v |u >t %s @r `q", "--x", &err), 0);
    assert_round_trip(cfg);

    dump = config_dump(cfg);
    assert_non_null(strstr(dump, "\nroot: \"/tmp/site with \\\"quotes\\\" and \\\\ and \\u00E9\"\n"));
    assert_non_null(strstr(dump, "\n  rules:\n    - match: \"/downloads/**\"\n"
                                 "      cache_control: \"public, max-age=86400\"\n"));
    assert_non_null(strstr(dump, "\n  memory_file_max: 18446744073709551615\n"));
    assert_non_null(strstr(dump, "\n  connection_timeout: 2\n"));
    assert_non_null(strstr(dump, "\\U0001F600"));
    free(dump);
    assert_null(config_dump(NULL));
    config_free(cfg);
}

static void test_example_file_loads(void **state)
{
    tomed_config *cfg = config_new(CONFIG_MODE_SERVE);
    tomed_config *def = config_new(CONFIG_MODE_RUN);
    tomed_error err = {0};
    char *got, *want;

    (void)state;
    /* Start from every key changed, so the file must set every key back. */
    assert_int_equal(load(cfg, all_keys_yaml, &err), 0);
    if (config_load_file(cfg, EXAMPLE, &err) != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(cfg->config_file, EXAMPLE);
    assert_int_equal(strncmp(cfg->root_origin.where, EXAMPLE ":", strlen(EXAMPLE) + 1), 0);
    got = config_dump(cfg);
    want = config_dump(def);
    assert_string_equal(got, want);
    free(got);
    free(want);
    config_free(cfg);
    config_free(def);
}

/* Mutates the example file many times; each result must load or fail cleanly
 * (ASan/valgrind catch the rest), and whatever loads must dump and reload. */
static void test_mutations_never_crash(void **state)
{
    static const char *const tokens[] = {
        ":", "-", "[", "]", "{", "}", "&a", "*a", "!!str", "\"", "'", "\n", "  ", "~", "---", "? ",
        "|", ">", "#", "\\", "\xff", "\t", "0", "99999999999999999999", "rules: [", "%YAML 1.1\n",
    };
    char *text = read_text(EXAMPLE);
    size_t len, cap;
    uint64_t seed = 0x7f4a7c159e3779b9ULL;
    unsigned loaded = 0;

    (void)state;
    assert_non_null(text);
    len = strlen(text);
    cap = len + 4096;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = len;
        memcpy(buf, text, len);
        for (int m = 0; m < 1 + iter % 4; m++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t pos = (size_t)(seed >> 33) % (n + 1);
            const char *tok = tokens[(seed >> 13) % (sizeof tokens / sizeof tokens[0])];
            size_t tl = strlen(tok);
            switch ((seed >> 7) % 3) {
            case 0: /* insert a token */
                if (n + tl < cap) {
                    memmove(buf + pos + tl, buf + pos, n - pos);
                    memcpy(buf + pos, tok, tl);
                    n += tl;
                }
                break;
            case 1: /* delete a run */
                if (pos < n) {
                    size_t d = ((seed >> 40) % 16) < n - pos ? (seed >> 40) % 16 : n - pos;
                    memmove(buf + pos, buf + pos + d, n - pos - d);
                    n -= d;
                }
                break;
            default: /* flip a byte */
                if (pos < n)
                    buf[pos] = (char)(seed >> 50);
                break;
            }
        }
        tomed_config *cfg = config_new(iter % 2 ? CONFIG_MODE_RUN : CONFIG_MODE_SERVE);
        tomed_error err = {0};
        if (config_load_buffer(cfg, "fuzz", buf, n, &err) == 0) {
            loaded++;
            assert_round_trip(cfg);
        } else {
            assert_int_equal(err.status, TOMED_EXIT_CONFIG);
            assert_true(strncmp(err.msg, "fuzz:", 5) == 0);
        }
        config_free(cfg);
    }
    assert_true(loaded > 0);
    free(buf);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_run),
        cmocka_unit_test(test_defaults_serve),
        cmocka_unit_test(test_free_null),
        cmocka_unit_test(test_error_first_wins),
        cmocka_unit_test(test_load_all_keys),
        cmocka_unit_test(test_empty_documents),
        cmocka_unit_test(test_header_removal),
        cmocka_unit_test(test_header_values_rejected),
        cmocka_unit_test(test_unknown_key_top),
        cmocka_unit_test(test_unknown_key_nested),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_bad_number),
        cmocka_unit_test(test_sizes_and_durations),
        cmocka_unit_test(test_bad_size_duration_messages),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_document_shape),
        cmocka_unit_test(test_listen),
        cmocka_unit_test(test_base_and_paths),
        cmocka_unit_test(test_cache_rules),
        cmocka_unit_test(test_too_many_rules),
        cmocka_unit_test(test_env_over_file),
        cmocka_unit_test(test_flag_over_env),
        cmocka_unit_test(test_env_errors),
        cmocka_unit_test(test_load_file_errors),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_dump_round_trip),
        cmocka_unit_test(test_example_file_loads),
        cmocka_unit_test(test_mutations_never_crash),
    };

    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
