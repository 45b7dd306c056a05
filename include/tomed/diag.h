/*
 * diag — tomed's own messages on stderr (start-up, reloads, warnings,
 * errors), one line each:
 *
 *     tomed: [warn] skipping /a\x0ab: broken symlink
 *
 * The level in brackets is nginx's vocabulary, so people and log tools can
 * filter on it, and tests and alerting rules grep for "[crit]"/"[alert]".
 *
 * Many messages carry text tomed does not control: file names from the site
 * directory, values from a configuration file, libmicrohttpd's own messages.
 * A newline in a file name must never start a forged line, and a terminal
 * escape in one must never reach the operator's terminal, so:
 *   - every line is escaped as a whole before it is written: control bytes,
 *     DEL, C1 controls, Unicode line/paragraph separators, bidirectional
 *     overrides and bytes that are not valid UTF-8 become \xHH; so one diag()
 *     call is always exactly one line, whatever its arguments hold;
 *   - an untrusted argument is passed through diag_q(), which escapes the
 *     backslash as well (\\), so the logged text reads back unambiguously
 *     (a file really named "a\x0ab" shows as "a\\x0ab").
 *
 * Each line goes out in one write(2) (lines are capped at DIAG_LINE_MAX <=
 * PIPE_BUF), so lines from several threads never interleave.
 */
#ifndef TOMED_DIAG_H
#define TOMED_DIAG_H

#include <stddef.h>

enum diag_level {
    DIAG_DEBUG = 0,  /* detail for someone debugging; off by default */
    DIAG_INFO,       /* progress worth a line: the compressor finished */
    DIAG_NOTICE,     /* normal but significant: reloaded, stopped */
    DIAG_WARN,       /* something was skipped or is probably not intended */
    DIAG_ERROR,      /* a request or a reload failed; still serving */
    DIAG_CRIT,       /* tomed cannot go on as configured */
    DIAG_ALERT,      /* must be fixed now */
};

/* Or'ed into the level: write the line exactly as formatted, without the
 * "tomed: [level] " prefix, for the two lines a person reads as a command's
 * result: the serving banner ("tomed 0.1.0: serving ...") and the final error
 * ("tomed: conf/site.yaml:12:20: ..."). Still escaped and still filtered. */
#define DIAG_BARE 0x100

#define DIAG_LINE_MAX 4096 /* <= PIPE_BUF: one atomic write */
#define DIAG_Q_MAX 1024    /* longest diag_q() result, with its "..." */

/* Write one line to stderr if level is at or above the threshold. A message
 * longer than the line cap is cut, and the cut is marked with "...". */
void diag(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hand every line to sink(ctx, line, len) instead of writing it to stderr;
 * NULL writes to stderr again. Set and cleared while no other thread can
 * call diag() (server.c: before its threads start and after they end). */
typedef void (*diag_sink_fn)(void *ctx, const char *line, size_t len);
void diag_set_sink(diag_sink_fn sink, void *ctx);

/* Lines below min are dropped (default DIAG_INFO). Set once at start-up,
 * before threads start. */
void diag_set_level(enum diag_level min);

/* Whether a line at level would be written (to skip preparing one). */
int diag_enabled(enum diag_level level);

/* "debug", "info", "notice", "warn", "error", "crit", "alert" to a level;
 * -1 if unknown. */
int diag_parse_level(const char *s);

/*
 * An untrusted string, escaped for a diag() argument: like the whole-line
 * escape and also '\\' as "\\\\". NULL gives "(null)". Longer results are cut
 * at DIAG_Q_MAX bytes, ending in "...".
 *
 * The result lives in a small per-thread ring of 4 buffers: it stays valid
 * until the 4th next diag_q() call on the same thread, which is enough for
 * the arguments of one diag() call. Do not keep it.
 */
const char *diag_q(const char *s);

/* Flags for diag_escape. */
#define DIAG_ESC_BACKSLASH 1 /* also escape '\\' (untrusted text) */

/*
 * Pure: escape len bytes of src into dst (cap bytes, cap >= 1), always
 * NUL-terminated, never cutting inside an escape or a UTF-8 sequence.
 * Returns the number of bytes of src consumed (< len when dst was too small);
 * *out_len (if not NULL) gets the length written, without the NUL.
 */
size_t diag_escape(char *dst, size_t cap, const char *src, size_t len, unsigned flags,
                   size_t *out_len);

#endif
