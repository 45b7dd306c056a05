/*
 * route — the one place where a request's status is decided.
 *
 * Order matters and follows what a user of nginx would expect: method (405),
 * path syntax (400/414), the liveness endpoint, the mount base (308/404),
 * hidden files (404), the SvelteKit URL conventions (pretty URLs, directory
 * indexes, trailing-slash redirects), the SPA fallback and 404 page, then
 * conditional requests (304) and ranges (206/416).
 *
 * SvelteKit's prerendered pages reference their assets with relative paths
 * ("./_app/..."), so /about must be answered with about.html directly — a
 * redirect to /about.html or /about/ would move the page and break them.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tomed/encoding.h"
#include "tomed/http.h"
#include "tomed/path.h"
#include "tomed/route.h"
#include "tomed/siterules.h"

#define ROUTE_PATH_MAX 65600 /* above the largest max_url_length config accepts */

static void set_error(route_result *res, unsigned status)
{
    res->kind = ROUTE_ERROR;
    res->status = status;
}

/* Percent-encode what must not appear raw in a Location path. */
static size_t encode_path(char *out, size_t cap, size_t n, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    strchr("/-._~!$&'()*+,;=:@", c) != NULL;
        if (plain) {
            if (n + 1 < cap)
                out[n] = (char)c;
            n++;
        } else {
            if (n + 3 < cap) {
                out[n] = '%';
                out[n + 1] = hex[c >> 4];
                out[n + 2] = hex[c & 15];
            }
            n += 3;
        }
    }
    return n;
}

/* Append "?" + query (if any) to the n bytes of Location in loc and make
 * res the redirect; 414 if it cannot fit. */
static void finish_redirect(route_result *res, unsigned status, const char *query, char *loc,
                            size_t cap, size_t n)
{
    if (query) {
        size_t q = strlen(query);
        if (n + 1 + q < cap) {
            loc[n] = '?';
            memcpy(loc + n + 1, query, q);
        }
        n += 1 + q;
    }
    if (n >= cap)
        return set_error(res, 414);
    loc[n] = '\0';
    res->kind = ROUTE_REDIRECT;
    res->status = status;
    res->location = loc;
}

/* Location = base + site path (+ "?" + query); 414 if it cannot fit. */
static void redirect(route_result *res, const tomed_config *cfg, const char *site_path,
                     size_t site_len, const route_request *req, char *loc, size_t cap)
{
    char tmp[ROUTE_PATH_MAX];
    size_t n = 0;
    if (strcmp(cfg->base, "/") != 0)
        n = encode_path(loc, cap, n, cfg->base);
    if (site_len >= sizeof tmp)
        return set_error(res, 414);
    memcpy(tmp, site_path, site_len);
    tmp[site_len] = '\0';
    n = encode_path(loc, cap, n, tmp);
    finish_redirect(res, 308, req->query, loc, cap, n);
}

/* The site's own _redirects rule for sp, if one matches: its status, its
 * target under the mount base (an absolute URL as written), and the
 * request's query unless the target has its own (as Netlify does). */
static int rule_redirect(route_result *res, const tomed_config *cfg, const site_snapshot *snap,
                         const char *sp, const route_request *req, char *loc, size_t cap)
{
    char target[ROUTE_PATH_MAX];
    int has_query = 0;
    unsigned status = siterules_redirect(snap->rules, sp, target, sizeof target, &has_query);
    if (!status)
        return 0;
    size_t n = 0, tl = strlen(target);
    if (target[0] == '/' && strcmp(cfg->base, "/") != 0)
        n = encode_path(loc, cap, n, cfg->base);
    if (n + tl < cap)
        memcpy(loc + n, target, tl);
    finish_redirect(res, status, has_query ? NULL : req->query, loc, cap, n + tl);
    return 1;
}

/* A path that names a page rather than an asset: no extension in its last segment. */
static int is_page_path(const char *sp)
{
    const char *last = strrchr(sp, '/');
    return strncmp(sp, "/_app/", 6) != 0 && strchr(last ? last : sp, '.') == NULL;
}

/* The compressed variant the client accepts, or NULL for identity. */
static const site_variant *negotiate(const route_request *req, const site_entry *e)
{
    if (!e->negotiable)
        return NULL;
    return site_entry_variant(e, encoding_negotiate(req->accept_encoding, site_entry_encodings(e)));
}

/* 304 / 206 / 416 / 200 for an entry that is being served with status 200. */
static void conditional(route_result *res, const route_request *req, const site_entry *e)
{
    const site_variant *v = negotiate(req, e);
    res->entry = e;
    res->variant = v;
    /* each representation has its own tag: a cached gzip body must not be
     * confirmed to a client that now gets brotli */
    if (http_not_modified(req->if_none_match, req->if_modified_since, v ? v->etag : e->etag,
                          e->modified)) {
        res->kind = ROUTE_NOT_MODIFIED;
        res->status = 304;
        return;
    }
    res->kind = ROUTE_FILE;
    res->status = 200;
    if (!req->range || !http_if_range_ok(req->if_range, e->etag, e->modified))
        return;
    /* ranges are served from the identity bytes, whatever was negotiated: offsets
     * into a compressed stream that can differ per replica help nobody */
    switch (http_parse_range(req->range, e->size, &res->range_start, &res->range_len)) {
    case HTTP_RANGE_OK:
        res->variant = NULL;
        res->kind = ROUTE_PARTIAL;
        res->status = 206;
        break;
    case HTTP_RANGE_UNSATISFIABLE:
        res->variant = NULL;
        res->kind = ROUTE_UNSATISFIABLE;
        res->status = 416;
        break;
    case HTTP_RANGE_NONE:
        break;
    }
}

static void not_found(route_result *res, const route_request *req, const site_snapshot *snap,
                      const char *sp)
{
    if (snap && snap->spa_fallback && sp && is_page_path(sp))
        return conditional(res, req, snap->spa_fallback);
    if (snap && snap->not_found) {
        res->kind = ROUTE_FILE;
        res->status = 404;
        res->entry = snap->not_found;
        res->variant = negotiate(req, snap->not_found);
        return;
    }
    set_error(res, 404);
}

static const site_entry *find_with(const site_snapshot *snap, char *buf, size_t len, size_t cap,
                                   const char *suffix)
{
    size_t sl = strlen(suffix);
    if (len + sl >= cap)
        return NULL;
    memcpy(buf + len, suffix, sl + 1);
    const site_entry *e = site_find(snap, buf, len + sl);
    buf[len] = '\0';
    return e;
}

/* RFC 9112 §3.2.2: a server must accept the absolute form ("GET http://host/p"),
 * which proxies send; only its path matters here. */
static void strip_absolute_form(const char **path, size_t *len)
{
    const char *p = *path;
    size_t n = *len, skip;
    if (n >= 7 && strncasecmp(p, "http://", 7) == 0)
        skip = 7;
    else if (n >= 8 && strncasecmp(p, "https://", 8) == 0)
        skip = 8;
    else
        return;
    const char *slash = memchr(p + skip, '/', n - skip);
    *path = slash ? slash : "/";
    *len = slash ? n - (size_t)(slash - p) : 1;
}

void route_decide(const tomed_config *cfg, const site_snapshot *snap, const route_request *req,
                  route_result *res, char *location, size_t loccap)
{
    char path[ROUTE_PATH_MAX];
    size_t len = 0;

    memset(res, 0, sizeof *res);
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
        return set_error(res, 405);

    if (req->target_nul)
        return set_error(res, 400);
    const char *raw = req->path;
    size_t raw_len = req->path_len;
    strip_absolute_form(&raw, &raw_len);
    switch (path_normalize(raw, raw_len, cfg->max_url_length, path, sizeof path, &len)) {
    case PATH_OK:
        break;
    case PATH_TOO_LONG:
        return set_error(res, 414);
    default:
        return set_error(res, 400);
    }

    /* The operational endpoints live outside the site's base, on the admin
     * listener and (unless switched off) on the public one. */
    if (req->admin || cfg->admin_on_public) {
        static const enum route_kind kinds[3] = {ROUTE_HEALTH, ROUTE_READY, ROUTE_METRICS};
        const char *paths[3] = {cfg->health_path, cfg->readiness_path, cfg->metrics_path};
        /* metrics name exact library versions and the traffic: on the public
         * port only when asked for (admin.public_metrics, on for `serve`) */
        int n = req->admin || cfg->admin_public_metrics ? 3 : 2;
        for (int i = 0; i < n; i++)
            if (paths[i] && paths[i][0] && strcmp(path, paths[i]) == 0) {
                res->kind = kinds[i];
                res->status = 200;
                return;
            }
    }
    if (req->admin)
        return set_error(res, 404);

    const char *sp = NULL;
    switch (path_strip_base(path, cfg->base, &sp)) {
    case PATH_BASE_EXACT:
        /* "/base" -> "/base/": the page's relative asset paths need the slash */
        return redirect(res, cfg, "/", 1, req, location, loccap);
    case PATH_BASE_OUTSIDE:
        return not_found(res, req, snap, NULL);
    case PATH_BASE_INSIDE:
        break;
    }
    if (!snap || path_is_hidden(sp))
        return not_found(res, req, snap, NULL);
    /* the site's rule files configure it and are never served (nor are
     * they pages for the SPA fallback); its redirects come before files,
     * as on Cloudflare Pages */
    if (strcmp(sp, "/_redirects") == 0 || strcmp(sp, "/_headers") == 0)
        return not_found(res, req, snap, NULL);
    if (snap->rules && rule_redirect(res, cfg, snap, sp, req, location, loccap))
        return;

    /* sp points into path; work on it in place with room to append suffixes. */
    char *buf = path + (sp - path);
    size_t sl = len - (size_t)(sp - path);
    size_t cap = sizeof path - (size_t)(sp - path);
    const site_entry *e;

    if (buf[sl - 1] == '/') {
        if ((e = find_with(snap, buf, sl, cap, "index.html")) != NULL)
            return conditional(res, req, e);
        /* "/about/" when the build wrote about.html: move to "/about" */
        if (sl > 1 && find_with(snap, buf, sl - 1, cap, ".html") != NULL)
            return redirect(res, cfg, buf, sl - 1, req, location, loccap);
        return not_found(res, req, snap, buf);
    }
    if ((e = site_find(snap, buf, sl)) != NULL)
        return conditional(res, req, e);
    if (strncmp(buf, "/_app/immutable/", 16) == 0) {
        not_found(res, req, snap, buf);
        res->immutable_miss = 1;
        return;
    }
    if ((e = find_with(snap, buf, sl, cap, ".html")) != NULL)
        return conditional(res, req, e);
    /* trailingSlash: 'always' builds write about/index.html: move to "/about/" */
    if (find_with(snap, buf, sl, cap, "/index.html") != NULL) {
        buf[sl] = '/';
        return redirect(res, cfg, buf, sl + 1, req, location, loccap);
    }
    return not_found(res, req, snap, buf);
}
