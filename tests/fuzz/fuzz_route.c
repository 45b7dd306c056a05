/*
 * fuzz_route — route_decide over a real snapshot: every status decision for
 * hostile method, path, query and conditional/range/encoding headers.
 *
 * LLVMFuzzerInitialize builds a small SvelteKit-like tree in a temporary
 * directory (pages, indexes, immutable assets with .br/.gz siblings, a 404 and
 * an SPA page, dot-files, odd names, a symlink out of the root), loads it
 * under three configurations, then deletes the tree (the snapshot keeps
 * everything it needs in its packs or open).
 *
 * Input: [u8 setup/admin/method][u8 present-mask][u16 loccap] then NUL-separated:
 *        method, path, query, If-None-Match, If-Modified-Since, Range, If-Range,
 *        Accept-Encoding
 *
 * Checked: status and kind agree; a file answer is a loaded, non-hidden entry
 * that the normalised request path names (exactly, + ".html", + "index.html"),
 * the SPA page or the 404 page; ranges lie inside the entry; variants belong to
 * the entry; a redirect stays on this site (starts with one '/', under the
 * base), is encoded, fits the buffer, and is not redirected again; the admin
 * listener answers only its endpoints.
 */
#include "fuzz_util.h"

#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tomed/config.h"
#include "tomed/path.h"
#include "tomed/route.h"
#include "tomed/site.h"
#include "tomed/siteload.h"

#define NSETUP 3
static tomed_config *cfgs[NSETUP];
static site_snapshot *snaps[NSETUP];

static void put(const char *dir, const char *rel, const char *body, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    for (char *s = p + strlen(dir) + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    FILE *f = fopen(p, "w");
    if (!f) abort();
    fwrite(body, 1, n, f);
    fclose(f);
}

#define PUT(d, rel, body) put(d, rel, body, strlen(body))

static void set(tomed_config *c, const char *k, const char *v)
{
    tomed_error err = {0};
    if (config_set(c, k, v, "fuzz", &err) != 0) {
        fprintf(stderr, "fuzz_route: %s\n", err.msg);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char dir[] = "/tmp/tomed-fuzz-route-XXXXXX";
    if (!mkdtemp(dir)) abort();
    static char js[2000];
    memset(js, 'x', sizeof js - 1);
    memcpy(js, "export const x=", 15);
    PUT(dir, "index.html", "<!doctype html><h1>home</h1>");
    PUT(dir, "about.html", "<h1>about</h1>");
    PUT(dir, "docs/guide.html", "guide");
    PUT(dir, "blog/index.html", "blog");
    PUT(dir, "blog.html", "blog page beside blog/");
    PUT(dir, "_app/immutable/x.js", js);
    PUT(dir, "_app/immutable/x.js.br", "br-bytes");
    PUT(dir, "_app/immutable/x.js.gz", "gz-bytes");
    PUT(dir, "_app/version.json", "{\"version\":\"1\"}");
    PUT(dir, "404.html", "missing");
    PUT(dir, "200.html", "spa");
    PUT(dir, ".env", "SECRET");
    PUT(dir, ".git/config", "[core]");
    PUT(dir, "a/.hidden/f.txt", "hidden");
    PUT(dir, ".well-known/security.txt", "contact");
    PUT(dir, "caf\xc3\xa9.html", "utf-8 name");
    PUT(dir, "per%cent.txt", "percent");
    PUT(dir, "sp ace.txt", "space");
    PUT(dir, "q?x.txt", "question");
    PUT(dir, "x.html/index.html", "dir named like a page");
    PUT(dir, "download.gz", "a download with no sibling");
    char link[512];
    snprintf(link, sizeof link, "%s/escape.txt", dir);
    if (symlink("/etc/hostname", link) != 0) abort();
    snprintf(link, sizeof link, "%s/inside.html", dir);
    if (symlink("about.html", link) != 0) abort();

    for (int i = 0; i < NSETUP; i++) {
        tomed_config *c = config_new(CONFIG_MODE_SERVE);
        if (!c) abort();
        set(c, "root", dir);
        set(c, "limits.max_url_length", i == 2 ? "64" : "4096");
        if (i == 1) {
            set(c, "base", "/tomeclicker");
            set(c, "spa_fallback", "200.html");
        }
        if (i == 2) {
            set(c, "base", "/a/b/");
            set(c, "not_found_page", "");
            set(c, "admin.on_public_listener", "false");
            set(c, "admin.listen", "127.0.0.1:9000");
            set(c, "health_path", "");
            set(c, "limits.memory_file_max", "16"); /* some entries are served from fds */
        }
        tomed_error err = {0};
        if (site_load(c, 1, &snaps[i], &err) != 0) {
            fprintf(stderr, "fuzz_route: %s\n", err.msg);
            abort();
        }
        cfgs[i] = c;
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) abort();
    return 0;
}

static int is_entry(const site_snapshot *s, const site_entry *e)
{
    return e && site_find(s, e->path, e->path_len) == e;
}

/* The site path the request names, as route.c must see it: NULL when the
 * path is invalid or outside the base. Returned in buf. */
static const char *site_path_of(const tomed_config *c, const char *p, size_t n, char *buf,
                                size_t cap)
{
    size_t skip = 0, len = 0;
    if (n >= 7 && strncasecmp(p, "http://", 7) == 0) skip = 7;
    else if (n >= 8 && strncasecmp(p, "https://", 8) == 0) skip = 8;
    if (skip) {
        const char *slash = memchr(p + skip, '/', n - skip);
        if (!slash) p = "/", n = 1;
        else n -= (size_t)(slash - p), p = slash;
    }
    if (path_normalize(p, n, c->max_url_length, buf, cap, &len) != PATH_OK) return NULL;
    const char *rest;
    if (path_strip_base(buf, c->base, &rest) != PATH_BASE_INSIDE) return NULL;
    return rest;
}

static int names(const site_entry *e, const char *sp)
{
    size_t n = strlen(sp);
    if (strcmp(e->path, sp) == 0) return 1;
    if (e->path_len == n + 5 && memcmp(e->path, sp, n) == 0 && strcmp(e->path + n, ".html") == 0)
        return 1;
    if (n && sp[n - 1] == '/' && e->path_len == n + 10 && memcmp(e->path, sp, n) == 0 &&
        strcmp(e->path + n, "index.html") == 0)
        return 1;
    return 0;
}

static void check(int setup, const route_request *rq, const route_result *r, const char *loc,
                  size_t loccap, int depth);

static void decide_and_check(int setup, const route_request *rq, size_t loccap, int depth)
{
    char *loc = malloc(loccap ? loccap : 1);
    route_result r;
    if (!loc) abort();
    route_decide(cfgs[setup], snaps[setup], rq, &r, loc, loccap);
    check(setup, rq, &r, loc, loccap, depth);
    free(loc);
}

static void check(int setup, const route_request *rq, const route_result *r, const char *loc,
                  size_t loccap, int depth)
{
    const tomed_config *c = cfgs[setup];
    const site_snapshot *s = snaps[setup];
    int get = strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0;

    switch (r->kind) {
    case ROUTE_FILE: CHECK(r->status == 200 || r->status == 404); break;
    case ROUTE_NOT_MODIFIED: CHECK(r->status == 304); break;
    case ROUTE_PARTIAL: CHECK(r->status == 206); break;
    case ROUTE_UNSATISFIABLE: CHECK(r->status == 416); break;
    case ROUTE_REDIRECT: CHECK(r->status == 308); break;
    case ROUTE_HEALTH: case ROUTE_READY: case ROUTE_METRICS: CHECK(r->status == 200); break;
    case ROUTE_ERROR:
        CHECK(r->status == 400 || r->status == 404 || r->status == 405 || r->status == 414);
        break;
    default: CHECKF(0, "unknown kind %d", (int)r->kind);
    }
    if (!get) CHECK(r->kind == ROUTE_ERROR && r->status == 405);
    if (rq->admin)
        CHECK(r->kind == ROUTE_HEALTH || r->kind == ROUTE_READY || r->kind == ROUTE_METRICS ||
              r->kind == ROUTE_ERROR);

    char buf[70000];
    const char *sp = site_path_of(c, rq->path, rq->path_len, buf, sizeof buf);

    if (r->kind == ROUTE_HEALTH || r->kind == ROUTE_READY || r->kind == ROUTE_METRICS) {
        CHECK(rq->admin || c->admin_on_public);
        size_t len;
        char nb[70000];
        const char *p = rq->path;
        size_t n = rq->path_len;
        (void)p, (void)n;
        const char *want = r->kind == ROUTE_HEALTH ? c->health_path
                         : r->kind == ROUTE_READY ? c->readiness_path : c->metrics_path;
        CHECK(want && want[0]);
        /* absolute form aside, the normalised path is the endpoint */
        if (rq->path_len && rq->path[0] == '/') {
            CHECK(path_normalize(rq->path, rq->path_len, c->max_url_length, nb, sizeof nb, &len) == PATH_OK);
            CHECKF(strcmp(nb, want) == 0, "\"%s\" answered as \"%s\"", nb, want);
        }
    }

    if (r->kind == ROUTE_FILE || r->kind == ROUTE_NOT_MODIFIED || r->kind == ROUTE_PARTIAL ||
        r->kind == ROUTE_UNSATISFIABLE) {
        const site_entry *e = r->entry;
        CHECK(e != NULL && is_entry(s, e));
        CHECKF(path_is_hidden(e->path) == 0, "served hidden %s", e->path);
        CHECK(strcmp(e->path, "/escape.txt") != 0);
        if (r->status == 404) {
            CHECK(r->kind == ROUTE_FILE && e == s->not_found);
        } else if (e != s->spa_fallback) {
            CHECKF(sp != NULL && names(e, sp), "request \"%.*s\" (site path \"%s\") served %s",
                   (int)rq->path_len, rq->path, sp ? sp : "(none)", e->path);
        }
        if (r->variant) {
            CHECK(e->negotiable);
            CHECK(r->variant == site_entry_variant(e, r->variant->encoding));
            CHECK(r->variant->encoding == ENC_BR || r->variant->encoding == ENC_GZIP);
        }
        if (r->kind == ROUTE_NOT_MODIFIED) CHECK(rq->if_none_match || rq->if_modified_since);
        if (r->kind == ROUTE_PARTIAL) {
            CHECK(rq->range && r->variant == NULL);
            CHECK(r->range_len > 0 && r->range_start < e->size && r->range_len <= e->size - r->range_start);
        }
        if (r->kind == ROUTE_UNSATISFIABLE) CHECK(rq->range && r->variant == NULL);
    } else {
        CHECK(r->entry == NULL && r->variant == NULL);
    }
    if (r->immutable_miss) CHECK(sp && strncmp(sp, "/_app/immutable/", 16) == 0);

    if (r->kind == ROUTE_REDIRECT) {
        CHECK(r->location == loc);
        size_t ln = strnlen(loc, loccap);
        CHECK(ln < loccap);
        CHECKF(loc[0] == '/' && loc[1] != '/' && loc[1] != '\\', "open redirect: \"%s\"", loc);
        const char *q = strchr(loc, '?');
        size_t pathlen = q ? (size_t)(q - loc) : ln;
        for (size_t i = 0; i < pathlen; i++) {
            unsigned char ch = (unsigned char)loc[i];
            CHECKF(ch > 0x20 && ch < 0x7f && ch != '\\' && ch != '"' && ch != '?' && ch != '#',
                   "raw byte %#x in Location \"%s\"", ch, loc);
        }
        if (q) CHECK(rq->query && strcmp(q + 1, rq->query) == 0);
        else CHECK(!rq->query);
        if (strcmp(c->base, "/") != 0) {
            size_t bl = strlen(c->base);
            CHECKF(strncmp(loc, c->base, bl) == 0 && loc[bl] == '/', "\"%s\" leaves base %s", loc, c->base);
        }
        /* following the redirect must not redirect again */
        if (depth == 0) {
            route_request again = *rq;
            char *lp = malloc(pathlen + 1);
            if (!lp) abort();
            memcpy(lp, loc, pathlen);
            lp[pathlen] = '\0';
            again.path = lp;
            again.path_len = pathlen;
            again.if_none_match = again.if_modified_since = again.range = again.if_range = NULL;
            char *l2 = malloc(70000);
            route_result r2;
            if (!l2) abort();
            route_decide(c, s, &again, &r2, l2, 70000);
            CHECKF(r2.kind != ROUTE_REDIRECT, "\"%.*s\" -> \"%s\" -> \"%s\"", (int)rq->path_len,
                   rq->path, lp, r2.location);
            check(setup, &again, &r2, l2, 70000, 1);
            free(l2);
            free(lp);
        }
    } else {
        CHECK(r->location == NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp f = {data, size};
    uint8_t sel = fdp_u8(&f);
    uint8_t present = fdp_u8(&f);
    size_t loccap = (size_t)fdp_uint(&f, 2);
    int setup = sel % NSETUP;
    char *str[8];
    for (int i = 0; i < 8; i++) str[i] = fdp_str(&f, '\0', NULL);

    static const char *const methods[] = {"GET", "HEAD", "POST", "get", "OPTIONS"};
    route_request rq;
    memset(&rq, 0, sizeof rq);
    rq.method = (sel / NSETUP) % 6 < 5 ? methods[(sel / NSETUP) % 6] : str[0];
    rq.admin = (sel & 0x80) != 0;
    char *path = malloc(strlen(str[1]) ? strlen(str[1]) : 1);
    if (!path) abort();
    memcpy(path, str[1], strlen(str[1])); /* no terminator: route gets a length */
    rq.path = path;
    rq.path_len = strlen(str[1]);
    rq.query = present & 1 ? str[2] : NULL;
    rq.if_none_match = present & 2 ? str[3] : NULL;
    rq.if_modified_since = present & 4 ? str[4] : NULL;
    rq.range = present & 8 ? str[5] : NULL;
    rq.if_range = present & 16 ? str[6] : NULL;
    rq.accept_encoding = present & 32 ? str[7] : NULL;
    if (present & 64) loccap = 4096;
    if (present & 128) loccap = (size_t)cfgs[setup]->max_url_length * 2 + 2;

    decide_and_check(setup, &rq, loccap, 0);

    free(path);
    for (int i = 0; i < 8; i++) free(str[i]);
    return 0;
}
