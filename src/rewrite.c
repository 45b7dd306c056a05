/*
 * rewrite — serve one build under any base path.
 *
 * A SvelteKit build made with paths.base = "/tomeclicker" (GitHub Pages) is
 * mostly relative, but a few absolute references remain: the start-up
 * script's `assets: "/tomeclicker"`, a chunk's fallback base, the web
 * manifest's start_url and scope, robots.txt rules, and SPA fallback pages
 * (200.html) that are absolute throughout. Serving that build at "/" or under
 * another prefix means rewriting exactly those references once, at load time,
 * and nothing else: a false positive silently corrupts a user's text, a
 * false negative sends the browser to a 404. The rules are therefore narrow
 * and documented in rewrite.h; this file implements them with small,
 * forgiving scanners (html.c's tokenizer walk, shared with csp.c so that
 * what is rewritten as script is what the CSP hashes, and context checks
 * around each occurrence of the base for JS, JSON, CSS and robots.txt)
 * rather than full parsers: the inputs are machine
 * output, but they will also be fuzzed, so every scan moves forward and stays
 * inside [0, n).
 *
 * Work happens in two steps: find every match (offset + whether it needs a
 * "/" instead of an empty base), then build the output once with an exact
 * size, so the cost is one pass and one allocation plus the match list.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tomed/html.h"
#include "tomed/rewrite.h"

/* ---------------------------------------------------------------- bytes */

static int rw_is_ident(unsigned char c)
{
    return html_is_alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '$' || c >= 0x80;
}

/* Does s[lo, p) end with word (case-insensitive when ci), not glued to a
 * longer identifier on its left? */
static int rw_ends_with(const char *s, size_t lo, size_t p, const char *word, int ci)
{
    size_t len = strlen(word);
    if (p - lo < len)
        return 0;
    const char *w = s + p - len;
    if (ci ? !html_ci_eq(w, word, len) : memcmp(w, word, len) != 0)
        return 0;
    return p - len == lo || !rw_is_ident((unsigned char)w[-1]);
}

/* ---------------------------------------------------------------- matches */

typedef struct rw_match {
    size_t at;           /* offset of `from` in the input */
    unsigned char slash; /* write "/" instead of `to` (a bare base, to the root) */
} rw_match;

typedef struct rw_ctx {
    const char *s;
    size_t n;
    const char *from;
    size_t flen;
    size_t tlen;
    rw_match *m;
    size_t nm, cap;
    size_t next; /* matches must start at or after this: ordered, disjoint */
    int oom;
} rw_ctx;

/* What ends a reference in one context, besides '/', '?' and '#'. */
typedef struct rw_end {
    const char *set; /* bytes that close the context (NULL: none) */
    int at_end;      /* the end of the scanned region closes it too */
    char quote;      /* a string's quote, also accepted escaped as \q */
    int url;         /* a bare base is a URL ("/" for the root), not a value ("") */
} rw_end;

#define RW_WS " \t\n\f\r"

static void rw_add(rw_ctx *c, size_t at, int slash)
{
    if (c->oom || at < c->next)
        return;
    if (c->nm == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        if (cap > SIZE_MAX / sizeof(rw_match)) {
            c->oom = 1;
            return;
        }
        rw_match *m = realloc(c->m, cap * sizeof(rw_match));
        if (!m) {
            c->oom = 1;
            return;
        }
        c->m = m;
        c->cap = cap;
    }
    c->m[c->nm].at = at;
    c->m[c->nm].slash = (unsigned char)slash;
    c->nm++;
    c->next = at + c->flen;
}

/* `from` occurs at i, inside a region ending at end: keep it if what follows
 * ends it as a whole path segment in this context. */
static void rw_try(rw_ctx *c, size_t i, size_t end, const rw_end *e)
{
    size_t j = i + c->flen;
    int bare;
    if (j >= end) {
        if (!e->at_end)
            return;
        bare = 1;
    } else {
        unsigned char ch = (unsigned char)c->s[j];
        if (ch == '/') {
            rw_add(c, i, 0);
            return;
        }
        if (ch == '?' || ch == '#') {
            /* "/base?q" to the root is "/?q": "?q" alone would be relative. */
            rw_add(c, i, c->tlen == 0);
            return;
        }
        if (e->quote && ch == (unsigned char)e->quote)
            bare = 1;
        else if (e->quote && ch == '\\' && j + 1 < end && c->s[j + 1] == e->quote)
            bare = 1;
        else if (ch != 0 && e->set && strchr(e->set, ch))
            bare = 1;
        else
            return; /* "/tomeclicker-x", "/tomeclickers", "/tomeclicker.json" */
    }
    if (bare)
        rw_add(c, i, c->tlen == 0 && e->url);
}

/* Next occurrence of `from` in [i, end), or end. */
static size_t rw_find(const rw_ctx *c, size_t i, size_t end)
{
    if (i >= end || end - i < c->flen)
        return end;
    const char *p = memmem(c->s + i, end - i, c->from, c->flen);
    return p ? (size_t)(p - c->s) : end;
}

/* ---------------------------------------------------------------- JS, JSON */

/* Is the string literal opening at q the target of a navigation
 * (location.href = "...", location = "...", location.assign("..."))? There a
 * bare base is a URL: "" would reload the current page instead of going to
 * the site root. SvelteKit's prerendered redirect pages look like this. */
static int rw_js_navigation(const char *s, size_t lo, size_t q)
{
    size_t p = q;
    while (p > lo && html_is_ws((unsigned char)s[p - 1]))
        p--;
    if (p == lo)
        return 0;
    if (s[p - 1] == '=') {
        p--;
        if (p > lo && strchr("=!<>+-*/%&|^?", s[p - 1]))
            return 0; /* a comparison or a compound assignment */
        while (p > lo && html_is_ws((unsigned char)s[p - 1]))
            p--;
        return rw_ends_with(s, lo, p, "href", 0) || rw_ends_with(s, lo, p, "location", 0);
    }
    if (s[p - 1] == '(') {
        p--;
        while (p > lo && html_is_ws((unsigned char)s[p - 1]))
            p--;
        return rw_ends_with(s, lo, p, "location.assign", 0) ||
               rw_ends_with(s, lo, p, "location.replace", 0);
    }
    return 0;
}

/* String literals that start with the base. Without a JS lexer we cannot tell
 * code from comments or regex literals, but the quote-before/boundary-after
 * test is what makes a match a path at the start of a string, which is what
 * matters; a rewritten comment is harmless. */
static void rw_scan_js(rw_ctx *c, size_t lo, size_t hi, int json)
{
    for (size_t i = rw_find(c, lo, hi); i < hi; i = rw_find(c, i + 1, hi)) {
        if (i == lo)
            continue;
        char q = c->s[i - 1];
        if (q == '"' || (!json && (q == '\'' || q == '`'))) {
            rw_end e = {NULL, 0, q, json || rw_js_navigation(c->s, lo, i - 1)};
            rw_try(c, i, hi, &e);
        }
    }
}

/* ---------------------------------------------------------------- CSS */

/* Does s[lo, i) end with "url(" and optional blanks? */
static int rw_after_url_paren(const char *s, size_t lo, size_t i)
{
    size_t p = i;
    while (p > lo && html_is_ws((unsigned char)s[p - 1]))
        p--;
    if (p == lo || s[p - 1] != '(')
        return 0;
    p--;
    if (p - lo < 3 || !html_ci_eq(s + p - 3, "url", 3))
        return 0;
    return p - 3 == lo || !(rw_is_ident((unsigned char)s[p - 4]) || s[p - 4] == '-');
}

static void rw_scan_css(rw_ctx *c, size_t lo, size_t hi)
{
    for (size_t i = rw_find(c, lo, hi); i < hi; i = rw_find(c, i + 1, hi)) {
        if (i == lo)
            continue;
        char q = c->s[i - 1];
        if (q == '"' || q == '\'') {
            rw_end e = {NULL, 0, q, 1};
            rw_try(c, i, hi, &e);
        } else if (rw_after_url_paren(c->s, lo, i)) {
            rw_end e = {")" RW_WS, 0, 0, 1};
            rw_try(c, i, hi, &e);
        }
    }
}

/* ---------------------------------------------------------------- robots.txt */

static void rw_scan_robots(rw_ctx *c)
{
    static const char *const keys[] = {"allow", "disallow", "sitemap"};
    const char *s = c->s;
    size_t ls = 0;
    while (ls < c->n) {
        const char *nl = memchr(s + ls, '\n', c->n - ls);
        size_t le = nl ? (size_t)(nl - s) : c->n;
        size_t p = ls;
        while (p < le && (s[p] == ' ' || s[p] == '\t'))
            p++;
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            size_t kl = strlen(keys[k]);
            if (le - p < kl || !html_ci_eq(s + p, keys[k], kl))
                continue;
            size_t v = p + kl;
            while (v < le && (s[v] == ' ' || s[v] == '\t'))
                v++;
            if (v >= le || s[v] != ':')
                break;
            v++;
            while (v < le && (s[v] == ' ' || s[v] == '\t'))
                v++;
            if (le - v >= c->flen && memcmp(s + v, c->from, c->flen) == 0) {
                rw_end e = {" \t\r*$", 1, 0, 1};
                rw_try(c, v, le, &e);
            }
            break;
        }
        ls = le + 1;
    }
}

/* ---------------------------------------------------------------- HTML, XML */

/* The value of one attribute, [lo, hi), of attribute `name`. */
static void rw_scan_attr(rw_ctx *c, const char *name, size_t nlen, size_t lo, size_t hi)
{
    const char *s = c->s;
    int srcset = (nlen == 6 && html_ci_eq(name, "srcset", 6)) ||
                 (nlen == 11 && html_ci_eq(name, "imagesrcset", 11));
    for (size_t i = rw_find(c, lo, hi); i < hi; i = rw_find(c, i + 1, hi)) {
        size_t p = i;
        while (p > lo && html_is_ws((unsigned char)s[p - 1]))
            p--;
        char q = i > lo ? s[i - 1] : 0;
        if (p == lo) {
            /* The whole value is the URL: href, src, action, data-url... */
            rw_end e = {srcset ? "," RW_WS : RW_WS, 1, 0, 1};
            rw_try(c, i, hi, &e);
        } else if (q == '"' || q == '\'' || q == '`') {
            /* A string inside the value: onclick="location.href='/x/'". */
            rw_end e = {NULL, 0, q, 1};
            rw_try(c, i, hi, &e);
        } else if (rw_after_url_paren(s, lo, i)) {
            rw_end e = {")" RW_WS, 0, 0, 1};
            rw_try(c, i, hi, &e);
        } else if (s[p - 1] == '=' && rw_ends_with(s, lo, p - 1, "url", 1)) {
            /* <meta http-equiv="refresh" content="0;url=/x/">, as SvelteKit
             * writes for prerendered redirects. */
            rw_end e = {";" RW_WS, 1, 0, 1};
            rw_try(c, i, hi, &e);
        } else if (srcset && s[p - 1] == ',') {
            rw_end e = {"," RW_WS, 1, 0, 1};
            rw_try(c, i, hi, &e);
        }
    }
}

/* The rules for a <script>'s text: JSON for JSON data blocks, import maps
 * and speculation rules (they hold URLs), JS for the rest. */
static rewrite_kind rw_script_kind(const char *s, size_t n, const html_tok *t)
{
    switch (html_script_type_of(s, n, t)) {
    case HTML_SCRIPT_IMPORTMAP:
    case HTML_SCRIPT_SPECULATIONRULES:
        return RW_JSON;
    case HTML_SCRIPT_DATA: {
        html_attr a;
        if (html_attr_get(s, n, t, "type", &a))
            for (size_t i = 0; i + 4 <= a.value_len; i++)
                if (html_ci_eq(s + a.value + i, "json", 4))
                    return RW_JSON; /* application/json, application/ld+json, ... */
        return RW_JS;
    }
    default:
        return RW_JS;
    }
}

/* Rewrite every attribute value of a start tag or PI. */
static void rw_scan_tag(rw_ctx *c, const html_tok *t)
{
    size_t pos = t->attrs;
    html_attr a;
    while (html_attr_next(c->s, t->end, &pos, &a))
        if (a.has_value)
            rw_scan_attr(c, c->s + a.name, a.name_len, a.value, a.value + a.value_len);
}

/* Walk an HTML or XML document (html.c's walk, as csp.c does) from start
 * to n: attribute values, <script> text as JS or JSON, <style> text as CSS;
 * prose never. The text of <noscript> is raw text to a browser running
 * scripts, but it is the markup script-less clients load, so its attributes
 * and styles are rewritten too (walked again with scripting off); scripts
 * inside it never run anywhere and are left alone. With spans set, record
 * each script text treated as JS/JSON instead of (or besides) rewriting. */
static int rw_walk(rw_ctx *c, size_t n, size_t start, unsigned flags, rewrite_span **spans,
                   size_t *nspans, size_t *cap)
{
    const char *s = c->s;
    html_walk w;
    html_tok t;
    int r, rc = 0;
    html_walk_init(&w, s, n, start, flags);
    while ((r = html_walk_next(&w, &t)) > 0) {
        if (t.type == HTML_TOK_END)
            continue;
        rw_scan_tag(c, &t);
        if (t.text_kind == HTML_TEXT_SCRIPT && t.text_exact && !(flags & HTML_WALK_NOSCRIPT)) {
            rewrite_kind kind = rw_script_kind(s, n, &t);
            rw_scan_js(c, t.text, t.text + t.text_len, kind == RW_JSON);
            if (spans) {
                if (*nspans == *cap) {
                    size_t nc = *cap ? *cap * 2 : 8;
                    rewrite_span *sp =
                        nc > SIZE_MAX / sizeof(*sp) ? NULL : realloc(*spans, nc * sizeof(*sp));
                    if (!sp) {
                        rc = -1;
                        break;
                    }
                    *spans = sp;
                    *cap = nc;
                }
                rewrite_span *sp = &(*spans)[(*nspans)++];
                sp->at = t.text;
                sp->len = t.text_len;
                sp->kind = kind;
                sp->runs = html_script_classify(s, n, &t) == HTML_SCRIPT_INLINE;
            }
        } else if (t.text_kind == HTML_TEXT_STYLE && t.text_exact) {
            rw_scan_css(c, t.text, t.text + t.text_len);
        } else if (t.text_kind == HTML_TEXT_NOSCRIPT) {
            if (rw_walk(c, t.text + t.text_len, t.text, flags | HTML_WALK_NOSCRIPT, NULL, NULL,
                        NULL) < 0) {
                rc = -1;
                break;
            }
        }
    }
    html_walk_free(&w);
    return r < 0 ? -1 : rc;
}

int rewrite_html_scripts(const char *in, size_t n, rewrite_kind kind, rewrite_span **spans,
                         size_t *nspans)
{
    if (!spans || !nspans)
        return -1;
    *spans = NULL;
    *nspans = 0;
    if (!in || (kind != RW_HTML && kind != RW_XML))
        return 0;
    /* A base that occurs nowhere: the walk runs, nothing is matched. */
    rw_ctx c = {.s = in, .n = n, .from = "/", .flen = 1, .next = SIZE_MAX};
    size_t cap = 0;
    if (rw_walk(&c, n, 0, kind == RW_XML ? HTML_WALK_XML : 0, spans, nspans, &cap) < 0 ||
        c.oom) {
        free(*spans);
        free(c.m);
        *spans = NULL;
        *nspans = 0;
        return -1;
    }
    free(c.m);
    return 0;
}

/* ---------------------------------------------------------------- API */

static int rw_valid_base(const char *b, int allow_root)
{
    size_t len = strlen(b);
    if (len == 0)
        return allow_root;
    if (b[0] != '/' || b[len - 1] == '/' || len > 4096)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)b[i];
        int ok = html_is_alpha(ch) || (ch >= '0' && ch <= '9') || (ch && strchr("-._~/%@+!$:", ch));
        if (!ok || (ch == '/' && b[i + 1] == '/'))
            return 0;
    }
    return 1;
}

static const char *const rw_names[] = {"none", "html", "js", "css", "json", "xml", "robots"};

const char *rewrite_kind_name(rewrite_kind kind)
{
    if ((unsigned)kind >= sizeof(rw_names) / sizeof(rw_names[0]))
        return "none";
    return rw_names[kind];
}

/* Does the essence of mime [0, len) equal word (lower case)? */
static int rw_mime_is(const char *mime, size_t len, const char *word)
{
    return len == strlen(word) && html_ci_eq(mime, word, len);
}

static int rw_mime_suffix(const char *mime, size_t len, const char *suffix)
{
    size_t sl = strlen(suffix);
    return len > sl && html_ci_eq(mime + len - sl, suffix, sl);
}

static int rw_ext_is(const char *ext, size_t len, const char *word)
{
    return len == strlen(word) && html_ci_eq(ext, word, len);
}

rewrite_kind rewrite_kind_for(const char *path, const char *mime)
{
    const char *base = NULL;
    if (path) {
        const char *slash = strrchr(path, '/');
        base = slash ? slash + 1 : path;
    }
    int robots = base && strcmp(base, "robots.txt") == 0;

    if (mime) {
        while (*mime == ' ' || *mime == '\t')
            mime++;
        size_t len = strcspn(mime, "; \t");
        if (rw_mime_is(mime, len, "text/html"))
            return RW_HTML;
        if (rw_mime_is(mime, len, "text/javascript") ||
            rw_mime_is(mime, len, "application/javascript") ||
            rw_mime_is(mime, len, "application/x-javascript") ||
            rw_mime_is(mime, len, "text/ecmascript") ||
            rw_mime_is(mime, len, "application/ecmascript"))
            return RW_JS;
        if (rw_mime_is(mime, len, "text/css"))
            return RW_CSS;
        if (rw_mime_is(mime, len, "application/json") || rw_mime_suffix(mime, len, "+json"))
            return RW_JSON;
        if (rw_mime_is(mime, len, "application/xml") || rw_mime_is(mime, len, "text/xml") ||
            rw_mime_suffix(mime, len, "+xml"))
            return RW_XML;
        if (rw_mime_is(mime, len, "text/plain") && robots)
            return RW_ROBOTS;
        return RW_NONE;
    }

    if (!base)
        return RW_NONE;
    if (robots)
        return RW_ROBOTS;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base)
        return RW_NONE;
    const char *ext = dot + 1;
    size_t len = strlen(ext);
    if (rw_ext_is(ext, len, "html") || rw_ext_is(ext, len, "htm"))
        return RW_HTML;
    if (rw_ext_is(ext, len, "js") || rw_ext_is(ext, len, "mjs") || rw_ext_is(ext, len, "cjs"))
        return RW_JS;
    if (rw_ext_is(ext, len, "css"))
        return RW_CSS;
    if (rw_ext_is(ext, len, "json") || rw_ext_is(ext, len, "webmanifest") ||
        rw_ext_is(ext, len, "map") || rw_ext_is(ext, len, "jsonld"))
        return RW_JSON;
    if (rw_ext_is(ext, len, "svg") || rw_ext_is(ext, len, "xml") || rw_ext_is(ext, len, "xhtml") ||
        rw_ext_is(ext, len, "rss") || rw_ext_is(ext, len, "atom"))
        return RW_XML;
    return RW_NONE;
}

int rewrite_base(const char *in, size_t n, const char *from, const char *to, rewrite_kind kind,
                 char **out, size_t *outn, size_t *count)
{
    if (out)
        *out = NULL;
    if (outn)
        *outn = 0;
    if (count)
        *count = 0;
    if (!out || !outn || !count || !from || !to || (!in && n) || !rw_valid_base(from, 0) ||
        !rw_valid_base(to, 1))
        return -1;
    if (strcmp(from, to) == 0 || n == 0)
        return 0;

    rw_ctx c = {.s = in, .n = n, .from = from, .flen = strlen(from), .tlen = strlen(to)};
    switch (kind) {
    case RW_HTML:
    case RW_XML:
        if (rw_walk(&c, n, 0, kind == RW_XML ? HTML_WALK_XML : 0, NULL, NULL, NULL) < 0)
            c.oom = 1;
        break;
    case RW_JS:
        rw_scan_js(&c, 0, n, 0);
        break;
    case RW_JSON:
        rw_scan_js(&c, 0, n, 1);
        break;
    case RW_CSS:
        rw_scan_css(&c, 0, n);
        break;
    case RW_ROBOTS:
        rw_scan_robots(&c);
        break;
    case RW_NONE:
    default:
        break;
    }
    if (c.oom) {
        free(c.m);
        return -1;
    }
    if (c.nm == 0) {
        free(c.m);
        return 0;
    }

    /* Exact size: every match trades flen input bytes for 1 or tlen. */
    size_t size = n;
    for (size_t k = 0; k < c.nm; k++) {
        size_t rlen = c.m[k].slash ? 1 : c.tlen;
        if (size > SIZE_MAX - 1 - rlen) {
            free(c.m);
            return -1;
        }
        size = size + rlen - c.flen;
    }
    char *buf = malloc(size + 1);
    if (!buf) {
        free(c.m);
        return -1;
    }
    size_t w = 0, r = 0;
    for (size_t k = 0; k < c.nm; k++) {
        memcpy(buf + w, in + r, c.m[k].at - r);
        w += c.m[k].at - r;
        if (c.m[k].slash) {
            buf[w++] = '/';
        } else {
            memcpy(buf + w, to, c.tlen);
            w += c.tlen;
        }
        r = c.m[k].at + c.flen;
    }
    memcpy(buf + w, in + r, n - r);
    w += n - r;
    buf[w] = '\0';
    *out = buf;
    *outn = w;
    *count = c.nm;
    free(c.m);
    return 0;
}
