/*
 * iplimit — limits.max_connections_per_ip, counted by client address.
 *
 * libmicrohttpd's own per-IP limit counts TCP peers when a connection opens,
 * before any header arrives: behind an ingress every connection is the
 * ingress pod's, so it would throttle the proxy and never a client. tomed
 * counts instead: a direct peer's connections, and for a peer in
 * server.trusted_proxies (which is never counted itself) the requests in
 * progress of the client its forwarding headers name.
 *
 * A fixed table of counters keyed by address, behind one mutex: a count is
 * taken once per connection or forwarded request, never per byte. Addresses
 * live in the table only while their count is above zero.
 */
#ifndef TOMED_IPLIMIT_H
#define TOMED_IPLIMIT_H

#include <stddef.h>

#include "tomed/netaddr.h"

typedef struct iplimit iplimit;

/* A limiter allowing max per address, tracking up to capacity addresses at
 * once. Returns NULL when out of memory. Owned by the caller (iplimit_free). */
iplimit *iplimit_new(unsigned max, size_t capacity);

/* Destroying NULL is a no-op. */
void iplimit_free(iplimit *l);

/* Count one more for a: 0 when it is within the limit (release it later),
 * -1 when a already holds max (nothing counted) or the table is full. */
int iplimit_acquire(iplimit *l, const netaddr *a);

/* Give back a count iplimit_acquire took for a. */
void iplimit_release(iplimit *l, const netaddr *a);

/* The count a holds now (for tests). */
unsigned iplimit_count(iplimit *l, const netaddr *a);

#endif
