/*
 * path — turn the raw request-target path into a normalised site path.
 *
 * Pure: no I/O, no allocation. The server calls it on every request and the
 * fuzzer calls it directly. Everything that decides whether a path can ever
 * reach the file system is here, so one function can be audited.
 */
#ifndef TOMED_PATH_H
#define TOMED_PATH_H

#include <stddef.h>

enum path_result {
    PATH_OK = 0,
    PATH_BAD = -1,       /* 400: not absolute, bad %-escape, NUL/control byte, backslash, climbs above root */
    PATH_TOO_LONG = -2,  /* 414: longer than the caller's limit (raw or decoded) */
};

/*
 * Normalise raw[0..len) (the path part of the request-target, no query) into
 * out (capacity outcap, NUL-terminated, length in *outlen):
 *   - must start with '/';
 *   - percent-decoded exactly once ("%252e" stays the literal "%2e");
 *   - a byte < 0x20, 0x7f, or '\\', raw or %-encoded, is refused (PATH_BAD);
 *   - "%2F" decodes to '/' and separates segments like a raw '/';
 *   - runs of '/' collapse to one;  "." segments vanish;  ".." removes the
 *     previous segment, and a ".." at the root is PATH_BAD (never clamped);
 *   - a trailing '/' is kept (it means "directory index"), also after "." / "..".
 * raw longer than max_len, or a result that does not fit outcap, is PATH_TOO_LONG.
 * out is also the working buffer (dot-segments are removed as they end), so a
 * name that a later ".." removes still needs room: give out max_len + 1 bytes
 * and PATH_TOO_LONG then only ever means "raw longer than max_len".
 * Bytes >= 0x80 pass through unchanged (UTF-8 file names). On failure out is
 * "" (when outcap > 0) and *outlen 0; outlen may be NULL.
 */
int path_normalize(const char *raw, size_t len, size_t max_len,
                   char *out, size_t outcap, size_t *outlen);

/*
 * Strip the mount base from a normalised path. base is "/" or "/x[/y]" with no
 * trailing slash. Returns:
 *   PATH_BASE_INSIDE   *rest points into path at the site-relative path ("/..."),
 *   PATH_BASE_EXACT    path == base (the caller redirects to base + "/"),
 *   PATH_BASE_OUTSIDE  not under the base ("/tomeclicker-x" is outside "/tomeclicker").
 * For EXACT and OUTSIDE *rest is NULL; rest itself may be NULL. A base of "/"
 * (or "") puts every absolute path INSIDE with *rest == path; a trailing '/'
 * on base is tolerated. Comparison is byte-exact (case-sensitive).
 */
enum path_base_result { PATH_BASE_INSIDE, PATH_BASE_EXACT, PATH_BASE_OUTSIDE };
enum path_base_result path_strip_base(const char *path, const char *base, const char **rest);

/* Nonzero when any segment of a normalised site path starts with '.', except a
 * first segment exactly ".well-known" (RFC 8615). Such paths are never served.
 * Pass the site path (after path_strip_base), so "/.well-known" is relative to
 * the site root. NULL counts as hidden. */
int path_is_hidden(const char *site_path);

#endif
