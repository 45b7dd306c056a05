/*
 * siterules — the site's own `_redirects` and `_headers` files, in the
 * Netlify / Cloudflare Pages formats SvelteKit users already write. Pure:
 * the loader hands over the files' bytes, route asks for a redirect, the
 * responses ask for an entry's header overrides.
 *
 * _redirects: one rule a line, `from to [status]`; `#` starts a comment
 * line. from is a site path (under the mount base) that may hold one `*`
 * (any run of bytes, '/' included, named :splat in to) and `:name`
 * segments (one non-empty segment each). to is a site path (put under the
 * mount base) or an http(s):// URL (left alone), with :splat and :name
 * replaced. status: 301 (default), 302, 303, 307 or 308; a trailing `!`
 * (Netlify's "force") is accepted and changes nothing, since rules always
 * come before files here, as on Cloudflare Pages. A rule without a trailing
 * slash also matches the path with one. Rewrites (200), 404 rules, query
 * and condition matching are refused line by line.
 *
 * _headers: a path pattern on a line of its own (same `*` and `:name`
 * syntax), then indented `Name: value` lines for it, or `! Name` to remove
 * a header (tomed's own included). A header set by several matching rules
 * has their values joined with ", "; a set replaces tomed's own value of
 * that header (a page's Content-Security-Policy, X-Frame-Options,
 * Cache-Control, ...). Headers that describe the body or the connection
 * (Content-Length, Content-Encoding, ETag, Vary, ...) are tomed's alone.
 *
 * A line that cannot be used is a warning (site_rules_warnings), never an
 * error: the rest of the file applies.
 */
#ifndef TOMED_SITERULES_H
#define TOMED_SITERULES_H

#include <stddef.h>

#define SITERULES_FILE_MAX (1024 * 1024) /* bytes read of each file */
#define SITERULES_LINE_MAX 1000          /* bytes in one line (Cloudflare's limit) */
#define SITERULES_RULES_MAX 1000         /* rules in each file; more are warned about */
#define SITERULES_HEADERS_MAX 32         /* header lines under one _headers pattern */

typedef struct siterules siterules;

typedef struct siterules_header {
    const char *name;
    const char *value; /* NULL: remove the header */
} siterules_header;

/* The headers one file gets from _headers, merged in file order. */
typedef struct siterules_headerset {
    size_t n;
    siterules_header h[];
} siterules_headerset;

/* Parse both files (either may be NULL: absent). NULL only when out of
 * memory. Free with siterules_free. */
siterules *siterules_parse(const char *redirects, size_t redirects_len, const char *headers,
                           size_t headers_len);
void siterules_free(siterules *r);

size_t siterules_redirect_count(const siterules *r);
size_t siterules_header_rule_count(const siterules *r);

/* Warnings, "_redirects:LINE: message", in file order; NULL past the end. */
size_t siterules_warning_count(const siterules *r);
const char *siterules_warning(const siterules *r, size_t i);

/* A readable list of every rule ("_redirects:3: /old -> /new 301"), one a
 * line, then the warnings. malloc'd; the caller frees it. */
char *siterules_describe(const siterules *r);

/*
 * The redirect for a decoded, normalised site path sp (below the mount
 * base). Returns its status and writes the target into out (cap bytes):
 * either an absolute URL, or a site path starting with '/' (which the
 * caller puts under the mount base), substituted values percent-encoded,
 * never starting with "//". *has_query says whether the target holds its
 * own '?'. 0: no rule matches (or the target did not fit).
 */
unsigned siterules_redirect(const siterules *r, const char *sp, char *out, size_t cap,
                            int *has_query);

/*
 * The headers for a file at site path file_path ("/about.html"), matched
 * against every URL that serves it: the path itself, and for an HTML page
 * the path without ".html", or for an index.html its directory with and
 * without the slash. NULL when no rule matches. The set is owned by r
 * (freed with it). Not thread-safe: call while loading.
 */
const siterules_headerset *siterules_headers_for(siterules *r, const char *file_path);

/* The entry for name (case-insensitive) in hs, or NULL. hs may be NULL. */
const siterules_header *siterules_header_find(const siterules_headerset *hs, const char *name);

#endif
