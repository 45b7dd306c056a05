/*
 * reqhead — the request-head checks tomed makes itself before answering
 * (see include/tomed/reqhead.h for the list and the RFC sections). Kept pure
 * so it is unit-tested and fuzzed; server.c feeds it what libmicrohttpd
 * parsed and answers its verdict.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tomed/reqhead.h"

static void refuse(reqhead *h, const char *reason)
{
    if (!h->status) {
        h->status = 400;
        h->reason = reason;
    }
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* tchar (RFC 9110 §5.6.2) */
static int is_tchar(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int is_unreserved(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int is_sub_delim(unsigned char c)
{
    return c && strchr("!$&'()*+,;=", c) != NULL;
}

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* v without leading and trailing optional whitespace (a field value excludes it) */
static void trim(const char **v, size_t *n)
{
    while (*n && is_ows((unsigned char)**v)) {
        (*v)++;
        (*n)--;
    }
    while (*n && is_ows((unsigned char)(*v)[*n - 1]))
        (*n)--;
}

static int name_is(const char *name, size_t n, const char *want)
{
    return n == strlen(want) && strncasecmp(name, want, n) == 0;
}

/* IP-literal without its brackets: IPv6address / IPvFuture (RFC 3986 §3.2.2). */
static int ip_literal_valid(const char *s, size_t n)
{
    if (n && (s[0] == 'v' || s[0] == 'V')) {
        size_t i = 1;
        while (i < n && is_hex((unsigned char)s[i]))
            i++;
        if (i == 1 || i >= n || s[i] != '.')
            return 0;
        if (++i == n)
            return 0;
        for (; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!is_unreserved(c) && !is_sub_delim(c) && c != ':')
                return 0;
        }
        return 1;
    }
    char buf[INET6_ADDRSTRLEN];
    unsigned char addr[16];
    if (n == 0 || n >= sizeof buf)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_hex((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
            return 0; /* also keeps a NUL away from inet_pton */
    memcpy(buf, s, n);
    buf[n] = '\0';
    return inet_pton(AF_INET6, buf, addr) == 1;
}

int reqhead_host_valid(const char *v, size_t n)
{
    size_t i = 0;
    if (n && v[0] == '[') {
        const char *close = memchr(v, ']', n);
        if (!close || !ip_literal_valid(v + 1, (size_t)(close - v) - 1))
            return 0;
        i = (size_t)(close - v) + 1;
    } else {
        /* reg-name, which IPv4address is a case of */
        for (; i < n && v[i] != ':'; i++) {
            unsigned char c = (unsigned char)v[i];
            if (c == '%') {
                if (i + 2 >= n || !is_hex((unsigned char)v[i + 1]) ||
                    !is_hex((unsigned char)v[i + 2]))
                    return 0;
                i += 2;
            } else if (!is_unreserved(c) && !is_sub_delim(c)) {
                return 0;
            }
        }
    }
    if (i == n)
        return 1;
    if (v[i] != ':')
        return 0;
    for (i++; i < n; i++)
        if (!is_digit((unsigned char)v[i]))
            return 0;
    return 1;
}

int reqhead_target_valid(const char *target, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)target[i];
        if (c <= 0x20 || c == 0x7f)
            return 0;
    }
    return 1;
}

void reqhead_begin(reqhead *h, const char *version, int target_ok)
{
    memset(h, 0, sizeof *h);
    h->http10 = version && strcmp(version, "HTTP/1.0") == 0;
    if (!target_ok)
        refuse(h, "a space or control byte in the request target");
}

/* One Transfer-Encoding field value: a comma-separated list of codings,
 * each a token with optional parameters; empty elements are allowed
 * (RFC 9110 §5.6.1). */
static void transfer_codings(reqhead *h, const char *v, size_t n)
{
    size_t i = 0;
    while (i <= n) {
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        const char *el = v + start;
        size_t len = i - start;
        i++; /* past the comma (or the end) */
        trim(&el, &len);
        if (!len)
            continue;
        const char *semi = memchr(el, ';', len);
        size_t tok = semi ? (size_t)(semi - el) : len;
        const char *t = el;
        trim(&t, &tok);
        for (size_t k = 0; k < tok; k++)
            if (!is_tchar((unsigned char)t[k])) {
                refuse(h, "an invalid Transfer-Encoding");
                return;
            }
        if (tok == 0) {
            refuse(h, "an invalid Transfer-Encoding");
            return;
        }
        if (name_is(t, tok, "chunked")) {
            h->chunked++;
            h->chunked_last = 1;
        } else {
            h->unknown_coding = 1;
            h->chunked_last = 0;
        }
    }
}

void reqhead_block(reqhead *h, const char *block, size_t n, const char *line_end)
{
    h->block = block;
    h->block_len = n;
    h->block_pos = line_end;
    if (line_end && ((uintptr_t)line_end < (uintptr_t)block ||
                     (uintptr_t)line_end > (uintptr_t)block + n)) {
        refuse(h, "a request line outside the request header");
        h->block = NULL;
    }
}

static const char bad_line[] = "a bare LF, or a line the parser did not hand over (a NUL in a "
                               "value, a line starting with a colon)";

/* n bytes that are exactly `lines` CRLFs as the parser leaves them. */
static int line_ends(const char *p, size_t n, size_t lines)
{
    if (n != 2 * lines)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] != '\0')
            return 0;
    return 1;
}

/* The field's place in the block (pointers compared as integers: they may
 * point elsewhere, and then nothing is read). */
static void field_in_block(reqhead *h, const char *name, size_t name_len, const char *value,
                           size_t value_len)
{
    uintptr_t b = (uintptr_t)h->block, e = b + h->block_len;
    uintptr_t k = (uintptr_t)name, v = (uintptr_t)value;
    uintptr_t from = h->block_pos ? (uintptr_t)h->block_pos : k;
    if (!value || k < from || k > e || name_len > e - k || v < k + name_len + 1 || v > e ||
        value_len > e - v || from < b) {
        refuse(h, "a field outside the request header");
        h->block = NULL; /* nothing more to compare against */
        return;
    }
    /* the previous line's end, then this name; after the name the colon's
     * NUL and whitespace */
    int ok = line_ends(h->block + (from - b), k - from, h->block_pos ? 1 : 0) &&
             h->block[k + name_len - b] == '\0';
    for (uintptr_t i = k + name_len + 1; ok && i < v; i++)
        ok = is_ows((unsigned char)h->block[i - b]);
    if (!ok)
        refuse(h, bad_line);
    h->block_pos = value + value_len;
}

void reqhead_field(reqhead *h, const char *name, size_t name_len, const char *value,
                   size_t value_len, int folded)
{
    if (folded)
        refuse(h, "obsolete line folding");
    else if (h->block)
        field_in_block(h, name, name_len, value, value_len);
    if (name_len == 0) {
        refuse(h, "an empty field name");
        return;
    }
    if (is_ows((unsigned char)name[name_len - 1])) {
        refuse(h, "whitespace between a field name and its colon");
        return;
    }
    for (size_t i = 0; i < name_len; i++)
        if (!is_tchar((unsigned char)name[i])) {
            refuse(h, "a field name that is not a token");
            return;
        }
    if (!value)
        value_len = 0;
    for (size_t i = 0; i < value_len; i++)
        if (value[i] == '\0' || value[i] == '\r' || value[i] == '\n') {
            refuse(h, "NUL, CR or LF in a field value");
            return;
        }
    const char *v = value;
    size_t n = value_len;
    trim(&v, &n);
    if (name_is(name, name_len, "Host")) {
        if (++h->hosts > 1)
            refuse(h, "more than one Host");
        else if (!reqhead_host_valid(v, n))
            refuse(h, "an invalid Host");
    } else if (name_is(name, name_len, "Content-Length")) {
        if (++h->content_lengths > 1)
            refuse(h, "more than one Content-Length");
        size_t i = 0;
        while (i < n && is_digit((unsigned char)v[i]))
            i++;
        if (n == 0 || i != n)
            refuse(h, "a Content-Length that is not a number");
    } else if (name_is(name, name_len, "Transfer-Encoding")) {
        h->transfer_encodings++;
        transfer_codings(h, v, n);
    }
}

unsigned reqhead_end(const reqhead *h, const char **reason)
{
    const char *why = h->reason;
    unsigned status = h->status;
    if (!status && h->block && h->block_pos) {
        /* the last line's end, then the blank line's */
        size_t done = (size_t)((uintptr_t)h->block_pos - (uintptr_t)h->block);
        if (!line_ends(h->block_pos, h->block_len - done, 2))
            status = 400, why = bad_line;
    }
    if (!status) {
        status = 400;
        if (!h->http10 && h->hosts == 0)
            why = "HTTP/1.1 without Host";
        else if (h->transfer_encodings && h->content_lengths)
            why = "Transfer-Encoding with Content-Length";
        else if (h->transfer_encodings && h->http10)
            why = "Transfer-Encoding in HTTP/1.0";
        else if (h->transfer_encodings && !h->chunked && !h->unknown_coding)
            why = "an empty Transfer-Encoding";
        else if (h->chunked > 1)
            why = "chunked applied more than once";
        /* the body's end is unknown: 400 even if a coding is unknown too
         * (RFC 9112 §6.3 item 4) */
        else if (h->chunked && !h->chunked_last)
            why = "chunked not the last transfer coding";
        else if (h->unknown_coding)
            status = 501, why = "a transfer coding other than chunked";
        else
            status = 0, why = NULL;
    }
    if (reason)
        *reason = why;
    return status;
}

/* ---- what the linked library does itself ---- */

int reqhead_lib_rfc9112(const char *mhd_version)
{
    unsigned major = 0;
    return mhd_version && sscanf(mhd_version, "%u.", &major) == 1 && major >= 1;
}

int reqhead_lib_in_place(const char *mhd_version)
{
    unsigned major, minor, patch;
    return mhd_version && sscanf(mhd_version, "%u.%u.%u", &major, &minor, &patch) == 3 &&
           major == 0 && minor == 9 && patch <= 75;
}

int reqhead_rule(const char *mhd_version, unsigned i, const char **what)
{
    /* from_1_0: refused by libmicrohttpd 1.0.1 at discipline level 1, as
     * raw-socket probes showed (issue 14's table, and a space in the target,
     * a NUL in a value, a line starting with ':'); tomed checks all of them
     * on every version, and these are what it sees first. */
    static const struct {
        const char *what;
        int from_1_0;  /* 1.0 refuses it */
        int old;       /* what 0.9 does */
    } rules[REQHEAD_RULES] = {
        {"HTTP/1.1 request without Host", 1, REQHEAD_BY_TOMED},
        {"more than one Host", 0, REQHEAD_BY_TOMED},
        {"Host that is not host[:port] (RFC 3986)", 0, REQHEAD_BY_TOMED},
        {"whitespace before a field's colon", 1, REQHEAD_BY_TOMED},
        {"obsolete line folding", 1, REQHEAD_BY_TOMED},
        {"bare LF line ends", 1, REQHEAD_BY_TOMED},
        {"field name not a token", 0, REQHEAD_BY_TOMED},
        {"control byte in the request target", 0, REQHEAD_BY_TOMED},
        {"Content-Length not a number (\"-1\", \"5, 6\")", 1, REQHEAD_BY_LIBRARY},
        {"more than one Content-Length", 0, REQHEAD_BY_TOMED},
        {"Transfer-Encoding with Content-Length", 1, REQHEAD_BY_TOMED},
        {"transfer coding other than chunked", 1, REQHEAD_BY_TOMED},
        {"space in the request target", 1, REQHEAD_BY_TOMED},
        {"NUL in a field value, line starting with a colon", 1, REQHEAD_BY_TOMED},
    };
    if (i >= REQHEAD_RULES)
        return -1;
    if (what)
        *what = rules[i].what;
    if (reqhead_lib_rfc9112(mhd_version))
        return rules[i].from_1_0 ? REQHEAD_BY_LIBRARY : REQHEAD_BY_TOMED;
    return rules[i].old;
}
