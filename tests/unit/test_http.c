/*
 * Unit tests for http: dates, entity tags, conditional requests, ranges and
 * If-Range. Expected values are worked out by hand from RFC 9110, not by
 * calling the code under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tomed/http.h"

/* RFC 9110's example instant: Sun, 06 Nov 1994 08:49:37 GMT. */
#define T1994 ((time_t)784111777)
#define IMF1994 "Sun, 06 Nov 1994 08:49:37 GMT"

/* ---- http_format_date ------------------------------------------------------ */

static void check_format(time_t t, const char *want)
{
    char buf[64];

    memset(buf, 'x', sizeof buf);
    http_format_date(t, buf, sizeof buf);
    assert_string_equal(buf, want);
}

static void test_format_date(void **state)
{
    (void)state;
    check_format(0, "Thu, 01 Jan 1970 00:00:00 GMT");
    check_format(T1994, IMF1994);
    check_format(951782400, "Tue, 29 Feb 2000 00:00:00 GMT");
    check_format(1700000000, "Tue, 14 Nov 2023 22:13:20 GMT");
    check_format(2147483647, "Tue, 19 Jan 2038 03:14:07 GMT");
    check_format(-1, "Wed, 31 Dec 1969 23:59:59 GMT");
    check_format(1009843199, "Mon, 31 Dec 2001 23:59:59 GMT");
}

static void test_format_date_all_names(void **state)
{
    static const char *const want[] = {
        "Thu, 01 Jan 1970", "Fri, 02 Jan 1970", "Sat, 03 Jan 1970", "Sun, 04 Jan 1970",
        "Mon, 05 Jan 1970", "Tue, 06 Jan 1970", "Wed, 07 Jan 1970",
    };
    static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    /* The 15th of each month of 2021 at noon, worked out from day counts. */
    static const int yday[12] = { 14, 45, 73, 104, 134, 165, 195, 226, 257, 287, 318, 348 };
    char buf[40];
    int i;

    (void)state;
    for (i = 0; i < 7; i++) {
        http_format_date((time_t)i * 86400, buf, sizeof buf);
        assert_memory_equal(buf, want[i], 16);
    }
    for (i = 0; i < 12; i++) {
        char expect[40];

        snprintf(expect, sizeof expect, "15 %.3s 2021 12:00:00 GMT", months[i]);
        http_format_date((time_t)1609459200 + (time_t)yday[i] * 86400 + 43200, buf, sizeof buf);
        assert_string_equal(buf + 5, expect);
    }
}

static void test_format_date_small_buffer(void **state)
{
    char buf[40];

    (void)state;
    memset(buf, 'x', sizeof buf);
    http_format_date(T1994, buf, 30);
    assert_string_equal(buf, IMF1994);
    memset(buf, 'x', sizeof buf);
    http_format_date(T1994, buf, 29);
    assert_string_equal(buf, "");
    assert_int_equal(buf[1], 'x');
    memset(buf, 'x', sizeof buf);
    http_format_date(T1994, buf, 1);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[1], 'x');
    http_format_date(T1994, buf, 0);
    assert_int_equal(buf[1], 'x');
    http_format_date(T1994, NULL, 30);
}

static void test_format_date_extreme_years(void **state)
{
    char buf[40];

    (void)state;
    if (sizeof(time_t) < 8) skip();
    /* 253402300799 is the last second of 9999; one more needs five digits. */
    http_format_date((time_t)253402300799LL, buf, sizeof buf);
    assert_string_equal(buf, "Fri, 31 Dec 9999 23:59:59 GMT");
    memset(buf, 'x', sizeof buf);
    http_format_date((time_t)253402300800LL, buf, sizeof buf);
    assert_string_equal(buf, "");
    memset(buf, 'x', sizeof buf);
    http_format_date((time_t)INT64_MAX, buf, sizeof buf);
    assert_string_equal(buf, "");
    memset(buf, 'x', sizeof buf);
    http_format_date((time_t)INT64_MIN, buf, sizeof buf);
    assert_string_equal(buf, "");
    http_format_date((time_t)2147483648LL, buf, sizeof buf);
    assert_string_equal(buf, "Tue, 19 Jan 2038 03:14:08 GMT");
}

/* ---- http_parse_date ------------------------------------------------------- */

static void expect_date(const char *s, time_t want)
{
    time_t t = 12345;
    int rc = http_parse_date(s, &t);

    if (rc != 0 || t != want)
        print_error("http_parse_date(\"%s\") = %d, %lld; want %lld\n", s, rc, (long long)t,
                    (long long)want);
    assert_int_equal(rc, 0);
    assert_true(t == want);
}

static void expect_no_date(const char *s)
{
    time_t t = 12345;
    int rc = http_parse_date(s, &t);

    if (rc != -1) print_error("http_parse_date(\"%s\") accepted: %lld\n", s, (long long)t);
    assert_int_equal(rc, -1);
    assert_true(t == 12345);
}

static void test_parse_three_formats(void **state)
{
    (void)state;
    expect_date(IMF1994, T1994);
    expect_date("Sunday, 06-Nov-94 08:49:37 GMT", T1994);
    expect_date("Sun Nov  6 08:49:37 1994", T1994);
    expect_date("Sun Nov 06 08:49:37 1994", T1994);
}

static void test_parse_fixdate_values(void **state)
{
    (void)state;
    expect_date("Thu, 01 Jan 1970 00:00:00 GMT", 0);
    expect_date("Wed, 31 Dec 1969 23:59:59 GMT", -1);
    expect_date("Tue, 29 Feb 2000 00:00:00 GMT", 951782400);
    expect_date("Tue, 14 Nov 2023 22:13:20 GMT", 1700000000);
    expect_date("Thu, 29 Feb 2024 23:59:59 GMT", 1709251199);
    expect_date("Tue, 19 Jan 2038 03:14:07 GMT", 2147483647);
    expect_date("Mon, 31 Dec 2001 23:59:59 GMT", 1009843199);
    /* Leap second: folded into the next minute. */
    expect_date("Sat, 31 Dec 2016 23:59:60 GMT", 1483228800);
}

static void test_parse_rfc850_years(void **state)
{
    (void)state;
    expect_date("Thursday, 01-Jan-70 00:00:00 GMT", 0);
    expect_date("Friday, 31-Dec-99 23:59:59 GMT", 946684799);
    expect_date("Saturday, 01-Jan-00 00:00:00 GMT", 946684800);
    expect_date("Tuesday, 14-Nov-23 22:13:20 GMT", 1700000000);
    expect_date("Wednesday, 14-Nov-23 22:13:20 GMT", 1700000000);
    expect_date("Monday, 14-Nov-23 22:13:20 GMT", 1700000000);
    /* The pivot: 00-69 are this century, 70-99 the last. */
    expect_date("Thursday, 01-Jan-37 00:00:00 GMT", 2114380800);
    if (sizeof(time_t) >= 8) expect_date("Tuesday, 31-Dec-69 23:59:59 GMT", 3155759999LL);
    expect_no_date("Sun, 06-Nov-94 08:49:37 GMT");
    expect_no_date("Sunday, 06-Nov-1994 08:49:37 GMT");
    expect_no_date("Sunday, 06 Nov 94 08:49:37 GMT");
    expect_no_date("Funday, 06-Nov-94 08:49:37 GMT");
    expect_no_date("Sundays, 06-Nov-94 08:49:37 GMT");
    expect_no_date("Sunday, 06-nov-94 08:49:37 GMT");
    expect_no_date("Sunday, 06-Nov-9x 08:49:37 GMT");
    expect_no_date("Sunday,  6-Nov-94 08:49:37 GMT");
    expect_no_date("Sunday, 06-Nov-94 08:49:37 UTC");
}

static void test_parse_asctime(void **state)
{
    (void)state;
    expect_date("Thu Jan  1 00:00:00 1970", 0);
    expect_date("Tue Feb 29 00:00:00 2000", 951782400);
    expect_no_date("Sun Nov 6 08:49:37 1994");
    expect_no_date("Sun Nov  6 08:49:37 1994 ");
    expect_no_date("Sun Nov  6 08:49:37 94");
    expect_no_date("Sun Nov  0 08:49:37 1994");
    expect_no_date("Sun Nov 31 08:49:37 1994");
    expect_no_date("Sun Nov x6 08:49:37 1994");
    expect_no_date("Sun Nov  x 08:49:37 1994");
    expect_no_date("Sun Nvo  6 08:49:37 1994");
    expect_no_date("Sun Nov  6 08:49:37 GMT ");
    expect_no_date("Sun Nov  6 08-49-37 1994");
}

static void test_parse_weekday_not_checked(void **state)
{
    (void)state;
    /* Valid names are required, agreement with the date is not (robustness,
     * RFC 9110 §5.6.7); the instant is what matters. */
    expect_date("Mon, 06 Nov 1994 08:49:37 GMT", T1994);
    expect_no_date("Xyz, 06 Nov 1994 08:49:37 GMT");
    expect_no_date("sun, 06 Nov 1994 08:49:37 GMT");
    expect_no_date("SUN, 06 Nov 1994 08:49:37 GMT");
}

static void test_parse_out_of_range_fields(void **state)
{
    (void)state;
    expect_no_date("Sun, 00 Nov 1994 08:49:37 GMT");
    expect_no_date("Sun, 31 Nov 1994 08:49:37 GMT");
    expect_no_date("Sun, 32 Jan 1994 08:49:37 GMT");
    expect_no_date("Sun, 31 Apr 1994 08:49:37 GMT");
    expect_no_date("Sun, 30 Feb 2024 08:49:37 GMT");
    expect_no_date("Sun, 29 Feb 2023 08:49:37 GMT");
    expect_no_date("Sun, 29 Feb 1900 08:49:37 GMT");
    expect_no_date("Sun, 06 Nov 1994 24:00:00 GMT");
    expect_no_date("Sun, 06 Nov 1994 08:60:37 GMT");
    expect_no_date("Sun, 06 Nov 1994 08:49:61 GMT");
    expect_no_date("Sun, 06 Nov 1994 99:99:99 GMT");
    expect_no_date("Sun, 99 Nov 1994 08:49:37 GMT");
}

static void test_parse_garbage(void **state)
{
    static const char *const bad[] = {
        "", " ", "0", "784111777", "yesterday", "GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ", " Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT; length=1234", "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 gmt", "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 +0000", "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT", "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 NOV 1994 08:49:37 GMT", "Sun, 06-Nov-1994 08:49:37 GMT",
        "Sun,06 Nov 1994 08:49:37 GMT ", "Sun, 06 Nov 1994 8:49:37 GMT ",
        "Sun, 06 Nov 1994 08:49:3 GMT ", "Sun, 06 Nov 1994 08.49.37 GMT",
        "Sun, +6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov -994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT\n", "2024-01-01T00:00:00Z",
        "Sun, 06 Nov 1994  8:49:37 GMT", "Sun  06 Nov 1994 08:49:37 GMT",
    };
    time_t t;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) expect_no_date(bad[i]);
    assert_int_equal(http_parse_date(NULL, &t), -1);
    assert_int_equal(http_parse_date(IMF1994, NULL), -1);
}

static void test_parse_every_prefix_rejected(void **state)
{
    static const char *const good[] = {
        IMF1994, "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
    };
    char buf[64];
    size_t i, k;

    (void)state;
    for (i = 0; i < 3; i++) {
        size_t n = strlen(good[i]);

        for (k = 0; k < n; k++) {
            /* Exact-size heap copy so ASan sees any read past the end. */
            char *p = malloc(k + 1);

            assert_non_null(p);
            memcpy(p, good[i], k);
            p[k] = '\0';
            expect_no_date(p);
            free(p);
        }
        /* Every byte matters: replacing any one of them is refused. */
        for (k = 0; k < n; k++) {
            time_t t;

            memcpy(buf, good[i], n + 1);
            buf[k] = '#';
            assert_int_equal(http_parse_date(buf, &t), -1);
        }
    }
}

static void test_parse_year_range(void **state)
{
    (void)state;
    expect_date("Mon, 01 Jan 1900 00:00:00 GMT", -2208988800LL);
    if (sizeof(time_t) >= 8) {
        expect_date("Fri, 31 Dec 9999 23:59:59 GMT", 253402300799LL);
        expect_date("Tue, 19 Jan 2038 03:14:08 GMT", 2147483648LL);
    } else {
        expect_no_date("Tue, 19 Jan 2038 03:14:08 GMT");
    }
}

static void test_format_parse_round_trip(void **state)
{
    char buf[40];
    time_t t, back;
    long long step = 0;

    (void)state;
    /* Steps of about 11 days plus a varying number of seconds cover every
     * month, weekday and clock field between 1970 and 2037... */
    for (t = 0; t < (time_t)2140000000; t += (time_t)(977777 + (step++ % 7))) {
        http_format_date(t, buf, sizeof buf);
        assert_int_equal(strlen(buf), 29);
        assert_int_equal(http_parse_date(buf, &back), 0);
        assert_true(back == t);
    }
    /* ...and day by day through 1999-2001, 2000 being a leap year. */
    for (t = 915148800; t < (time_t)1009843200; t += 86400 + 1) {
        http_format_date(t, buf, sizeof buf);
        assert_int_equal(http_parse_date(buf, &back), 0);
        assert_true(back == t);
    }
}

/* ---- http_etag_matches ----------------------------------------------------- */

#define ETAG "\"abc\""

static void test_etag_exact_and_weak(void **state)
{
    (void)state;
    assert_true(http_etag_matches("\"abc\"", ETAG));
    assert_true(http_etag_matches("W/\"abc\"", ETAG));
    assert_true(http_etag_matches("\"abc\"", "W/\"abc\""));
    assert_true(http_etag_matches("W/\"abc\"", "W/\"abc\""));
    assert_false(http_etag_matches("\"abd\"", ETAG));
    assert_false(http_etag_matches("\"ab\"", ETAG));
    assert_false(http_etag_matches("\"abcd\"", ETAG));
    assert_false(http_etag_matches("\"ABC\"", ETAG));
    assert_false(http_etag_matches("W/\"abd\"", ETAG));
    assert_true(http_etag_matches("\"\"", "\"\""));
    assert_false(http_etag_matches("\"\"", ETAG));
}

static void test_etag_star(void **state)
{
    (void)state;
    assert_true(http_etag_matches("*", ETAG));
    assert_true(http_etag_matches(" * ", ETAG));
    assert_true(http_etag_matches("\t*", ETAG));
    assert_false(http_etag_matches("**", ETAG));
    assert_false(http_etag_matches("*, \"abc\"", ETAG));
    assert_false(http_etag_matches("\"x\", *", ETAG));
    assert_false(http_etag_matches("\"*\"", ETAG));
    assert_false(http_etag_matches("*", NULL));
}

static void test_etag_lists(void **state)
{
    (void)state;
    assert_true(http_etag_matches("\"x\", \"abc\"", ETAG));
    assert_true(http_etag_matches("\"x\",\"abc\"", ETAG));
    assert_true(http_etag_matches("\"abc\",\"x\"", ETAG));
    assert_true(http_etag_matches("\"x\" ,\t\"abc\" , W/\"y\"", ETAG));
    assert_true(http_etag_matches("W/\"x\", W/\"abc\"", ETAG));
    assert_true(http_etag_matches(" \"abc\" ", ETAG));
    /* Empty list elements are legal (RFC 9110 §5.6.1). */
    assert_true(http_etag_matches(", ,\"abc\",", ETAG));
    assert_true(http_etag_matches(",,,\"abc\",,,", ETAG));
    assert_false(http_etag_matches("\"x\", \"y\", \"z\"", ETAG));
    assert_false(http_etag_matches("", ETAG));
    assert_false(http_etag_matches(" ", ETAG));
    assert_false(http_etag_matches(",", ETAG));
    assert_false(http_etag_matches(", ,", ETAG));
}

static void test_etag_malformed(void **state)
{
    static const char *const bad[] = {
        "abc", "\"abc", "abc\"", "\"abc\"x", "x\"abc\"", "\"x\" \"abc\"", "\"abc\" \"abc\"",
        "\"abc\";\"abc\"", "w/\"abc\"", "W/ \"abc\"", "W\"abc\"", "W/abc", "W/", "W",
        "\"a\"bc\"", "\"abc\", garbage", "garbage, \"abc\"", "\"abc\", \"x",
        "\"abc\", W/", "\"abc\"\x01", "\"a\001bc\"", "'abc'", "\"abc\"\"",
        "\"ab\\\"c\"", "\"x\",,\"y\" z, \"abc\"",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (http_etag_matches(bad[i], ETAG)) print_error("matched: %s\n", bad[i]);
        assert_false(http_etag_matches(bad[i], ETAG));
    }
}

static void test_etag_bytes(void **state)
{
    (void)state;
    /* obs-text is allowed inside a tag; DEL and controls are not. */
    assert_true(http_etag_matches("\"\xc3\xa9\"", "\"\xc3\xa9\""));
    assert_false(http_etag_matches("\"a\x7f\"", "\"a\x7f\""));
    assert_false(http_etag_matches("\"a b\"", "\"a b\""));
    assert_true(http_etag_matches("\"!#$%&'()*+,-./:;<=>?@[]^_`{|}~\"",
                                  "\"!#$%&'()*+,-./:;<=>?@[]^_`{|}~\""));
    /* A comma inside quotes is part of the tag, not a separator. */
    assert_true(http_etag_matches("\"a,b\"", "\"a,b\""));
    assert_false(http_etag_matches("\"a,b\"", "\"a\""));
}

static void test_etag_bad_own_tag(void **state)
{
    (void)state;
    assert_false(http_etag_matches("\"abc\"", "abc"));
    assert_false(http_etag_matches("abc", "abc"));
    assert_false(http_etag_matches("\"abc\"", ""));
    assert_false(http_etag_matches(NULL, ETAG));
    assert_false(http_etag_matches("\"abc\"", NULL));
}

static void test_etag_long_lists(void **state)
{
    size_t n = 100000, i;
    char *s = malloc(n + 16);
    char *t = malloc(n + 16);

    (void)state;
    assert_non_null(s);
    assert_non_null(t);
    for (i = 0; i < n; i++) s[i] = ',';
    memcpy(s + n, "\"abc\"", 6);
    assert_true(http_etag_matches(s, ETAG));
    /* An unterminated tag running to the end of a long header. */
    t[0] = '"';
    for (i = 1; i < n; i++) t[i] = 'a';
    t[n] = '\0';
    assert_false(http_etag_matches(t, ETAG));
    free(s);
    free(t);
}

/* ---- http_not_modified ----------------------------------------------------- */

static void test_not_modified_inm_decides(void **state)
{
    (void)state;
    assert_true(http_not_modified("\"abc\"", NULL, ETAG, T1994));
    assert_true(http_not_modified("W/\"abc\"", NULL, ETAG, T1994));
    assert_true(http_not_modified("*", NULL, ETAG, T1994));
    assert_false(http_not_modified("\"x\"", NULL, ETAG, T1994));
    /* A matching If-Modified-Since cannot rescue a mismatching If-None-Match... */
    assert_false(http_not_modified("\"x\"", IMF1994, ETAG, T1994));
    /* ...nor can a stale one spoil a matching tag. */
    assert_true(http_not_modified("\"abc\"", "Thu, 01 Jan 1970 00:00:00 GMT", ETAG, T1994));
    /* Present but empty or broken still decides (and says "modified"). */
    assert_false(http_not_modified("", IMF1994, ETAG, T1994));
    assert_false(http_not_modified("garbage", IMF1994, ETAG, T1994));
}

static void test_not_modified_ims(void **state)
{
    (void)state;
    assert_true(http_not_modified(NULL, IMF1994, ETAG, T1994));
    assert_true(http_not_modified(NULL, IMF1994, ETAG, T1994 - 1));
    assert_true(http_not_modified(NULL, IMF1994, ETAG, 0));
    assert_false(http_not_modified(NULL, IMF1994, ETAG, T1994 + 1));
    assert_true(http_not_modified(NULL, "Sunday, 06-Nov-94 08:49:37 GMT", ETAG, T1994));
    assert_true(http_not_modified(NULL, "Sun Nov  6 08:49:37 1994", ETAG, T1994));
    assert_true(http_not_modified(NULL, IMF1994, NULL, T1994));
    /* An invalid date is ignored, which means "modified". */
    assert_false(http_not_modified(NULL, "garbage", ETAG, T1994));
    assert_false(http_not_modified(NULL, "", ETAG, 0));
    assert_false(http_not_modified(NULL, "Sun, 31 Nov 1994 08:49:37 GMT", ETAG, 0));
    assert_false(http_not_modified(NULL, NULL, ETAG, T1994));
    assert_false(http_not_modified(NULL, NULL, NULL, 0));
}

/* ---- http_parse_range ------------------------------------------------------ */

static void expect_range(const char *h, uint64_t size, uint64_t want_start, uint64_t want_len)
{
    uint64_t start = 777, len = 777;
    enum http_range_result r = http_parse_range(h, size, &start, &len);

    if (r != HTTP_RANGE_OK || start != want_start || len != want_len)
        print_error("http_parse_range(\"%s\", %llu) = %d %llu+%llu, want %llu+%llu\n", h,
                    (unsigned long long)size, (int)r, (unsigned long long)start,
                    (unsigned long long)len, (unsigned long long)want_start,
                    (unsigned long long)want_len);
    assert_int_equal(r, HTTP_RANGE_OK);
    assert_true(start == want_start);
    assert_true(len == want_len);
}

static void expect_range_r(const char *h, uint64_t size, enum http_range_result want)
{
    uint64_t start = 777, len = 777;
    enum http_range_result r = http_parse_range(h, size, &start, &len);

    assert_true(want != HTTP_RANGE_OK);
    if (r != want)
        print_error("http_parse_range(\"%s\", %llu) = %d, want %d\n", h,
                    (unsigned long long)size, (int)r, (int)want);
    assert_int_equal(r, want);
    assert_true(start == 0);
    assert_true(len == 0);
}

#define NONE HTTP_RANGE_NONE
#define UNSAT HTTP_RANGE_UNSATISFIABLE

static void test_range_forms(void **state)
{
    (void)state;
    expect_range("bytes=0-99", 1000, 0, 100);
    expect_range("bytes=0-0", 1000, 0, 1);
    expect_range("bytes=500-999", 1000, 500, 500);
    expect_range("bytes=999-999", 1000, 999, 1);
    expect_range("bytes=100-", 1000, 100, 900);
    expect_range("bytes=0-", 1000, 0, 1000);
    expect_range("bytes=999-", 1000, 999, 1);
    expect_range("bytes=-500", 1000, 500, 500);
    expect_range("bytes=-1", 1000, 999, 1);
    expect_range("bytes=-1000", 1000, 0, 1000);
    expect_range("bytes=0-0", 1, 0, 1);
    expect_range("bytes=-1", 1, 0, 1);
}

static void test_range_clamping(void **state)
{
    (void)state;
    expect_range("bytes=0-999", 100, 0, 100);
    expect_range("bytes=50-100", 100, 50, 50);
    expect_range("bytes=99-100000", 100, 99, 1);
    expect_range("bytes=-500", 100, 0, 100);
    expect_range("bytes=-101", 100, 0, 100);
    expect_range("bytes=-100", 100, 0, 100);
    expect_range("bytes=-99", 100, 1, 99);
}

static void test_range_unsatisfiable(void **state)
{
    (void)state;
    expect_range_r("bytes=100-", 100, UNSAT);
    expect_range_r("bytes=100-200", 100, UNSAT);
    expect_range_r("bytes=1000-1000", 100, UNSAT);
    expect_range_r("bytes=-0", 100, UNSAT);
    expect_range_r("bytes=-000", 100, UNSAT);
    expect_range_r("bytes=0-0", 0, UNSAT);
    expect_range_r("bytes=0-", 0, UNSAT);
    expect_range_r("bytes=-1", 0, UNSAT);
    expect_range_r("bytes=-0", 0, UNSAT);
    expect_range_r("bytes=5-10", 0, UNSAT);
}

static void test_range_invalid_is_ignored(void **state)
{
    static const char *const bad[] = {
        "", "bytes", "bytes=", "bytes=-", "bytes=--1", "bytes=-1-", "bytes=-1-2", "bytes=1",
        "bytes=1-2-3", "bytes=+1-2", "bytes=1-+2", "bytes=0x10-20", "bytes=a-b", "bytes=1-b",
        "bytes=1.5-2", "bytes=5-4", "bytes=1-0", "bytes =0-1", "bytes= 0-1", "bytes=0 -1",
        "bytes=0- 1", "bytes=0-1 x", "bytes=0-1;", "bytes:0-1", "bytes0-1", "items=0-1",
        "bytesx=0-1", "xbytes=0-1", "byte=0-1", "none", "=0-1", "bytes==0-1", "bytes=0-1=",
        "bytes=\x80-1", "bytes=0-1\x01", "bytes=0\t-1",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) expect_range_r(bad[i], 1000, NONE);
    /* Invalid beats unsatisfiable: reversed on an empty file is still ignored. */
    expect_range_r("bytes=5-4", 0, NONE);
    expect_range_r("bytes=x", 0, NONE);
    expect_range_r(NULL, 1000, NONE);
}

static void test_range_multiple_is_ignored(void **state)
{
    (void)state;
    expect_range_r("bytes=0-1,5-6", 1000, NONE);
    expect_range_r("bytes=0-1, 5-6", 1000, NONE);
    expect_range_r("bytes=0-1,,5-6", 1000, NONE);
    expect_range_r("bytes=0-1,0-1", 1000, NONE);
    expect_range_r("bytes=-1,-1", 1000, NONE);
    expect_range_r("bytes=0-,5-", 1000, NONE);
    expect_range_r("bytes=2000-3000,0-1", 1000, NONE);
}

static void test_range_syntax_tolerated(void **state)
{
    (void)state;
    expect_range("Bytes=0-1", 1000, 0, 2);
    expect_range("BYTES=0-1", 1000, 0, 2);
    expect_range("bYtEs=-1", 1000, 999, 1);
    expect_range(" bytes=0-1 ", 1000, 0, 2);
    expect_range("\tbytes=0-1\t", 1000, 0, 2);
    expect_range("bytes=0-1,", 1000, 0, 2);
    expect_range("bytes=0-1 ,", 1000, 0, 2);
    expect_range("bytes=0-1 , ,", 1000, 0, 2);
    expect_range("bytes=,0-1", 1000, 0, 2);
    expect_range("bytes=, ,0-1", 1000, 0, 2);
    expect_range("bytes=0000000000000000000000000000000000001-0000000000000000000000002", 1000,
                 1, 2);
}

static void test_range_big_numbers(void **state)
{
    const uint64_t max = UINT64_MAX;

    (void)state;
    /* 18446744073709551615 == UINT64_MAX fits; one more does not. */
    expect_range("bytes=0-18446744073709551615", 100, 0, 100);
    expect_range("bytes=-18446744073709551615", 100, 0, 100);
    expect_range_r("bytes=18446744073709551615-", 100, UNSAT);
    expect_range_r("bytes=18446744073709551615-18446744073709551615", 100, UNSAT);
    expect_range_r("bytes=0-18446744073709551616", 100, NONE);
    expect_range_r("bytes=18446744073709551616-", 100, NONE);
    expect_range_r("bytes=-18446744073709551616", 100, NONE);
    expect_range_r("bytes=99999999999999999999-", 100, NONE);
    expect_range_r("bytes=0-184467440737095516150", 100, NONE);
    /* Sizes at the top of the range must not wrap either. */
    expect_range("bytes=0-", max, 0, max);
    expect_range("bytes=1-", max, 1, max - 1);
    expect_range("bytes=0-18446744073709551615", max, 0, max);
    expect_range("bytes=0-18446744073709551614", max, 0, max);
    expect_range("bytes=18446744073709551614-", max, max - 1, 1);
    expect_range("bytes=-18446744073709551615", max, 0, max);
    expect_range("bytes=-1", max, max - 1, 1);
    expect_range_r("bytes=18446744073709551615-", max, UNSAT);
}

static void test_range_overlong_numbers(void **state)
{
    char *h = malloc(10000);
    size_t i;

    (void)state;
    assert_non_null(h);
    memcpy(h, "bytes=", 6);
    for (i = 6; i < 9000; i++) h[i] = '9';
    memcpy(h + 9000, "-", 2);
    expect_range_r(h, 100, NONE);
    memcpy(h, "bytes=-", 7);
    for (i = 7; i < 9000; i++) h[i] = '1';
    h[9000] = '\0';
    expect_range_r(h, 100, NONE);
    free(h);
}

static void test_range_null_outputs(void **state)
{
    uint64_t x = 5;

    (void)state;
    assert_int_equal(http_parse_range("bytes=0-1", 10, NULL, &x), HTTP_RANGE_NONE);
    assert_true(x == 0);
    x = 5;
    assert_int_equal(http_parse_range("bytes=0-1", 10, &x, NULL), HTTP_RANGE_NONE);
    assert_true(x == 0);
}

/* ---- http_if_range_ok ------------------------------------------------------ */

static void test_if_range_absent(void **state)
{
    (void)state;
    assert_true(http_if_range_ok(NULL, ETAG, T1994));
    assert_true(http_if_range_ok(NULL, NULL, 0));
}

static void test_if_range_etag(void **state)
{
    (void)state;
    assert_true(http_if_range_ok("\"abc\"", ETAG, T1994));
    assert_true(http_if_range_ok(" \"abc\" ", ETAG, T1994));
    assert_false(http_if_range_ok("\"abd\"", ETAG, T1994));
    assert_false(http_if_range_ok("\"abcd\"", ETAG, T1994));
    assert_false(http_if_range_ok("\"ab\"", ETAG, T1994));
    /* Strong comparison: a weak tag never matches, on either side. */
    assert_false(http_if_range_ok("W/\"abc\"", ETAG, T1994));
    assert_false(http_if_range_ok("\"abc\"", "W/\"abc\"", T1994));
    assert_false(http_if_range_ok("W/\"abc\"", "W/\"abc\"", T1994));
    /* One tag only, well formed. */
    assert_false(http_if_range_ok("\"abc\", \"abc\"", ETAG, T1994));
    assert_false(http_if_range_ok("\"abc\" x", ETAG, T1994));
    assert_false(http_if_range_ok("\"abc", ETAG, T1994));
    assert_false(http_if_range_ok("\"", ETAG, T1994));
    assert_false(http_if_range_ok("W/", ETAG, T1994));
    assert_false(http_if_range_ok("*", ETAG, T1994));
    assert_false(http_if_range_ok("\"abc\"", NULL, T1994));
    assert_false(http_if_range_ok("\"abc\"", "abc", T1994));
}

static void test_if_range_date(void **state)
{
    (void)state;
    assert_true(http_if_range_ok(IMF1994, ETAG, T1994));
    assert_true(http_if_range_ok(" " IMF1994 " ", ETAG, T1994));
    assert_true(http_if_range_ok("Sun Nov  6 08:49:37 1994", ETAG, T1994));
    assert_true(http_if_range_ok("Sunday, 06-Nov-94 08:49:37 GMT", ETAG, T1994));
    assert_true(http_if_range_ok("Wed, 09 Nov 1994 08:49:37 GMT", ETAG, T1994 + 3 * 86400));
    /* Equality, not "not newer": the file changed either way. */
    assert_false(http_if_range_ok(IMF1994, ETAG, T1994 + 1));
    assert_false(http_if_range_ok(IMF1994, ETAG, T1994 - 1));
    assert_false(http_if_range_ok(IMF1994, NULL, T1994 + 1));
    assert_true(http_if_range_ok(IMF1994, NULL, T1994));
}

static void test_if_range_garbage(void **state)
{
    static const char *const bad[] = {
        "", " ", "abc", "0", "784111777", "Sun, 31 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT x", "Wed", "W", "Wednesday",
        "Sun, 06 Nov 1994 08:49:37", "\x01",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (http_if_range_ok(bad[i], ETAG, T1994)) print_error("accepted: \"%s\"\n", bad[i]);
        assert_false(http_if_range_ok(bad[i], ETAG, T1994));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_date),
        cmocka_unit_test(test_format_date_all_names),
        cmocka_unit_test(test_format_date_small_buffer),
        cmocka_unit_test(test_format_date_extreme_years),
        cmocka_unit_test(test_parse_three_formats),
        cmocka_unit_test(test_parse_fixdate_values),
        cmocka_unit_test(test_parse_rfc850_years),
        cmocka_unit_test(test_parse_asctime),
        cmocka_unit_test(test_parse_weekday_not_checked),
        cmocka_unit_test(test_parse_out_of_range_fields),
        cmocka_unit_test(test_parse_garbage),
        cmocka_unit_test(test_parse_every_prefix_rejected),
        cmocka_unit_test(test_parse_year_range),
        cmocka_unit_test(test_format_parse_round_trip),
        cmocka_unit_test(test_etag_exact_and_weak),
        cmocka_unit_test(test_etag_star),
        cmocka_unit_test(test_etag_lists),
        cmocka_unit_test(test_etag_malformed),
        cmocka_unit_test(test_etag_bytes),
        cmocka_unit_test(test_etag_bad_own_tag),
        cmocka_unit_test(test_etag_long_lists),
        cmocka_unit_test(test_not_modified_inm_decides),
        cmocka_unit_test(test_not_modified_ims),
        cmocka_unit_test(test_range_forms),
        cmocka_unit_test(test_range_clamping),
        cmocka_unit_test(test_range_unsatisfiable),
        cmocka_unit_test(test_range_invalid_is_ignored),
        cmocka_unit_test(test_range_multiple_is_ignored),
        cmocka_unit_test(test_range_syntax_tolerated),
        cmocka_unit_test(test_range_big_numbers),
        cmocka_unit_test(test_range_overlong_numbers),
        cmocka_unit_test(test_range_null_outputs),
        cmocka_unit_test(test_if_range_absent),
        cmocka_unit_test(test_if_range_etag),
        cmocka_unit_test(test_if_range_date),
        cmocka_unit_test(test_if_range_garbage),
    };

    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
