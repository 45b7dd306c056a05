/*
 * policy — Cache-Control and security headers for each file, decided once at
 * load time.
 *
 * The defaults follow how SvelteKit builds are meant to be cached: files under
 * /_app/immutable/ have content hashes in their names and never change, so
 * browsers may keep them for a year; HTML, /_app/version.json (which the
 * client router polls to notice a new deploy) and a service worker must be
 * revalidated every time or users keep running an old build; everything else
 * (favicon, images, fonts without hashes) gets a short revalidating lifetime.
 */
#include <string.h>

#include "tomed/policy.h"

/* Iterative glob matcher with one backtrack point per star kind, so hostile
 * patterns cannot make it exponential. */
int policy_glob_match(const char *glob, const char *path)
{
    const char *g = glob, *p = path;
    const char *star_g = NULL, *star_p = NULL; /* last '*' (within a segment) */
    const char *dstar_g = NULL, *dstar_p = NULL; /* last '**' (across segments) */

    while (*p) {
        if (g[0] == '*' && g[1] == '*') {
            while (*g == '*')
                g++;
            dstar_g = g;
            dstar_p = p;
            star_g = NULL;
            continue;
        }
        if (*g == '*') {
            g++;
            star_g = g;
            star_p = p;
            continue;
        }
        if (*g == *p || (*g == '?' && *p != '/')) {
            g++;
            p++;
            continue;
        }
        if (star_g && *star_p != '/') {
            /* let the single star swallow one more byte of this segment */
            g = star_g;
            p = ++star_p;
            continue;
        }
        if (dstar_g) {
            g = dstar_g;
            p = ++dstar_p;
            star_g = NULL;
            continue;
        }
        return 0;
    }
    while (*g == '*')
        g++;
    return *g == '\0';
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

const char *policy_cache_control(const tomed_config *cfg, const char *site_path, const char *mime)
{
    for (size_t i = 0; i < cfg->n_cache_rules; i++)
        if (policy_glob_match(cfg->cache_rules[i].match, site_path))
            return cfg->cache_rules[i].cache_control;

    if (strncmp(site_path, "/_app/immutable/", 16) == 0)
        return cfg->cache_immutable;
    if (strncmp(mime, "text/html", 9) == 0 || strcmp(site_path, "/_app/version.json") == 0 ||
        ends_with(site_path, "/service-worker.js"))
        return cfg->cache_revalidate;
    return cfg->cache_default;
}

size_t policy_security_headers(const tomed_config *cfg, policy_header *out, size_t cap)
{
    const policy_header all[] = {
        {"Content-Security-Policy", cfg->csp},
        {"X-Content-Type-Options", cfg->x_content_type_options},
        {"Referrer-Policy", cfg->referrer_policy},
        {"X-Frame-Options", cfg->x_frame_options},
        {"Cross-Origin-Opener-Policy", cfg->cross_origin_opener_policy},
        {"Permissions-Policy", cfg->permissions_policy},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0] && n < cap; i++)
        if (all[i].value && all[i].value[0])
            out[n++] = all[i];
    return n;
}
