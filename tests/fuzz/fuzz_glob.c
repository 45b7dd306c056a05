/*
 * fuzz_glob — policy_glob_match against a reference matcher.
 *
 * Input: glob '\0' path
 *
 * The reference is a set-of-positions automaton written from policy.h:
 * '*' any run of bytes other than '/', '**' (any run of two or more stars)
 * any run at all, '?' one byte other than '/', anything else itself. It is
 * linear in glob x path, so it also shows that the real matcher terminates
 * (libFuzzer's -timeout catches one that does not).
 */
#include "fuzz_util.h"

#include "tomed/policy.h"

static int ref_match(const char *g, const char *p)
{
    size_t pl = strlen(p);
    unsigned char *cur = calloc(pl + 1, 1), *next = calloc(pl + 1, 1);
    if (!cur || !next) abort();
    cur[0] = 1;
    while (*g) {
        memset(next, 0, pl + 1);
        if (g[0] == '*' && g[1] == '*') {
            while (*g == '*') g++;
            size_t i = 0;
            while (i <= pl && !cur[i]) i++;
            for (; i <= pl; i++) next[i] = 1;
        } else if (*g == '*') {
            g++;
            int on = 0;
            for (size_t i = 0; i <= pl; i++) {
                if (cur[i]) on = 1;
                if (on) next[i] = 1;
                if (i < pl && p[i] == '/') on = 0; /* cannot run past a '/' */
            }
        } else {
            char c = *g++;
            for (size_t i = 0; i < pl; i++)
                if (cur[i] && (c == '?' ? p[i] != '/' : p[i] == c)) next[i + 1] = 1;
        }
        unsigned char *t = cur;
        cur = next;
        next = t;
    }
    int r = cur[pl];
    free(cur);
    free(next);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp f = {data, size};
    char *glob = fdp_str(&f, '\0', NULL);
    char *path = fdp_str(&f, '\0', NULL);
    int got = policy_glob_match(glob, path);
    int want = ref_match(glob, path);
    CHECKF(!!got == want, "policy_glob_match(\"%s\", \"%s\") = %d, reference %d", glob, path, got, want);
    free(glob);
    free(path);
    return 0;
}
