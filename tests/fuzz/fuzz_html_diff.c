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
