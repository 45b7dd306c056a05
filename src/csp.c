/*
 * csp — per-page Content-Security-Policy with inline-script hashes.
 *
 * A prerendered SvelteKit page starts with an inline script that differs on
 * every page (its node ids and data), so `script-src 'self'` alone stops the
 * site from starting and the usual escape hatch, 'unsafe-inline', gives up
 * the protection CSP exists for. Hashes fix that without touching the build:
 * at load time we find each inline <script> and <style> the browser will
 * check, hash its text exactly as the browser will, and extend the
 * configured policy with those hashes, page by page.
 *
 * Finding elements "as the browser will" matters more than elegance: a
 * script we miss breaks the page, a script we invent (text inside a comment
 * or a <textarea>) weakens the policy. So the scanner walks the page with
 * html.c's tokenizer walk (comments, raw-text elements, script data escape
 * states, quoted attribute values, SVG/MathML foreign content), the same
 * walk the base-path rewriter uses, so both see the same scripts. The policy side is a small directive list rewriter; the
 * reasons for each choice (style-src-attr, 'self' default, 'none') are in
 * csp.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tomed/csp.h"
#include "tomed/html.h"

/* ---------------------------------------------------------------- bytes */

static int csp_word_is(const char *s, size_t len, const char *word)
{
    return len == strlen(word) && html_ci_eq(s, word, len);
}

/* ---------------------------------------------------------------- hashing */

static void csp_format(const unsigned char digest[32], char out[CSP_HASH_SIZE])
{
    memcpy(out, "'sha256-", 8);
    EVP_EncodeBlock((unsigned char *)out + 8, digest, 32); /* 44 chars + NUL */
    out[52] = '\'';
    out[53] = '\0';
}

int csp_hash(const void *data, size_t n, char out[CSP_HASH_SIZE])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(n ? data : "", n, digest, &len, EVP_sha256(), NULL) || len != 32)
        return -1;
    csp_format(digest, out);
    return 0;
}

/* Feed element text as the browser sees it: the HTML parser turned CR LF and
 * lone CR into LF and NUL into U+FFFD before the tokenizer ever ran. */
static int csp_hash_update(EVP_MD_CTX *ctx, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *subst;
        if (s[i] == '\r')
            subst = "\n";
        else if (s[i] == '\0')
            subst = "\xEF\xBF\xBD";
        else
            continue;
        if (!EVP_DigestUpdate(ctx, s + start, i - start) ||
            !EVP_DigestUpdate(ctx, subst, strlen(subst)))
            return -1;
        if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
            i++;
        start = i + 1;
    }
    return EVP_DigestUpdate(ctx, s + start, n - start) ? 0 : -1;
}

static int csp_hash_final(EVP_MD_CTX *ctx, char out[CSP_HASH_SIZE])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex(ctx, digest, &len) || len != 32)
        return -1;
    csp_format(digest, out);
    return 0;
}

static int csp_hash_text(EVP_MD_CTX *ctx, const char *s, size_t n, char out[CSP_HASH_SIZE])
{
    if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) || csp_hash_update(ctx, s, n) < 0)
        return -1;
    return csp_hash_final(ctx, out);
}

/* The text of an SVG element made of pieces (text and CDATA sections): the
 * DOM text is their concatenation. */
static int csp_hash_pieces(EVP_MD_CTX *ctx, const char *s, const html_tok *t,
                           char out[CSP_HASH_SIZE])
{
    size_t pos = t->text, at, len;
    if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        return -1;
    while (html_text_piece(s, t, &pos, &at, &len))
        if (csp_hash_update(ctx, s + at, len) < 0)
            return -1;
    return csp_hash_final(ctx, out);
}

/* ---------------------------------------------------------------- attributes */

/* Does the value start with "javascript:", as a URL parser reads it (leading
 * C0 controls and spaces stripped, tabs and newlines ignored anywhere)? */
static int csp_is_javascript_url(const char *v, size_t len)
{
    static const char want[] = "javascript:";
    size_t i = 0, k = 0;
    while (i < len && (unsigned char)v[i] <= ' ')
        i++;
    for (; i < len && k < sizeof(want) - 1; i++) {
        if (v[i] == '\t' || v[i] == '\n' || v[i] == '\r')
            continue;
        if (html_lower((unsigned char)v[i]) != (unsigned char)want[k])
            return 0;
        k++;
    }
    return k == sizeof(want) - 1;
}

/* Count the attributes of a start tag that CSP cares about (style, on*,
 * javascript: URLs). */
static void csp_count_attrs(const char *s, size_t n, const html_tok *t, csp_page *page)
{
    size_t pos = t->attrs;
    html_attr at;
    while (html_attr_next(s, t->end < n ? t->end : n, &pos, &at)) {
        const char *a = s + at.name;
        size_t anl = at.name_len;
        if (csp_word_is(a, anl, "style"))
            page->style_attrs++;
        else if (anl > 2 && html_ci_eq(a, "on", 2))
            page->handlers++;
        if ((csp_word_is(a, anl, "href") || csp_word_is(a, anl, "src") ||
             csp_word_is(a, anl, "action") || csp_word_is(a, anl, "formaction") ||
             csp_word_is(a, anl, "xlink:href")) &&
            csp_is_javascript_url(s + at.value, at.value_len))
            page->handlers++;
    }
}

/* ---------------------------------------------------------------- scan */

typedef struct csp_list {
    char (*h)[CSP_HASH_SIZE];
    size_t n, cap;
} csp_list;

static int csp_list_push(csp_list *l, const char hash[CSP_HASH_SIZE])
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        if (cap > SIZE_MAX / CSP_HASH_SIZE)
            return -1;
        char(*h)[CSP_HASH_SIZE] = realloc(l->h, cap * CSP_HASH_SIZE);
        if (!h)
            return -1;
        l->h = h;
        l->cap = cap;
    }
    memcpy(l->h[l->n++], hash, CSP_HASH_SIZE);
    return 0;
}

typedef struct csp_ref {
    const char *h;
    size_t idx;
} csp_ref;

static int csp_ref_cmp(const void *a, const void *b)
{
    const csp_ref *x = a, *y = b;
    int c = memcmp(x->h, y->h, CSP_HASH_SIZE);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Keep the first of equal hashes, in document order. Sorting keeps this
 * O(k log k) however many elements a hostile page has. */
static int csp_list_dedup(csp_list *l)
{
    if (l->n < 2)
        return 0;
    csp_ref *r = malloc(l->n * sizeof(*r));
    unsigned char *dup = calloc(l->n, 1);
    if (!r || !dup) {
        free(r);
        free(dup);
        return -1;
    }
    for (size_t k = 0; k < l->n; k++) {
        r[k].h = l->h[k];
        r[k].idx = k;
    }
    qsort(r, l->n, sizeof(*r), csp_ref_cmp);
    for (size_t k = 1; k < l->n; k++)
        if (memcmp(r[k].h, r[k - 1].h, CSP_HASH_SIZE) == 0)
            dup[r[k].idx] = 1;
    size_t w = 0;
    for (size_t k = 0; k < l->n; k++) {
        if (dup[k])
            continue;
        if (w != k)
            memcpy(l->h[w], l->h[k], CSP_HASH_SIZE);
        w++;
    }
    l->n = w;
    free(r);
    free(dup);
    return 0;
}

void csp_page_free(csp_page *page)
{
    if (!page)
        return;
    free(page->script_hashes);
    free(page->style_hashes);
    free(page->script_spans);
    page->script_hashes = NULL;
    page->style_hashes = NULL;
    page->script_spans = NULL;
    page->nscript_hashes = page->nstyle_hashes = page->nscript_spans = 0;
}

static int csp_span_push(csp_page *page, size_t *cap, size_t at, size_t len)
{
    if (page->nscript_spans == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        if (c > SIZE_MAX / sizeof(csp_span))
            return -1;
        csp_span *sp = realloc(page->script_spans, c * sizeof(*sp));
        if (!sp)
            return -1;
        page->script_spans = sp;
        *cap = c;
    }
    page->script_spans[page->nscript_spans].at = at;
    page->script_spans[page->nscript_spans].len = len;
    page->nscript_spans++;
    return 0;
}

int csp_scan(const char *html, size_t n, csp_page *page)
{
    if (!page)
        return -1;
    memset(page, 0, sizeof(*page));
    if (!html)
        n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return -1;
    csp_list scripts = {0}, styles = {0};
    const char *s = html;
    size_t span_cap = 0;
    int rc = 0, r;
    char hash[CSP_HASH_SIZE];
    html_walk w;
    html_tok t;

    /* The one walk rewrite.c also uses (html.h): elements, raw text and
     * foreign content exactly as a browser with scripting enabled sees them. */
    html_walk_init(&w, s, n, 0, 0);
    while (rc == 0 && (r = html_walk_next(&w, &t)) != 0) {
        if (r < 0) {
            rc = -1;
            break;
        }
        if (t.type != HTML_TOK_START)
            continue;
        csp_count_attrs(s, n, &t, page);
        const char *text = s + t.text;
        if (t.text_kind == HTML_TEXT_SCRIPT) {
            switch (html_script_classify(s, n, &t)) {
            case HTML_SCRIPT_CUT:
                /* No end tag, or one cut off ("</script " at the end): the
                 * element is only closed by end of file and never runs. */
                page->unterminated++;
                break;
            case HTML_SCRIPT_EXTERNAL:
                break; /* 'self' or the host list decides */
            case HTML_SCRIPT_DATA_BLOCK:
                page->data_blocks++;
                break;
            case HTML_SCRIPT_OPAQUE:
                page->unhashable++;
                break;
            case HTML_SCRIPT_INLINE:
                page->scripts++;
                if (memmem(text, t.text_len, "__sveltekit_", 12))
                    page->sveltekit = 1;
                if (csp_hash_text(ctx, text, t.text_len, hash) || csp_list_push(&scripts, hash) ||
                    csp_span_push(page, &span_cap, t.text, t.text_len))
                    rc = -1;
                break;
            }
        } else if (t.text_kind == HTML_TEXT_STYLE) {
            /* A cut-off <style> is still applied: hash its text up to the end.
             * An SVG <style> may hold its text in CDATA sections. */
            if (!t.text_exact && !t.text_pieces) {
                page->unhashable++;
                continue;
            }
            page->styles++;
            if ((t.text_exact ? csp_hash_text(ctx, text, t.text_len, hash)
                              : csp_hash_pieces(ctx, s, &t, hash)) ||
                csp_list_push(&styles, hash))
                rc = -1;
        }
    }
    html_walk_free(&w);
    EVP_MD_CTX_free(ctx);
    if (rc == 0 && (csp_list_dedup(&scripts) || csp_list_dedup(&styles)))
        rc = -1;
    page->script_hashes = scripts.h;
    page->nscript_hashes = scripts.n;
    page->style_hashes = styles.h;
    page->nstyle_hashes = styles.n;
    return rc;
}

/* ---------------------------------------------------------------- policy */

typedef struct csp_tok {
    const char *p;
    size_t len;
} csp_tok;

typedef struct csp_dir {
    size_t first, count; /* tokens [first, first+count) of the token array; [first] is the name */
} csp_dir;

typedef struct csp_buf {
    char *p;
    size_t len, cap;
    int oom;
} csp_buf;

static void csp_put(csp_buf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (len > SIZE_MAX - 1 - b->len) {
        b->oom = 1;
        return;
    }
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + len + 1)
            cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
}

static void csp_puts(csp_buf *b, const char *s)
{
    csp_put(b, s, strlen(s));
}

/* Separators: ASCII whitespace and every other control byte, so a template
 * can never smuggle CR/LF into the header. */
static int csp_is_sep(unsigned char c)
{
    return c <= ' ' || c == 0x7f;
}

static int csp_tok_cmp(const void *a, const void *b)
{
    const csp_tok *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->p, y->p, x->len);
}

/* Sources dropped from a directive that gets hashes: 'unsafe-inline' is
 * ignored next to a hash anyway (CSP2+) and would re-open CSP1 browsers;
 * 'none' means nothing once other sources are listed. */
static int csp_dropped(const csp_tok *t)
{
    return csp_word_is(t->p, t->len, "'unsafe-inline'") || csp_word_is(t->p, t->len, "'none'");
}

/* Write " src..." for a directive taking hashes: base sources (minus dropped
 * ones) then each hash not already among them. */
static int csp_put_sources(csp_buf *b, const csp_tok *src, size_t nsrc,
                           const char (*h)[CSP_HASH_SIZE], size_t nh)
{
    csp_tok *sorted = NULL;
    if (nsrc) {
        sorted = malloc(nsrc * sizeof(*sorted));
        if (!sorted)
            return -1;
        memcpy(sorted, src, nsrc * sizeof(*sorted));
        qsort(sorted, nsrc, sizeof(*sorted), csp_tok_cmp);
    }
    for (size_t k = 0; k < nsrc; k++) {
        if (csp_dropped(&src[k]))
            continue;
        csp_put(b, " ", 1);
        csp_put(b, src[k].p, src[k].len);
    }
    for (size_t k = 0; k < nh; k++) {
        csp_tok key = {h[k], CSP_HASH_SIZE - 1};
        if (sorted && bsearch(&key, sorted, nsrc, sizeof(*sorted), csp_tok_cmp))
            continue;
        csp_put(b, " ", 1);
        csp_put(b, h[k], CSP_HASH_SIZE - 1);
    }
    free(sorted);
    return 0;
}

/* Does this source list let inline content of its type run? */
static int csp_allows_inline(const csp_tok *src, size_t nsrc)
{
    int inl = 0;
    for (size_t k = 0; k < nsrc; k++) {
        const csp_tok *t = &src[k];
        if (csp_word_is(t->p, t->len, "'unsafe-inline'"))
            inl = 1;
        else if ((t->len > 7 && html_ci_eq(t->p, "'nonce-", 7)) ||
                 (t->len > 5 && html_ci_eq(t->p, "'sha", 4)) ||
                 csp_word_is(t->p, t->len, "'strict-dynamic'"))
            return 0;
    }
    return inl;
}

typedef struct csp_name {
    const csp_tok *name;
    size_t idx;
} csp_name;

static int csp_name_ci_cmp(const csp_tok *x, const csp_tok *y)
{
    size_t m = x->len < y->len ? x->len : y->len;
    for (size_t q = 0; q < m; q++) {
        int c = (int)html_lower((unsigned char)x->p[q]) - (int)html_lower((unsigned char)y->p[q]);
        if (c)
            return c;
    }
    return x->len < y->len ? -1 : x->len > y->len;
}

static int csp_name_cmp(const void *a, const void *b)
{
    const csp_name *x = a, *y = b;
    int c = csp_name_ci_cmp(x->name, y->name);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

enum { D_DEFAULT, D_SCRIPT, D_SCRIPT_ELEM, D_STYLE, D_STYLE_ELEM, D_STYLE_ATTR, D_KNOWN };

int csp_merge(const char *template_policy, const csp_page *page, char **out)
{
    static const char *const known[D_KNOWN] = {"default-src",    "script-src", "script-src-elem",
                                               "style-src",      "style-src-elem",
                                               "style-src-attr"};
    static const char self[] = "'self'";
    if (!out)
        return -1;
    *out = NULL;
    if (!page)
        return -1;
    const char *tp = template_policy ? template_policy : "";
    size_t tlen = strlen(tp);

    /* Tokens of all directives; a token takes at least 2 bytes of template
     * (itself and a separator) except the last, hence the bound. */
    size_t maxtok = tlen / 2 + 2;
    if (maxtok > SIZE_MAX / sizeof(csp_tok))
        return -1;
    csp_tok *tok = malloc(maxtok * sizeof(*tok));
    csp_dir *dir = malloc(maxtok * sizeof(*dir));
    if (!tok || !dir) {
        free(tok);
        free(dir);
        return -1;
    }
    size_t ntok = 0, ndir = 0;
    for (size_t i = 0; i < tlen;) {
        size_t semi = i;
        while (semi < tlen && tp[semi] != ';')
            semi++;
        size_t first = ntok;
        for (size_t j = i; j < semi;) {
            while (j < semi && csp_is_sep((unsigned char)tp[j]))
                j++;
            if (j >= semi)
                break;
            size_t st = j;
            while (j < semi && !csp_is_sep((unsigned char)tp[j]))
                j++;
            tok[ntok].p = tp + st;
            tok[ntok].len = j - st;
            ntok++;
        }
        if (ntok > first) {
            dir[ndir].first = first;
            dir[ndir].count = ntok - first;
            ndir++;
        }
        i = semi + 1;
    }

    /* Browsers use the first directive of a name and ignore repeats; drop
     * them so each name appears once. Sorting (name, position) keeps this
     * O(d log d) for any template. */
    unsigned char *skip = calloc(ndir ? ndir : 1, 1);
    csp_name *names = malloc((ndir ? ndir : 1) * sizeof(*names));
    if (!skip || !names) {
        free(tok);
        free(dir);
        free(skip);
        free(names);
        return -1;
    }
    for (size_t d = 0; d < ndir; d++) {
        names[d].name = &tok[dir[d].first];
        names[d].idx = d;
    }
    qsort(names, ndir, sizeof(*names), csp_name_cmp);
    for (size_t k = 1; k < ndir; k++)
        if (csp_name_ci_cmp(names[k - 1].name, names[k].name) == 0)
            skip[names[k].idx] = 1;
    free(names);

    long at[D_KNOWN];
    for (int k = 0; k < D_KNOWN; k++)
        at[k] = -1;
    for (size_t d = 0; d < ndir; d++) {
        const csp_tok *name = &tok[dir[d].first];
        for (int k = 0; k < D_KNOWN && !skip[d]; k++)
            if (csp_word_is(name->p, name->len, known[k]))
                at[k] = (long)d;
    }

    const char(*sh)[CSP_HASH_SIZE] = (const char(*)[CSP_HASH_SIZE])page->script_hashes;
    const char(*yh)[CSP_HASH_SIZE] = (const char(*)[CSP_HASH_SIZE])page->style_hashes;
    size_t nsh = page->script_hashes ? page->nscript_hashes : 0;
    size_t nyh = page->style_hashes ? page->nstyle_hashes : 0;

    /* Style attributes: do the final style rules block them? */
    int want_attr = 0;
    if ((page->style_attrs || page->sveltekit) && at[D_STYLE_ATTR] < 0) {
        if (nyh)
            want_attr = 1;
        else {
            long d = at[D_STYLE] >= 0 ? at[D_STYLE] : at[D_DEFAULT];
            want_attr = d >= 0 && !csp_allows_inline(&tok[dir[d].first + 1], dir[d].count - 1);
        }
    }

    csp_buf b = {0};
    csp_put(&b, "", 0);
    int first = 1, rc = 0;
    for (size_t d = 0; d < ndir && rc == 0; d++) {
        if (skip[d])
            continue;
        const csp_tok *name = &tok[dir[d].first];
        const char(*h)[CSP_HASH_SIZE] = NULL;
        size_t nh = 0;
        if ((long)d == at[D_SCRIPT] || (long)d == at[D_SCRIPT_ELEM]) {
            h = sh;
            nh = nsh;
        } else if ((long)d == at[D_STYLE] || (long)d == at[D_STYLE_ELEM]) {
            h = yh;
            nh = nyh;
        }
        if (!first)
            csp_put(&b, "; ", 2);
        first = 0;
        csp_put(&b, name->p, name->len);
        if (nh) {
            rc = csp_put_sources(&b, &tok[dir[d].first + 1], dir[d].count - 1, h, nh);
        } else {
            for (size_t k = 1; k < dir[d].count; k++) {
                csp_put(&b, " ", 1);
                csp_put(&b, tok[dir[d].first + k].p, tok[dir[d].first + k].len);
            }
        }
    }

    /* Directives the template lacks: from default-src, else 'self'. */
    csp_tok self_tok = {self, sizeof(self) - 1};
    const csp_tok *base = &self_tok;
    size_t nbase = 1;
    if (at[D_DEFAULT] >= 0) {
        base = &tok[dir[at[D_DEFAULT]].first + 1];
        nbase = dir[at[D_DEFAULT]].count - 1;
    }
    for (int k = 0; k < 2 && rc == 0; k++) {
        const char(*h)[CSP_HASH_SIZE] = k == 0 ? sh : yh;
        size_t nh = k == 0 ? nsh : nyh;
        if (!nh || at[k == 0 ? D_SCRIPT : D_STYLE] >= 0)
            continue;
        if (!first)
            csp_put(&b, "; ", 2);
        first = 0;
        csp_puts(&b, k == 0 ? "script-src" : "style-src");
        rc = csp_put_sources(&b, base, nbase, h, nh);
    }
    if (want_attr && rc == 0) {
        if (!first)
            csp_put(&b, "; ", 2);
        csp_puts(&b, "style-src-attr 'unsafe-inline'");
    }

    free(tok);
    free(dir);
    free(skip);
    if (rc || b.oom) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    return 0;
}

int csp_for_html(const char *html, size_t n, const char *template_policy, char **out)
{
    if (out)
        *out = NULL;
    csp_page page;
    int rc = csp_scan(html, n, &page);
    if (rc == 0)
        rc = csp_merge(template_policy, &page, out);
    csp_page_free(&page);
    return rc;
}
