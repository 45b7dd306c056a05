/*
 * Unit tests for epolldrain: tomed's epoll_wait, on real epoll sets of real
 * eventfds. libmicrohttpd's loop calls epoll_wait again after a full batch
 * (128) with its blocking timeout; that call must not block when nothing more
 * is ready, while every other call keeps the timeout it was given.
 *
 * Linked with build/obj/epolldrain.o (the Makefile's rule for this test), so
 * epoll_wait here is tomed's, as it is for libmicrohttpd inside build/tomed.
 * Timings only tell blocking (seconds) from not blocking (no wait at all).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "tomed/epolldrain.h"

#define BATCH 128
#define LONG_MS 10000 /* what a stalled call would wait: a failure, not a slow pass */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* An epoll set holding n edge-triggered eventfds, each signalled once: n
 * events the first time, then none until one is signalled again. */
static int ready_set(int n, int *fds)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    assert_true(ep >= 0);
    for (int i = 0; i < n; i++) {
        fds[i] = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
        assert_true(fds[i] >= 0);
        struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u32 = (uint32_t)i };
        assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev), 0);
    }
    return ep;
}

static void close_set(int ep, int n, const int *fds)
{
    for (int i = 0; i < n; i++)
        close(fds[i]);
    close(ep);
}

/* MHD_epoll's drain: 256 ready in two full batches; the third call, with the
 * long timeout, returns 0 at once instead of sleeping with work in hand. */
static void test_call_after_full_batch_does_not_block(void **state)
{
    (void)state;
    int fds[2 * BATCH];
    int ep = ready_set(2 * BATCH, fds);
    struct epoll_event evs[BATCH];
    assert_int_equal(epoll_wait(ep, evs, BATCH, LONG_MS), BATCH);
    assert_int_equal(epoll_wait(ep, evs, BATCH, LONG_MS), BATCH);
    double t0 = now_s();
    assert_int_equal(epoll_wait(ep, evs, BATCH, LONG_MS), 0);
    assert_true(now_s() - t0 < LONG_MS / 2000.0);
    close_set(ep, 2 * BATCH, fds);
}

/* After the non-blocking call the next one blocks again as asked, and an
 * event arriving meanwhile is returned. */
static void test_blocking_resumes_after_the_drain(void **state)
{
    (void)state;
    int fds[BATCH];
    int ep = ready_set(BATCH, fds);
    struct epoll_event evs[BATCH];
    assert_int_equal(epoll_wait(ep, evs, BATCH, LONG_MS), BATCH);
    assert_int_equal(epoll_wait(ep, evs, BATCH, LONG_MS), 0);
    double t0 = now_s();
    assert_int_equal(epoll_wait(ep, evs, BATCH, 200), 0);
    assert_true(now_s() - t0 >= 0.15); /* it did wait its 200 ms */
    uint64_t one = 1;
    assert_int_equal(write(fds[7], &one, sizeof one), sizeof one);
    assert_int_equal(epoll_wait(ep, evs, BATCH, LONG_MS), 1);
    assert_int_equal(evs[0].data.u32, 7);
    close_set(ep, BATCH, fds);
}

/* A batch that did not fill the array leaves the next call's timeout alone,
 * and so does a full batch of another epoll set. */
static void test_other_calls_keep_their_timeout(void **state)
{
    (void)state;
    int fa[BATCH], fb[3];
    int a = ready_set(BATCH, fa), b = ready_set(3, fb);
    struct epoll_event evs[BATCH];
    assert_int_equal(epoll_wait(b, evs, BATCH, LONG_MS), 3);
    double t0 = now_s();
    assert_int_equal(epoll_wait(b, evs, BATCH, 200), 0);
    assert_true(now_s() - t0 >= 0.15);
    assert_int_equal(epoll_wait(a, evs, BATCH, LONG_MS), BATCH);
    t0 = now_s();
    assert_int_equal(epoll_wait(b, evs, BATCH, 200), 0);
    assert_true(now_s() - t0 >= 0.15);
    close_set(a, BATCH, fa);
    close_set(b, 3, fb);
}

struct other { int ep; int n; double took; };

static void *wait_in_other_thread(void *p)
{
    struct other *o = p;
    struct epoll_event evs[BATCH];
    double t0 = now_s();
    o->n = epoll_wait(o->ep, evs, BATCH, 200);
    o->took = now_s() - t0;
    return NULL;
}

/* The state is per thread: a full batch on one worker does not make another
 * worker's wait on the same set non-blocking. */
static void test_state_is_per_thread(void **state)
{
    (void)state;
    int fds[BATCH];
    int ep = ready_set(BATCH, fds);
    struct epoll_event evs[BATCH];
    assert_int_equal(epoll_wait(ep, evs, BATCH, LONG_MS), BATCH);
    struct other o = { .ep = ep };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, wait_in_other_thread, &o), 0);
    pthread_join(t, NULL);
    assert_int_equal(o.n, 0);
    assert_true(o.took >= 0.15);
    close_set(ep, BATCH, fds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_after_full_batch_does_not_block),
        cmocka_unit_test(test_blocking_resumes_after_the_drain),
        cmocka_unit_test(test_other_calls_keep_their_timeout),
        cmocka_unit_test(test_state_is_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
