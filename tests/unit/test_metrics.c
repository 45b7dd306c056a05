/*
 * Unit tests for metrics: the exact series after known calls, histogram
 * bucket placement at the edges, the "other" catch-alls, exact totals under
 * concurrent recording, the process_* family, and Debian's promtool lint of
 * the whole exposition (promtool must be installed: the test fails, never
 * skips, without it — `apt-get install prometheus`).
 *
 * The rendered text is parsed here line by line, so the tests check what a
 * scraper sees, not the struct behind it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <microhttpd.h>
#include <yaml.h>
#include <zlib.h>

#include "tomed/metrics.h"

#define START ((time_t)1700000000)
#define H "tomed_http_request_duration_seconds"

/* ---- helpers ----------------------------------------------------------- */

static char *render(const metrics *m)
{
    size_t len = 0;
    char *s = metrics_render(m, &len);
    assert_non_null(s);
    assert_int_equal(strlen(s), len);
    assert_true(len > 0 && s[len - 1] == '\n');
    return s;
}

/* The value of the one sample line whose series is exactly `series` (name
 * and labels as rendered), copied into out; fails if absent or repeated. */
static const char *value_of(const char *text, const char *series, char *out, size_t cap)
{
    size_t sl = strlen(series);
    const char *found = NULL;
    for (const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        assert_non_null(eol);
        if ((size_t)(eol - line) > sl && strncmp(line, series, sl) == 0 && line[sl] == ' ') {
            if (found)
                fail_msg("series %s appears twice", series);
            found = line + sl + 1;
            size_t vl = (size_t)(eol - found);
            assert_true(vl < cap);
            memcpy(out, found, vl);
            out[vl] = '\0';
        }
        line = eol + 1;
    }
    if (!found)
        fail_msg("series %s missing from:\n%s", series, text);
    return out;
}

static void expect(const char *text, const char *series, const char *want)
{
    char v[128];
    value_of(text, series, v, sizeof v);
    if (strcmp(v, want) != 0)
        fail_msg("%s = %s, want %s", series, v, want);
}

static unsigned long long uvalue(const char *text, const char *series)
{
    char v[128], *end;
    value_of(text, series, v, sizeof v);
    unsigned long long n = strtoull(v, &end, 10);
    assert_true(end != v && *end == '\0');
    return n;
}

static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

static void expect_family(const char *text, const char *name, const char *type)
{
    char want[256];
    snprintf(want, sizeof want, "# TYPE %s %s", name, type);
    if (!has_line(text, want))
        fail_msg("missing \"%s\"", want);
    snprintf(want, sizeof want, "# HELP %s ", name);
    assert_non_null(strstr(text, want));
}

static char *bucket(char *buf, size_t cap, const char *le)
{
    snprintf(buf, cap, H "_bucket{le=\"%s\"}", le);
    return buf;
}

/* ---- families and values ----------------------------------------------- */

static void test_fresh_exposition(void **state)
{
    (void)state;
    metrics *m = metrics_new(START);
    assert_non_null(m);
    char *t = render(m);

    expect_family(t, "tomed_http_requests_total", "counter");
    expect_family(t, "tomed_http_response_bytes_total", "counter");
    expect_family(t, H, "histogram");
    expect_family(t, "tomed_http_connections_open", "gauge");
    expect_family(t, "tomed_log_lines_dropped_total", "counter");
    expect_family(t, "tomed_snapshot_files", "gauge");
    expect_family(t, "tomed_snapshot_bytes", "gauge");
    expect_family(t, "tomed_snapshot_generation", "gauge");
    expect_family(t, "tomed_reloads_total", "counter");
    expect_family(t, "tomed_last_reload_timestamp_seconds", "gauge");
    expect_family(t, "tomed_build_info", "gauge");
    expect_family(t, "process_cpu_seconds_total", "counter");
    expect_family(t, "process_resident_memory_bytes", "gauge");
    expect_family(t, "process_virtual_memory_bytes", "gauge");
    expect_family(t, "process_open_fds", "gauge");
    expect_family(t, "process_max_fds", "gauge");
    expect_family(t, "process_start_time_seconds", "gauge");

    /* Every known series exists at 0 before its first event, so rate() works
     * from the first scrape. */
    static const char *codes[] = { "200", "206", "304", "308", "400", "404", "405",
                                   "406", "413", "414", "416", "500", "503", "other" };
    static const char *methods[] = { "GET", "HEAD", "other" };
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < sizeof codes / sizeof codes[0]; j++) {
            char s[128];
            snprintf(s, sizeof s, "tomed_http_requests_total{method=\"%s\",code=\"%s\"}",
                     methods[i], codes[j]);
            expect(t, s, "0");
        }
    expect(t, "tomed_http_response_bytes_total{encoding=\"br\"}", "0");
    expect(t, "tomed_http_response_bytes_total{encoding=\"gzip\"}", "0");
    expect(t, "tomed_http_response_bytes_total{encoding=\"identity\"}", "0");
    expect(t, H "_bucket{le=\"+Inf\"}", "0");
    expect(t, H "_sum", "0.000000");
    expect(t, H "_count", "0");
    expect(t, "tomed_http_connections_open", "0");
    expect(t, "tomed_log_lines_dropped_total", "0");
    expect(t, "tomed_snapshot_generation", "0");
    expect(t, "tomed_reloads_total{result=\"success\"}", "0");
    expect(t, "tomed_reloads_total{result=\"failure\"}", "0");
    expect(t, "tomed_last_reload_timestamp_seconds", "0");
    expect(t, "process_start_time_seconds", "1700000000");
    free(t);
    metrics_free(m);
}

static void test_requests_and_bytes(void **state)
{
    (void)state;
    metrics *m = metrics_new(START);
    metrics_request(m, "GET", 200, "br", 1000, 10);
    metrics_request(m, "GET", 200, "gzip", 1200, 10);
    metrics_request(m, "GET", 200, NULL, 5000, 10);
    metrics_request(m, "HEAD", 304, NULL, 0, 10);
    metrics_request(m, "GET", 404, NULL, 14, 10);
    metrics_request(m, "GET", 206, NULL, 100, 10);
    metrics_request(m, "HEAD", 503, NULL, 0, 10);
    char *t = render(m);
    expect(t, "tomed_http_requests_total{method=\"GET\",code=\"200\"}", "3");
    expect(t, "tomed_http_requests_total{method=\"GET\",code=\"404\"}", "1");
    expect(t, "tomed_http_requests_total{method=\"GET\",code=\"206\"}", "1");
    expect(t, "tomed_http_requests_total{method=\"HEAD\",code=\"304\"}", "1");
    expect(t, "tomed_http_requests_total{method=\"HEAD\",code=\"503\"}", "1");
    expect(t, "tomed_http_requests_total{method=\"HEAD\",code=\"200\"}", "0");
    expect(t, "tomed_http_requests_total{method=\"other\",code=\"other\"}", "0");
    expect(t, "tomed_http_response_bytes_total{encoding=\"br\"}", "1000");
    expect(t, "tomed_http_response_bytes_total{encoding=\"gzip\"}", "1200");
    expect(t, "tomed_http_response_bytes_total{encoding=\"identity\"}", "5114");
    expect(t, H "_count", "7");
    expect(t, H "_sum", "0.000070");
    free(t);
    metrics_free(m);
}

/* Neither a strange status nor a strange method may create a series. */
static void test_unknown_status_and_method(void **state)
{
    (void)state;
    metrics *m = metrics_new(START);
    metrics_request(m, "GET", 418, NULL, 0, 1);
    metrics_request(m, "GET", 0, NULL, 0, 1);
    metrics_request(m, "GET", 99999, NULL, 0, 1);
    metrics_request(m, "POST", 405, NULL, 0, 1);
    metrics_request(m, "get", 200, NULL, 0, 1); /* methods are case-sensitive */
    metrics_request(m, NULL, 400, NULL, 0, 1);
    metrics_request(m, "BREW\r\n", 999, "compress", 7, 1);
    char *t = render(m);
    expect(t, "tomed_http_requests_total{method=\"GET\",code=\"other\"}", "3");
    expect(t, "tomed_http_requests_total{method=\"other\",code=\"405\"}", "1");
    expect(t, "tomed_http_requests_total{method=\"other\",code=\"200\"}", "1");
    expect(t, "tomed_http_requests_total{method=\"other\",code=\"400\"}", "1");
    expect(t, "tomed_http_requests_total{method=\"other\",code=\"other\"}", "1");
    expect(t, "tomed_http_response_bytes_total{encoding=\"identity\"}", "7");
    assert_null(strstr(t, "418"));
    assert_null(strstr(t, "POST"));
    assert_null(strstr(t, "BREW"));
    assert_null(strstr(t, "compress\""));
    free(t);
    metrics_free(m);
}

static void test_gauges_and_reloads(void **state)
{
    (void)state;
    metrics *m = metrics_new(START);
    metrics_connection(m, 1);
    metrics_connection(m, 1);
    metrics_connection(m, 1);
    metrics_connection(m, -1);
    assert_int_equal(metrics_connections_open(m), 2);
    metrics_snapshot(m, 1, 10, 1000, 100);
    metrics_snapshot(m, 7, 152, 3456789, 987654); /* the latest wins */
    metrics_reload(m, 1, 1700000100);
    metrics_reload(m, 1, 1700000200);
    metrics_reload(m, 0, 1700000300);
    metrics_log_dropped(m);
    metrics_log_dropped(m);
    char *t = render(m);
    expect(t, "tomed_http_connections_open", "2");
    expect(t, "tomed_log_lines_dropped_total", "2");
    expect(t, "tomed_snapshot_generation", "7");
    expect(t, "tomed_snapshot_files", "152");
    expect(t, "tomed_snapshot_bytes{encoding=\"identity\"}", "3456789");
    expect(t, "tomed_snapshot_bytes{encoding=\"compressed\"}", "987654");
    expect(t, "tomed_reloads_total{result=\"success\"}", "2");
    expect(t, "tomed_reloads_total{result=\"failure\"}", "1");
    expect(t, "tomed_last_reload_timestamp_seconds", "1700000300");
    free(t);
    metrics_free(m);
}

static void test_build_info(void **state)
{
    (void)state;
    metrics *m = metrics_new(START);
    char *t = render(m);
    char want[512];
    snprintf(want, sizeof want,
             "tomed_build_info{version=\"%s\",libmicrohttpd=\"%s\",zlib=\"%s\",brotli=\"",
             TOMED_VERSION, MHD_get_version(), zlibVersion());
    const char *line = strstr(t, want);
    if (!line)
        fail_msg("want a line starting %s in\n%s", want, t);
    /* brotli and openssl are bare x.y.z, not a banner */
    const char *br = line + strlen(want);
    size_t dots = 0, k = 0;
    for (; br[k] != '"'; k++) {
        assert_true((br[k] >= '0' && br[k] <= '9') || br[k] == '.');
        dots += br[k] == '.';
    }
    assert_int_equal(dots, 2);
    snprintf(want, sizeof want, "\",libyaml=\"%s\",openssl=\"", yaml_get_version_string());
    assert_memory_equal(br + k, want, strlen(want));
    const char *ssl = br + k + strlen(want);
    assert_true(ssl[0] >= '1' && ssl[0] <= '9');
    const char *end = strchr(ssl, '"');
    assert_non_null(end);
    assert_null(memchr(ssl, ' ', (size_t)(end - ssl)));
    assert_memory_equal(end, "\"} 1\n", 5);
    free(t);
    metrics_free(m);
}

/* ---- histogram ---------------------------------------------------------- */

static const char *const les[] = {
    "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
};
#define N_LES (sizeof les / sizeof les[0])

/* le means "less than or equal": exactly 50 µs is in the first bucket, 51 µs
 * in the next, exactly 10 s in the last finite one. */
static void test_histogram_edges(void **state)
{
    (void)state;
    static const uint64_t samples[] = { 0, 50, 51, 100, 101, 1000, 1000000, 1000001,
                                        10000000, 10000001, 3600000000ULL };
    /* cumulative counts per le, worked out by hand from the samples */
    static const unsigned long long want[N_LES] = {
        2, 4, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 7, 8, 8, 9, 11,
    };
    metrics *m = metrics_new(START);
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
        metrics_request(m, "GET", 200, NULL, 0, samples[i]);
    char *t = render(m);
    char b[128];
    for (size_t i = 0; i < N_LES; i++) {
        unsigned long long got = uvalue(t, bucket(b, sizeof b, les[i]));
        if (got != want[i])
            fail_msg("le=%s: %llu, want %llu", les[i], got, want[i]);
    }
    expect(t, H "_count", "11");
    /* 0+50+51+100+101+1000+1000000+1000001+10000000+10000001+3600000000 µs */
    expect(t, H "_sum", "3622.001304");

    /* buckets appear in increasing le order and nowhere else */
    const char *prev = t;
    for (size_t i = 0; i < N_LES; i++) {
        const char *at = strstr(t, bucket(b, sizeof b, les[i]));
        assert_true(at > prev);
        prev = at;
    }
    free(t);
    metrics_free(m);
}

/* Each bucket's own samples: a value just over a bound moves one bucket up. */
static void test_histogram_every_bound(void **state)
{
    (void)state;
    static const uint64_t bounds[] = { 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000,
                                       50000, 100000, 250000, 500000, 1000000, 2500000,
                                       5000000, 10000000 };
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
        metrics *m = metrics_new(START);
        metrics_request(m, "GET", 200, NULL, 0, bounds[i]);
        metrics_request(m, "GET", 200, NULL, 0, bounds[i] + 1);
        char *t = render(m), b[128];
        if (i > 0)
            assert_int_equal(uvalue(t, bucket(b, sizeof b, les[i - 1])), 0);
        assert_int_equal(uvalue(t, bucket(b, sizeof b, les[i])), 1);
        assert_int_equal(uvalue(t, bucket(b, sizeof b, les[i + 1])), 2);
        free(t);
        metrics_free(m);
    }
}

/* ---- concurrency --------------------------------------------------------- */

#define PER_THREAD 100000

struct worker {
    metrics *m;
    const char *method;
    unsigned status;
    const char *encoding;
};

static void *record(void *arg)
{
    const struct worker *w = arg;
    for (unsigned i = 0; i < PER_THREAD; i++) {
        metrics_request(w->m, w->method, w->status, w->encoding, 3, i % 2 ? 40 : 2000);
        metrics_connection(w->m, 1);
        metrics_connection(w->m, -1);
    }
    return NULL;
}

/* Two threads hammering overlapping cells lose nothing: relaxed atomic adds
 * are still atomic. */
static void test_concurrent_totals(void **state)
{
    (void)state;
    metrics *m = metrics_new(START);
    struct worker w[2] = { { m, "GET", 200, "br" }, { m, "GET", 200, NULL } };
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, record, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    char *t = render(m), b[128];
    expect(t, "tomed_http_requests_total{method=\"GET\",code=\"200\"}", "200000");
    expect(t, "tomed_http_response_bytes_total{encoding=\"br\"}", "300000");
    expect(t, "tomed_http_response_bytes_total{encoding=\"identity\"}", "300000");
    expect(t, "tomed_http_connections_open", "0");
    assert_int_equal(uvalue(t, bucket(b, sizeof b, "0.00005")), 100000);
    assert_int_equal(uvalue(t, bucket(b, sizeof b, "0.0025")), 200000);
    expect(t, H "_count", "200000");
    /* 100000 × 40 µs + 100000 × 2000 µs = 204 s */
    expect(t, H "_sum", "204.000000");
    free(t);
    metrics_free(m);
}

/* ---- process_* ----------------------------------------------------------- */

/* Busy-wait on this process's CPU clock: the kernel charges CPU time in
 * ticks, so the test waits for a charge rather than guessing a loop count. */
static void burn_cpu_ms(long ms)
{
    struct timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    do
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

static void test_process_metrics(void **state)
{
    (void)state;
    metrics *m = metrics_new(START);
    char *t = render(m);
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_int_equal(uvalue(t, "process_max_fds"), (unsigned long long)rl.rlim_cur);
    unsigned long long fds = uvalue(t, "process_open_fds");
    assert_true(fds >= 3 && fds < rl.rlim_cur); /* stdin, stdout, stderr at least */
    assert_true(uvalue(t, "process_resident_memory_bytes") > 0);
    assert_true(uvalue(t, "process_virtual_memory_bytes") >=
                uvalue(t, "process_resident_memory_bytes"));

    /* the open-fd count follows descriptors we open */
    int extra[4];
    for (int i = 0; i < 4; i++)
        assert_true((extra[i] = open("/dev/null", O_RDONLY)) >= 0);
    char *t2 = render(m);
    assert_int_equal(uvalue(t2, "process_open_fds"), fds + 4);
    for (int i = 0; i < 4; i++)
        close(extra[i]);

    /* CPU time is seconds as a decimal, and it moves when we burn CPU */
    char v[64], *end;
    double before = strtod(value_of(t, "process_cpu_seconds_total", v, sizeof v), &end);
    assert_true(*end == '\0' && before >= 0);
    char *t3 = NULL;
    for (int tries = 0; tries < 100; tries++) {
        burn_cpu_ms(20);
        free(t3);
        t3 = render(m);
        if (strtod(value_of(t3, "process_cpu_seconds_total", v, sizeof v), NULL) > before)
            break;
    }
    assert_true(strtod(value_of(t3, "process_cpu_seconds_total", v, sizeof v), NULL) > before);
    free(t);
    free(t2);
    free(t3);
    metrics_free(m);
}

static void test_null_is_noop(void **state)
{
    (void)state;
    metrics_request(NULL, "GET", 200, NULL, 1, 1);
    metrics_connection(NULL, 1);
    assert_int_equal(metrics_connections_open(NULL), 0);
    metrics_snapshot(NULL, 1, 1, 1, 1);
    metrics_reload(NULL, 1, 1);
    metrics_free(NULL);
    size_t len = 99;
    assert_null(metrics_render(NULL, &len));
    assert_int_equal(len, 0);
}

/* ---- exposition syntax --------------------------------------------------- */

/* Every line is a comment or `name{labels} value`, names are legal, and
 * sample lines follow their family's TYPE line. */
static void test_line_syntax(void **state)
{
    (void)state;
    metrics *m = metrics_new(START);
    metrics_request(m, "GET", 200, "br", 10, 10);
    char *t = render(m);
    char family[128] = "";
    for (char *line = t; *line;) {
        char *eol = strchr(line, '\n');
        *eol = '\0';
        if (strncmp(line, "# TYPE ", 7) == 0) {
            assert_true(sscanf(line + 7, "%127s", family) == 1);
        } else if (line[0] != '#') {
            size_t n = strspn(line, "abcdefghijklmnopqrstuvwxyz_0123456789");
            assert_true(n > 0);
            assert_memory_equal(line, family, strlen(family)); /* within its family */
            const char *rest = line + n;
            if (*rest == '{') {
                rest = strchr(rest, '}');
                assert_non_null(rest);
                rest++;
            }
            assert_true(*rest == ' ');
            char *end;
            strtod(rest + 1, &end);
            assert_true(end != rest + 1 && *end == '\0');
        }
        line = eol + 1;
    }
    free(t);
    metrics_free(m);
}

/* Debian's promtool lints names, units, HELP/TYPE and the histogram shape;
 * any output at all is a finding. */
static void test_promtool_check_metrics(void **state)
{
    (void)state;
    metrics *m = metrics_new(START);
    metrics_request(m, "GET", 200, "br", 1000, 75);
    metrics_request(m, "POST", 418, NULL, 10, 20000000);
    metrics_connection(m, 1);
    metrics_snapshot(m, 2, 10, 1000, 400);
    metrics_reload(m, 0, START + 60);
    size_t len;
    char *t = metrics_render(m, &len);
    assert_non_null(t);

    char dir[] = "/tmp/tomed-metrics-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char in[128], out[128], cmd[512];
    snprintf(in, sizeof in, "%s/metrics.txt", dir);
    snprintf(out, sizeof out, "%s/promtool.out", dir);
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(t, 1, len, f), len);
    assert_int_equal(fclose(f), 0);

    snprintf(cmd, sizeof cmd, "promtool check metrics < %s > %s 2>&1", in, out);
    int rc = system(cmd);
    char report[4096] = "";
    f = fopen(out, "r");
    if (f) {
        report[fread(report, 1, sizeof report - 1, f)] = '\0';
        fclose(f);
    }
    unlink(in);
    unlink(out);
    rmdir(dir);
    free(t);
    metrics_free(m);
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) == 127)
        fail_msg("promtool not found: apt-get install prometheus (%s)", report);
    if (WEXITSTATUS(rc) != 0 || report[0] != '\0')
        fail_msg("promtool check metrics (exit %d):\n%s", WEXITSTATUS(rc), report);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_exposition),
        cmocka_unit_test(test_requests_and_bytes),
        cmocka_unit_test(test_unknown_status_and_method),
        cmocka_unit_test(test_gauges_and_reloads),
        cmocka_unit_test(test_build_info),
        cmocka_unit_test(test_histogram_edges),
        cmocka_unit_test(test_histogram_every_bound),
        cmocka_unit_test(test_concurrent_totals),
        cmocka_unit_test(test_process_metrics),
        cmocka_unit_test(test_null_is_noop),
        cmocka_unit_test(test_line_syntax),
        cmocka_unit_test(test_promtool_check_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
