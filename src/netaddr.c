/*
 * netaddr — addresses, CIDR sets, and the client address behind trusted
 * proxies (see include/tomed/netaddr.h for the rules).
 *
 * Why the walk goes from the right: each proxy appends the address it got
 * the request from, so only the right end of X-Forwarded-For / Forwarded is
 * written by hops we trust; everything left of the first untrusted hop was
 * written by the client and can say anything. A client that sends
 * "X-Forwarded-For: 1.2.3.4" through the ingress therefore gets logged as
 * itself, not as 1.2.3.4.
 */
#include "tomed/netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* Hops remembered per request: the right end of a longer chain is kept; a
 * walk that needs more than this ends with the peer. */
#define HOPS_MAX 32
#define NODE_MAX 128 /* bytes of one hop's text (an IPv6 with brackets and port is < 50) */

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int why_set(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int why_set(char *why, size_t cap, const char *fmt, ...)
{
    if (why && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* inet_pton wants a C string; family 0 tries IPv4 then IPv6. */
static int parse_family(const char *s, size_t len, netaddr *out, int *is_v4)
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof buf || memchr(s, '\0', len))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    struct in_addr a4;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        memcpy(out->b, v4_prefix, 12);
        memcpy(out->b + 12, &a4, 4);
        *is_v4 = 1;
        return 0;
    }
    struct in6_addr a6;
    if (inet_pton(AF_INET6, buf, &a6) == 1) {
        memcpy(out->b, &a6, 16);
        *is_v4 = 0;
        return 0;
    }
    return -1;
}

int netaddr_parse(const char *s, size_t len, netaddr *out)
{
    int v4;
    return s && out ? parse_family(s, len, out, &v4) : -1;
}

/* Zero the bits below a prefix of bits; returns nonzero if any were set. */
static int clear_host_bits(netaddr *a, unsigned bits)
{
    int had = 0;
    for (unsigned i = 0; i < 16; i++) {
        unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i : 0;
        uint8_t mask = keep == 0 ? 0 : (uint8_t)(0xff << (8 - keep));
        had |= (a->b[i] & ~mask) != 0;
        a->b[i] &= mask;
    }
    return had;
}

int netaddr_parse_cidr(const char *s, size_t len, netaddr_cidr *out, char *why, size_t cap)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    int v4 = 0;
    netaddr a;
    if (parse_family(s, alen, &a, &v4) < 0)
        return why_set(why, cap, "\"%.*s\" is not an IPv4 or IPv6 address", (int)(alen > 64 ? 64 : alen), s);
    unsigned max = v4 ? 32 : 128, bits = max;
    if (slash) {
        const char *p = slash + 1, *end = s + len;
        if (p == end || end - p > 3)
            return why_set(why, cap, "prefix length after \"/\" must be 0..%u", max);
        bits = 0;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9')
                return why_set(why, cap, "prefix length after \"/\" must be 0..%u", max);
            bits = bits * 10 + (unsigned)(*p - '0');
        }
        if (bits > max)
            return why_set(why, cap, "prefix length /%u is more than %u", bits, max);
    }
    unsigned total = v4 ? 96 + bits : bits;
    netaddr net = a;
    if (clear_host_bits(&net, total)) {
        char shown[NETADDR_TEXT];
        netaddr_format(&net, shown, sizeof shown);
        return why_set(why, cap, "\"%.*s\" has bits set below the /%u prefix (the network is %s/%u)",
                       (int)(len > 64 ? 64 : len), s, bits, shown, bits);
    }
    out->addr = net;
    out->bits = total;
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* The next non-empty item [*a, *b) of a comma-separated list at *p, spaces
 * trimmed; 0 at the end. RFC 9110 §5.6.1: empty list elements are ignored. */
static int next_item(const char **p, const char **a, const char **b)
{
    while (**p) {
        const char *end = strchr(*p, ',');
        if (!end)
            end = *p + strlen(*p);
        *a = *p;
        *b = end;
        *p = *end ? end + 1 : end;
        while (*a < *b && is_space(**a))
            (*a)++;
        while (*b > *a && is_space((*b)[-1]))
            (*b)--;
        if (*a < *b)
            return 1;
    }
    return 0;
}

int netaddr_set_parse(const char *list, netaddr_set *out, char *why, size_t cap)
{
    netaddr_cidr tmp[NETADDR_SET_MAX];
    size_t n = 0;
    if (out) {
        out->cidrs = NULL;
        out->n = 0;
    }
    if (!list)
        return 0;
    const char *p = list, *a, *b;
    while (next_item(&p, &a, &b)) {
        if (n == NETADDR_SET_MAX)
            return why_set(why, cap, "more than %d networks", NETADDR_SET_MAX);
        if (netaddr_parse_cidr(a, (size_t)(b - a), &tmp[n], why, cap) < 0)
            return -1;
        n++;
    }
    if (!out || n == 0)
        return 0;
    out->cidrs = malloc(n * sizeof *out->cidrs);
    if (!out->cidrs)
        return why_set(why, cap, "out of memory");
    memcpy(out->cidrs, tmp, n * sizeof *tmp);
    out->n = n;
    return 0;
}

void netaddr_set_free(netaddr_set *set)
{
    if (!set)
        return;
    free(set->cidrs);
    set->cidrs = NULL;
    set->n = 0;
}

static int in_cidr(const netaddr_cidr *c, const netaddr *a)
{
    unsigned full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr.b, a->b, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a->b[full] & mask) == c->addr.b[full];
}

int netaddr_set_contains(const netaddr_set *set, const netaddr *a)
{
    if (!set || !a)
        return 0;
    for (size_t i = 0; i < set->n; i++)
        if (in_cidr(&set->cidrs[i], a))
            return 1;
    return 0;
}

int netaddr_from_sockaddr(const struct sockaddr *sa, netaddr *out)
{
    if (!sa)
        return -1;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        memcpy(out->b, v4_prefix, 12);
        memcpy(out->b + 12, &s4->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(out->b, &s6->sin6_addr, 16);
        return 0;
    }
    return -1;
}

size_t netaddr_format(const netaddr *a, char *out, size_t cap)
{
    if (!cap)
        return 0;
    out[0] = '\0';
    const char *r = memcmp(a->b, v4_prefix, 12) == 0
                        ? inet_ntop(AF_INET, a->b + 12, out, (socklen_t)cap)
                        : inet_ntop(AF_INET6, a->b, out, (socklen_t)cap);
    if (!r) {
        out[0] = '\0';
        return 0;
    }
    return strlen(out);
}

/* ---- hops --------------------------------------------------------------- */

enum hop_kind { HOP_ADDR, HOP_UNKNOWN, HOP_GARBAGE };

typedef struct hop {
    enum hop_kind kind;
    netaddr addr;
} hop;

/* The hops of one request in order, keeping the last HOPS_MAX. */
typedef struct hops {
    hop h[HOPS_MAX];
    size_t n;       /* hops seen in all */
} hops;

static void hops_add(hops *hs, enum hop_kind kind, const netaddr *a)
{
    hop *h = &hs->h[hs->n % HOPS_MAX];
    h->kind = kind;
    if (a)
        h->addr = *a;
    hs->n++;
}

static int port_number(const char *s, size_t n)
{
    unsigned v = 0;
    if (n == 0 || n > 5)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v <= 65535;
}

/* A port after an address: digits, or RFC 7239's obfuscated "_name". */
static int port_ok(const char *s, size_t n)
{
    if (n >= 2 && s[0] == '_') {
        for (size_t i = 1; i < n; i++)
            if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                  (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
                return 0;
        return 1;
    }
    return port_number(s, n);
}

/* One hop's node: "10.0.0.1", "10.0.0.1:4711", "2001:db8::1", "[2001:db8::1]",
 * "[2001:db8::1]:4711"; "unknown" and "_obfuscated" say nothing usable. */
static enum hop_kind parse_node(const char *s, size_t n, netaddr *out)
{
    if (n == 0)
        return HOP_GARBAGE;
    if ((n == 7 && strncasecmp(s, "unknown", 7) == 0) || s[0] == '_')
        return HOP_UNKNOWN;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        int v4;
        if (!close || parse_family(s + 1, (size_t)(close - s - 1), out, &v4) < 0 || v4)
            return HOP_GARBAGE;
        size_t rest = n - (size_t)(close - s) - 1;
        if (rest == 0)
            return HOP_ADDR;
        return close[1] == ':' && port_ok(close + 2, rest - 1) ? HOP_ADDR : HOP_GARBAGE;
    }
    const char *colon = memchr(s, ':', n);
    if (colon && !memchr(colon + 1, ':', n - (size_t)(colon - s) - 1)) {
        /* exactly one colon: IPv4 with a port */
        int v4;
        if (parse_family(s, (size_t)(colon - s), out, &v4) < 0 || !v4 ||
            !port_ok(colon + 1, n - (size_t)(colon - s) - 1))
            return HOP_GARBAGE;
        return HOP_ADDR;
    }
    return netaddr_parse(s, n, out) == 0 ? HOP_ADDR : HOP_GARBAGE;
}

static void xff_hops(hops *hs, const char *v)
{
    const char *p = v, *a, *b;
    while (next_item(&p, &a, &b)) {
        netaddr addr;
        enum hop_kind k = parse_node(a, (size_t)(b - a), &addr);
        hops_add(hs, k, k == HOP_ADDR ? &addr : NULL);
    }
}

static int is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Skip to just after the next ',' outside a quoted-string (or to the end). */
static const char *skip_element(const char *p)
{
    int quoted = 0;
    for (; *p; p++) {
        if (quoted && *p == '\\' && p[1])
            p++;
        else if (*p == '"')
            quoted = !quoted;
        else if (!quoted && *p == ',')
            return p + 1;
    }
    return p;
}

/* One element of Forwarded ("for=...;proto=https;by=...") starting at p;
 * adds its hop and returns where the next element starts. */
static const char *forwarded_element(hops *hs, const char *p)
{
    char node[NODE_MAX];
    size_t node_len = 0;
    int have_for = 0;
    for (;;) {
        while (is_space(*p))
            p++;
        const char *name = p;
        while (is_tchar(*p))
            p++;
        size_t name_len = (size_t)(p - name);
        if (name_len == 0 || *p != '=')
            goto garbage;
        p++;
        int is_for = name_len == 3 && strncasecmp(name, "for", 3) == 0;
        if (is_for && have_for)
            goto garbage; /* two for= in one element: which one? */
        size_t n = 0;
        if (*p == '"') {
            for (p++; *p != '"'; p++) {
                if (!*p)
                    goto garbage;
                if (*p == '\\' && p[1])
                    p++;
                if (is_for && n + 1 >= sizeof node)
                    goto garbage;
                if (is_for)
                    node[n++] = *p;
            }
            p++;
        } else {
            const char *v = p;
            while (is_tchar(*p))
                p++;
            n = (size_t)(p - v);
            if (n == 0 || (is_for && n >= sizeof node))
                goto garbage;
            if (is_for)
                memcpy(node, v, n);
        }
        if (is_for) {
            have_for = 1;
            node_len = n;
        }
        while (is_space(*p))
            p++;
        if (*p == ';') {
            p++;
            continue;
        }
        if (*p == ',' || *p == '\0')
            break;
        goto garbage;
    }
    if (!have_for) {
        hops_add(hs, HOP_UNKNOWN, NULL);
    } else {
        netaddr a;
        enum hop_kind k = parse_node(node, node_len, &a);
        hops_add(hs, k, k == HOP_ADDR ? &a : NULL);
    }
    return *p == ',' ? p + 1 : p;
garbage:
    hops_add(hs, HOP_GARBAGE, NULL);
    return skip_element(p);
}

static void forwarded_hops(hops *hs, const char *v)
{
    for (const char *p = v; *p;) {
        while (is_space(*p))
            p++;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p)
            p = forwarded_element(hs, p);
    }
}

enum netaddr_source netaddr_client(const netaddr_set *trusted, const netaddr *peer,
                                   const char *const *xff, size_t n_xff, const char *const *fwd,
                                   size_t n_fwd, netaddr *client)
{
    *client = *peer;
    if (!netaddr_set_contains(trusted, peer) || (n_xff == 0 && n_fwd == 0))
        return NETADDR_PEER;
    hops hs;
    hs.n = 0;
    enum netaddr_source src = n_xff ? NETADDR_XFF : NETADDR_FORWARDED;
    for (size_t i = 0; i < (n_xff ? n_xff : n_fwd); i++) {
        const char *v = n_xff ? xff[i] : fwd[i];
        if (!v)
            continue;
        if (n_xff)
            xff_hops(&hs, v);
        else
            forwarded_hops(&hs, v);
    }
    size_t kept = hs.n < HOPS_MAX ? hs.n : HOPS_MAX;
    const hop *leftmost = NULL;
    for (size_t k = 0; k < kept; k++) {
        const hop *h = &hs.h[(hs.n - 1 - k) % HOPS_MAX];
        if (h->kind != HOP_ADDR)
            return NETADDR_PEER;
        if (!netaddr_set_contains(trusted, &h->addr)) {
            *client = h->addr;
            return src;
        }
        leftmost = h;
    }
    /* every hop trusted: the leftmost is the best we know, unless the chain
     * went on further left than we kept */
    if (!leftmost || hs.n > HOPS_MAX)
        return NETADDR_PEER;
    *client = leftmost->addr;
    return src;
}
