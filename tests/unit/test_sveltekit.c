/* Unit tests for sveltekit: base detection from a prerendered page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tomed/sveltekit.h"

static int detect(const char *html, char *out)
{
    return sveltekit_detect_base(html, strlen(html), out, 64);
}

static void test_relative_build_carries_assets(void **state)
{
    (void)state;
    char out[64];
    const char *page = "<script>\n{\n__sveltekit_1vzh90 = {\n"
                       "base: new URL(\".\", location).pathname.slice(0, -1),\n"
                       "assets: \"/tomeclicker\"\n};\n";
    assert_int_equal(detect(page, out), 0);
    assert_string_equal(out, "/tomeclicker");
}

static void test_absolute_build_carries_base(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(detect("__sveltekit_ab = { base: \"/a/b/\", assets: \"/cdn\" }", out), 0);
    assert_string_equal(out, "/a/b");
}

static void test_nothing_to_detect(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(detect("<html>no kit here</html>", out), -1);
    assert_int_equal(detect("__sveltekit_x = { base: new URL(\".\", location).pathname }", out), -1);
    assert_int_equal(detect("__sveltekit_x = { base: \"\" }", out), -1);
    assert_int_equal(detect("__sveltekit_x = { assets: \"/\" }", out), -1);
    /* not a plain path: never used as a mount base */
    assert_int_equal(detect("__sveltekit_x = { assets: \"/a b\" }", out), -1);
    assert_int_equal(detect("__sveltekit_x = { assets: \"/../x\" }", out), -1);
    assert_int_equal(detect("__sveltekit_x = { assets: \"https://cdn.example\" }", out), -1);
    /* unterminated: never read past the end */
    assert_int_equal(detect("__sveltekit_x = { assets: \"/abc", out), -1);
    assert_int_equal(detect("__sveltekit_x = { assets: \"/abc\"", out), -1);
    /* a value outside the start-up object does not count */
    assert_int_equal(detect("__sveltekit_x = { } assets: \"/elsewhere\"", out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relative_build_carries_assets),
        cmocka_unit_test(test_absolute_build_carries_base),
        cmocka_unit_test(test_nothing_to_detect),
    };
    return cmocka_run_group_tests_name("sveltekit", tests, NULL, NULL);
}
