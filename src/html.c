/*
 * html — the one HTML tokenizer walk that rewrite.c and csp.c share: where
 * tags, attributes, raw text, scripts and comments begin and end, as a
 * browser decides it. One copy, so the CSP hashes and the base-path rewriter
 * can never disagree about what is a script (they used to: each carried its
 * own tag parser, and only csp.c knew <noscript> is raw text). What is
 * followed and what is not is listed in html.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tomed/html.h"

int html_is_ws(unsigned char c)
{
    /* HTML's ASCII whitespace; CR included because browsers normalise it. */
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

int html_is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

unsigned char html_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

int html_ci_eq(const char *s, const char *word, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (html_lower((unsigned char)s[i]) != (unsigned char)word[i])
            return 0;
    return 1;
}

int html_end_tag_at(const char *s, size_t n, size_t i, const char *name, size_t len)
{
    return n - i > len + 2 && s[i] == '<' && s[i + 1] == '/' && html_ci_eq(s + i + 2, name, len) &&
           (html_is_ws((unsigned char)s[i + 2 + len]) || s[i + 2 + len] == '/' ||
            s[i + 2 + len] == '>');
}

size_t html_rawtext_end(const char *s, size_t n, size_t i, const char *name)
{
    size_t len = strlen(name);
    while (i < n) {
        const char *lt = memchr(s + i, '<', n - i);
        if (!lt)
            return n;
        i = (size_t)(lt - s);
        if (html_end_tag_at(s, n, i, name, len))
            return i;
        i++;
    }
    return n;
}

size_t html_script_end(const char *s, size_t n, size_t i)
{
    enum { DATA, ESC, ESC_D, ESC_DD, DESC, DESC_D, DESC_DD } st = DATA;
    while (i < n) {
        char ch = s[i];
        switch (st) {
        case DATA:
            if (ch == '<') {
                if (html_end_tag_at(s, n, i, "script", 6))
                    return i;
                if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
                    st = ESC_DD;
                    i += 4;
                    continue;
                }
            }
            break;
        case ESC:
        case ESC_D:
        case ESC_DD:
            if (ch == '-') {
                st = st == ESC ? ESC_D : ESC_DD;
            } else if (ch == '<') {
                if (html_end_tag_at(s, n, i, "script", 6))
                    return i;
                st = ESC;
                if (n - i > 7 && html_ci_eq(s + i + 1, "script", 6) &&
                    (html_is_ws((unsigned char)s[i + 7]) || s[i + 7] == '/' || s[i + 7] == '>')) {
                    st = DESC;
                    i += 7;
                    continue;
                }
            } else if (ch == '>' && st == ESC_DD) {
                st = DATA;
            } else {
                st = ESC;
            }
            break;
        case DESC:
        case DESC_D:
        case DESC_DD:
            if (ch == '-') {
                st = st == DESC ? DESC_D : DESC_DD;
            } else if (ch == '<') {
                st = DESC;
                if (html_end_tag_at(s, n, i, "script", 6)) {
                    st = ESC;
                    i += 8;
                    continue;
                }
            } else if (ch == '>' && st == DESC_DD) {
                st = DATA;
            } else {
                st = DESC;
            }
            break;
        }
        i++;
    }
    return n;
}

size_t html_comment_end(const char *s, size_t n, size_t i)
{
    if (i < n && s[i] == '>')
        return i + 1;
    if (n - i >= 2 && s[i] == '-' && s[i + 1] == '>')
        return i + 2;
    for (; i + 2 < n; i++) {
        if (s[i] != '-' || s[i + 1] != '-')
            continue;
        if (s[i + 2] == '>')
            return i + 3;
        if (i + 3 < n && s[i + 2] == '!' && s[i + 3] == '>')
            return i + 4;
    }
    return n;
}

/* ---------------------------------------------------------------- attributes */

/* One step of the attribute states from *pos: 1 and an attribute, 0 at '>'
 * (*pos on it), -1 at the end of input. *sc is set when "/>" closes it. */
static int html_attr_step(const char *s, size_t n, size_t *pos, html_attr *a, int *sc)
{
    size_t i = *pos;
    /* before attribute name: blanks, and '/' not followed by '>' (the
     * self-closing start tag state reconsumes anything else there) */
    while (i < n && (html_is_ws((unsigned char)s[i]) || s[i] == '/')) {
        if (s[i] == '/' && i + 1 < n && s[i + 1] == '>' && sc)
            *sc = 1;
        i++;
    }
    *pos = i;
    if (i >= n)
        return -1;
    if (s[i] == '>')
        return 0;
    if (sc)
        *sc = 0;
    memset(a, 0, sizeof(*a));
    a->name = i++; /* a leading '=' belongs to the name */
    while (i < n && !html_is_ws((unsigned char)s[i]) && s[i] != '/' && s[i] != '>' && s[i] != '=')
        i++;
    a->name_len = i - a->name;
    size_t k = i;
    while (k < n && html_is_ws((unsigned char)s[k]))
        k++;
    if (k < n && s[k] == '=') {
        i = k + 1;
        while (i < n && html_is_ws((unsigned char)s[i]))
            i++;
        a->has_value = 1;
        if (i < n && (s[i] == '"' || s[i] == '\'')) {
            const char *q = memchr(s + i + 1, s[i], n - i - 1);
            a->value = i + 1;
            a->value_len = (q ? (size_t)(q - s) : n) - a->value;
            i = q ? (size_t)(q - s) + 1 : n;
        } else {
            a->value = i;
            while (i < n && !html_is_ws((unsigned char)s[i]) && s[i] != '>')
                i++;
            a->value_len = i - a->value;
        }
    } else {
        a->value = i;
    }
    *pos = i;
    return 1;
}

int html_attr_next(const char *s, size_t n, size_t *pos, html_attr *a)
{
    return html_attr_step(s, n, pos, a, NULL) == 1;
}

int html_attr_get(const char *s, size_t n, const html_tok *t, const char *name, html_attr *a)
{
    size_t pos = t->attrs, len = strlen(name);
    size_t lim = t->end < n ? t->end : n;
    while (html_attr_next(s, lim, &pos, a))
        if (a->name_len == len && html_ci_eq(s + a->name, name, len))
            return 1;
    return 0;
}

int html_tok_is(const char *s, const html_tok *t, const char *name)
{
    size_t len = strlen(name);
    return t->name_len == len && html_ci_eq(s + t->name, name, len);
}

/* Parse the tag whose name starts at i: fills name, attrs, end,
 * self_closing. Returns 1 when it ends with '>', 0 when the input ends
 * first (the tokenizer then drops the tag). */
static int html_parse_tag(const char *s, size_t n, size_t i, html_tok *t)
{
    t->name = i;
    while (i < n && !html_is_ws((unsigned char)s[i]) && s[i] != '/' && s[i] != '>')
        i++;
    t->name_len = i - t->name;
    t->attrs = i;
    t->self_closing = 0;
    html_attr a;
    int sc = 0, r;
    while ((r = html_attr_step(s, n, &i, &a, &sc)) == 1)
        ;
    if (r < 0) {
        t->end = n;
        return 0;
    }
    t->self_closing = sc;
    t->end = i + 1;
    return 1;
}

/* Just past the end tag whose "</" is at i, or n if the input ends in it. */
static size_t html_end_tag_end(const char *s, size_t n, size_t i, int *closed)
{
    html_tok et;
    *closed = html_parse_tag(s, n, i + 2, &et);
    return et.end;
}

/* ---------------------------------------------------------------- scripts */

html_script_type html_script_type_of(const char *s, size_t n, const html_tok *t)
{
    static const char *const js[] = {
        "application/ecmascript", "application/javascript", "application/x-ecmascript",
        "application/x-javascript", "text/ecmascript", "text/javascript", "text/javascript1.0",
        "text/javascript1.1", "text/javascript1.2", "text/javascript1.3", "text/javascript1.4",
        "text/javascript1.5", "text/jscript", "text/livescript", "text/x-ecmascript",
        "text/x-javascript"};
    html_attr type, lang;
    int has_type = html_attr_get(s, n, t, "type", &type);
    int has_lang = html_attr_get(s, n, t, "language", &lang);
    if (has_type && type.value_len == 0)
        return HTML_SCRIPT_CLASSIC; /* type="" */
    if (!has_type && (!has_lang || lang.value_len == 0))
        return HTML_SCRIPT_CLASSIC; /* no type, and no or an empty language */
    if (!has_type) {
        /* "text/" + language, not stripped: only the text/ types can match */
        for (size_t k = 0; k < sizeof(js) / sizeof(js[0]); k++)
            if (strncmp(js[k], "text/", 5) == 0 && lang.value_len == strlen(js[k] + 5) &&
                html_ci_eq(s + lang.value, js[k] + 5, lang.value_len))
                return HTML_SCRIPT_CLASSIC;
        return HTML_SCRIPT_DATA;
    }
    const char *v = s + type.value;
    size_t len = type.value_len;
    while (len && html_is_ws((unsigned char)v[0])) {
        v++;
        len--;
    }
    while (len && html_is_ws((unsigned char)v[len - 1]))
        len--;
    /* type="  " strips to "", which is no JavaScript type: it never runs */
    for (size_t k = 0; k < sizeof(js) / sizeof(js[0]); k++)
        if (len == strlen(js[k]) && html_ci_eq(v, js[k], len))
            return HTML_SCRIPT_CLASSIC;
    if (len == 6 && html_ci_eq(v, "module", 6))
        return HTML_SCRIPT_MODULE;
    if (len == 9 && html_ci_eq(v, "importmap", 9))
        return HTML_SCRIPT_IMPORTMAP;
    if (len == 16 && html_ci_eq(v, "speculationrules", 16))
        return HTML_SCRIPT_SPECULATIONRULES;
    return HTML_SCRIPT_DATA;
}

html_script_class html_script_classify(const char *s, size_t n, const html_tok *t)
{
    html_attr a;
    if (!t->text_end_tag && t->text_exact)
        return HTML_SCRIPT_CUT;
    if (t->ns == HTML_NS_SVG ? html_attr_get(s, n, t, "href", &a) ||
                                   html_attr_get(s, n, t, "xlink:href", &a)
                             : html_attr_get(s, n, t, "src", &a))
        return HTML_SCRIPT_EXTERNAL;
    if (html_script_type_of(s, n, t) == HTML_SCRIPT_DATA)
        return HTML_SCRIPT_DATA_BLOCK;
    if (!t->text_exact)
        return HTML_SCRIPT_OPAQUE;
    return HTML_SCRIPT_INLINE;
}

/* ---------------------------------------------------------------- the walk */

void html_walk_init(html_walk *w, const char *s, size_t n, size_t start, unsigned flags)
{
    memset(w, 0, sizeof(*w));
    w->s = s;
    w->n = s ? n : 0;
    w->pos = start < w->n ? start : w->n;
    w->flags = flags;
}

void html_walk_free(html_walk *w)
{
    (void)w;
}

/* Open t's element (namespace ns): recorded while there is room, else only
 * counted in w->deep. */
static void html_push(html_walk *w, const html_tok *t, html_ns ns)
{
    if (w->nopen == HTML_WALK_MAX_DEPTH || w->deep) {
        w->deep++;
        return;
    }
    html_open *e = &w->open[w->nopen++];
    memset(e, 0, sizeof(*e));
    e->name = t->name;
    e->name_len = t->name_len;
    e->ns = (unsigned char)ns;
    const char *s = w->s;
    if (ns == HTML_NS_SVG)
        e->hip = html_tok_is(s, t, "foreignobject") || html_tok_is(s, t, "desc") ||
                 html_tok_is(s, t, "title");
    if (ns == HTML_NS_MATHML) {
        e->mtip = html_tok_is(s, t, "mi") || html_tok_is(s, t, "mo") || html_tok_is(s, t, "mn") ||
                  html_tok_is(s, t, "ms") || html_tok_is(s, t, "mtext");
        if (html_tok_is(s, t, "annotation-xml")) {
            html_attr a;
            e->axml = 1;
            if (html_attr_get(s, w->n, t, "encoding", &a))
                e->hip = (a.value_len == 9 && html_ci_eq(s + a.value, "text/html", 9)) ||
                         (a.value_len == 21 &&
                          html_ci_eq(s + a.value, "application/xhtml+xml", 21));
        }
    }
}

/* Close the innermost open element. */
static void html_pop_one(html_walk *w)
{
    if (w->deep)
        w->deep--;
    else if (w->nopen)
        w->nopen--;
}

/* Start tags that end foreign content ("breakout"), per the tree builder. */
static int html_breakout(const char *s, size_t n, const html_tok *t)
{
    static const char *const names[] = {
        "b",  "big",    "blockquote", "body",  "br",     "center", "code",   "dd",   "div",
        "dl", "dt",     "em",         "embed", "h1",     "h2",     "h3",     "h4",   "h5",
        "h6", "head",   "hr",         "i",     "img",    "li",     "listing", "menu", "meta",
        "nobr", "ol",   "p",          "pre",   "ruby",   "s",      "small",  "span", "strong",
        "strike", "sub", "sup",       "table", "tt",     "u",      "ul",     "var"};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
        if (html_tok_is(s, t, names[k]))
            return 1;
    html_attr a;
    return html_tok_is(s, t, "font") &&
           (html_attr_get(s, n, t, "color", &a) || html_attr_get(s, n, t, "face", &a) ||
            html_attr_get(s, n, t, "size", &a));
}

/* Leave foreign content, as a breakout tag does: pop until the current node
 * is an HTML element or an integration point (elements counted beyond the
 * recorded depth are taken to be foreign: they go too). */
static void html_pop_foreign(html_walk *w)
{
    w->deep = 0;
    while (w->nopen) {
        const html_open *e = &w->open[w->nopen - 1];
        if (e->ns == HTML_NS_HTML || e->hip || e->mtip)
            break;
        w->nopen--;
    }
}

/* An end tag while foreign content is open: pop to the nearest open element
 * of that name; </p> and </br> in foreign content break out as <p> does. */
static void html_end_foreign(html_walk *w, const html_tok *t)
{
    if (w->deep) {
        w->deep--; /* too deep to know its name: the innermost */
        return;
    }
    for (size_t k = w->nopen; k-- > 0;) {
        const html_open *e = &w->open[k];
        if (e->name_len == t->name_len) {
            size_t q = 0;
            while (q < e->name_len &&
                   html_lower((unsigned char)w->s[e->name + q]) ==
                       html_lower((unsigned char)w->s[t->name + q]))
                q++;
            if (q == e->name_len) {
                w->nopen = k;
                return;
            }
        }
    }
    const html_open *top = &w->open[w->nopen - 1];
    if ((html_tok_is(w->s, t, "p") || html_tok_is(w->s, t, "br")) && top->ns != HTML_NS_HTML &&
        !top->hip && !top->mtip)
        html_pop_foreign(w);
}

/* Do HTML rules apply to start tag t (rather than those for foreign content)? */
static int html_rules(const html_walk *w, const html_tok *t)
{
    if (!w->nopen)
        return 1;
    const html_open *top = &w->open[w->nopen - 1];
    if (top->ns == HTML_NS_HTML || top->hip)
        return 1;
    if (top->mtip && !html_tok_is(w->s, t, "mglyph") && !html_tok_is(w->s, t, "malignmark"))
        return 1;
    return top->axml && html_tok_is(w->s, t, "svg");
}

/* Is there a character reference in s[i, end)? ('&' then a letter, digit or
 * '#': anything else leaves the '&' as it is.) */
static int html_has_ref(const char *s, size_t i, size_t end)
{
    for (size_t k = i; k + 1 < end; k++)
        if (s[k] == '&' && (s[k + 1] == '#' || html_is_alpha((unsigned char)s[k + 1]) ||
                            (s[k + 1] >= '0' && s[k + 1] <= '9')))
            return 1;
    return 0;
}

/* The text of an SVG <script> or <style> starting at t->end. Its DOM text is
 * its Text children: plain text up to its end tag is the whole text (exact);
 * text with CDATA sections and comments between is the concatenation of the
 * text and the CDATA contents (pieces). Anything else is markup the walk goes
 * through, and the text is opaque. */
static void html_foreign_text(html_walk *w, html_tok *t, const char *name)
{
    const char *s = w->s;
    size_t n = w->n, i = t->end;
    int refs = 0, pieces = 0;
    t->text = i;
    for (;;) {
        const char *lt = memchr(s + i, '<', n - i);
        size_t end = lt ? (size_t)(lt - s) : n;
        refs |= html_has_ref(s, i, end);
        t->text_len = end - t->text;
        if (end == n) {
            t->text_exact = !refs && !pieces; /* cut off */
            return;
        }
        if (html_end_tag_at(s, n, end, name, strlen(name))) {
            int closed;
            size_t after = html_end_tag_end(s, n, end, &closed);
            t->text_exact = !refs && !pieces;
            if (!closed) {
                w->pos = n; /* "</script" cut off: the rest is inside that tag */
                return;
            }
            t->text_pieces = !refs && pieces;
            t->text_end_tag = 1;
            html_pop_one(w); /* the element pushed for t */
            w->pos = after;
            return;
        }
        size_t next;
        if (n - end >= 9 && memcmp(s + end, "<![CDATA[", 9) == 0) {
            const char *q = memmem(s + end + 9, n - end - 9, "]]>", 3);
            next = q ? (size_t)(q - s) + 3 : n;
        } else if (n - end >= 4 && memcmp(s + end, "<!--", 4) == 0) {
            next = html_comment_end(s, n, end + 4);
        } else {
            break;
        }
        if (next >= n)
            break; /* a section cut off by the end of input */
        pieces = 1;
        i = next;
    }
    t->text_exact = 0; /* markup inside: walked as such */
}

int html_text_piece(const char *s, const html_tok *t, size_t *pos, size_t *at, size_t *len)
{
    size_t end = t->text + t->text_len;
    while (*pos < end) {
        size_t i = *pos;
        if (s[i] != '<') {
            const char *lt = memchr(s + i, '<', end - i);
            size_t e = lt ? (size_t)(lt - s) : end;
            *at = i;
            *len = e - i;
            *pos = e;
            return 1;
        }
        if (end - i >= 9 && memcmp(s + i, "<![CDATA[", 9) == 0) {
            const char *q = memmem(s + i + 9, end - i - 9, "]]>", 3);
            size_t e = q ? (size_t)(q - s) : end;
            *pos = q ? e + 3 : end;
            if (e > i + 9) {
                *at = i + 9;
                *len = e - (i + 9);
                return 1;
            }
            continue;
        }
        if (end - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
            *pos = html_comment_end(s, end, i + 4);
            continue;
        }
        /* not a piece boundary (the token is not text_pieces): the rest */
        *at = i;
        *len = end - i;
        *pos = end;
        return 1;
    }
    return 0;
}

/* The raw text of an HTML element starting at t->end, of `kind`, ended by
 * </name>; the walk resumes after that end tag. */
static void html_raw_text(html_walk *w, html_tok *t, html_text_kind kind, const char *name)
{
    const char *s = w->s;
    size_t n = w->n;
    size_t end;
    if (!name)
        end = n; /* <plaintext> */
    else if (kind == HTML_TEXT_SCRIPT)
        end = html_script_end(s, n, t->end);
    else
        end = html_rawtext_end(s, n, t->end, name);
    t->text_kind = kind;
    t->text = t->end;
    t->text_len = end - t->end;
    t->text_exact = 1;
    w->pos = end;
    if (end < n) {
        int closed;
        w->pos = html_end_tag_end(s, n, end, &closed);
        t->text_end_tag = closed;
    }
}

static const char *html_raw_name(const html_walk *w, const html_tok *t, html_text_kind *kind)
{
    static const char *const raw[] = {"title",   "textarea", "xmp",      "iframe",
                                      "noembed", "noframes", "plaintext"};
    const char *s = w->s;
    if (html_tok_is(s, t, "script")) {
        *kind = HTML_TEXT_SCRIPT;
        return "script";
    }
    if (html_tok_is(s, t, "style")) {
        *kind = HTML_TEXT_STYLE;
        return "style";
    }
    if (w->flags & HTML_WALK_XML)
        return NULL;
    if (html_tok_is(s, t, "noscript") && !(w->flags & HTML_WALK_NOSCRIPT)) {
        *kind = HTML_TEXT_NOSCRIPT;
        return "noscript";
    }
    for (size_t k = 0; k < sizeof(raw) / sizeof(raw[0]); k++)
        if (html_tok_is(s, t, raw[k])) {
            *kind = HTML_TEXT_RAW;
            return raw[k];
        }
    return NULL;
}

/* HTML void elements: never pushed, never have content. */
static int html_void(const char *s, const html_tok *t)
{
    static const char *const names[] = {"area", "base",  "br",   "col",   "embed",
                                        "hr",   "img",   "input", "link", "meta",
                                        "param", "source", "track", "wbr"};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
        if (html_tok_is(s, t, names[k]))
            return 1;
    return 0;
}

/* A start tag t just parsed (ending at t->end): decide its namespace and
 * text, and move the walk past what it consumes. */
static void html_start(html_walk *w, html_tok *t)
{
    const char *s = w->s;
    w->pos = t->end;
    if (w->flags & HTML_WALK_XML) {
        html_text_kind kind = HTML_TEXT_NONE;
        const char *name = html_raw_name(w, t, &kind);
        if (name && !t->self_closing)
            html_raw_text(w, t, kind, name);
        return;
    }
    if (!html_rules(w, t)) {
        if (html_breakout(s, w->n, t)) {
            html_pop_foreign(w);
        } else {
            html_ns ns = (html_ns)w->open[w->nopen - 1].ns;
            t->ns = ns;
            if (t->self_closing)
                return;
            html_push(w, t, ns);
            if (ns == HTML_NS_SVG && html_tok_is(s, t, "script")) {
                t->text_kind = HTML_TEXT_SCRIPT;
                html_foreign_text(w, t, "script");
            } else if (ns == HTML_NS_SVG && html_tok_is(s, t, "style")) {
                t->text_kind = HTML_TEXT_STYLE;
                html_foreign_text(w, t, "style");
            }
            return;
        }
    }
    /* HTML rules */
    if (html_tok_is(s, t, "svg") || html_tok_is(s, t, "math")) {
        t->ns = html_tok_is(s, t, "svg") ? HTML_NS_SVG : HTML_NS_MATHML;
        if (t->self_closing)
            return;
        html_push(w, t, t->ns);
        return;
    }
    html_text_kind kind = HTML_TEXT_NONE;
    const char *name = html_raw_name(w, t, &kind);
    if (name) {
        html_raw_text(w, t, kind, strcmp(name, "plaintext") == 0 ? NULL : name);
        return;
    }
    /* An HTML element inside an integration point: tracked so that its end
     * tag does not close a foreign element of the same name. */
    if ((w->nopen || w->deep) && !html_void(s, t))
        html_push(w, t, HTML_NS_HTML);
}

/* Just past the first `stop` at or after i, or n. */
static size_t html_skip_past(const char *s, size_t n, size_t i, const char *stop)
{
    size_t len = strlen(stop);
    if (i >= n || n - i < len)
        return n;
    const char *p = memmem(s + i, n - i, stop, len);
    return p ? (size_t)(p - s) + len : n;
}

int html_walk_next(html_walk *w, html_tok *t)
{
    const char *s = w->s;
    size_t n = w->n;
    int xml = (w->flags & HTML_WALK_XML) != 0;
    while (w->pos < n) {
        const char *lt = memchr(s + w->pos, '<', n - w->pos);
        if (!lt) {
            w->pos = n;
            break;
        }
        size_t i = (size_t)(lt - s);
        memset(t, 0, sizeof(*t));
        t->start = i;
        if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
            w->pos = html_comment_end(s, n, i + 4);
        } else if (n - i >= 9 && memcmp(s + i, "<![CDATA[", 9) == 0 &&
                   (xml || (w->nopen && w->open[w->nopen - 1].ns != HTML_NS_HTML))) {
            w->pos = html_skip_past(s, n, i + 9, "]]>");
        } else if (xml && n - i >= 3 && s[i + 1] == '?' && html_is_alpha((unsigned char)s[i + 2])) {
            /* <?xml-stylesheet href="..."?>: pseudo-attributes */
            int closed = html_parse_tag(s, n, i + 2, t);
            w->pos = t->end;
            if (!closed)
                break;
            t->type = HTML_TOK_PI;
            return 1;
        } else if (n - i >= 2 && (s[i + 1] == '!' || s[i + 1] == '?')) {
            w->pos = html_skip_past(s, n, i + 2, ">"); /* doctype, bogus comment */
        } else if (n - i >= 3 && s[i + 1] == '/' && html_is_alpha((unsigned char)s[i + 2])) {
            int closed = html_parse_tag(s, n, i + 2, t);
            w->pos = t->end;
            if (!closed)
                break;
            t->type = HTML_TOK_END;
            if ((w->nopen || w->deep) && !xml)
                html_end_foreign(w, t);
            return 1;
        } else if (n - i >= 3 && s[i + 1] == '/') {
            w->pos = html_skip_past(s, n, i + 2, ">"); /* "</>" or a bogus comment */
        } else if (n - i >= 2 && html_is_alpha((unsigned char)s[i + 1])) {
            int closed = html_parse_tag(s, n, i + 1, t);
            if (!closed) {
                w->pos = n;
                break;
            }
            t->type = HTML_TOK_START;
            html_start(w, t);
            return 1;
        } else {
            w->pos = i + 1;
        }
    }
    return 0;
}
