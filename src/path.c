/*
 * path — the one place that decides whether a request path may reach the
 * file system.
 *
 * The request-target is attacker-controlled bytes. It is percent-decoded
 * exactly once and dot-segments are resolved on the decoded form, so "%2e%2e"
 * climbs exactly like ".." and no later layer ever sees an escape it could
 * decode a second time. A climb above the root is refused rather than
 * clamped: only a broken client or a probe sends one, and answering 400 keeps
 * "/../etc/passwd" and "/etc/passwd" from naming the same thing.
 *
 * Bytes that no file name in a web build contains (NUL, controls, DEL) and the
 * backslash (a separator for Windows tooling that may share the site
 * directory) are refused instead of dropped, so two different requests can
 * never be made to name one file. Bytes >= 0x80 pass through untouched:
 * UTF-8 file names are legitimate and the file system compares bytes.
 *
 * Everything happens in one pass in the caller's buffer: no allocation, no I/O,
 * and no read outside raw[0..len), because this runs under a fuzzer.
 */
#include "tomed/path.h"

#include <string.h>

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/*
 * Resolve the segment out[seg..*o) that has just ended. The byte before seg is
 * always '/', and out[0] is the root '/', so popping never leaves the buffer.
 * Returns PATH_OK or PATH_BAD (".." at the root).
 */
static int close_segment(const char *out, size_t seg, size_t *o)
{
    size_t n = *o - seg;

    if (n == 1 && out[seg] == '.') {
        *o = seg;
    } else if (n == 2 && out[seg] == '.' && out[seg + 1] == '.') {
        size_t j = seg - 1;

        if (seg == 1) return PATH_BAD;
        while (out[j - 1] != '/') j--;
        *o = j;
    }
    /* An empty segment (from "//") and a name both leave *o alone. */
    return PATH_OK;
}

static int fail(char *out, size_t outcap, int rc)
{
    /* Never leave a half-built path behind for a careless caller to use. */
    if (out && outcap) out[0] = '\0';
    return rc;
}

int path_normalize(const char *raw, size_t len, size_t max_len,
                   char *out, size_t outcap, size_t *outlen)
{
    size_t i, o, seg;

    if (outlen) *outlen = 0;
    if (len > max_len) return fail(out, outcap, PATH_TOO_LONG);
    if (!raw || len == 0 || raw[0] != '/') return fail(out, outcap, PATH_BAD);
    /* The shortest result, "/", needs two bytes with its terminator. */
    if (!out || outcap < 2) return fail(out, outcap, PATH_TOO_LONG);

    out[0] = '/';
    o = 1;
    seg = 1;
    for (i = 1; i < len; i++) {
        unsigned char c = (unsigned char)raw[i];

        if (c == '%') {
            int hi, lo;

            if (len - i < 3) return fail(out, outcap, PATH_BAD);
            hi = hex_value((unsigned char)raw[i + 1]);
            lo = hex_value((unsigned char)raw[i + 2]);
            if (hi < 0 || lo < 0) return fail(out, outcap, PATH_BAD);
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (c < 0x20 || c == 0x7f || c == '\\') return fail(out, outcap, PATH_BAD);

        if (c == '/') {
            /* A decoded %2F separates segments like a raw '/': a name
             * containing '/' cannot exist on disk anyway. */
            if (close_segment(out, seg, &o) != PATH_OK) return fail(out, outcap, PATH_BAD);
            if (out[o - 1] == '/') {
                seg = o;
                continue;
            }
        }
        /* Keep one byte for the terminator. */
        if (o >= outcap - 1) return fail(out, outcap, PATH_TOO_LONG);
        out[o++] = (char)c;
        if (c == '/') seg = o;
    }
    /* A final "." or ".." resolves to its directory, so the trailing '/'
     * left in place keeps meaning "directory index". */
    if (close_segment(out, seg, &o) != PATH_OK) return fail(out, outcap, PATH_BAD);

    out[o] = '\0';
    if (outlen) *outlen = o;
    return PATH_OK;
}

enum path_base_result path_strip_base(const char *path, const char *base, const char **rest)
{
    size_t blen;

    if (rest) *rest = NULL;
    if (!path || !base) return PATH_BASE_OUTSIDE;

    /* Tolerate a trailing '/' on the base so "/x/" and "/x" mount alike, and
     * "" or "/" both mean the whole server. */
    blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/') blen--;
    if (blen == 0) {
        if (path[0] != '/') return PATH_BASE_OUTSIDE;
        if (rest) *rest = path;
        return PATH_BASE_INSIDE;
    }

    if (strncmp(path, base, blen) != 0) return PATH_BASE_OUTSIDE;
    /* Compare whole segments: "/tomeclicker-x" shares bytes, not a directory. */
    if (path[blen] == '\0') return PATH_BASE_EXACT;
    if (path[blen] != '/') return PATH_BASE_OUTSIDE;
    if (rest) *rest = path + blen;
    return PATH_BASE_INSIDE;
}

int path_is_hidden(const char *site_path)
{
    const char *s = site_path;
    int first = 1;

    /* Refuse rather than guess when handed nothing. */
    if (!s) return 1;
    for (;;) {
        while (*s == '/') s++;
        if (*s == '\0') return 0;
        /* RFC 8615 reserves /.well-known/ at the top of a site for files
         * meant to be public (security.txt, assetlinks.json); anywhere
         * deeper it is just another dot-directory. */
        if (*s == '.' &&
            !(first && strncmp(s, ".well-known", 11) == 0 && (s[11] == '/' || s[11] == '\0')))
            return 1;
        first = 0;
        while (*s != '\0' && *s != '/') s++;
    }
}
