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
 * forgiving scanners (an HTML tokenizer that knows attributes and raw-text
 * elements, and context checks around each occurrence of the base for JS,
 * JSON, CSS and robots.txt) rather than full parsers: the inputs are machine
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

/* A start or end tag, parsed as the HTML tokenizer does (attribute values may
 * hold '>' inside quotes). */
typedef struct rw_tag {
    size_t name, nlen;
    int closed;       /* ended with '>' (else the input ended inside it) */
    int self_closing; /* "/>" */
    int json;         /* <script type="...json..."> */
    size_t end;       /* just past '>' */
} rw_tag;

static int rw_name_is(const char *s, const rw_tag *t, const char *word)
{
    size_t len = strlen(word);
    return t->nlen == len && html_ci_eq(s + t->name, word, len);
}

/* A <script> type whose text is JSON holding URLs: data blocks
 * (application/json, application/ld+json), import maps, speculation rules. */
static int rw_json_type(const char *v, size_t len)
{
    static const char *const words[] = {"json", "importmap", "speculationrules"};
    for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
        size_t wl = strlen(words[k]);
        for (size_t i = 0; i + wl <= len; i++)
            if (html_ci_eq(v + i, words[k], wl))
                return 1;
    }
    return 0;
}

/* Parse the tag whose name starts at i; rewrite its attribute values when c
 * is given. */
static void rw_parse_tag(rw_ctx *c, const char *s, size_t n, size_t i, rw_tag *t)
{
    memset(t, 0, sizeof(*t));
    t->name = i;
    while (i < n && !html_is_ws((unsigned char)s[i]) && s[i] != '/' && s[i] != '>')
        i++;
    t->nlen = i - t->name;
    int script = c && rw_name_is(s, t, "script");
    for (;;) {
        while (i < n && (html_is_ws((unsigned char)s[i]) || s[i] == '/')) {
            if (s[i] == '/' && i + 1 < n && s[i + 1] == '>')
                t->self_closing = 1;
            i++;
        }
        if (i >= n) {
            t->end = n;
            return;
        }
        if (s[i] == '>') {
            t->closed = 1;
            t->end = i + 1;
            return;
        }
        size_t an = i++; /* a leading '=' belongs to the name */
        while (i < n && !html_is_ws((unsigned char)s[i]) && s[i] != '/' && s[i] != '>' &&
               s[i] != '=')
            i++;
        size_t anl = i - an;
        while (i < n && html_is_ws((unsigned char)s[i]))
            i++;
        if (i >= n || s[i] != '=')
            continue;
        i++;
        while (i < n && html_is_ws((unsigned char)s[i]))
            i++;
        size_t vs, ve;
        if (i < n && (s[i] == '"' || s[i] == '\'')) {
            const char *q = memchr(s + i + 1, s[i], n - i - 1);
            vs = i + 1;
            ve = q ? (size_t)(q - s) : n;
            i = q ? ve + 1 : n;
        } else {
            vs = i;
            while (i < n && !html_is_ws((unsigned char)s[i]) && s[i] != '>')
                i++;
            ve = i;
        }
        if (!c)
            continue;
        rw_scan_attr(c, s + an, anl, vs, ve);
        if (script && anl == 4 && html_ci_eq(s + an, "type", 4) && rw_json_type(s + vs, ve - vs))
            t->json = 1;
    }
}

/* Just past the first `stop` at or after i, or n. */
static size_t rw_skip_past(const char *s, size_t n, size_t i, const char *stop)
{
    size_t len = strlen(stop);
    if (i >= n || n - i < len)
        return n;
    const char *p = memmem(s + i, n - i, stop, len);
    return p ? (size_t)(p - s) + len : n;
}

static void rw_scan_html(rw_ctx *c, int xml)
{
    const char *s = c->s;
    size_t n = c->n, i = 0;
    while (i < n) {
        const char *lt = memchr(s + i, '<', n - i);
        if (!lt)
            return;
        i = (size_t)(lt - s);
        if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
            i = html_comment_end(s, n, i + 4);
        } else if (xml && n - i >= 9 && memcmp(s + i, "<![CDATA[", 9) == 0) {
            i = rw_skip_past(s, n, i + 9, "]]>");
        } else if (xml && n - i >= 3 && s[i + 1] == '?' && html_is_alpha((unsigned char)s[i + 2])) {
            /* <?xml-stylesheet href="..."?>: pseudo-attributes are URLs too */
            rw_tag t;
            rw_parse_tag(c, s, n, i + 2, &t);
            i = t.end;
        } else if (n - i >= 2 && (s[i + 1] == '!' || s[i + 1] == '?')) {
            i = rw_skip_past(s, n, i + 2, ">"); /* doctype, bogus comment */
        } else if (n - i >= 3 && s[i + 1] == '/' && html_is_alpha((unsigned char)s[i + 2])) {
            rw_tag t;
            rw_parse_tag(NULL, s, n, i + 2, &t); /* end tags: attributes mean nothing */
            i = t.end;
        } else if (n - i >= 2 && s[i + 1] == '/') {
            i = rw_skip_past(s, n, i + 2, ">");
        } else if (n - i >= 2 && html_is_alpha((unsigned char)s[i + 1])) {
            rw_tag t;
            rw_parse_tag(c, s, n, i + 1, &t);
            i = t.end;
            if (!t.closed || (xml && t.self_closing))
                continue;
            size_t end = 0;
            const char *raw = NULL;
            if (rw_name_is(s, &t, "script")) {
                end = html_script_end(s, n, i);
                rw_scan_js(c, i, end, t.json);
                raw = "script";
            } else if (rw_name_is(s, &t, "style")) {
                end = html_rawtext_end(s, n, i, "style");
                rw_scan_css(c, i, end);
                raw = "style";
            } else if (!xml) {
                /* Text of these is not markup; <noscript> is left out on
                 * purpose: its markup is what script-less clients load. */
                static const char *const prose[] = {"title", "textarea", "xmp", "iframe",
                                                    "noembed", "noframes"};
                for (size_t k = 0; k < sizeof(prose) / sizeof(prose[0]); k++) {
                    if (rw_name_is(s, &t, prose[k])) {
                        raw = prose[k];
                        end = html_rawtext_end(s, n, i, raw);
                        break;
                    }
                }
                if (!raw && rw_name_is(s, &t, "plaintext"))
                    return;
            }
            if (raw) {
                i = end;
                if (i < n) {
                    rw_tag et;
                    rw_parse_tag(NULL, s, n, i + 2, &et);
                    i = et.end;
                }
            }
        } else {
            i++;
        }
    }
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
        rw_scan_html(&c, 0);
        break;
    case RW_XML:
        rw_scan_html(&c, 1);
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
