/*
 * diag — tomed's own messages on stderr, one escaped line per call (see
 * include/tomed/diag.h for the format and the escaping rules).
 *
 * Kept apart from the access log (log.c): the access log is data for a log
 * pipeline on stdout; these lines are for the operator, on stderr.
 */
#include "tomed/diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tomed/utf8.h"

static const char *const diag_tags[] = {
    [DIAG_DEBUG] = "debug", [DIAG_INFO] = "info", [DIAG_NOTICE] = "notice",
    [DIAG_WARN] = "warn",   [DIAG_ERROR] = "error", [DIAG_CRIT] = "crit",
    [DIAG_ALERT] = "alert",
};

#define DIAG_NLEVELS (sizeof diag_tags / sizeof diag_tags[0])

/* Written once before threads start (diag_set_level), read afterwards. */
static int diag_min = DIAG_INFO;

void diag_set_level(enum diag_level min)
{
    diag_min = (int)min;
}

int diag_enabled(enum diag_level level)
{
    return (int)level >= diag_min;
}

int diag_parse_level(const char *s)
{
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < DIAG_NLEVELS; i++)
        if (strcmp(s, diag_tags[i]) == 0)
            return (int)i;
    return -1;
}

/* ---------------------------------------------------------------- escaping */

/* Whether the valid UTF-8 sequence p (len bytes) must still be escaped: C1
 * controls (terminals obey them, and U+0085 is a line break to some log
 * viewers), U+2028/U+2029 (line and paragraph separators) and the
 * bidirectional overrides and isolates (U+202A..U+202E, U+2066..U+2069),
 * which can make a logged name read as something else. */
static int diag_utf8_unsafe(const unsigned char *p, size_t len)
{
    if (len == 2)
        return p[0] == 0xc2 && p[1] < 0xa0;
    if (len == 3 && p[0] == 0xe2 && p[1] == 0x80)
        return p[2] >= 0xa8 && p[2] <= 0xae;
    if (len == 3 && p[0] == 0xe2 && p[1] == 0x81)
        return p[2] >= 0xa6 && p[2] <= 0xa9;
    return 0;
}

size_t diag_escape(char *dst, size_t cap, const char *src, size_t len, unsigned flags,
                   size_t *out_len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, o = 0;

    while (i < len) {
        char unit[16];
        size_t ulen, used = 1;
        unsigned char c = s[i];

        if (c == '\\' && (flags & DIAG_ESC_BACKSLASH)) {
            unit[0] = unit[1] = '\\';
            ulen = 2;
        } else if (c >= 0x20 && c < 0x7f) {
            unit[0] = (char)c;
            ulen = 1;
        } else {
            size_t n = c >= 0x80 ? utf8_seq_len(s + i, len - i) : 0;
            if (n > 0 && !diag_utf8_unsafe(s + i, n)) {
                memcpy(unit, s + i, n);
                ulen = used = n;
            } else {
                /* every byte of an unsafe sequence, so it reads back exactly */
                used = n > 0 ? n : 1;
                ulen = 0;
                for (size_t k = 0; k < used; k++) {
                    unit[ulen++] = '\\';
                    unit[ulen++] = 'x';
                    unit[ulen++] = hex[s[i + k] >> 4];
                    unit[ulen++] = hex[s[i + k] & 15];
                }
            }
        }
        if (o + ulen + 1 > cap)
            break;
        memcpy(dst + o, unit, ulen);
        o += ulen;
        i += used;
    }
    if (cap > 0)
        dst[o] = '\0';
    if (out_len)
        *out_len = o;
    return i;
}

/* Escape src into dst (cap >= 4 bytes, NUL included), marking a cut with
 * "..."; cut says src itself was already cut short. Returns the length. */
static size_t diag_escape_cut(char *dst, size_t cap, const char *src, size_t len, unsigned flags,
                              int cut)
{
    size_t o;
    if (diag_escape(dst, cap, src, len, flags, &o) < len || cut) {
        diag_escape(dst, cap - 3, src, len, flags, &o);
        memcpy(dst + o, "...", 4);
        o += 3;
    }
    return o;
}

const char *diag_q(const char *s)
{
    static _Thread_local char ring[4][DIAG_Q_MAX + 1];
    static _Thread_local unsigned next;
    char *buf = ring[next++ % 4];

    if (s == NULL)
        return "(null)";
    diag_escape_cut(buf, sizeof ring[0], s, strlen(s), DIAG_ESC_BACKSLASH, 0);
    return buf;
}

/* ------------------------------------------------------------------ output */

/* While the server runs, lines go to its queue instead (server.c), so a
 * stalled reader of stderr never blocks the thread that reports. */
static diag_sink_fn diag_sink;
static void *diag_sink_ctx;

void diag_set_sink(diag_sink_fn sink, void *ctx)
{
    diag_sink = sink;
    diag_sink_ctx = ctx;
}

void diag(int level, const char *fmt, ...)
{
    int lvl = level & ~DIAG_BARE;
    char msg[DIAG_LINE_MAX];
    char line[DIAG_LINE_MAX];
    size_t o = 0;
    va_list ap;
    int n;

    if (lvl < 0 || (size_t)lvl >= DIAG_NLEVELS || lvl < diag_min)
        return;
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (!(level & DIAG_BARE))
        o = (size_t)snprintf(line, sizeof line, "tomed: [%s] ", diag_tags[lvl]);
    /* a byte stays free for the '\n'; a message longer than msg was cut by
     * vsnprintf and is marked as cut */
    o += diag_escape_cut(line + o, sizeof line - o - 1, msg,
                         (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1, 0,
                         (size_t)n >= sizeof msg);
    line[o++] = '\n';

    if (diag_sink) {
        diag_sink(diag_sink_ctx, line, o);
        return;
    }
    /* one write: atomic against other threads' lines (o <= PIPE_BUF) */
    for (size_t off = 0; off < o;) {
        ssize_t w = write(STDERR_FILENO, line + off, o - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere left to report it */
        off += (size_t)w;
    }
}
