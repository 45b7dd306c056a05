/* Unit tests for iplimit: per-address counting, the table bound, removal
 * keeping every other address findable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tomed/iplimit.h"

static netaddr addr(const char *s)
{
    netaddr a;
    assert_int_equal(netaddr_parse(s, strlen(s), &a), 0);
    return a;
}

static void test_limit_per_address(void **state)
{
    (void)state;
    iplimit *l = iplimit_new(2, 64);
    netaddr a = addr("10.0.0.1"), b = addr("2001:db8::1");
    assert_int_equal(iplimit_acquire(l, &a), 0);
    assert_int_equal(iplimit_acquire(l, &a), 0);
    assert_int_equal(iplimit_acquire(l, &a), -1); /* the third is refused... */
    assert_int_equal(iplimit_count(l, &a), 2);
    assert_int_equal(iplimit_acquire(l, &b), 0);  /* ...for a only */
    iplimit_release(l, &a);
    assert_int_equal(iplimit_acquire(l, &a), 0);  /* a slot given back is usable */
    iplimit_release(l, &a);
    iplimit_release(l, &a);
    assert_int_equal(iplimit_count(l, &a), 0);
    iplimit_release(l, &b);
    iplimit_free(l);
    iplimit_free(NULL);
}

static void test_table_bound(void **state)
{
    (void)state;
    iplimit *l = iplimit_new(1, 4);
    char s[32];
    for (int i = 0; i < 4; i++) {
        snprintf(s, sizeof s, "10.0.0.%d", i);
        netaddr a = addr(s);
        assert_int_equal(iplimit_acquire(l, &a), 0);
    }
    netaddr extra = addr("10.0.1.1");
    assert_int_equal(iplimit_acquire(l, &extra), -1); /* full: refused, not grown */
    netaddr first = addr("10.0.0.0");
    iplimit_release(l, &first);
    assert_int_equal(iplimit_acquire(l, &extra), 0);
    iplimit_free(l);
}

/* Many addresses in and out in a scrambled order: every count stays exact,
 * which fails if removal breaks another address's probe run. */
static void test_churn_keeps_runs_whole(void **state)
{
    (void)state;
    enum { N = 3000 };
    iplimit *l = iplimit_new(3, N);
    static netaddr as[N];
    char s[64];
    for (int i = 0; i < N; i++) {
        snprintf(s, sizeof s, "fd00::%x:%x", i / 7, i);
        as[i] = addr(s);
        for (int k = 0; k <= i % 3; k++)
            assert_int_equal(iplimit_acquire(l, &as[i]), 0);
    }
    for (int i = 0; i < N; i += 2) /* empty every other one */
        for (int k = 0; k <= i % 3; k++)
            iplimit_release(l, &as[i]);
    for (int i = 0; i < N; i++)
        assert_int_equal(iplimit_count(l, &as[i]), i % 2 ? (unsigned)(i % 3 + 1) : 0u);
    for (int i = 1; i < N; i += 2)
        for (int k = 0; k <= i % 3; k++)
            iplimit_release(l, &as[i]);
    for (int i = 0; i < N; i++)
        assert_int_equal(iplimit_count(l, &as[i]), 0);
    iplimit_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_per_address),
        cmocka_unit_test(test_table_bound),
        cmocka_unit_test(test_churn_keeps_runs_whole),
    };
    return cmocka_run_group_tests_name("iplimit", tests, NULL, NULL);
}
