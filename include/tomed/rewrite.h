/*
 * rewrite — move a static build from the base path it was built for to the
 * base path it is served under, by rewriting the absolute references its text
 * assets carry. Pure: bytes in, bytes out, no I/O, no global state; safe on
 * any input (fuzzed).
 *
 * THE RULES. `from` is replaced only where it is the start of a scheme-less
 * absolute path in a URL context, and only when it ends there as a whole path
 * segment: the byte after it is '/', '?', '#', or the end of the context (a
 * closing quote, the end of an attribute value, ...). So "/tomeclicker-x",
 * "/tomeclickers", "/tomeclicker.json" and "/tomeclick" never change, and a
 * URL with a host ("https://example.com/tomeclicker/", "//cdn/tomeclicker/")
 * never changes either: whether that host is the site's own origin cannot be
 * known from the build, and a path preceded by a host is not at a context
 * start. The contexts, per kind of file:
 *
 *   RW_JS    a string literal starting with it: preceded by ", ' or `.
 *            Ends at the same quote (or \" \' \` inside an outer string).
 *            Comments are not lexed: a quoted path in a comment is rewritten,
 *            which is harmless; an unquoted one is not.
 *   RW_JSON  a JSON string starting with it (preceded by ").
 *   RW_CSS   url(/x), url("/x"), url('/x'), @import "/x" and any other
 *            string starting with it.
 *   RW_HTML  attribute values only, never text between tags (prose) nor
 *            comments: at the start of a value (quoted or not, after leading
 *            blanks); in a string nested in a value (onclick="f('/x')");
 *            after url( in a value (style="background:url(/x)"); after url=
 *            (<meta http-equiv="refresh" content="0;url=/x">); after a comma
 *            in srcset / imagesrcset. The text of <script> follows RW_JS
 *            (RW_JSON for JSON types, importmap and speculationrules), that
 *            of <style> follows RW_CSS; <title>, <textarea> and other
 *            raw-text elements are prose and never change; <noscript> is
 *            markup (what script-less clients load): its attributes and
 *            styles are rewritten, its scripts (which never run) are not.
 *            Tags, raw text and scripts are found by html.c's walk, the one
 *            csp.c uses, so the scripts rewritten as JS are the scripts the
 *            CSP hashes; a tag cut off by the end of input is dropped.
 *   RW_XML   XML and SVG: the same scanner as RW_HTML (attributes, <script>,
 *            <style>, plus the pseudo-attributes of <?xml-stylesheet?>);
 *            "<x/>" is empty; text content and CDATA sections are not
 *            touched, so a sitemap's <loc>https://host/...</loc> stays (it
 *            has a host).
 *   RW_ROBOTS robots.txt: the value of an Allow:, Disallow: or Sitemap: line
 *            (case-insensitive, blanks allowed), ending at '/', '?', '#', '*',
 *            '$', a blank or the end of the line.
 *
 * WHAT IT BECOMES. A reference "/from/rest" becomes "/to/rest" (to = "" for
 * the root: "/rest"). A reference that is exactly the base ("/from" followed
 * by the end of its context) is ambiguous when the target is the root:
 *   - as a URL (HTML/XML attributes, CSS, JSON such as the web manifest's
 *     start_url and scope, robots.txt, and JS navigations `location.href=`,
 *     `location=`, `.assign(`, `.replace(`) it becomes "/": an empty URL
 *     would mean "this document", not the site root;
 *   - elsewhere in JS it is a base *value*, as in SvelteKit's start-up script
 *     (`assets: "/tomeclicker"`) or a chunk's fallback
 *     (`base ?? "/tomeclicker"`), and becomes "" — exactly what SvelteKit
 *     emits for a build with base "", whose client code appends "/_app/...".
 * "/from?q" and "/from#f" become "/?q" and "/#f" for the root in every kind.
 *
 * Not handled, by design: JSON-escaped slashes ("\/tomeclicker"), HTML
 * character references (&#47;tomeclicker), CSS escapes; none occurs in
 * SvelteKit or Vite output.
 *
 * The inline start-up script of every page changes, so CSP hashes must be
 * computed on the rewritten bytes.
 */
#ifndef TOMED_REWRITE_H
#define TOMED_REWRITE_H

#include <stddef.h>

typedef enum rewrite_kind {
    RW_NONE = 0, /* not a text asset we rewrite (images, fonts, other text) */
    RW_HTML,
    RW_JS,
    RW_CSS,
    RW_JSON,   /* .json, .webmanifest, .map, application/ld+json */
    RW_XML,    /* XML and SVG */
    RW_ROBOTS, /* robots.txt only: other text/plain files are prose */
} rewrite_kind;

/* Which rules apply to a file, from its media type (parameters ignored,
 * case-insensitive) and, for robots.txt, its name: only a file named
 * robots.txt (any directory) with type text/plain or no type gets RW_ROBOTS.
 * Either argument may be NULL; with no type, the extension decides. */
rewrite_kind rewrite_kind_for(const char *path, const char *mime);

/* Short lower-case name of a kind ("html", "js", ...; "none"), static. */
const char *rewrite_kind_name(rewrite_kind kind);

/*
 * Rewrite references to base `from` into base `to` in n bytes of a `kind`
 * file. Bases are given without a trailing slash: from is like "/tomeclicker"
 * (never the root: "" cannot be told apart from any other absolute path), to
 * is "" for the root or like "/preview/x". Both may contain only the bytes
 * A-Z a-z 0-9 - . _ ~ / % @ + ! $ : and no "//".
 *
 * On success returns 0 and sets *count to the number of references replaced.
 * If any, *out is a malloc'd buffer of *outn bytes, NUL-terminated for
 * convenience, that the caller frees; if none (or from equals to), *out is
 * NULL, *outn 0 and the caller keeps the original. Returns -1, with *out NULL,
 * when out of memory or when from/to are not valid bases. in may hold any
 * bytes, including NUL; linear in n.
 */
int rewrite_base(const char *in, size_t n, const char *from, const char *to, rewrite_kind kind,
                 char **out, size_t *outn, size_t *count);

/* The <script> texts an HTML (kind RW_HTML) or XML (RW_XML) document's
 * rewrite treats as script, in document order: [at, at + len) rewritten with
 * `kind` (RW_JS or RW_JSON) rules, and whether a browser runs it inline
 * (then csp.c hashes exactly that span: tests/fuzz/fuzz_html_diff.c checks
 * it). *spans is malloc'd (the caller frees; NULL when none). Returns 0, or
 * -1 when out of memory. Other kinds have no scripts. */
typedef struct rewrite_span {
    size_t at, len;
    rewrite_kind kind;
    int runs;
} rewrite_span;

int rewrite_html_scripts(const char *in, size_t n, rewrite_kind kind, rewrite_span **spans,
                         size_t *nspans);

#endif
