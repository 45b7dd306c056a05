/*
 * fuzz_html_diff — the CSP scanner and the base-path rewriter must see the
 * same scripts a browser sees: both walk with html.c, and this target checks
 * that they agree on any input, before and after rewriting.
 *
 * Input: [u8 mode] from '\0' to '\0' html...
 * mode bit0: also walk the input as XML (rewrite_html_scripts RW_XML).
 *
 * Checked, on top of ASan and UBSan:
 *   - the walk: tokens in order, every offset inside the input, raw text
 *     after its start tag; it ends;
 *   - csp_scan's hashed script spans are in order, disjoint, inside the
 *     input, one per counted script, and each one's hash is in the list;
 *   - the spans rewrite_html_scripts marks as running are exactly csp_scan's
 *     spans (same offsets, same lengths, same order);
 *   - against a reference: a character-at-a-time transcription of the WHATWG
 *     tokenizer's states (below, written from the spec, sharing no code with
 *     html.c), the inline scripts are the same spans. The reference knows no
 *     foreign content, so inputs containing "svg" or "math" are left to the
 *     other checks, and it does not decode character references in type= or
 *     language= (neither does html.c: a documented limit), so such scripts
 *     are skipped too;
 *   - after rewrite_base(html, from, to) (when the bases are valid), csp_scan
 *     of the output finds the same number of inline scripts, and the k-th is
 *     exactly the k-th script text of the input rewritten on its own with the
 *     rules (JS or JSON) the rewriter reported: rewriting never moves a script
 *     boundary, and the policy hashes the bytes actually served.
 */
#include "fuzz_util.h"

#include "tomed/csp.h"
#include "tomed/html.h"
#include "tomed/rewrite.h"

static void check_walk(const char *s, size_t n, unsigned flags)
{
    html_walk w;
    html_tok t;
    size_t last = 0, steps = 0;
    int r;
    html_walk_init(&w, s, n, 0, flags);
    while ((r = html_walk_next(&w, &t)) > 0) {
        CHECK(t.start >= last && t.start < n);
        CHECK(t.name > t.start && t.name + t.name_len <= n && t.attrs <= t.end && t.end <= n);
        CHECK(t.type == HTML_TOK_START || t.type == HTML_TOK_END || t.type == HTML_TOK_PI);
        if (t.text_kind != HTML_TEXT_NONE) {
            CHECK(t.type == HTML_TOK_START);
            CHECK(t.text == t.end && t.text + t.text_len <= n);
        }
        last = t.start + 1;
        CHECK(++steps <= n);
    }
    CHECK(r == 0);
    html_walk_free(&w);
}

/* The hash csp.c gives a script text: the HTML parser's normalisation first. */
static void text_hash(const char *t, size_t n, char out[CSP_HASH_SIZE])
{
    size_t w;
    char *o = fuzz_html_normalise(t, n, &w);
    CHECK(csp_hash(o, w, out) == 0);
    free(o);
}

static void check_spans(const char *s, size_t n, const csp_page *pg)
{
    CHECK(pg->nscript_spans == pg->scripts);
    size_t end = 0;
    for (size_t k = 0; k < pg->nscript_spans; k++) {
        const csp_span *sp = &pg->script_spans[k];
        CHECK(sp->at >= end && sp->len <= n && sp->at <= n - sp->len);
        end = sp->at + sp->len;
        char h[CSP_HASH_SIZE];
        text_hash(s + sp->at, sp->len, h);
        int found = 0;
        for (size_t i = 0; i < pg->nscript_hashes && !found; i++)
            found = strcmp(pg->script_hashes[i], h) == 0;
        CHECKF(found, "script %zu at %zu+%zu not hashed", k, sp->at, sp->len);
    }
}


/* ---------------------------------------------------------------- reference */

enum {
    R_DATA, R_RCDATA, R_RAWTEXT, R_SCRIPT, R_PLAINTEXT, R_TAG_OPEN, R_END_TAG_OPEN, R_TAG_NAME,
    R_BEFORE_AN, R_AN, R_AFTER_AN, R_BEFORE_AV, R_AV_DQ, R_AV_SQ, R_AV_UQ, R_AFTER_AVQ, R_SELF_CLOSING,
    R_BOGUS, R_MARKUP, R_CSTART, R_CSTART_DASH, R_COMMENT, R_CLT, R_CLT_BANG, R_CLT_BANG_DASH,
    R_CLT_BANG_DASH_DASH, R_CEND_DASH, R_CEND, R_CEND_BANG,
    R_RAW_LT, R_RAW_END_OPEN, R_RAW_END_NAME, /* for RCDATA, RAWTEXT, script data (see raw) */
    R_SCRIPT_ESC_START, R_SCRIPT_ESC_START_DASH, R_ESC, R_ESC_DASH, R_ESC_DD, R_ESC_LT,
    R_ESC_END_OPEN, R_ESC_END_NAME, R_DESC_START, R_DESC, R_DESC_DASH, R_DESC_DD, R_DESC_LT,
    R_DESC_END,
};

typedef struct ref_span {
    size_t at, len;
} ref_span;

static int r_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }
static int r_alpha(unsigned char c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }
static unsigned char r_low(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

typedef struct ref_tag {
    int end;
    char name[16];
    size_t nlen; /* true length (name[] keeps the first 15 bytes) */
    /* attributes of a start tag that matter to a script, first one wins */
    int has_src, has_type, has_lang, amp;
    char type[64], lang[64];
    size_t type_len, lang_len, cur; /* cur: which attribute gets value bytes: 0 none, 1 type, 2 lang */
    char an[16];
    size_t anlen;
} ref_tag;

static int r_name_is(const ref_tag *t, const char *w)
{
    return t->nlen == strlen(w) && memcmp(t->name, w, t->nlen) == 0;
}

static void r_attr_done(ref_tag *t)
{
    /* the name is complete: decide where its value goes */
    t->cur = 0;
    int is_src = t->anlen == 3 && memcmp(t->an, "src", 3) == 0;
    int is_type = t->anlen == 4 && memcmp(t->an, "type", 4) == 0;
    int is_lang = t->anlen == 8 && memcmp(t->an, "language", 8) == 0;
    if (is_src) t->has_src = 1;
    if (is_type && !t->has_type) { t->has_type = 1; t->cur = 1; }
    if (is_lang && !t->has_lang) { t->has_lang = 1; t->cur = 2; }
}

static void r_value(ref_tag *t, unsigned char c)
{
    if (c == '&' && t->cur) t->amp = 1;
    if (t->cur == 1 && t->type_len < sizeof t->type) t->type[t->type_len++] = (char)c;
    else if (t->cur == 1) t->type_len = sizeof t->type + 1; /* too long: never a JS type */
    if (t->cur == 2 && t->lang_len < sizeof t->lang) t->lang[t->lang_len++] = (char)c;
    else if (t->cur == 2) t->lang_len = sizeof t->lang + 1;
}

static int r_ci(const char *v, size_t n, const char *w)
{
    if (n != strlen(w)) return 0;
    for (size_t i = 0; i < n; i++)
        if (r_low((unsigned char)v[i]) != (unsigned char)w[i]) return 0;
    return 1;
}

/* HTML "prepare the script element", steps for the type string. */
static int r_runs(const ref_tag *t)
{
    static const char *const js[] = {
        "application/ecmascript", "application/javascript", "application/x-ecmascript",
        "application/x-javascript", "text/ecmascript", "text/javascript", "text/javascript1.0",
        "text/javascript1.1", "text/javascript1.2", "text/javascript1.3", "text/javascript1.4",
        "text/javascript1.5", "text/jscript", "text/livescript", "text/x-ecmascript",
        "text/x-javascript", "module", "importmap", "speculationrules"};
    if (t->has_type) {
        size_t a = 0, b = t->type_len > sizeof t->type ? 0 : t->type_len;
        if (t->type_len == 0) return 1;
        if (t->type_len > sizeof t->type) return 0;
        while (a < b && r_ws((unsigned char)t->type[a])) a++;
        while (b > a && r_ws((unsigned char)t->type[b - 1])) b--;
        for (size_t k = 0; k < sizeof js / sizeof js[0]; k++)
            if (r_ci(t->type + a, b - a, js[k])) return 1;
        return 0;
    }
    if (!t->has_lang || t->lang_len == 0) return 1;
    if (t->lang_len > sizeof t->lang) return 0;
    char full[80] = "text/";
    memcpy(full + 5, t->lang, t->lang_len);
    for (size_t k = 0; k < 16; k++)
        if (r_ci(full, 5 + t->lang_len, js[k])) return 1;
    return 0;
}

/* The inline scripts of s as the reference tokenizer sees them; -1 when the
 * input is out of its scope (see the top of this file). */
static long ref_scripts(const char *s, size_t n, ref_span *out, size_t cap)
{
    int st = R_DATA, ret = R_DATA; /* ret: the text state a "</x" that is no end tag returns to */
    ref_tag t, last; /* the tag being built; the last start tag (the "appropriate" end tag) */
    char buf[16];
    size_t blen = 0, lt = 0, text = 0, k = 0;
    int in_script = 0, skip = 0;
    memset(&t, 0, sizeof t);
    memset(&last, 0, sizeof last);
    for (size_t i = 0; i <= n; i++) {
        int eof = i == n;
        unsigned char c = eof ? 0 : (unsigned char)s[i];
    again:
        switch (st) {
        case R_DATA:
            if (!eof && c == '<') { st = R_TAG_OPEN; lt = i; }
            break;
        case R_RCDATA:
        case R_RAWTEXT:
        case R_SCRIPT:
            if (!eof && c == '<') { ret = st; lt = i; st = st == R_SCRIPT ? R_RAW_LT + 100 : R_RAW_LT; }
            break;
        case R_PLAINTEXT:
            break;
        case R_TAG_OPEN:
            if (eof) break;
            if (c == '!') st = R_MARKUP;
            else if (c == '/') st = R_END_TAG_OPEN;
            else if (r_alpha(c)) { memset(&t, 0, sizeof t); st = R_TAG_NAME; goto again; }
            else if (c == '?') { st = R_BOGUS; goto again; }
            else { st = R_DATA; goto again; }
            break;
        case R_END_TAG_OPEN:
            if (eof) break;
            if (r_alpha(c)) { memset(&t, 0, sizeof t); t.end = 1; st = R_TAG_NAME; goto again; }
            else if (c == '>') st = R_DATA;
            else { st = R_BOGUS; goto again; }
            break;
        case R_TAG_NAME:
            if (eof) break;
            if (r_ws(c)) st = R_BEFORE_AN;
            else if (c == '/') st = R_SELF_CLOSING;
            else if (c == '>') goto emit;
            else { if (t.nlen < sizeof t.name - 1) t.name[t.nlen] = (char)r_low(c); t.nlen++; }
            break;
        case R_BEFORE_AN:
            if (eof) break;
            if (r_ws(c)) break;
            if (c == '/' || c == '>') { st = R_AFTER_AN; goto again; }
            t.anlen = 0;
            if (c == '=') { t.an[t.anlen++] = '='; st = R_AN; break; }
            st = R_AN;
            goto again;
        case R_AN:
            if (eof) break;
            if (r_ws(c) || c == '/' || c == '>') { r_attr_done(&t); st = R_AFTER_AN; goto again; }
            if (c == '=') { r_attr_done(&t); st = R_BEFORE_AV; break; }
            if (t.anlen < sizeof t.an) t.an[t.anlen++] = (char)r_low(c);
            else t.anlen = sizeof t.an; /* longer than any name we look at */
            break;
        case R_AFTER_AN:
            if (eof) break;
            if (r_ws(c)) break;
            if (c == '/') { t.cur = 0; st = R_SELF_CLOSING; }
            else if (c == '=') st = R_BEFORE_AV; /* the value of the attribute just named */
            else if (c == '>') goto emit;
            else { t.cur = 0; t.anlen = 0; st = R_AN; goto again; }
            break;
        case R_BEFORE_AV:
            if (eof) break;
            if (r_ws(c)) break;
            if (c == '"') st = R_AV_DQ;
            else if (c == '\'') st = R_AV_SQ;
            else if (c == '>') goto emit;
            else { st = R_AV_UQ; goto again; }
            break;
        case R_AV_DQ:
        case R_AV_SQ:
            if (eof) break;
            if (c == (st == R_AV_DQ ? '"' : '\'')) st = R_AFTER_AVQ;
            else r_value(&t, c);
            break;
        case R_AV_UQ:
            if (eof) break;
            if (r_ws(c)) st = R_BEFORE_AN;
            else if (c == '>') goto emit;
            else r_value(&t, c);
            break;
        case R_AFTER_AVQ:
            if (eof) break;
            if (r_ws(c)) st = R_BEFORE_AN;
            else if (c == '/') st = R_SELF_CLOSING;
            else if (c == '>') goto emit;
            else { st = R_BEFORE_AN; goto again; }
            break;
        case R_SELF_CLOSING:
            if (eof) break;
            if (c == '>') goto emit;
            st = R_BEFORE_AN;
            goto again;
        case R_BOGUS:
            if (!eof && c == '>') st = R_DATA;
            break;
        case R_MARKUP:
            if (n - i >= 2 && s[i] == '-' && s[i + 1] == '-') { i++; st = R_CSTART; }
            else { st = R_BOGUS; goto again; } /* DOCTYPE and [CDATA[ (HTML) end at '>' too */
            break;
        case R_CSTART:
            if (eof) break;
            if (c == '-') st = R_CSTART_DASH;
            else if (c == '>') st = R_DATA;
            else { st = R_COMMENT; goto again; }
            break;
        case R_CSTART_DASH:
            if (eof) break;
            if (c == '-') st = R_CEND;
            else if (c == '>') st = R_DATA;
            else { st = R_COMMENT; goto again; }
            break;
        case R_COMMENT:
            if (eof) break;
            if (c == '<') st = R_CLT;
            else if (c == '-') st = R_CEND_DASH;
            break;
        case R_CLT:
            if (!eof && c == '!') st = R_CLT_BANG;
            else if (!eof && c == '<') break;
            else { st = R_COMMENT; goto again; }
            break;
        case R_CLT_BANG:
            if (!eof && c == '-') st = R_CLT_BANG_DASH;
            else { st = R_COMMENT; goto again; }
            break;
        case R_CLT_BANG_DASH:
            if (!eof && c == '-') st = R_CLT_BANG_DASH_DASH;
            else { st = R_CEND_DASH; goto again; }
            break;
        case R_CLT_BANG_DASH_DASH:
            st = R_CEND;
            goto again;
        case R_CEND_DASH:
            if (eof) break;
            if (c == '-') st = R_CEND;
            else { st = R_COMMENT; goto again; }
            break;
        case R_CEND:
            if (eof) break;
            if (c == '>') st = R_DATA;
            else if (c == '!') st = R_CEND_BANG;
            else if (c == '-') break;
            else { st = R_COMMENT; goto again; }
            break;
        case R_CEND_BANG:
            if (eof) break;
            if (c == '-') st = R_CEND_DASH;
            else if (c == '>') st = R_DATA;
            else { st = R_COMMENT; goto again; }
            break;
        case R_RAW_LT:
        case R_RAW_LT + 100: /* script data less-than sign */
            if (!eof && c == '/') { st = R_RAW_END_OPEN; break; }
            if (st == R_RAW_LT + 100 && !eof && c == '!') { st = R_SCRIPT_ESC_START; break; }
            st = ret;
            goto again;
        case R_RAW_END_OPEN:
        case R_ESC_END_OPEN:
            if (!eof && r_alpha(c)) {
                blen = 0;
                st = st == R_RAW_END_OPEN ? R_RAW_END_NAME : R_ESC_END_NAME;
                goto again;
            }
            st = st == R_RAW_END_OPEN ? ret : R_ESC;
            goto again;
        case R_RAW_END_NAME:
        case R_ESC_END_NAME: {
            int back = st == R_RAW_END_NAME ? ret : R_ESC;
            if (!eof && r_alpha(c)) {
                if (blen < sizeof buf) buf[blen] = (char)r_low(c);
                blen++;
                break;
            }
            int appropriate = blen == last.nlen && blen < sizeof buf && memcmp(buf, last.name, blen) == 0;
            if (!eof && appropriate && (r_ws(c) || c == '/' || c == '>')) {
                memset(&t, 0, sizeof t);
                t.end = 1;
                memcpy(t.name, last.name, sizeof t.name);
                t.nlen = last.nlen;
                if (in_script) { /* the text ends at this end tag's '<' */
                    in_script = 2;
                    last.cur = lt; /* reuse: where the text ends */
                }
                st = r_ws(c) ? R_BEFORE_AN : c == '/' ? R_SELF_CLOSING : R_DATA;
                if (c == '>') goto emit;
                break;
            }
            st = back;
            goto again;
        }
        case R_SCRIPT_ESC_START:
            if (!eof && c == '-') { st = R_SCRIPT_ESC_START_DASH; break; }
            st = R_SCRIPT;
            goto again;
        case R_SCRIPT_ESC_START_DASH:
            if (!eof && c == '-') { st = R_ESC_DD; break; }
            st = R_SCRIPT;
            goto again;
        case R_ESC:
        case R_ESC_DASH:
        case R_ESC_DD:
            if (eof) break;
            if (c == '-') st = st == R_ESC ? R_ESC_DASH : R_ESC_DD;
            else if (c == '<') { lt = i; st = R_ESC_LT; }
            else if (c == '>' && st == R_ESC_DD) st = R_SCRIPT;
            else st = R_ESC;
            break;
        case R_ESC_LT:
            if (!eof && c == '/') { st = R_ESC_END_OPEN; break; }
            if (!eof && r_alpha(c)) { blen = 0; st = R_DESC_START; goto again; }
            st = R_ESC;
            goto again;
        case R_DESC_START:
        case R_DESC_END:
            if (!eof && (r_ws(c) || c == '/' || c == '>')) {
                int is = blen == 6 && memcmp(buf, "script", 6) == 0;
                st = st == R_DESC_START ? (is ? R_DESC : R_ESC) : (is ? R_ESC : R_DESC);
                break;
            }
            if (!eof && r_alpha(c)) {
                if (blen < sizeof buf) buf[blen] = (char)r_low(c);
                blen++;
                break;
            }
            st = st == R_DESC_START ? R_ESC : R_DESC;
            goto again;
        case R_DESC:
        case R_DESC_DASH:
        case R_DESC_DD:
            if (eof) break;
            if (c == '-') st = st == R_DESC ? R_DESC_DASH : R_DESC_DD;
            else if (c == '<') st = R_DESC_LT;
            else if (c == '>' && st == R_DESC_DD) st = R_SCRIPT;
            else st = R_DESC;
            break;
        case R_DESC_LT:
            if (!eof && c == '/') { blen = 0; st = R_DESC_END; break; }
            st = R_DESC;
            goto again;
        }
        continue;
    emit:
        /* a tag ends at i ('>'): the tree builder's tokenizer switches */
        st = R_DATA;
        if (t.end) {
            if (in_script == 2) {
                if (t.nlen == 6 && memcmp(t.name, "script", 6) == 0 && !last.has_src && r_runs(&last)) {
                    if (last.amp) skip = 1;
                    if (k < cap) { out[k].at = text; out[k].len = last.cur - text; }
                    k++;
                }
            }
            in_script = 0;
            continue;
        }
        last = t;
        in_script = 0;
        if (r_name_is(&t, "script")) { st = R_SCRIPT; in_script = 1; text = i + 1; }
        else if (r_name_is(&t, "style") || r_name_is(&t, "xmp") || r_name_is(&t, "iframe") ||
                 r_name_is(&t, "noembed") || r_name_is(&t, "noframes") || r_name_is(&t, "noscript"))
            st = R_RAWTEXT;
        else if (r_name_is(&t, "title") || r_name_is(&t, "textarea")) st = R_RCDATA;
        else if (r_name_is(&t, "plaintext")) st = R_PLAINTEXT;
        ret = st;
    }
    return skip ? -1 : (long)k;
}

static int ci_has(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= n; i++)
        if (r_ci(s + i, wl, w)) return 1;
    return 0;
}

static void check_reference(const char *s, size_t n, const csp_page *pg)
{
    if (ci_has(s, n, "svg") || ci_has(s, n, "math")) return;
    ref_span *r = malloc((pg->nscript_spans + 1) * sizeof *r);
    if (!r) abort();
    long k = ref_scripts(s, n, r, pg->nscript_spans + 1);
    if (k >= 0) {
        CHECKF((size_t)k == pg->nscript_spans, "reference: %ld inline scripts, csp.c: %zu", k,
               pg->nscript_spans);
        for (long i = 0; i < k; i++)
            CHECKF(r[i].at == pg->script_spans[i].at && r[i].len == pg->script_spans[i].len,
                   "script %ld: reference %zu+%zu, csp.c %zu+%zu", i, r[i].at, r[i].len,
                   pg->script_spans[i].at, pg->script_spans[i].len);
    }
    free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp f = {data, size};
    uint8_t mode = fdp_u8(&f);
    char *from = fdp_str(&f, '\0', NULL);
    char *to = fdp_str(&f, '\0', NULL);
    size_t n;
    char *rest = fdp_rest(&f, &n);
    char *html = malloc(n ? n : 1); /* exact size, no terminator */
    if (!html) abort();
    memcpy(html, rest, n);

    check_walk(html, n, 0);
    check_walk(html, n, HTML_WALK_NOSCRIPT);

    csp_page pg;
    CHECK(csp_scan(html, n, &pg) == 0);
    check_spans(html, n, &pg);
    check_reference(html, n, &pg);

    rewrite_span *sp = NULL;
    size_t nsp = 0, k = 0;
    CHECK(rewrite_html_scripts(html, n, RW_HTML, &sp, &nsp) == 0);
    size_t end = 0;
    for (size_t i = 0; i < nsp; i++) {
        CHECK(sp[i].at >= end && sp[i].len <= n && sp[i].at <= n - sp[i].len);
        CHECK(sp[i].kind == RW_JS || sp[i].kind == RW_JSON);
        end = sp[i].at + sp[i].len;
        if (!sp[i].runs) continue;
        CHECKF(k < pg.nscript_spans, "the rewriter runs a script at %zu that csp.c does not hash",
               sp[i].at);
        CHECKF(sp[i].at == pg.script_spans[k].at && sp[i].len == pg.script_spans[k].len,
               "script %zu: rewriter %zu+%zu, csp %zu+%zu", k, sp[i].at, sp[i].len,
               pg.script_spans[k].at, pg.script_spans[k].len);
        k++;
    }
    CHECKF(k == pg.nscript_spans, "csp.c hashes %zu scripts, the rewriter runs %zu",
           pg.nscript_spans, k);

    /* Rewrite, then scan what would be served. */
    char *out = NULL;
    size_t outn = 0, count = 0;
    if (rewrite_base(html, n, from, to, RW_HTML, &out, &outn, &count) == 0) {
        const char *served = out ? out : html;
        size_t sn = out ? outn : n;
        csp_page pg2;
        CHECK(csp_scan(served, sn, &pg2) == 0);
        CHECKF(pg2.nscript_spans == pg.nscript_spans, "%zu inline scripts before rewriting, %zu after",
               pg.nscript_spans, pg2.nscript_spans);
        k = 0;
        for (size_t i = 0; i < nsp; i++) {
            if (!sp[i].runs) continue;
            char *body = malloc(sp[i].len ? sp[i].len : 1);
            if (!body) abort();
            memcpy(body, html + sp[i].at, sp[i].len);
            char *bo = NULL;
            size_t bon = 0, bc = 0;
            CHECK(rewrite_base(body, sp[i].len, from, to, sp[i].kind, &bo, &bon, &bc) == 0);
            const char *want = bo ? bo : body;
            size_t wn = bo ? bon : sp[i].len;
            const csp_span *got = &pg2.script_spans[k++];
            CHECKF(got->len == wn && memcmp(served + got->at, want, wn) == 0,
                   "script at %zu: served text is not its own rewrite", sp[i].at);
            free(bo);
            free(body);
        }
        csp_page_free(&pg2);
        free(out);
    }
    free(sp);
    csp_page_free(&pg);

    if (mode & 1) {
        check_walk(html, n, HTML_WALK_XML);
        CHECK(rewrite_html_scripts(html, n, RW_XML, &sp, &nsp) == 0);
        end = 0;
        for (size_t i = 0; i < nsp; i++) {
            CHECK(sp[i].at >= end && sp[i].at + sp[i].len <= n);
            end = sp[i].at + sp[i].len;
        }
        free(sp);
    }

    free(html);
    free(rest);
    free(from);
    free(to);
    return 0;
}
