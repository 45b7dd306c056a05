/*
 * fuzz_csp — csp_scan, csp_merge and csp_for_html on arbitrary HTML and
 * policy templates.
 *
 * Input: [u8 mode] template '\0' html...
 * mode bit0: wrap — the html part becomes the text T of one <script> and one
 * <style> in an otherwise fixed page (any '<' in T removed), so the expected
 * hashes are known: SHA-256 of T after the HTML parser's normalisation.
 *
 * Checked: hashes are well-formed and distinct, at most one per element;
 * the policy has no control byte, names each directive once, keeps the
 * template's directives in order and their sources (but where hashes go),
 * and its script-src / style-src (and -elem) carry every hash and neither
 * 'unsafe-inline' nor 'none'; csp_for_html agrees with scan + merge.
 */
#include "fuzz_util.h"

#include <strings.h>

#include "tomed/csp.h"

static int ci_eq(const char *a, size_t an, const char *b)
{
    return an == strlen(b) && strncasecmp(a, b, an) == 0;
}

static void check_hash(const char *h)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    CHECK(strlen(h) == CSP_HASH_SIZE - 1);
    CHECK(memcmp(h, "'sha256-", 8) == 0 && h[CSP_HASH_SIZE - 2] == '\'');
    for (int i = 8; i < CSP_HASH_SIZE - 2; i++) CHECK(strchr(b64, h[i]) != NULL);
}

static void check_list(char (*h)[CSP_HASH_SIZE], size_t n, size_t elements)
{
    CHECK(n <= elements);
    CHECK(n == 0 || h != NULL);
    for (size_t i = 0; i < n; i++) check_hash(h[i]);
    /* distinct: sort a copy */
    char (*c)[CSP_HASH_SIZE] = malloc((n + 1) * CSP_HASH_SIZE);
    if (!c) abort();
    if (n) memcpy(c, h, n * CSP_HASH_SIZE);
    qsort(c, n, CSP_HASH_SIZE, (int (*)(const void *, const void *))strcmp);
    for (size_t i = 1; i < n; i++) CHECK(strcmp(c[i - 1], c[i]) != 0);
    free(c);
}

/* A policy split into directives: name and sources, pointers into a copy. */
typedef struct tok {
    const char *p;
    size_t len;
} tok;

typedef struct dir {
    tok name;
    const tok *src;
    size_t nsrc;
} dir;

typedef struct policy {
    tok *toks;
    dir *dirs;
    size_t ndirs;
} policy;

/* p is modified (strtok). */
static void parse_policy(char *p, policy *pol)
{
    size_t cap = strlen(p) / 2 + 2, nt = 0;
    pol->toks = malloc(cap * sizeof *pol->toks);
    pol->dirs = malloc(cap * sizeof *pol->dirs);
    pol->ndirs = 0;
    if (!pol->toks || !pol->dirs) abort();
    char *save = NULL;
    for (char *part = strtok_r(p, ";", &save); part; part = strtok_r(NULL, ";", &save)) {
        char *s2 = NULL;
        size_t first = nt;
        for (char *t = strtok_r(part, " ", &s2); t; t = strtok_r(NULL, " ", &s2)) {
            CHECK(nt < cap);
            pol->toks[nt].p = t;
            pol->toks[nt].len = strlen(t);
            nt++;
        }
        if (nt == first) continue;
        dir *d = &pol->dirs[pol->ndirs++];
        d->name = pol->toks[first];
        d->src = &pol->toks[first + 1];
        d->nsrc = nt - first - 1;
    }
}

static void policy_free(policy *pol)
{
    free(pol->toks);
    free(pol->dirs);
}

static int tok_is(const tok *t, const char *w)
{
    return ci_eq(t->p, t->len, w);
}

static int same_name(const tok *a, const tok *b)
{
    return a->len == b->len && strncasecmp(a->p, b->p, a->len) == 0;
}

static const dir *find_dir(const policy *pol, const char *name)
{
    for (size_t i = 0; i < pol->ndirs; i++)
        if (tok_is(&pol->dirs[i].name, name)) return &pol->dirs[i];
    return NULL;
}

static void check_hashed(const dir *d, char (*h)[CSP_HASH_SIZE], size_t nh, const char *text)
{
    for (size_t k = 0; k < d->nsrc; k++)
        CHECKF(!tok_is(&d->src[k], "'unsafe-inline'") && !tok_is(&d->src[k], "'none'"),
               "%.*s keeps %.*s: %s", (int)d->name.len, d->name.p, (int)d->src[k].len, d->src[k].p, text);
    for (size_t i = 0; i < nh; i++) {
        int found = 0;
        for (size_t k = 0; k < d->nsrc && !found; k++)
            found = d->src[k].len == strlen(h[i]) && memcmp(d->src[k].p, h[i], d->src[k].len) == 0;
        CHECKF(found, "%.*s lacks %s: %s", (int)d->name.len, d->name.p, h[i], text);
    }
}

/* Names seen so far, for "each name once" without a quadratic scan. */
static int name_cmp(const void *a, const void *b)
{
    const tok *x = *(const tok *const *)a, *y = *(const tok *const *)b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = strncasecmp(x->p, y->p, m);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Name order, then position: the earliest directive of a name sorts first. */
static int name_pos_cmp(const void *a, const void *b)
{
    int c = name_cmp(a, b);
    if (c) return c;
    const tok *x = *(const tok *const *)a, *y = *(const tok *const *)b;
    return (x->p > y->p) - (x->p < y->p);
}

static size_t dir_index(const policy *pol, const tok *name)
{
    for (size_t lo = 0, hi = pol->ndirs; lo < hi;) { /* dirs are in text order */
        size_t mid = lo + (hi - lo) / 2;
        if (pol->dirs[mid].name.p == name->p) return mid;
        if (pol->dirs[mid].name.p < name->p) lo = mid + 1;
        else hi = mid;
    }
    abort();
}

static void check_policy(const char *tmpl, const csp_page *pg, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        CHECKF(*p >= 0x20 && *p != 0x7f, "control byte %#x in the policy", *p);
    char *pc = fuzz_dup(text), *tc = fuzz_dup(tmpl);
    /* the template, split the way csp.c documents: every control byte separates */
    for (char *q = tc; *q; q++)
        if ((unsigned char)*q <= ' ' || *q == 0x7f) *q = ' ';
    policy out, in;
    parse_policy(pc, &out);
    parse_policy(tc, &in);

    /* each name once */
    const tok **names = malloc((out.ndirs + 1) * sizeof *names);
    if (!names) abort();
    for (size_t i = 0; i < out.ndirs; i++) names[i] = &out.dirs[i].name;
    qsort(names, out.ndirs, sizeof *names, name_cmp);
    for (size_t i = 1; i < out.ndirs; i++)
        CHECKF(!same_name(names[i - 1], names[i]), "directive %.*s twice: %s", (int)names[i]->len,
               names[i]->p, text);
    free(names);

    /* the template's directives first, in order, the first of repeated names
     * kept; their sources kept unless the directive takes hashes */
    unsigned char *repeat = calloc(in.ndirs + 1, 1);
    const tok **byname = malloc((in.ndirs + 1) * sizeof *byname);
    if (!repeat || !byname) abort();
    for (size_t i = 0; i < in.ndirs; i++) byname[i] = &in.dirs[i].name;
    /* stable by position within a name: names point into one array in order */
    qsort(byname, in.ndirs, sizeof *byname, name_pos_cmp);
    for (size_t i = 1; i < in.ndirs; i++)
        if (same_name(byname[i - 1], byname[i])) repeat[dir_index(&in, byname[i])] = 1;
    free(byname);
    size_t k = 0;
    for (size_t i = 0; i < in.ndirs; i++) {
        const dir *d = &in.dirs[i];
        if (repeat[i]) continue;
        CHECKF(k < out.ndirs && out.dirs[k].name.len == d->name.len &&
                   memcmp(out.dirs[k].name.p, d->name.p, d->name.len) == 0,
               "template directive %.*s lost or moved: %s", (int)d->name.len, d->name.p, text);
        int hashed = (pg->nscript_hashes && (tok_is(&d->name, "script-src") || tok_is(&d->name, "script-src-elem"))) ||
                     (pg->nstyle_hashes && (tok_is(&d->name, "style-src") || tok_is(&d->name, "style-src-elem")));
        if (!hashed) {
            CHECK(out.dirs[k].nsrc == d->nsrc);
            for (size_t s = 0; s < d->nsrc; s++)
                CHECK(out.dirs[k].src[s].len == d->src[s].len &&
                      memcmp(out.dirs[k].src[s].p, d->src[s].p, d->src[s].len) == 0);
        }
        k++;
    }
    free(repeat);
    /* then only what csp.c adds */
    for (; k < out.ndirs; k++) {
        const tok *nm = &out.dirs[k].name;
        CHECKF(tok_is(nm, "script-src") || tok_is(nm, "style-src") || tok_is(nm, "style-src-attr"),
               "unexpected directive %.*s: %s", (int)nm->len, nm->p, text);
    }

    static const char *const sdirs[] = {"script-src", "script-src-elem"};
    static const char *const ydirs[] = {"style-src", "style-src-elem"};
    for (int i = 0; i < 2; i++) {
        const dir *d = find_dir(&out, sdirs[i]);
        if (pg->nscript_hashes) {
            if (i == 0) CHECKF(d != NULL, "no script-src for %zu hashes: %s", pg->nscript_hashes, text);
            if (d) check_hashed(d, pg->script_hashes, pg->nscript_hashes, text);
        }
        d = find_dir(&out, ydirs[i]);
        if (pg->nstyle_hashes) {
            if (i == 0) CHECKF(d != NULL, "no style-src for %zu hashes: %s", pg->nstyle_hashes, text);
            if (d) check_hashed(d, pg->style_hashes, pg->nstyle_hashes, text);
        }
    }
    /* style attributes stay usable when <style> hashes would block them */
    if (pg->nstyle_hashes && (pg->style_attrs || pg->sveltekit) && !find_dir(&in, "style-src-attr"))
        CHECKF(strstr(text, "style-src-attr 'unsafe-inline'") != NULL, "style attributes blocked: %s", text);
    policy_free(&out);
    policy_free(&in);
    free(pc);
    free(tc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp f = {data, size};
    uint8_t mode = fdp_u8(&f);
    char *tmpl = fdp_str(&f, '\0', NULL);
    size_t n;
    char *rest = fdp_rest(&f, &n);
    char *html;
    size_t hn;
    char *t = NULL;
    size_t tn = 0;

    if (mode & 1) {
        static const char pre[] = "<!doctype html><html><head><script>", mid[] = "</script><style>",
                          post[] = "</style></head><body></body></html>";
        t = malloc(n + 1);
        if (!t) abort();
        for (size_t i = 0; i < n; i++)
            if (rest[i] != '<') t[tn++] = rest[i];
        hn = strlen(pre) + tn + strlen(mid) + tn + strlen(post);
        html = malloc(hn);
        if (!html) abort();
        size_t w = 0;
        memcpy(html + w, pre, strlen(pre)); w += strlen(pre);
        memcpy(html + w, t, tn); w += tn;
        memcpy(html + w, mid, strlen(mid)); w += strlen(mid);
        memcpy(html + w, t, tn); w += tn;
        memcpy(html + w, post, strlen(post));
    } else {
        hn = n;
        html = malloc(n ? n : 1); /* exact size, no terminator */
        if (!html) abort();
        memcpy(html, rest, n);
    }

    csp_page pg;
    CHECK(csp_scan(html, hn, &pg) == 0);
    check_list(pg.script_hashes, pg.nscript_hashes, pg.scripts);
    check_list(pg.style_hashes, pg.nstyle_hashes, pg.styles);
    if (mode & 1) {
        size_t nn;
        char *norm = fuzz_html_normalise(t, tn, &nn);
        char want[CSP_HASH_SIZE];
        CHECK(csp_hash(norm, nn, want) == 0);
        CHECKF(pg.scripts == 1 && pg.nscript_hashes == 1 && strcmp(pg.script_hashes[0], want) == 0,
               "script text of %zu bytes: %zu scripts, %zu hashes", tn, pg.scripts, pg.nscript_hashes);
        CHECKF(pg.styles == 1 && pg.nstyle_hashes == 1 && strcmp(pg.style_hashes[0], want) == 0,
               "style text of %zu bytes: %zu styles, %zu hashes", tn, pg.styles, pg.nstyle_hashes);
        free(norm);
    }

    char *policy = NULL, *policy2 = NULL;
    CHECK(csp_merge(tmpl, &pg, &policy) == 0 && policy != NULL);
    check_policy(tmpl, &pg, policy);
    CHECK(csp_for_html(html, hn, tmpl, &policy2) == 0 && policy2 != NULL);
    CHECK(strcmp(policy, policy2) == 0);
    free(policy2);
    free(policy);
    /* no template at all */
    CHECK(csp_merge(NULL, &pg, &policy) == 0 && policy != NULL);
    check_policy("", &pg, policy);
    free(policy);
    csp_page_free(&pg);

    free(t);
    free(html);
    free(rest);
    free(tmpl);
    return 0;
}
