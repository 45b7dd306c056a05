/*
 * Unit tests for log: the format names, exact CLF and JSON lines, and hostile
 * input — CRLF line forging, quotes, backslashes, control bytes, invalid
 * UTF-8, a 100 KB User-Agent — at every line cap.
 *
 * CLF lines are checked against the combined format's grammar (a regex that
 * a log shipper would use); JSON lines are checked by Python's strict json
 * module (python3, which the integration suite needs anyway), so "valid"
 * means what a real consumer accepts, not what this file believes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tomed/log.h"

#define T2000 ((time_t)971186136) /* 10/Oct/2000:13:55:36 UTC, the CLF example */
#define FORGED "\r\n127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /admin"

static log_access sample(void)
{
    return (log_access){
        .time = { .tv_sec = T2000, .tv_nsec = 123456789 },
        .remote = "10.0.0.7",
        .method = "GET",
        .path = "/tomeclicker/about",
        .query = "x=1",
        .protocol = "HTTP/1.1",
        .status = 200,
        .bytes = 2326,
        .duration_us = 45,
        .encoding = "br",
        .user_agent = "Mozilla/5.0",
        .referer = "https://example.com/",
    };
}

static size_t fmt(enum log_format f, const log_access *a, char *buf, size_t cap)
{
    size_t n = log_format_access(f, a, buf, cap);
    assert_true(n < cap);
    assert_int_equal(strlen(buf), n); /* NUL-terminated, no NUL inside */
    return n;
}

/* ---- CLF grammar ----------------------------------------------------------- */

/* What a shipper's parser for the combined format expects: one line, seven
 * fields, quotes only as delimiters, printable ASCII only, and every
 * backslash the start of a \xHH escape. */
static void assert_clf_line(const char *line)
{
    static const char *re_src =
        "^[^ \"]+ - - \\[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} \\+0000\\] "
        "\"[^\"]*\" [0-9]+ [0-9]+ \"[^\"]*\" \"[^\"]*\"\n$";
    regex_t re;
    assert_int_equal(regcomp(&re, re_src, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&re, line, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        fail_msg("not a combined-format line: %s", line);
    size_t n = strlen(line);
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c < 0x20 || c >= 0x7f)
            fail_msg("raw byte 0x%02x at %zu in %s", c, i, line);
        if (c == '\\') {
            const char *hex = "0123456789abcdef";
            if (line[i + 1] != 'x' || !strchr(hex, line[i + 2]) || !strchr(hex, line[i + 3]))
                fail_msg("broken escape at %zu in %s", i, line);
        }
    }
}

/* ---- JSON through Python ----------------------------------------------------- */

static const char *py_check =
    "import json, sys\n"
    "KEYS = ['time','remote','method','path','query','protocol','status','bytes',\n"
    "        'duration_us','encoding','user_agent','referer']\n"
    "def pairs(ps):\n"
    "    ks = [k for k, _ in ps]\n"
    "    assert ks == KEYS, ks\n"
    "    return dict(ps)\n"
    "raw = open(sys.argv[1], 'rb').read()\n"
    "text = raw.decode('utf-8')  # strict: invalid UTF-8 fails here\n"
    "assert text.endswith('\\n') and '\\r' not in text\n"
    "lines = text[:-1].split('\\n')\n"
    "for line in lines:\n"
    "    d = json.loads(line, object_pairs_hook=pairs)\n"
    "    for k in ('status', 'bytes', 'duration_us'):\n"
    "        assert type(d[k]) is int, k\n"
    "    assert len(d['time']) == 24 and d['time'].endswith('Z'), d['time']\n"
    "want = sys.argv[2:]\n"
    "d = json.loads(lines[0])\n"
    "for i in range(0, len(want), 2):\n"
    "    got = d[want[i]]\n"
    "    assert got == want[i + 1], (want[i], got, want[i + 1])\n";

/* Runs the checker on `text` (one or more lines). want: NULL-terminated
 * key, value pairs the first line's decoded fields must equal, passed as
 * argv without a shell so CR/LF and quotes arrive intact. */
static void assert_json_lines(const char *text, size_t len, const char *const *want)
{
    char dir[] = "/tmp/tomed-log-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char script[128], data[128];
    snprintf(script, sizeof script, "%s/check.py", dir);
    snprintf(data, sizeof data, "%s/lines.json", dir);
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fputs(py_check, f);
    assert_int_equal(fclose(f), 0);
    f = fopen(data, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);

    const char *argv[32] = { "python3", script, data };
    size_t argc = 3;
    for (size_t i = 0; want && want[i] && argc < 31; i++)
        argv[argc++] = want[i];
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* execvp takes char *const[] for historical reasons; it does not write */
        execvp("python3", (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    unlink(script);
    unlink(data);
    rmdir(dir);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("python3 json check failed (status %d) on:\n%.*s", st, (int)len, text);
}

static void assert_json_line(const char *line, const char *const *want)
{
    assert_json_lines(line, strlen(line), want);
}

/* ---- format names ----------------------------------------------------------- */

static void test_parse_format(void **state)
{
    (void)state;
    assert_int_equal(log_parse_format("off"), LOG_OFF);
    assert_int_equal(log_parse_format("clf"), LOG_CLF);
    assert_int_equal(log_parse_format("common"), LOG_CLF);
    assert_int_equal(log_parse_format("json"), LOG_JSON);
    assert_int_equal(log_parse_format("JSON"), -1);
    assert_int_equal(log_parse_format(""), -1);
    assert_int_equal(log_parse_format("json "), -1);
    assert_int_equal(log_parse_format("combined"), -1);
    assert_int_equal(log_parse_format(NULL), -1);
}

/* ---- exact lines -------------------------------------------------------------- */

static void test_clf_exact(void **state)
{
    (void)state;
    log_access a = sample();
    char buf[LOG_LINE_MAX];
    size_t n = fmt(LOG_CLF, &a, buf, sizeof buf);
    const char *want = "10.0.0.7 - - [10/Oct/2000:13:55:36 +0000] \"GET /tomeclicker/about?x=1 "
                       "HTTP/1.1\" 200 2326 \"https://example.com/\" \"Mozilla/5.0\"\n";
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
    assert_clf_line(buf);
}

static void test_json_exact(void **state)
{
    (void)state;
    log_access a = sample();
    char buf[LOG_LINE_MAX];
    fmt(LOG_JSON, &a, buf, sizeof buf);
    assert_string_equal(buf,
        "{\"time\":\"2000-10-10T13:55:36.123Z\",\"remote\":\"10.0.0.7\",\"method\":\"GET\","
        "\"path\":\"/tomeclicker/about\",\"query\":\"x=1\",\"protocol\":\"HTTP/1.1\","
        "\"status\":200,\"bytes\":2326,\"duration_us\":45,\"encoding\":\"br\","
        "\"user_agent\":\"Mozilla/5.0\",\"referer\":\"https://example.com/\"}\n");
    assert_json_line(buf, NULL);
}

/* NULL is "-" in CLF and null in JSON; NULL encoding is the identity body. */
static void test_null_fields(void **state)
{
    (void)state;
    log_access a = { .time = { .tv_sec = 0 }, .status = 404 };
    char buf[LOG_LINE_MAX];
    fmt(LOG_CLF, &a, buf, sizeof buf);
    assert_string_equal(buf, "- - - [01/Jan/1970:00:00:00 +0000] \"- - -\" 404 0 \"-\" \"-\"\n");
    assert_clf_line(buf);
    fmt(LOG_JSON, &a, buf, sizeof buf);
    assert_string_equal(buf,
        "{\"time\":\"1970-01-01T00:00:00.000Z\",\"remote\":null,\"method\":null,\"path\":null,"
        "\"query\":null,\"protocol\":null,\"status\":404,\"bytes\":0,\"duration_us\":0,"
        "\"encoding\":\"identity\",\"user_agent\":null,\"referer\":null}\n");
}

/* An empty query is a '?' the client sent; NULL is no '?' at all. */
static void test_query_forms(void **state)
{
    (void)state;
    log_access a = sample();
    char buf[LOG_LINE_MAX];
    a.query = "";
    fmt(LOG_CLF, &a, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"GET /tomeclicker/about? HTTP/1.1\""));
    a.query = NULL;
    fmt(LOG_CLF, &a, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"GET /tomeclicker/about HTTP/1.1\""));
}

static void test_time_formats(void **state)
{
    (void)state;
    log_access a = sample();
    char buf[LOG_LINE_MAX];
    a.time = (struct timespec){ .tv_sec = 951868799, .tv_nsec = 999999999 }; /* leap day */
    fmt(LOG_CLF, &a, buf, sizeof buf);
    assert_non_null(strstr(buf, " [29/Feb/2000:23:59:59 +0000] "));
    fmt(LOG_JSON, &a, buf, sizeof buf);
    assert_memory_equal(buf, "{\"time\":\"2000-02-29T23:59:59.999Z\",", 35);
    a.time = (struct timespec){ .tv_sec = 1795577651, .tv_nsec = 5000000 };
    fmt(LOG_JSON, &a, buf, sizeof buf);
    assert_memory_equal(buf, "{\"time\":\"2026-11-25T03:34:11.005Z\",", 35);
    a.time.tv_nsec = -1; /* nonsense from a caller is not printed as nonsense */
    fmt(LOG_JSON, &a, buf, sizeof buf);
    assert_memory_equal(buf, "{\"time\":\"2026-11-25T03:34:11.000Z\",", 35);
}

static void test_off_and_small_caps(void **state)
{
    (void)state;
    log_access a = sample();
    char buf[LOG_LINE_MAX];
    memset(buf, 'x', sizeof buf);
    assert_int_equal(log_format_access(LOG_OFF, &a, buf, sizeof buf), 0);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(log_format_access((enum log_format)7, &a, buf, sizeof buf), 0);
    assert_int_equal(log_format_access(LOG_CLF, NULL, buf, sizeof buf), 0);
    assert_int_equal(log_format_access(LOG_CLF, &a, NULL, 100), 0);
    assert_int_equal(log_format_access(LOG_CLF, &a, buf, 0), 0);
    /* too small for the fixed text: nothing, rather than half a line */
    memset(buf, 'x', sizeof buf);
    assert_int_equal(log_format_access(LOG_CLF, &a, buf, 40), 0);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[40], 'x');
    assert_int_equal(log_format_access(LOG_JSON, &a, buf, 150), 0);

    /* the floors log.h promises hold with the widest numbers and dates */
    a.time.tv_sec = 253402300799; /* 9999-12-31T23:59:59Z */
    a.status = 4294967295u;
    a.bytes = a.duration_us = UINT64_MAX;
    assert_true(log_format_access(LOG_CLF, &a, buf, 128) > 0);
    assert_clf_line(buf);
    assert_true(log_format_access(LOG_JSON, &a, buf, 256) > 0);
    assert_json_line(buf, NULL);
}

/* ---- hostile input --------------------------------------------------------- */

#define FORGED_CLF "\\x0d\\x0a127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \\x22GET /admin"
#define FORGED_JSON "\\u000d\\u000a127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \\\"GET /admin"

/* A CR/LF in the path, User-Agent or referer cannot start a second line. */
static void test_crlf_injection_clf(void **state)
{
    (void)state;
    log_access a = sample();
    a.path = "/x" FORGED;
    a.query = NULL;
    a.user_agent = FORGED;
    a.referer = FORGED;
    char buf[LOG_LINE_MAX];
    fmt(LOG_CLF, &a, buf, sizeof buf);
    assert_string_equal(buf, "10.0.0.7 - - [10/Oct/2000:13:55:36 +0000] \"GET /x" FORGED_CLF
                             " HTTP/1.1\" 200 2326 \"" FORGED_CLF "\" \"" FORGED_CLF "\"\n");
    assert_clf_line(buf);
    assert_null(strchr(buf, '\r'));
    assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);
}

static void test_crlf_injection_json(void **state)
{
    (void)state;
    log_access a = sample();
    a.path = "/x" FORGED;
    a.user_agent = FORGED;
    a.referer = FORGED;
    a.method = "GET\n";
    char buf[LOG_LINE_MAX];
    fmt(LOG_JSON, &a, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"path\":\"/x" FORGED_JSON "\","));
    assert_non_null(strstr(buf, "\"user_agent\":\"" FORGED_JSON "\","));
    assert_non_null(strstr(buf, "\"referer\":\"" FORGED_JSON "\"}\n"));
    assert_non_null(strstr(buf, "\"method\":\"GET\\u000a\","));
    const char *const want[] = { "path", "/x" FORGED, "user_agent", FORGED, "referer", FORGED,
                                 "method", "GET\n", NULL };
    assert_json_line(buf, want);
}

/* Quotes, backslashes and every control byte (NUL cannot occur: the fields
 * are C strings), plus DEL. */
static void test_quotes_backslashes_controls(void **state)
{
    (void)state;
    char controls[40];
    size_t k = 0;
    for (int c = 1; c < 0x20; c++)
        controls[k++] = (char)c;
    controls[k++] = 0x7f;
    controls[k] = '\0';

    log_access a = sample();
    a.user_agent = "a\"b\\c\\\"d";
    a.referer = controls;
    a.path = "/\\\"";
    char buf[LOG_LINE_MAX];
    fmt(LOG_CLF, &a, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"a\\x22b\\x5cc\\x5c\\x22d\"\n"));
    assert_non_null(strstr(buf, "\"GET /\\x5c\\x22?x=1 HTTP/1.1\""));
    assert_non_null(strstr(buf, "\"\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\x09\\x0a\\x0b\\x0c"
                                "\\x0d\\x0e\\x0f\\x10\\x11\\x12\\x13\\x14\\x15\\x16\\x17\\x18\\x19"
                                "\\x1a\\x1b\\x1c\\x1d\\x1e\\x1f\\x7f\""));
    assert_clf_line(buf);

    fmt(LOG_JSON, &a, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"user_agent\":\"a\\\"b\\\\c\\\\\\\"d\","));
    assert_non_null(strstr(buf, "\"path\":\"/\\\\\\\"\","));
    assert_non_null(strstr(buf, "\"referer\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007"
                                "\\u0008\\u0009\\u000a\\u000b\\u000c\\u000d\\u000e\\u000f\\u0010"
                                "\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019"
                                "\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\u007f\"}\n"));
    const char *const want[] = { "user_agent", a.user_agent, "referer", controls, "path", a.path,
                                 NULL };
    assert_json_line(buf, want);
}

/* Valid UTF-8 passes through JSON (C1 controls aside); every invalid byte is
 * escaped on its own; CLF escapes everything above 0x7e. */
static void test_utf8(void **state)
{
    (void)state;
    log_access a = sample();
    a.path = "/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80"; /* é € 😀 */
    a.user_agent = "\xff|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xc2\x85|\xe2\x82";
    a.referer = "\x80\xbf\xfe";
    char buf[LOG_LINE_MAX];
    fmt(LOG_JSON, &a, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"path\":\"/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80\","));
    /* lone 0xff; overlong '/'; a UTF-16 surrogate; past U+10FFFF; C1 NEL;
     * a sequence cut short by the end of the string */
    assert_non_null(strstr(buf, "\"user_agent\":\"\\u00ff|\\u00c0\\u00af|\\u00ed\\u00a0\\u0080|"
                                "\\u00f4\\u0090\\u0080\\u0080|\\u0085|\\u00e2\\u0082\","));
    assert_non_null(strstr(buf, "\"referer\":\"\\u0080\\u00bf\\u00fe\"}"));
    const char *const want[] = { "path", "/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80", NULL };
    assert_json_line(buf, want);

    fmt(LOG_CLF, &a, buf, sizeof buf);
    assert_non_null(strstr(buf, "/caf\\xc3\\xa9/\\xe2\\x82\\xac/\\xf0\\x9f\\x98\\x80?"));
    assert_non_null(strstr(buf, "\"\\xff|\\xc0\\xaf|\\xed\\xa0\\x80|\\xf4\\x90\\x80\\x80|"
                                "\\xc2\\x85|\\xe2\\x82\"\n"));
    assert_clf_line(buf);
}

/* ---- truncation ------------------------------------------------------------ */

static char *repeat(const char *unit, size_t times)
{
    size_t ul = strlen(unit);
    char *s = malloc(ul * times + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * ul, unit, ul);
    s[ul * times] = '\0';
    return s;
}

/* The field between `open` and the next unescaped `close` in line. */
static size_t field_len(const char *line, const char *open, char close)
{
    const char *p = strstr(line, open);
    assert_non_null(p);
    p += strlen(open);
    const char *q = p;
    while (*q && *q != close)
        q += *q == '\\' ? 2 : 1;
    return (size_t)(q - p);
}

/* A 100 KB User-Agent costs nothing but itself: the line fits, stays
 * parseable, says it was cut, and the short fields survive whole. */
static void test_huge_user_agent(void **state)
{
    (void)state;
    char *ua = repeat("Mozilla/5.0 \"evil\"\r\n", 100 * 1024 / 20);
    log_access a = sample();
    a.user_agent = ua;
    char buf[LOG_LINE_MAX];

    size_t n = fmt(LOG_CLF, &a, buf, sizeof buf);
    assert_true(n <= LOG_LINE_MAX - 1 && n > LOG_LINE_MAX - 16); /* used, not wasted */
    assert_clf_line(buf);
    assert_memory_equal(buf + n - 5, "...\"\n", 5);
    assert_non_null(strstr(buf, "\"GET /tomeclicker/about?x=1 HTTP/1.1\" 200 2326 "
                                "\"https://example.com/\" \"Mozilla/5.0 \\x22evil\\x22"));

    n = fmt(LOG_JSON, &a, buf, sizeof buf);
    assert_true(n <= LOG_LINE_MAX - 1 && n > LOG_LINE_MAX - 16);
    assert_non_null(strstr(buf, "\"path\":\"/tomeclicker/about\",\"query\":\"x=1\","));
    assert_non_null(strstr(buf, "...\",\"referer\":\"https://example.com/\"}\n"));
    assert_json_line(buf, NULL);
    free(ua);
}

/* Two long fields split the room evenly, and a short one stays whole. */
static void test_long_fields_share(void **state)
{
    (void)state;
    char *ua = repeat("u", 20000), *ref = repeat("r", 30000), *path = repeat("/p", 100);
    log_access a = sample();
    a.user_agent = ua;
    a.referer = ref;
    a.path = path;
    char buf[LOG_LINE_MAX];
    fmt(LOG_CLF, &a, buf, sizeof buf);
    assert_clf_line(buf);
    size_t lu = field_len(buf, "\" \"uuu", '"') + 3, lr = field_len(buf, " \"rrr", '"') + 3;
    assert_true(lu + 1 >= lr && lr + 1 >= lu);
    assert_non_null(strstr(buf, path));
    free(ua);
    free(ref);
    free(path);
}

/* At every cap from the smallest that fits to LOG_LINE_MAX, hostile fields
 * whose escapes are 2-6 bytes long: the line fits, is well-formed, and each
 * cut lands between escapes. */
static void test_every_cap(void **state)
{
    (void)state;
    char *ua = repeat("\"\xe2\x82\xac\xff\\\x01", 3000);
    char *ref = repeat("\xf0\x9f\x98\x80\r\n", 2000);
    char *path = repeat("/\xc3\xa9\"", 500);
    log_access a = sample();
    a.user_agent = ua;
    a.referer = ref;
    a.path = path;

    size_t all_cap = (size_t)LOG_LINE_MAX * LOG_LINE_MAX, used = 0;
    char *all = malloc(all_cap);
    assert_non_null(all);
    char buf[LOG_LINE_MAX];
    size_t min_clf = 0, min_json = 0;
    for (size_t cap = 1; cap <= LOG_LINE_MAX; cap++) {
        size_t n = log_format_access(LOG_CLF, &a, buf, cap);
        assert_true(n < cap);
        if (n) {
            min_clf = min_clf ? min_clf : cap;
            assert_clf_line(buf);
            assert_non_null(strstr(buf, "...\" \""));
        }
        n = log_format_access(LOG_JSON, &a, buf, cap);
        assert_true(n < cap);
        if (n) {
            min_json = min_json ? min_json : cap;
            assert_true(used + n <= all_cap);
            memcpy(all + used, buf, n);
            used += n;
        } else {
            assert_int_equal(min_json, 0); /* once it fits, every larger cap fits */
        }
    }
    /* the floor for a line is small: the fixed text plus "..." per field */
    assert_true(min_clf > 0 && min_clf <= 128);
    assert_true(min_json > 0 && min_json <= 256);
    assert_json_lines(all, used, NULL);
    free(all);
    free(ua);
    free(ref);
    free(path);
}

/* A line that fits is never cut, and one byte less of cap cuts it. */
static void test_exact_fit(void **state)
{
    (void)state;
    log_access a = sample();
    a.user_agent = "\"\"\"\"\"\"";
    char buf[LOG_LINE_MAX];
    for (int f = LOG_CLF; f <= LOG_JSON; f++) {
        size_t n = fmt((enum log_format)f, &a, buf, sizeof buf);
        char want[LOG_LINE_MAX];
        memcpy(want, buf, n + 1);
        assert_int_equal(fmt((enum log_format)f, &a, buf, n + 1), n);
        assert_string_equal(buf, want);
        size_t m = fmt((enum log_format)f, &a, buf, n);
        assert_true(m > 0 && m < n);
        assert_non_null(strstr(buf, "..."));
    }
}

/* ---- writing ------------------------------------------------------------------ */

static void test_write_access(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fds[1], STDOUT_FILENO) >= 0);
    log_access a = sample();
    char line[LOG_LINE_MAX];
    size_t n = log_format_access(LOG_JSON, &a, line, sizeof line);
    log_write_access(line, n);
    log_write_access(line, 0);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    close(fds[1]);
    char got[LOG_LINE_MAX + 1];
    ssize_t r = read(fds[0], got, sizeof got);
    close(fds[0]);
    assert_int_equal(r, (ssize_t)n);
    assert_memory_equal(got, line, n);
}

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Lines queued in front of a pipe come out whole and in order. */
static void test_queue_delivers_in_order(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    log_queue *q = log_queue_start(fds[1], 4096); /* small: the ring wraps */
    assert_non_null(q);
    char expect_all[64 * 40] = "", line[64];
    size_t total = 0;
    for (int i = 0; i < 40; i++) {
        int n = snprintf(line, sizeof line, "line %02d %.*s\n", i, i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        /* a pipe's reader is slower than us here only if the ring is full */
        while (log_queue_push(q, line, (size_t)n) < 0)
            usleep(1000);
        memcpy(expect_all + total, line, (size_t)n);
        total += (size_t)n;
    }
    log_queue_stop(q, 1000);
    close(fds[1]);
    char got[sizeof expect_all];
    size_t have = 0;
    ssize_t r;
    while ((r = read(fds[0], got + have, sizeof got - have)) > 0)
        have += (size_t)r;
    close(fds[0]);
    assert_int_equal(have, total);
    assert_memory_equal(got, expect_all, total);
}

/* A reader that never reads: pushes keep returning at once, the overflow is
 * dropped and counted, and stop gives up within its bound. */
static void test_queue_stalled_reader(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    log_queue *q = log_queue_start(fds[1], 8192);
    assert_non_null(q);
    char line[1000];
    memset(line, 'a', sizeof line);
    line[sizeof line - 1] = '\n';
    double t0 = mono_s();
    int dropped = 0;
    for (int i = 0; i < 2000; i++) /* 2 MB: far beyond the pipe (64 KiB) and the ring */
        dropped += log_queue_push(q, line, sizeof line) < 0;
    assert_true(mono_s() - t0 < 5.0); /* not a speed check: a blocked push never returns */
    assert_true(dropped > 0);
    assert_int_equal(log_queue_dropped(q), (uint64_t)dropped);
    t0 = mono_s();
    log_queue_stop(q, 200);
    double took = mono_s() - t0;
    assert_true(took < 2.0); /* bounded: 200 ms plus one poll interval, generously */
    close(fds[0]);
    close(fds[1]);
}

/* A reader that went away (EPIPE): lines are dropped, nothing blocks. */
static void test_queue_closed_reader(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    signal(SIGPIPE, SIG_IGN);
    log_queue *q = log_queue_start(fds[1], 4096);
    assert_non_null(q);
    assert_int_equal(log_queue_push(q, "x\n", 2), 0);
    for (int i = 0; i < 200 && log_queue_push(q, "y\n", 2) == 0; i++)
        usleep(5000); /* until the writer has seen EPIPE */
    assert_int_equal(log_queue_push(q, "z\n", 2), -1);
    assert_true(log_queue_dropped(q) >= 1);
    log_queue_stop(q, 100);
    close(fds[1]);
    assert_int_equal(log_queue_push(NULL, "x\n", 2), 0);
    log_queue_stop(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_format),
        cmocka_unit_test(test_clf_exact),
        cmocka_unit_test(test_json_exact),
        cmocka_unit_test(test_null_fields),
        cmocka_unit_test(test_query_forms),
        cmocka_unit_test(test_time_formats),
        cmocka_unit_test(test_off_and_small_caps),
        cmocka_unit_test(test_crlf_injection_clf),
        cmocka_unit_test(test_crlf_injection_json),
        cmocka_unit_test(test_quotes_backslashes_controls),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_huge_user_agent),
        cmocka_unit_test(test_long_fields_share),
        cmocka_unit_test(test_every_cap),
        cmocka_unit_test(test_exact_fit),
        cmocka_unit_test(test_write_access),
        cmocka_unit_test(test_queue_delivers_in_order),
        cmocka_unit_test(test_queue_stalled_reader),
        cmocka_unit_test(test_queue_closed_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
