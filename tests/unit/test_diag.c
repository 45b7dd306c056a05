/*
 * Unit tests for diag: the escaping of untrusted text (pure) and the lines
 * diag() writes to stderr (read back through a pipe).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tomed/diag.h"

/* diag_escape of len bytes into a roomy buffer; asserts it consumed all. */
static const char *esc(const char *src, size_t len, unsigned flags)
{
    static char buf[512];
    size_t out = 0;
    assert_int_equal(diag_escape(buf, sizeof buf, src, len, flags, &out), len);
    assert_int_equal(out, strlen(buf));
    return buf;
}

#define ESC(lit, flags) esc(lit, sizeof(lit) - 1, flags)

static void test_printable_ascii_passes(void **state)
{
    (void)state;
    assert_string_equal(ESC("/docs/index.html", 0), "/docs/index.html");
    assert_string_equal(ESC("a b \"c\" ~", 0), "a b \"c\" ~");
}

static void test_control_bytes_escaped(void **state)
{
    (void)state;
    /* the forged-line attack: a newline in a file name */
    assert_string_equal(ESC("/a\ntomed: [crit] forged", 0), "/a\\x0atomed: [crit] forged");
    assert_string_equal(ESC("\r\t\x1b[31m\x7f", 0), "\\x0d\\x09\\x1b[31m\\x7f");
    assert_string_equal(ESC("a\0b", 0), "a\\x00b"); /* a NUL inside the given length */
}

static void test_utf8(void **state)
{
    (void)state;
    /* valid UTF-8 stays readable */
    assert_string_equal(ESC("/caf\xc3\xa9/\xe6\x97\xa5\xf0\x9f\x98\x80", 0),
                        "/caf\xc3\xa9/\xe6\x97\xa5\xf0\x9f\x98\x80");
    assert_string_equal(ESC("\xc2\xa0", 0), "\xc2\xa0"); /* NBSP is not a control */
    /* invalid: lone continuation, overlong '/', surrogate, past U+10FFFF, cut */
    assert_string_equal(ESC("\x80", 0), "\\x80");
    assert_string_equal(ESC("\xc0\xaf", 0), "\\xc0\\xaf");
    assert_string_equal(ESC("\xed\xa0\x80", 0), "\\xed\\xa0\\x80");
    assert_string_equal(ESC("\xf4\x90\x80\x80", 0), "\\xf4\\x90\\x80\\x80");
    assert_string_equal(ESC("ok\xe6\x97", 0), "ok\\xe6\\x97");
    assert_string_equal(ESC("\xff\xfe", 0), "\\xff\\xfe");
}

static void test_unicode_controls_escaped(void **state)
{
    (void)state;
    assert_string_equal(ESC("a\xc2\x85" "b", 0), "a\\xc2\\x85b");    /* NEL */
    assert_string_equal(ESC("\xc2\x9b", 0), "\\xc2\\x9b");           /* CSI */
    assert_string_equal(ESC("\xe2\x80\xa8", 0), "\\xe2\\x80\\xa8");  /* LINE SEPARATOR */
    assert_string_equal(ESC("\xe2\x80\xa9", 0), "\\xe2\\x80\\xa9");  /* PARAGRAPH SEPARATOR */
    assert_string_equal(ESC("\xe2\x80\xae", 0), "\\xe2\\x80\\xae");  /* RLO */
    assert_string_equal(ESC("\xe2\x81\xa6", 0), "\\xe2\\x81\\xa6");  /* LRI */
    assert_string_equal(ESC("\xe2\x80\x94", 0), "\xe2\x80\x94");     /* an em dash is fine */
}

static void test_backslash(void **state)
{
    (void)state;
    /* trusted text keeps its backslashes; untrusted text doubles them, so a
     * name that spells an escape reads back as itself */
    assert_string_equal(ESC("a\\x0ab", 0), "a\\x0ab");
    assert_string_equal(ESC("a\\x0ab", DIAG_ESC_BACKSLASH), "a\\\\x0ab");
}

static void test_escape_cut_never_splits(void **state)
{
    (void)state;
    char buf[8];
    size_t out = 99;

    /* "ab" + \x0a needs 6 + NUL: fits exactly */
    assert_int_equal(diag_escape(buf, 7, "ab\n", 3, 0, &out), 3);
    assert_string_equal(buf, "ab\\x0a");
    /* one byte less: the escape is left out whole, not cut */
    assert_int_equal(diag_escape(buf, 6, "ab\n", 3, 0, &out), 2);
    assert_string_equal(buf, "ab");
    assert_int_equal(out, 2);
    /* a UTF-8 sequence is never cut either */
    assert_int_equal(diag_escape(buf, 4, "a\xe6\x97\xa5", 4, 0, &out), 1);
    assert_string_equal(buf, "a");
    /* cap 1: only the NUL */
    assert_int_equal(diag_escape(buf, 1, "abc", 3, 0, &out), 0);
    assert_string_equal(buf, "");
    assert_int_equal(out, 0);
}

static void test_diag_q(void **state)
{
    (void)state;
    assert_string_equal(diag_q("/a\nb\\c"), "/a\\x0ab\\\\c");
    assert_string_equal(diag_q(NULL), "(null)");

    /* four results at once stay intact (one diag() call's arguments) */
    const char *a = diag_q("one"), *b = diag_q("two"), *c = diag_q("three"), *d = diag_q("four");
    assert_string_equal(a, "one");
    assert_string_equal(b, "two");
    assert_string_equal(c, "three");
    assert_string_equal(d, "four");

    /* a very long name is cut, marked, and bounded */
    char *big = malloc(5000);
    assert_non_null(big);
    memset(big, '\n', 4999);
    big[4999] = '\0';
    const char *q = diag_q(big);
    size_t n = strlen(q);
    assert_true(n <= DIAG_Q_MAX);
    assert_string_equal(q + n - 3, "...");
    assert_int_equal((n - 3) % 4, 0); /* only whole \x0a escapes before it */
    free(big);
}

static void test_parse_level(void **state)
{
    (void)state;
    assert_int_equal(diag_parse_level("debug"), DIAG_DEBUG);
    assert_int_equal(diag_parse_level("warn"), DIAG_WARN);
    assert_int_equal(diag_parse_level("alert"), DIAG_ALERT);
    assert_int_equal(diag_parse_level("warning"), -1);
    assert_int_equal(diag_parse_level(NULL), -1);
}

/* ------------------------------------------------- diag() on a real stderr */

static int saved_stderr = -1;
static int pipe_rd = -1;

static int capture_start(void **state)
{
    (void)state;
    int p[2];
    if (pipe(p) < 0)
        return -1;
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    saved_stderr = dup(STDERR_FILENO);
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    pipe_rd = p[0];
    return 0;
}

static int capture_stop(void **state)
{
    (void)state;
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    close(pipe_rd);
    diag_set_level(DIAG_INFO);
    return 0;
}

/* Everything written to stderr since the last call (NUL-terminated). */
static const char *captured(void)
{
    static char buf[3 * DIAG_LINE_MAX];
    ssize_t n = read(pipe_rd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void test_diag_one_line(void **state)
{
    (void)state;
    diag(DIAG_WARN, "skipping %s: broken symlink", diag_q("/x\ntomed: [crit] forged"));
    assert_string_equal(captured(), "tomed: [warn] skipping /x\\x0atomed: [crit] forged: broken symlink\n");

    /* a caller that forgot diag_q still gets one line */
    diag(DIAG_ERROR, "reload failed: %s", "a\r\nb");
    assert_string_equal(captured(), "tomed: [error] reload failed: a\\x0d\\x0ab\n");

    diag(DIAG_NOTICE | DIAG_BARE, "tomed %s: serving", "0.1.0");
    assert_string_equal(captured(), "tomed 0.1.0: serving\n");
}

static void test_diag_levels(void **state)
{
    (void)state;
    diag(DIAG_DEBUG, "hidden by default");
    assert_string_equal(captured(), "");
    assert_false(diag_enabled(DIAG_DEBUG));
    assert_true(diag_enabled(DIAG_INFO));

    diag_set_level(DIAG_DEBUG);
    diag(DIAG_DEBUG, "now shown");
    assert_string_equal(captured(), "tomed: [debug] now shown\n");

    diag_set_level(DIAG_WARN);
    diag(DIAG_NOTICE, "dropped");
    diag(DIAG_NOTICE | DIAG_BARE, "dropped too");
    assert_string_equal(captured(), "");
    diag_set_level(DIAG_INFO);
}

static void test_diag_long_message_cut(void **state)
{
    (void)state;
    char *big = malloc(3 * DIAG_LINE_MAX);
    assert_non_null(big);
    memset(big, 'x', 3 * DIAG_LINE_MAX - 1);
    big[3 * DIAG_LINE_MAX - 1] = '\0';
    diag(DIAG_INFO, "%s", big);
    const char *out = captured();
    size_t n = strlen(out);
    assert_true(n <= DIAG_LINE_MAX);
    assert_string_equal(out + n - 4, "...\n");
    assert_ptr_equal(strchr(out, '\n'), out + n - 1);

    /* escapes that overflow the line are cut whole, too */
    memset(big, '\n', 2000);
    big[2000] = '\0';
    diag(DIAG_INFO, "%s", big);
    out = captured();
    n = strlen(out);
    assert_true(n <= DIAG_LINE_MAX);
    assert_string_equal(out + n - 4, "...\n");
    assert_ptr_equal(strchr(out, '\n'), out + n - 1);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_printable_ascii_passes),
        cmocka_unit_test(test_control_bytes_escaped),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_unicode_controls_escaped),
        cmocka_unit_test(test_backslash),
        cmocka_unit_test(test_escape_cut_never_splits),
        cmocka_unit_test(test_diag_q),
        cmocka_unit_test(test_parse_level),
        cmocka_unit_test_setup_teardown(test_diag_one_line, capture_start, capture_stop),
        cmocka_unit_test_setup_teardown(test_diag_levels, capture_start, capture_stop),
        cmocka_unit_test_setup_teardown(test_diag_long_message_cut, capture_start, capture_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
