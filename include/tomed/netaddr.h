/*
 * netaddr — IP addresses, CIDR sets (server.trusted_proxies) and the client
 * address a request came from when it passed through trusted proxies
 * (X-Forwarded-For, RFC 7239 Forwarded). Pure: no I/O, no allocation except
 * the set's array, so the unit tests and the fuzzer call it directly.
 *
 * Every address is held as 16 bytes of IPv6; an IPv4 address is its
 * IPv4-mapped form (::ffff:a.b.c.d), and an IPv4 CIDR a.b.c.d/n is the
 * mapped prefix of 96 + n bits. So a dual-stack listener's peer
 * "::ffff:10.0.0.1" matches "10.0.0.0/8" with no special case.
 */
#ifndef TOMED_NETADDR_H
#define TOMED_NETADDR_H

#include <stddef.h>
#include <stdint.h>

struct sockaddr;

typedef struct netaddr {
    uint8_t b[16];
} netaddr;

typedef struct netaddr_cidr {
    netaddr addr;  /* host bits zero */
    unsigned bits; /* prefix length over the 128 bits */
} netaddr_cidr;

typedef struct netaddr_set {
    netaddr_cidr *cidrs; /* malloc'd; owned by the set (netaddr_set_free) */
    size_t n;
} netaddr_set;

#define NETADDR_SET_MAX 64 /* CIDRs in one list: a handful of pod and node networks */
#define NETADDR_TEXT 48    /* enough for any address netaddr_format writes, NUL included */

/* Parse the exact text of an IPv4 ("10.0.0.1") or IPv6 ("fd00::1",
 * "::ffff:10.0.0.1") address of len bytes. 0, or -1 if it is not one. */
int netaddr_parse(const char *s, size_t len, netaddr *out);

/* "10.42.0.0/16", "fd00::/8", or a bare address (/32 or /128). 0, or -1
 * with a reason for a person in why (cap bytes; may be NULL). Host bits set
 * below the prefix are refused: "10.42.0.1/16" is more likely a typo than a
 * network. */
int netaddr_parse_cidr(const char *s, size_t len, netaddr_cidr *out, char *why, size_t cap);

/* A comma-separated list of CIDRs (spaces around items allowed, empty items
 * skipped; "" is the empty set). On success fills *out (the caller frees it
 * with netaddr_set_free) and returns 0; on error returns -1, *out empty, and
 * why names the bad item. out may be NULL to only validate. */
int netaddr_set_parse(const char *list, netaddr_set *out, char *why, size_t cap);

void netaddr_set_free(netaddr_set *set);

/* Nonzero when a is inside one of the set's CIDRs. */
int netaddr_set_contains(const netaddr_set *set, const netaddr *a);

/* An AF_INET or AF_INET6 socket address; -1 for any other family or NULL. */
int netaddr_from_sockaddr(const struct sockaddr *sa, netaddr *out);

/* The address as text into out (cap bytes, at least NETADDR_TEXT); an
 * IPv4-mapped address is written dotted ("10.0.0.1"). Returns its length. */
size_t netaddr_format(const netaddr *a, char *out, size_t cap);

enum netaddr_source {
    NETADDR_PEER,      /* the TCP peer: not trusted, no header, or a header that could not be used */
    NETADDR_XFF,       /* from X-Forwarded-For */
    NETADDR_FORWARDED, /* from Forwarded */
};

/*
 * The client address of a request from peer. Only when peer is in trusted
 * are the headers read: X-Forwarded-For if there is one, else Forwarded.
 * xff and fwd are the header fields' values in the order received (several
 * fields of one name form one list). Walking from the right, the first hop
 * that is not itself trusted is the client; if every hop is trusted, the
 * leftmost. A hop that is not an address (garbage, a Forwarded "unknown" or
 * obfuscated "_name", an element without for=) ends the walk with the peer:
 * nothing left of it can be vouched for. *client is always set.
 */
enum netaddr_source netaddr_client(const netaddr_set *trusted, const netaddr *peer,
                                   const char *const *xff, size_t n_xff, const char *const *fwd,
                                   size_t n_fwd, netaddr *client);

#endif
