/*
 * epolldrain — tomed's own epoll_wait, which libmicrohttpd's epoll loop calls:
 * a call that follows a full batch on the same thread and descriptor does not
 * block, so a worker never sleeps with ready requests in hand (src/epolldrain.c
 * explains the stall it prevents). Part of build/tomed only.
 */
#ifndef TOMED_EPOLLDRAIN_H
#define TOMED_EPOLLDRAIN_H

#include <sys/epoll.h>

/* Replaces libc's for the whole process (same contract as epoll_wait(2)). */
int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout);

#endif
