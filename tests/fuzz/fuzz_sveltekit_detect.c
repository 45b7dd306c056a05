/*
 * fuzz_sveltekit_detect — sveltekit_detect_base on arbitrary HTML.
 *
 * Input: [u8 cap][HTML bytes...]   (cap 0 means 256)
 *
 * A detected base becomes the mount base of `tomed serve`, so when the
 * function answers 0 the result must be a safe absolute path: it fits cap,
 * starts with '/', has no trailing '/', no "//", no dot-segment, only
 * [A-Za-z0-9/._~-], is what path_normalize makes of it, and config accepts it
 * as `base`.
 */
#include "fuzz_util.h"

#include "tomed/config.h"
#include "tomed/path.h"
#include "tomed/sveltekit.h"

static tomed_config *cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp f = {data, size};
    size_t cap = fdp_u8(&f);
    if (cap == 0) cap = 256;
    size_t len = f.n;
    char *html = malloc(len ? len : 1);
    char *out = malloc(cap);
    if (!html || !out) abort();
    memcpy(html, f.p, len);
    memset(out, 'Z', cap);

    int rc = sveltekit_detect_base(html, len, out, cap);
    if (rc == 0) {
        size_t n = strnlen(out, cap);
        CHECK(n < cap);
        CHECK(n >= 2 && out[0] == '/' && out[n - 1] != '/');
        CHECKF(strstr(out, "//") == NULL && strstr(out, "/.") == NULL, "\"%s\"", out);
        for (size_t i = 0; i < n; i++) {
            char c = out[i];
            CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '/' || c == '-' || c == '_' || c == '.' || c == '~');
        }
        char norm[300];
        size_t nl = 0;
        CHECK(path_normalize(out, n, sizeof norm - 1, norm, sizeof norm, &nl) == PATH_OK);
        CHECKF(nl == n && memcmp(norm, out, n) == 0, "\"%s\" normalises to \"%s\"", out, norm);
        CHECK(path_is_hidden(out) == 0);
        if (!cfg) cfg = config_new(CONFIG_MODE_SERVE);
        tomed_error err = {0};
        CHECKF(config_set(cfg, "base", out, "detected", &err) == 0, "%s", err.msg);
        CHECK(strcmp(cfg->base, out) == 0);
        /* a bigger buffer finds an answer too, and the same one when that
         * fits the small buffer (a base too long for it falls back to assets) */
        char big[300];
        CHECK(sveltekit_detect_base(html, len, big, sizeof big) == 0);
        if (strlen(big) < cap) CHECKF(strcmp(big, out) == 0, "\"%s\" vs \"%s\"", big, out);
    } else {
        CHECK(rc == -1);
    }
    free(out);
    free(html);
    return 0;
}
