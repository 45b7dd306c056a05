/*
 * siterules — parse and apply the site's `_redirects` and `_headers` files
 * (formats in include/tomed/siterules.h).
 *
 * Patterns are matched segment by segment: a literal segment, a `:name`
 * segment (any one non-empty segment) or a final `*` (the rest). That keeps
 * a match linear in the path's length whatever a rule file holds; the
 * Cloudflare forms with `*` or `:name` inside a segment are refused with a
 * warning rather than matched slowly or wrongly.
 *
 * Ownership: a siterules owns every string it hands out, and the header
 * sets siterules_headers_for builds; all of it goes with siterules_free.
 */
#include "tomed/siterules.h"
#include "tomed/path.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CAPS_MAX 8      /* :name segments in one pattern */
#define SIG_CACHE 64    /* distinct header-rule combinations shared between files */

typedef struct redirect_rule {
    unsigned line;
    char *from;         /* normalised (decoded) pattern */
    char *to;           /* as written */
    unsigned status;
} redirect_rule;

typedef struct header_rule {
    unsigned line;
    char *pattern;
    size_t n;
    siterules_header ops[SITERULES_HEADERS_MAX]; /* strings owned by the rule */
} header_rule;

typedef struct sig_entry {
    char *sig;          /* the matched rules' indexes, as text */
    siterules_headerset *set;
} sig_entry;

/* Redirect rules by their first segment, so a request is matched against
 * the few rules that can apply rather than all of them (a thousand rules
 * cost ~25 us a request otherwise). Rules whose first segment is `:name`
 * or `*` can match anything: they are in `wild`. Both lists keep file
 * order, which decides between rules. */
typedef struct first_seg {
    const char *seg;    /* into the rule's from */
    size_t len;
    size_t rule;        /* index into redirects */
} first_seg;

struct siterules {
    redirect_rule *redirects;
    size_t n_redirects;
    first_seg *by_seg;  /* sorted by (segment, rule) */
    size_t n_by_seg;
    size_t *wild;       /* rule indexes, ascending */
    size_t n_wild;
    header_rule *headers;
    size_t n_headers;
    char **warnings;
    size_t n_warnings;
    void **owned;       /* header sets and joined values, freed with r */
    size_t n_owned, cap_owned;
    sig_entry cache[SIG_CACHE];
    size_t n_cache;
    int oom;
};

typedef struct capture {
    const char *name, *val;
    size_t name_len, len;
} capture;

/* ---- small helpers ------------------------------------------------------ */

static void warn(siterules *r, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void warn(siterules *r, const char *file, unsigned line, const char *fmt, ...)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%s:%u: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    char **w = realloc(r->warnings, (r->n_warnings + 1) * sizeof *w);
    char *copy = strdup(msg);
    if (!w || !copy) {
        free(copy);
        if (w)
            r->warnings = w;
        r->oom = 1;
        return;
    }
    r->warnings = w;
    r->warnings[r->n_warnings++] = copy;
}

static void *own(siterules *r, void *p)
{
    if (!p) {
        r->oom = 1;
        return NULL;
    }
    if (r->n_owned == r->cap_owned) {
        size_t cap = r->cap_owned ? r->cap_owned * 2 : 16;
        void **v = realloc(r->owned, cap * sizeof *v);
        if (!v) {
            free(p);
            r->oom = 1;
            return NULL;
        }
        r->owned = v;
        r->cap_owned = cap;
    }
    r->owned[r->n_owned++] = p;
    return p;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static int is_tchar(char c)
{
    return is_name_char(c) || (c != '\0' && strchr("!#$%&'*+-.^`|~", c) != NULL);
}

/* No control bytes (tabs are spaces here): they could split a header. */
static const char *bad_byte(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
            return s + i;
    return NULL;
}

/* The fields of a line, split on spaces and tabs; returns how many (at most cap). */
static size_t split_fields(char *line, char **f, size_t cap)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        while (is_space(*p))
            p++;
        if (!*p)
            return n;
        if (n == cap)
            return cap + 1;
        f[n++] = p;
        while (*p && !is_space(*p))
            p++;
        if (*p)
            *p++ = '\0';
    }
}

/*
 * Check a pattern and normalise it (percent-decoding, as request paths are
 * decoded before matching). Returns a malloc'd copy, or NULL with why set.
 */
static char *pattern_compile(const char *pat, const char **why)
{
    if (strncmp(pat, "http://", 7) == 0 || strncmp(pat, "https://", 8) == 0) {
        *why = "rules for a whole domain are not supported; use a site path such as /old";
        return NULL;
    }
    if (pat[0] != '/') {
        *why = "the path must start with \"/\"";
        return NULL;
    }
    if (strchr(pat, '?')) {
        *why = "query strings in a pattern are not supported";
        return NULL;
    }
    char norm[SITERULES_LINE_MAX + 1];
    size_t len = 0;
    if (path_normalize(pat, strlen(pat), SITERULES_LINE_MAX, norm, sizeof norm, &len) != PATH_OK) {
        *why = "the path is not a valid URL path (a \"..\" above the root, a control byte or a bad escape)";
        return NULL;
    }
    unsigned caps = 0;
    for (const char *seg = norm + 1; seg <= norm + len;) {
        const char *end = memchr(seg, '/', (size_t)(norm + len - seg));
        if (!end)
            end = norm + len;
        const char *star = memchr(seg, '*', (size_t)(end - seg));
        if (star && (end - seg != 1 || end != norm + len)) {
            *why = "\"*\" must be the whole last segment, as in /blog/*";
            return NULL;
        }
        const char *colon = memchr(seg, ':', (size_t)(end - seg));
        if (colon) {
            if (colon != seg || end - seg < 2 || !is_name_start(seg[1])) {
                *why = "a placeholder must be a whole segment, as in /news/:year";
                return NULL;
            }
            for (const char *c = seg + 1; c < end; c++)
                if (!is_name_char(*c)) {
                    *why = "a placeholder name is letters, digits and \"_\"";
                    return NULL;
                }
            if (++caps > CAPS_MAX) {
                *why = "more than 8 placeholders";
                return NULL;
            }
        }
        seg = end + 1;
    }
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, norm, len);
        copy[len] = '\0';
    }
    *why = copy ? NULL : "out of memory";
    return copy;
}

/* Match a compiled pattern against a site path, ignoring one trailing slash
 * on each; fills caps (n set in *ncaps). Linear in the path. */
static int pattern_match(const char *pat, const char *path, capture *caps, size_t *ncaps)
{
    size_t plen = strlen(pat), slen = strlen(path);
    if (plen > 1 && pat[plen - 1] == '/')
        plen--;
    if (slen > 1 && path[slen - 1] == '/')
        slen--;
    const char *p = pat, *pe = pat + plen, *s = path, *se = path + slen;
    *ncaps = 0;
    while (p < pe) {
        const char *pseg = p + 1, *pend = memchr(pseg, '/', (size_t)(pe - pseg));
        if (!pend)
            pend = pe;
        if (pend - pseg == 1 && *pseg == '*') {
            capture *c = &caps[(*ncaps)++];
            c->name = "splat";
            c->name_len = 5;
            if (s == se) {
                c->val = s;
                c->len = 0;
            } else if (*s == '/') {
                c->val = s + 1;
                c->len = (size_t)(se - s - 1);
            } else {
                return 0;
            }
            return 1;
        }
        if (s >= se || *s != '/')
            return 0;
        const char *sseg = s + 1, *send = memchr(sseg, '/', (size_t)(se - sseg));
        if (!send)
            send = se;
        if (pseg < pend && *pseg == ':') {
            if (send == sseg)
                return 0;
            capture *c = &caps[(*ncaps)++];
            c->name = pseg + 1;
            c->name_len = (size_t)(pend - pseg - 1);
            c->val = sseg;
            c->len = (size_t)(send - sseg);
        } else if (pend - pseg != send - sseg || memcmp(pseg, sseg, (size_t)(pend - pseg)) != 0) {
            return 0;
        }
        p = pend;
        s = send;
    }
    return s == se;
}

/* ---- _redirects --------------------------------------------------------- */

static int parse_status(const char *s, unsigned *status)
{
    static const unsigned ok[] = {301, 302, 303, 307, 308};
    size_t n = strlen(s);
    if (n == 4 && s[3] == '!')
        n = 3; /* Netlify's "force": rules always come first here */
    if (n != 3 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9')
        return -1;
    *status = (unsigned)((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (ok[i] == *status)
            return 0;
    return -2;
}

static void redirect_line(siterules *r, unsigned ln, char *line, size_t *cap)
{
    char *f[4];
    size_t n = split_fields(line, f, 3);
    const char *why = NULL;
    unsigned status = 301;
    if (n < 2) {
        warn(r, "_redirects", ln, "expected \"from to [status]\", got one field");
        return;
    }
    if (n > 3 || (n == 3 && strchr(f[2], '='))) {
        warn(r, "_redirects", ln, "conditions and query-parameter matching are not supported; "
                                  "expected \"from to [status]\"");
        return;
    }
    if (strchr(f[1], '=') && f[1][0] != '/' && strncmp(f[1], "http", 4) != 0) {
        warn(r, "_redirects", ln, "query-parameter matching is not supported");
        return;
    }
    if (n == 3) {
        int rc = parse_status(f[2], &status);
        if (rc == -1) {
            warn(r, "_redirects", ln, "status \"%.16s\" is not a number", f[2]);
            return;
        }
        if (rc == -2) {
            warn(r, "_redirects", ln, "status %u is not supported: %s", status,
                 status == 200 ? "rewrites (200) are not, only redirects (301, 302, 303, 307, 308)"
                               : "use 301, 302, 303, 307 or 308");
            return;
        }
    }
    if (f[1][0] != '/' && strncmp(f[1], "http://", 7) != 0 && strncmp(f[1], "https://", 8) != 0) {
        warn(r, "_redirects", ln, "the target must be a path starting with \"/\" or an http(s):// URL");
        return;
    }
    if (strncmp(f[1], "//", 2) == 0) {
        warn(r, "_redirects", ln, "a target starting with \"//\" would leave the site; write https://");
        return;
    }
    char *from = pattern_compile(f[0], &why);
    if (!from) {
        warn(r, "_redirects", ln, "%s", why);
        return;
    }
    char *to = strdup(f[1]);
    if (*cap == r->n_redirects) {
        size_t nc = *cap ? *cap * 2 : 16;
        redirect_rule *v = realloc(r->redirects, nc * sizeof *v);
        if (!v) {
            free(from);
            free(to);
            r->oom = 1;
            return;
        }
        r->redirects = v;
        *cap = nc;
    }
    if (!to) {
        free(from);
        r->oom = 1;
        return;
    }
    r->redirects[r->n_redirects++] = (redirect_rule){ln, from, to, status};
}

/* ---- _headers ----------------------------------------------------------- */

/* Headers tomed sets from the file itself or the protocol: a rule that
 * changed them would make responses lie about their bodies. */
static const char *const reserved[] = {
    "content-length", "content-encoding", "content-range", "transfer-encoding", "etag",
    "last-modified", "vary", "accept-ranges", "connection", "keep-alive", "upgrade", "te",
    "trailer", "date", "location",
};

static int header_reserved(const char *name)
{
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return 1;
    return 0;
}

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar(s[i]))
            return 0;
    return 1;
}

static void header_line(siterules *r, unsigned ln, char *line, header_rule *cur)
{
    char *p = line;
    while (is_space(*p))
        p++;
    size_t len = strlen(p);
    while (len && is_space(p[len - 1]))
        p[--len] = '\0';
    int remove = *p == '!';
    char *name = p + remove, *value = NULL;
    while (remove && is_space(*name))
        name++;
    size_t nlen;
    if (remove) {
        nlen = strlen(name);
    } else {
        char *colon = strchr(p, ':');
        if (!colon) {
            warn(r, "_headers", ln, "expected \"Name: value\" or \"! Name\"");
            return;
        }
        nlen = (size_t)(colon - p);
        while (nlen && is_space(p[nlen - 1]))
            nlen--;
        value = colon + 1;
        while (is_space(*value))
            value++;
    }
    if (!valid_name(name, nlen)) {
        warn(r, "_headers", ln, "\"%.*s\" is not a header name", (int)(nlen > 64 ? 64 : nlen), name);
        return;
    }
    name[nlen] = '\0';
    if (header_reserved(name)) {
        warn(r, "_headers", ln, "%s is set by tomed from the file and cannot be changed here", name);
        return;
    }
    if (value && !*value) {
        warn(r, "_headers", ln, "%s has no value (\"! %s\" removes a header)", name, name);
        return;
    }
    if (cur->n == SITERULES_HEADERS_MAX) {
        warn(r, "_headers", ln, "more than %d headers for one path", SITERULES_HEADERS_MAX);
        return;
    }
    char *n_copy = strdup(name), *v_copy = value ? strdup(value) : NULL;
    if (!n_copy || (value && !v_copy)) {
        free(n_copy);
        free(v_copy);
        r->oom = 1;
        return;
    }
    cur->ops[cur->n++] = (siterules_header){n_copy, v_copy};
}

/* ---- both files --------------------------------------------------------- */

enum which { REDIRECTS, HEADERS };

static void parse_file(siterules *r, enum which which, const char *buf, size_t len)
{
    const char *file = which == REDIRECTS ? "_redirects" : "_headers";
    char line[SITERULES_LINE_MAX + 1];
    size_t cap = 0;
    header_rule *cur = NULL;
    int skipping = 0; /* header lines under a pattern that was refused */
    unsigned ln = 0;
    for (size_t off = 0; off < len;) {
        const char *nl = memchr(buf + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (buf + off)) : len - off;
        const char *s = buf + off;
        off += n + (nl ? 1 : 0);
        ln++;
        if (n && s[n - 1] == '\r')
            n--;
        if (n > SITERULES_LINE_MAX) {
            warn(r, file, ln, "longer than %d bytes", SITERULES_LINE_MAX);
            continue;
        }
        memcpy(line, s, n);
        line[n] = '\0';
        const char *t = line;
        while (is_space(*t))
            t++;
        if (!*t || *t == '#')
            continue;
        const char *bad = memchr(line, '\0', n) ? line : bad_byte(line, n);
        if (bad) {
            warn(r, file, ln, "holds a control byte");
            continue;
        }
        if (which == REDIRECTS) {
            if (r->n_redirects == SITERULES_RULES_MAX) {
                warn(r, file, ln, "more than %d rules: this line and the rest are ignored",
                     SITERULES_RULES_MAX);
                return;
            }
            redirect_line(r, ln, line, &cap);
            continue;
        }
        if (is_space(line[0])) {
            if (skipping)
                continue;
            if (!cur) {
                warn(r, file, ln, "a header line before any path");
                skipping = 1;
                continue;
            }
            header_line(r, ln, line, cur);
            continue;
        }
        cur = NULL;
        skipping = 1;
        if (r->n_headers == SITERULES_RULES_MAX) {
            warn(r, file, ln, "more than %d rules: this line and the rest are ignored",
                 SITERULES_RULES_MAX);
            return;
        }
        char *f[2];
        if (split_fields(line, f, 1) != 1) {
            warn(r, file, ln, "a path pattern is one word; header lines are indented");
            continue;
        }
        const char *why = NULL;
        char *pat = pattern_compile(f[0], &why);
        if (!pat) {
            warn(r, file, ln, "%s", why);
            continue;
        }
        if (cap == r->n_headers) {
            size_t nc = cap ? cap * 2 : 16;
            header_rule *v = realloc(r->headers, nc * sizeof *v);
            if (!v) {
                free(pat);
                r->oom = 1;
                return;
            }
            r->headers = v;
            cap = nc;
        }
        cur = &r->headers[r->n_headers++];
        memset(cur, 0, sizeof *cur);
        cur->line = ln;
        cur->pattern = pat;
        skipping = 0;
    }
}

/* The first segment of a site path or pattern ("/a/b" -> "a"; "/" -> ""). */
static const char *first_segment(const char *p, size_t *len)
{
    const char *s = p + 1, *end = strchr(s, '/');
    *len = end ? (size_t)(end - s) : strlen(s);
    return s;
}

static int cmp_seg(const void *a, const void *b)
{
    const first_seg *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int c = memcmp(x->seg, y->seg, x->len);
    return c ? c : x->rule < y->rule ? -1 : x->rule > y->rule;
}

static void index_redirects(siterules *r)
{
    if (r->n_redirects == 0)
        return;
    r->by_seg = malloc(r->n_redirects * sizeof *r->by_seg);
    r->wild = malloc(r->n_redirects * sizeof *r->wild);
    if (!r->by_seg || !r->wild) {
        r->oom = 1;
        return;
    }
    for (size_t i = 0; i < r->n_redirects; i++) {
        size_t len;
        const char *seg = first_segment(r->redirects[i].from, &len);
        if (len && (seg[0] == ':' || (len == 1 && seg[0] == '*')))
            r->wild[r->n_wild++] = i;
        else
            r->by_seg[r->n_by_seg++] = (first_seg){seg, len, i};
    }
    qsort(r->by_seg, r->n_by_seg, sizeof *r->by_seg, cmp_seg);
}

siterules *siterules_parse(const char *redirects, size_t redirects_len, const char *headers,
                           size_t headers_len)
{
    siterules *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (redirects)
        parse_file(r, REDIRECTS, redirects, redirects_len);
    if (headers)
        parse_file(r, HEADERS, headers, headers_len);
    if (!r->oom)
        index_redirects(r);
    if (r->oom) {
        siterules_free(r);
        return NULL;
    }
    return r;
}

void siterules_free(siterules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_redirects; i++) {
        free(r->redirects[i].from);
        free(r->redirects[i].to);
    }
    free(r->redirects);
    free(r->by_seg);
    free(r->wild);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].pattern);
        for (size_t j = 0; j < r->headers[i].n; j++) {
            free((void *)(uintptr_t)r->headers[i].ops[j].name);
            free((void *)(uintptr_t)r->headers[i].ops[j].value);
        }
    }
    free(r->headers);
    for (size_t i = 0; i < r->n_warnings; i++)
        free(r->warnings[i]);
    free(r->warnings);
    for (size_t i = 0; i < r->n_owned; i++)
        free(r->owned[i]);
    free(r->owned);
    for (size_t i = 0; i < r->n_cache; i++)
        free(r->cache[i].sig);
    free(r);
}

size_t siterules_redirect_count(const siterules *r)
{
    return r ? r->n_redirects : 0;
}

size_t siterules_header_rule_count(const siterules *r)
{
    return r ? r->n_headers : 0;
}

size_t siterules_warning_count(const siterules *r)
{
    return r ? r->n_warnings : 0;
}

const char *siterules_warning(const siterules *r, size_t i)
{
    return r && i < r->n_warnings ? r->warnings[i] : NULL;
}

/* ---- describing --------------------------------------------------------- */

typedef struct text {
    char *p;
    size_t len, cap;
    int oom;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || t->oom)
        return;
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = (t->len + (size_t)n + 1) * 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->oom = 1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

char *siterules_describe(const siterules *r)
{
    text t = {NULL, 0, 0, 0};
    put(&t, "%s", "");
    for (size_t i = 0; r && i < r->n_redirects; i++) {
        const redirect_rule *x = &r->redirects[i];
        put(&t, "_redirects:%u: %s -> %s %u\n", x->line, x->from, x->to, x->status);
    }
    for (size_t i = 0; r && i < r->n_headers; i++) {
        const header_rule *h = &r->headers[i];
        put(&t, "_headers:%u: %s:", h->line, h->pattern);
        for (size_t j = 0; j < h->n; j++)
            if (h->ops[j].value)
                put(&t, "%s %s: %s", j ? ";" : "", h->ops[j].name, h->ops[j].value);
            else
                put(&t, "%s ! %s", j ? ";" : "", h->ops[j].name);
        put(&t, "%s\n", h->n ? "" : " (no headers)");
    }
    if (t.oom) {
        free(t.p);
        return NULL;
    }
    return t.p;
}

/* ---- redirects at request time ------------------------------------------ */

/* Append s (n bytes) to out at *o, percent-encoding what a Location header
 * cannot carry raw; strict (for values taken from the request path) also
 * encodes what would change the URL's structure. */
static void emit(char *out, size_t cap, size_t *o, const char *s, size_t n, int strict)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int raw = c > 0x20 && c < 0x7f && !strchr("\"<>\\^`{|}", c) &&
                  !(strict && strchr("%?#", c));
        if (raw) {
            if (*o + 1 < cap)
                out[*o] = (char)c;
            (*o)++;
        } else {
            if (*o + 3 < cap) {
                out[*o] = '%';
                out[*o + 1] = hex[c >> 4];
                out[*o + 2] = hex[c & 15];
            }
            *o += 3;
        }
    }
}

unsigned siterules_redirect(const siterules *r, const char *sp, char *out, size_t cap,
                            int *has_query)
{
    capture caps[CAPS_MAX + 1];
    size_t ncaps;
    if (!r || !sp || sp[0] != '/' || cap == 0 || r->n_redirects == 0)
        return 0;
    /* the rules filed under sp's first segment: the first with it, then on */
    first_seg key = {NULL, 0, 0};
    key.seg = first_segment(sp, &key.len);
    size_t lo = 0, hi = r->n_by_seg;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_seg(&r->by_seg[mid], &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t s = lo, w = 0;
    for (;;) {
        int seg_left = s < r->n_by_seg && r->by_seg[s].len == key.len &&
                       memcmp(r->by_seg[s].seg, key.seg, key.len) == 0;
        if (!seg_left && w == r->n_wild)
            return 0;
        size_t i;
        if (seg_left && (w == r->n_wild || r->by_seg[s].rule < r->wild[w]))
            i = r->by_seg[s++].rule;
        else
            i = r->wild[w++];
        const redirect_rule *x = &r->redirects[i];
        if (!pattern_match(x->from, sp, caps, &ncaps))
            continue;
        size_t o = 0;
        int in_query = 0;
        for (const char *p = x->to; *p;) {
            if (*p == '?')
                in_query = 1;
            if (*p == ':' && is_name_start(p[1])) {
                const char *name = p + 1, *e = name;
                while (is_name_char(*e))
                    e++;
                size_t k = 0;
                while (k < ncaps && !(caps[k].name_len == (size_t)(e - name) &&
                                      memcmp(caps[k].name, name, caps[k].name_len) == 0))
                    k++;
                if (k < ncaps) {
                    emit(out, cap, &o, caps[k].val, caps[k].len, 1);
                    p = e;
                    continue;
                }
            }
            emit(out, cap, &o, p, 1, 0);
            p++;
        }
        if (o >= cap)
            return 0;
        out[o] = '\0';
        /* a substituted empty segment must not make "//host": one slash */
        if (out[0] == '/') {
            size_t lead = 0;
            while (out[lead + 1] == '/')
                lead++;
            memmove(out, out + lead, o - lead + 1);
        }
        *has_query = in_query;
        return x->status;
    }
    return 0;
}

/* ---- headers at load time ----------------------------------------------- */

const siterules_header *siterules_header_find(const siterules_headerset *hs, const char *name)
{
    for (size_t i = 0; hs && i < hs->n; i++)
        if (strcasecmp(hs->h[i].name, name) == 0)
            return &hs->h[i];
    return NULL;
}

/* The URLs that serve a file: itself, and SvelteKit's pretty forms. */
static size_t urls_of(const char *file, char urls[2][1024])
{
    size_t n = strlen(file), k = 0;
    if (n >= sizeof urls[0])
        return 0;
    memcpy(urls[k++], file, n + 1);
    if (n >= 11 && strcmp(file + n - 11, "/index.html") == 0) {
        memcpy(urls[k], file, n - 10);
        urls[k++][n - 10] = '\0'; /* "/docs/" (and, slash ignored, "/docs") */
    } else if (n > 6 && strcmp(file + n - 5, ".html") == 0) {
        memcpy(urls[k], file, n - 5);
        urls[k++][n - 5] = '\0';
    }
    return k;
}

static siterules_headerset *merge(siterules *r, const size_t *idx, size_t n_idx)
{
    siterules_header ops[SITERULES_HEADERS_MAX * 4];
    size_t n = 0;
    for (size_t i = 0; i < n_idx; i++) {
        const header_rule *h = &r->headers[idx[i]];
        for (size_t j = 0; j < h->n; j++) {
            const siterules_header *op = &h->ops[j];
            size_t k = 0;
            while (k < n && strcasecmp(ops[k].name, op->name) != 0)
                k++;
            if (k == n) {
                if (n == sizeof ops / sizeof ops[0])
                    continue;
                ops[n++] = *op;
            } else if (!op->value || !ops[k].value) {
                ops[k].value = op->value; /* a removal, or a set after one */
            } else {
                /* set by two rules: both values, as Cloudflare Pages does */
                size_t a = strlen(ops[k].value), b = strlen(op->value);
                char *joined = own(r, malloc(a + b + 3));
                if (!joined)
                    return NULL;
                memcpy(joined, ops[k].value, a);
                memcpy(joined + a, ", ", 2);
                memcpy(joined + a + 2, op->value, b + 1);
                ops[k].value = joined;
            }
        }
    }
    siterules_headerset *hs = own(r, malloc(sizeof *hs + n * sizeof hs->h[0]));
    if (!hs)
        return NULL;
    hs->n = n;
    memcpy(hs->h, ops, n * sizeof ops[0]);
    return hs;
}

const siterules_headerset *siterules_headers_for(siterules *r, const char *file_path)
{
    char urls[2][1024];
    capture caps[CAPS_MAX + 1];
    size_t ncaps, idx[SITERULES_RULES_MAX], n_idx = 0;
    if (!r || r->n_headers == 0 || !file_path)
        return NULL;
    size_t n_urls = urls_of(file_path, urls);
    char sig[64 * 5];
    size_t slen = 0;
    int sig_ok = 1;
    for (size_t i = 0; i < r->n_headers; i++) {
        for (size_t u = 0; u < n_urls; u++) {
            if (pattern_match(r->headers[i].pattern, urls[u], caps, &ncaps)) {
                idx[n_idx++] = i;
                int w = snprintf(sig + slen, sizeof sig - slen, "%zu,", i);
                if (w < 0 || (size_t)w >= sizeof sig - slen)
                    sig_ok = 0;
                else
                    slen += (size_t)w;
                break;
            }
        }
    }
    if (n_idx == 0)
        return NULL;
    /* files matched by the same rules share one set */
    for (size_t i = 0; sig_ok && i < r->n_cache; i++)
        if (strcmp(r->cache[i].sig, sig) == 0)
            return r->cache[i].set;
    siterules_headerset *hs = merge(r, idx, n_idx);
    if (hs && sig_ok && r->n_cache < SIG_CACHE) {
        char *copy = strdup(sig);
        if (copy) {
            r->cache[r->n_cache].sig = copy;
            r->cache[r->n_cache++].set = hs;
        }
    }
    return hs;
}
