/*
 * reqhead — request-head discipline (RFC 9112, RFC 9110 §5, §7.2): the
 * checks tomed makes on a request's head before answering it, whichever
 * libmicrohttpd parsed it, so that tomed and anything in front of it never
 * disagree about where a request ends or which host it is for.
 *
 * Pure: no I/O, no allocation. The caller feeds the request target and the
 * header fields as libmicrohttpd hands them over (reqhead_begin, then
 * reqhead_field per field in order, then reqhead_end), and answers the
 * status reqhead_end returns, with the connection closed. Strings are
 * (pointer, length), need no terminating NUL and are not kept.
 *
 * What is refused (400 unless said):
 *   - a field name that is not a token (RFC 9110 §5.1), in particular one
 *     ending in whitespace ("X-Bad : 1", RFC 9112 §5.1);
 *   - a field value holding NUL, CR or LF (RFC 9110 §5.5);
 *   - obsolete line folding (RFC 9112 §5.2), which the caller detects;
 *   - HTTP/1.1 without Host, more than one Host, a Host that is not
 *     uri-host [ ":" port ] (RFC 9112 §3.2, RFC 3986 §3.2.2);
 *   - a request target holding a space or a control byte (RFC 9112 §3.2);
 *   - more than one Content-Length field, or one that is not 1*DIGIT
 *     (a list "5, 6", "-1"; RFC 9112 §6.3 item 5);
 *   - Transfer-Encoding together with Content-Length, Transfer-Encoding in
 *     HTTP/1.0, chunked not last or given twice (RFC 9112 §6.1, §6.3);
 *   - 501: a transfer coding other than chunked (RFC 9112 §6.1).
 */
#ifndef TOMED_REQHEAD_H
#define TOMED_REQHEAD_H

#include <stddef.h>

typedef struct reqhead {
    unsigned status;         /* the first 400 found, or 0 */
    const char *reason;      /* its reason (a static string) */
    int http10;              /* HTTP/1.0: Host optional, Transfer-Encoding refused */
    unsigned hosts;          /* Host fields seen */
    unsigned content_lengths;
    unsigned transfer_encodings;
    unsigned chunked;        /* "chunked" codings seen, over all Transfer-Encoding fields */
    int chunked_last;        /* the last coding seen was chunked */
    int unknown_coding;      /* a coding other than chunked (501) */
    const char *block;       /* reqhead_block's, or NULL */
    size_t block_len;
    const char *block_pos;   /* the end of the last field checked in it */
} reqhead;

/* Nonzero when a request target as received (method and version excluded)
 * holds no space and no control byte. A server checks it as the request line
 * arrives: libmicrohttpd then splits the target in place. */
int reqhead_target_valid(const char *target, size_t n);

/* Start checking a request. version: the protocol string ("HTTP/1.1"; NULL
 * counts as HTTP/1.1); target_ok: reqhead_target_valid() of its target. */
void reqhead_begin(reqhead *h, const char *version, int target_ok);

/*
 * For libmicrohttpd 0.9.75, which parses the request in place in its buffer,
 * writes a NUL over the colon and over each CR and LF of a line end, and
 * hands over names and values (trailing whitespace included) as C strings:
 * block is the request as it lies there, from its method to the end of the
 * blank line after the header, readable for n bytes; line_end the end of
 * the request line's version string (NULL: the request line is not
 * checked). Each field's name and value must then point into the block, in
 * order; between the name and its value only the colon's NUL and
 * whitespace; and every line must end in exactly the two NULs of a CRLF.
 * Anything else is a line end or a line the parser did not hand over: a bare
 * LF, a value it cut at a NUL, or a line starting with ':' that 0.9.75 takes
 * for the end of the header (the rest then becomes the next request). Call
 * before the fields.
 */
void reqhead_block(reqhead *h, const char *block, size_t n, const char *line_end);

/* Nonzero for the libmicrohttpd versions whose in-place layout reqhead_block
 * and the obs-fold detection were measured on: 0.9.x up to 0.9.75. */
int reqhead_lib_in_place(const char *mhd_version);

/* One header field, in the order received. folded: the caller saw that this
 * field was continued with obsolete line folding. */
void reqhead_field(reqhead *h, const char *name, size_t name_len, const char *value,
                   size_t value_len, int folded);

/* The verdict: 0 to accept, else 400 or 501 with *reason (a static string,
 * for logs) set. */
unsigned reqhead_end(const reqhead *h, const char **reason);

/* The syntax of a Host field value (RFC 9110 §7.2: uri-host [ ":" port ]),
 * optional whitespace already removed. Nonzero when valid; "" is valid. */
int reqhead_host_valid(const char *v, size_t n);

/*
 * Which checks the linked libmicrohttpd makes itself, from its version
 * string (MHD_get_version()), for `tomed check`. Rule i (0-based) of
 * REQHEAD_RULES: *what describes it; returns REQHEAD_BY_LIBRARY when the
 * library refuses such a request before tomed sees it, REQHEAD_BY_TOMED when
 * it leaves it to tomed, -1 when i is out of range.
 */
enum { REQHEAD_BY_TOMED, REQHEAD_BY_LIBRARY };
#define REQHEAD_RULES 14
int reqhead_rule(const char *mhd_version, unsigned i, const char **what);

/* Nonzero when mhd_version is 1.0 or later: its parser follows RFC 9112
 * (refuses whitespace before the colon, obsolete folding, bare LF, and
 * Transfer-Encoding it cannot frame). */
int reqhead_lib_rfc9112(const char *mhd_version);

#endif
