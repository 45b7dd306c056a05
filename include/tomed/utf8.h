/*
 * utf8 — strict UTF-8 validation, shared by everything that escapes text for
 * a log (the access log, the diagnostics on stderr), so both agree on which
 * bytes pass through and which are escaped.
 */
#ifndef TOMED_UTF8_H
#define TOMED_UTF8_H

#include <stddef.h>

/* Length (2..4) of the valid UTF-8 sequence that starts at p, of which n bytes
 * are available; 0 if p[0] is ASCII or the sequence is invalid or cut short.
 * Strict (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF,
 * because a lenient decoder is how escaping gets bypassed. */
size_t utf8_seq_len(const unsigned char *p, size_t n);

#endif
