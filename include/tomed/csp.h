/*
 * csp — a Content-Security-Policy for one HTML page that lets its own inline
 * <script> and <style> elements run, by hash, and nothing else inline. Pure:
 * no I/O, no global state; safe on any input (fuzzed). Hashing uses OpenSSL
 * libcrypto (SHA-256).
 *
 * WHAT IS HASHED, as the browser does it (CSP3 "does element match source
 * list"): the text of each inline element, i.e. the bytes between the start
 * tag's '>' and the '<' of its end tag, after the HTML parser's input
 * normalisation (CR LF and lone CR become LF, NUL becomes U+FFFD); no entity
 * decoding (script and style text is raw). Elements are found with html.c's
 * walk, the one the base-path rewriter also uses (html.h lists what it
 * follows): case-insensitive names, '>' inside quoted attribute values,
 * "</script" closing on a blank, '/' or '>', the "<!-- <script>"
 * double-escaped state, comments, the raw text of <title>, <textarea>,
 * <xmp>, <iframe>, <noembed>, <noframes>, <noscript> (scripting is on), which
 * can hold no element, and SVG/MathML foreign content (an <svg><script> runs,
 * <svg><title> holds HTML, <svg><textarea> is no raw text). Scripts inside
 * <template> are hashed: they run once the template is stamped.
 *   - <script> without a src attribute whose type the browser executes: none,
 *     empty, a JavaScript MIME type, "module", "importmap" or
 *     "speculationrules" (the last two are inline scripts to CSP too). Data
 *     blocks (application/json, application/ld+json, text/template, ...) never
 *     run, so they need no hash and get none.
 *   - <style> elements, every one (even empty).
 *   - An SVG <style> whose text is split by CDATA sections or comments is
 *     hashed as the DOM holds it: the text and CDATA contents joined. An SVG
 *     <script> like that, and any SVG <script> or <style> holding other
 *     markup or a character reference, has a DOM text tomed does not
 *     compute: it gets no hash and is counted in `unhashable`.
 *   - A <script> cut off by the end of the file (no end tag, or one cut off
 *     inside like "</script ") is never run by a browser, so it gets no hash
 *     (counted in `unterminated`); a cut-off <style> is applied, so its text
 *     up to the end is hashed.
 * The input is assumed UTF-8 (SvelteKit output is): invalid sequences are
 * hashed as they are, where a browser would have hashed U+FFFD.
 *
 * THE POLICY, built from the configured template (directives kept in order,
 * names case-insensitive; of repeated directives browsers use the first, so
 * only the first is kept):
 *   - script hashes go into script-src, created from default-src's sources
 *     when absent, or from 'self' when neither exists (a strict default);
 *     'unsafe-inline' and 'none' are dropped from it. A template
 *     script-src-elem (which CSP3 browsers use for elements instead of
 *     script-src) gets the same treatment. script-src never needs
 *     'unsafe-inline'.
 *   - style hashes go into style-src (and style-src-elem) the same way.
 *   - style="..." attributes cannot be allowed by hashes without
 *     'unsafe-hashes', and a hash in style-src makes browsers ignore its
 *     'unsafe-inline' (CSP2+), so hashing <style> elements would block every
 *     style attribute. SvelteKit pages always have one (app.html's
 *     <div style="display: contents">) and SvelteKit's client adds more at
 *     run time (the route announcer's style after the first navigation,
 *     bind:clientWidth), whose values are not in the HTML: hashing attribute
 *     values with 'unsafe-hashes' would still raise violations. So when the
 *     page has a style attribute or is a SvelteKit page, the template has no
 *     style-src-attr of its own, and the resulting style rules would block
 *     inline styles, the policy gets
 *     `style-src-attr 'unsafe-inline'` (CSP3: governs style attributes only,
 *     so <style> elements stay hash-only). Browsers without CSP3 directives
 *     (Firefox < 108, Safari < 15.4) then drop those attribute styles and
 *     report it; scripts are unaffected.
 *   - inline event handlers (onclick=...) and javascript: URLs cannot be
 *     allowed without 'unsafe-inline' or 'unsafe-hashes' for scripts; they
 *     are counted so the caller can warn, and never allowed.
 *   - a directive is only touched when the page has something to hash for
 *     it; then a template that allowed everything for that type (no
 *     directive, no default-src) gets the strict 'self' + hashes directive:
 *     that is the point of `csp: auto`.
 *   - the output is the template's tokens re-joined with single blanks;
 *     control bytes in the template (CR, LF, NUL...) act as blanks, so the
 *     result is always one header-safe line. "" means no policy at all.
 * Hashes must be computed on the bytes actually served, i.e. after base-path
 * rewriting (rewrite.h), which changes every page's start-up script.
 */
#ifndef TOMED_CSP_H
#define TOMED_CSP_H

#include <stddef.h>

/* "'sha256-" + 44 base64 characters + "'" and a NUL. */
#define CSP_HASH_SIZE 54

/* Where one inline script's text is in the scanned bytes. */
typedef struct csp_span {
    size_t at, len;
} csp_span;

typedef struct csp_page {
    char (*script_hashes)[CSP_HASH_SIZE]; /* distinct, in document order */
    size_t nscript_hashes;
    char (*style_hashes)[CSP_HASH_SIZE];
    size_t nstyle_hashes;
    size_t scripts;      /* inline executable <script> elements (before dedup) */
    size_t styles;       /* <style> elements (before dedup) */
    size_t data_blocks;  /* inline <script> of a type that never runs */
    size_t unterminated; /* <script> cut off by the end of the input */
    size_t style_attrs;  /* style="..." attributes */
    size_t handlers;     /* on*="..." attributes and javascript: URLs */
    size_t unhashable;   /* SVG <script>/<style> whose text holds markup or character
                          * references: tomed cannot compute the browser's hash */
    csp_span *script_spans; /* each hashed script's text, in document order (before dedup) */
    size_t nscript_spans;
    int sveltekit;       /* an inline script sets __sveltekit_* (kit start-up) */
} csp_page;

/* The CSP source expression "'sha256-<base64>'" of n raw bytes (hashed as
 * given, no normalisation). Returns 0, or -1 if libcrypto fails. */
int csp_hash(const void *data, size_t n, char out[CSP_HASH_SIZE]);

/* Scan n bytes of HTML. Fills *page (whose arrays the caller releases with
 * csp_page_free, also after a failure). Returns 0, or -1 when out of
 * memory or libcrypto fails. Linear in n. */
int csp_scan(const char *html, size_t n, csp_page *page);
void csp_page_free(csp_page *page);

/* The policy for a scanned page from template (NULL or "" for none), as
 * described above. *out is a malloc'd NUL-terminated string the caller
 * frees; returns 0, or -1 when out of memory. Directives are written
 * "name source source" and joined with "; ". */
int csp_merge(const char *template_policy, const csp_page *page, char **out);

/* csp_scan + csp_merge: the policy for one HTML page. *out as csp_merge. */
int csp_for_html(const char *html, size_t n, const char *template_policy, char **out);

#endif
