/*
 * Unit tests for beneath: opening below a directory without following any
 * symlink, with openat2 and with the O_NOFOLLOW walk, on a real temporary
 * tree:
 *
 *   root/a/b/file.txt      "inside"
 *   root/a/link -> b       (directory link)
 *   root/flink -> a/b/file.txt
 *   root/../outside.txt    "outside"
 *   root/out -> ../outside.txt
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tomed/beneath.h"

static char top[64];
static int rootfd = -1;

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    char p[256];
    (void)state;
    snprintf(top, sizeof top, "/tmp/tomed-beneath-XXXXXX");
    if (!mkdtemp(top))
        return -1;
    snprintf(p, sizeof p, "%s/root", top);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/root/a", top);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/root/a/b", top);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/root/a/b/file.txt", top);
    put(p, "inside");
    snprintf(p, sizeof p, "%s/outside.txt", top);
    put(p, "outside");
    snprintf(p, sizeof p, "%s/root/a/link", top);
    if (symlink("b", p) < 0)
        return -1;
    snprintf(p, sizeof p, "%s/root/flink", top);
    if (symlink("a/b/file.txt", p) < 0)
        return -1;
    snprintf(p, sizeof p, "%s/root/out", top);
    if (symlink("../outside.txt", p) < 0)
        return -1;
    snprintf(p, sizeof p, "%s/root", top);
    rootfd = open(p, O_RDONLY | O_DIRECTORY);
    return rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    close(rootfd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    return system(cmd) == 0 ? 0 : -1;
}

static void read_is(int fd, const char *want)
{
    char buf[64];
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
    assert_string_equal(buf, want);
    close(fd);
}

static void expect_fail(const char *rel, int flags, int err1, int err2)
{
    errno = 0;
    int fd = beneath_open(rootfd, rel, flags);
    if (fd >= 0)
        close(fd);
    assert_int_equal(fd, -1);
    if (errno != err1 && errno != err2)
        fail_msg("%s: errno %d (%s), wanted %d or %d", rel, errno, strerror(errno), err1, err2);
}

static void both_ways(void (*check)(void))
{
    beneath_force_walk(0);
    check();
    beneath_force_walk(1);
    assert_int_equal(beneath_uses_openat2(), 0);
    check();
    beneath_force_walk(0);
}

static void opens_plain_paths(void)
{
    read_is(beneath_open(rootfd, "a/b/file.txt", O_RDONLY), "inside");
    read_is(beneath_open(rootfd, "a//b/file.txt", O_RDONLY), "inside");
    int d = beneath_open(rootfd, "a/b", O_RDONLY | O_DIRECTORY);
    assert_true(d >= 0);
    read_is(openat(d, "file.txt", O_RDONLY), "inside");
    close(d);
    d = beneath_open(rootfd, "", O_RDONLY | O_DIRECTORY); /* the directory itself */
    assert_true(d >= 0);
    close(d);
    expect_fail("a/b/none.txt", O_RDONLY, ENOENT, ENOENT);
}

static void refuses_symlinks(void)
{
    /* a link as the last component, as a middle one, and one leading out */
    expect_fail("flink", O_RDONLY, ELOOP, ELOOP);
    expect_fail("a/link/file.txt", O_RDONLY, ELOOP, ENOTDIR);
    expect_fail("out", O_RDONLY, ELOOP, ELOOP);
}

static void refuses_escapes(void)
{
    expect_fail("../outside.txt", O_RDONLY, EXDEV, EXDEV);
    expect_fail("a/../../outside.txt", O_RDONLY, EXDEV, EXDEV);
    expect_fail("a/./b/file.txt", O_RDONLY, EXDEV, EXDEV);
    expect_fail("/etc/passwd", O_RDONLY, EXDEV, EXDEV);
}

static void test_opens_plain_paths(void **state)
{
    (void)state;
    both_ways(opens_plain_paths);
}

static void test_refuses_symlinks(void **state)
{
    (void)state;
    both_ways(refuses_symlinks);
}

static void test_refuses_escapes(void **state)
{
    (void)state;
    both_ways(refuses_escapes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opens_plain_paths),
        cmocka_unit_test(test_refuses_symlinks),
        cmocka_unit_test(test_refuses_escapes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
