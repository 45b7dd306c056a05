/*
 * epolldrain — keeps libmicrohttpd's epoll loop from stalling with requests
 * in hand (server.epoll).
 *
 * libmicrohttpd (0.9.75 and 1.0.1 alike: daemon.c, MHD_epoll) first drains
 * the epoll set, then serves the connections it found ready:
 *
 *     num_events = MAX_EVENTS;                    (128)
 *     while (MAX_EVENTS == num_events)
 *         num_events = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms);
 *
 * with timeout_ms the loop's blocking timeout (up to connection_timeout) for
 * every call. When exactly 128, 256, ... connections are ready, the call after
 * the last full batch finds nothing and blocks: the requests already read-ready
 * wait, unanswered, for some other event or for the connection timeout (30 s
 * by default). Kept-alive clients all waiting for their responses send no other
 * event, so a worker thread with 128 or more busy connections stalls; measured
 * with one thread and 128 connections: ~110 requests/s against thousands with
 * poll(2), and strace shows epoll_wait(..., 128, 29380) blocking right after two
 * calls that returned 128.
 *
 * tomed defines epoll_wait itself. libmicrohttpd calls it through its PLT, and
 * the dynamic linker binds that to the executable's definition first (the
 * executable exports the symbol because a library it links references it). A
 * call made on the same thread and epoll descriptor right after one that
 * returned a full batch gets timeout 0: it still collects what is ready, and
 * the loop ends without blocking. Every other call passes through unchanged
 * (epoll_pwait with no signal mask is epoll_wait). Linked into build/tomed
 * only (the Makefile's TOMED_ONLY_SRC), not into libtomed.a: the unit tests
 * and fuzzers have no business with it, and a sanitizer runtime's interceptor
 * of the same name must not meet it there.
 */
#include "tomed/epolldrain.h"

#include <stddef.h>
#include <sys/epoll.h>

/* The epoll descriptor whose last epoll_wait on this thread filled the
 * caller's array; -1 if the last call did not. */
static _Thread_local int epolldrain_full_fd = -1;

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
    if (epfd == epolldrain_full_fd)
        timeout = 0;
    int n = epoll_pwait(epfd, events, maxevents, timeout, NULL);
    epolldrain_full_fd = (n > 0 && n == maxevents) ? epfd : -1;
    return n;
}
