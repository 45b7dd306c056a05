/*
 * sveltekit — read what a SvelteKit build says about itself.
 *
 * A developer runs `tomed serve docs/` on a build made with paths.base set
 * (e.g. for GitHub Pages under /tomeclicker). Its pages use relative asset
 * paths but still carry the base in the start-up script, and the web
 * manifest's scope depends on it, so serving it at "/" half-works; reading the
 * base from index.html makes the preview match the deploy, as `vite preview`
 * does.
 */
#include <string.h>

#include "tomed/sveltekit.h"

static const char *find(const char *h, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (h[i] == needle[0] && memcmp(h + i, needle, m) == 0)
            return h + i;
    return NULL;
}

/* The string literal after `key` within [p, end), if it is a safe absolute path. */
static int literal_after(const char *p, const char *end, const char *key, char *out, size_t cap)
{
    const char *k = find(p, (size_t)(end - p), key);
    if (!k)
        return -1;
    const char *s = k + strlen(key);
    if (s >= end || *s != '/')
        return -1;
    size_t n = 0;
    while (s + n < end && s[n] != '"') {
        char c = s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '/' || c == '-' || c == '_' || c == '.' || c == '~';
        if (!ok)
            return -1;
        n++;
    }
    if (s + n >= end)
        return -1;
    while (n > 1 && s[n - 1] == '/')
        n--;
    if (n < 2 || n >= cap || memmem(s, n, "/.", 2) || memmem(s, n, "//", 2))
        return -1; /* "/" means a root build: nothing to detect */
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

int sveltekit_detect_base(const char *html, size_t len, char *out, size_t cap)
{
    const char *start = find(html, len, "__sveltekit_");
    if (!start)
        return -1;
    const char *open = memchr(start, '{', len - (size_t)(start - html));
    if (!open)
        return -1;
    const char *close = memchr(open, '}', len - (size_t)(open - html));
    if (!close)
        return -1;
    if (literal_after(open, close, "base: \"", out, cap) == 0)
        return 0;
    return literal_after(open, close, "assets: \"", out, cap);
}
