/*
 * fuzz_rewrite — rewrite_base (and rewrite_kind_for) on arbitrary text.
 *
 * Input: [u8 kind][u8 bases] from '\0' to '\0' content...
 * kind % 7 is the rewrite_kind; bases picks `from` (low nibble) and `to`
 * (high nibble) from a table of real bases, or takes the input strings.
 *
 * Checked: invalid bases (by rewrite.h's rule) and only they fail; the output
 * size follows from the count (each reference trades from for to, or for "/"
 * or "" only when to is the root); with a marker in `to` that the input lacks,
 * every replaced spot is found again in the output, the input comes back by
 * putting `from` there, and each spot is a whole segment not preceded by a
 * host or a longer word; rewriting the output again changes nothing; and
 * rewriting back (to -> from) restores the input when neither base is a
 * segment prefix of the other and the input never mentions `to`.
 */
#include "fuzz_util.h"

#include "tomed/rewrite.h"

#define MARKER "/~Q~" /* a `to` whose spots are found again in the output */

static int valid_base(const char *b, int allow_root)
{
    size_t len = strlen(b);
    if (len == 0) return allow_root;
    if (b[0] != '/' || b[len - 1] == '/' || len > 4096) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)b[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 (c && strchr("-._~/%@+!$:", c));
        if (!ok || (c == '/' && b[i + 1] == '/')) return 0;
    }
    return 1;
}

/* b starts with a, ending on a segment boundary ("/a" of "/a/b", or equal). */
static int seg_prefix(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n && strncmp(a, b, n) == 0 && (b[n] == '/' || b[n] == '\0');
}

static int plain(const char *s) /* only A-Z a-z 0-9 / _ - ~ */
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '/' || *s == '_' || *s == '-' || *s == '~'))
            return 0;
    return 1;
}

static int segment_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '%';
}

static const char *const froms[] = {"/tomeclicker", "/a", "/x/y", "/base-path", "/_app"};
static const char *const tos[] = {"", "/preview", MARKER, "/a/b", "/tomeclicker", "/x"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp f = {data, size};
    rewrite_kind kind = (rewrite_kind)(fdp_u8(&f) % 7);
    uint8_t sel = fdp_u8(&f);
    char *in_from = fdp_str(&f, '\0', NULL);
    char *in_to = fdp_str(&f, '\0', NULL);
    size_t n;
    char *text = fdp_rest(&f, &n);
    char *in = malloc(n ? n : 1); /* exact size, no terminator */
    if (!in) abort();
    memcpy(in, text, n);
    size_t fi = sel & 15, ti = sel >> 4;
    const char *from = fi < 5 ? froms[fi] : in_from;
    const char *to = ti < 6 ? tos[ti] : in_to;

    char *out = (char *)1;
    size_t outn = 99, count = 99;
    int rc = rewrite_base(in, n, from, to, kind, &out, &outn, &count);
    int valid = valid_base(from, 0) && valid_base(to, 1);
    CHECKF(rc == (valid ? 0 : -1), "rc %d for from \"%s\" to \"%s\"", rc, from, to);
    if (rc != 0) {
        CHECK(out == NULL && outn == 0 && count == 0);
        goto done;
    }
    CHECK((count == 0) == (out == NULL));
    if (strcmp(from, to) == 0 || kind == RW_NONE) CHECK(count == 0);
    size_t fl = strlen(from), tl = strlen(to);
    if (!out) {
        CHECK(outn == 0);
        goto done;
    }
    CHECK(out[outn] == '\0');
    /* size: n - count*fl + count*tl, plus up to one '/' per reference for the root */
    {
        size_t base = n - count * fl + count * tl;
        CHECKF(outn >= base && outn - base <= (tl == 0 ? count : 0),
               "%zu bytes out of %zu with %zu references", outn, n, count);
    }

    /* the spots, found through a marker the input lacks */
    if (strcmp(to, MARKER) == 0 && !memchr(in, '~', n) && !strchr(from, '~')) {
        size_t ml = strlen(MARKER), r = 0, w = 0, spots = 0;
        char *back = malloc(outn / ml * fl + outn + 1);
        if (!back) abort();
        for (size_t i = 0; i < outn;) {
            if (outn - i >= ml && memcmp(out + i, MARKER, ml) == 0) {
                /* in[r] is where from was */
                CHECKF(r + fl <= n && memcmp(in + r, from, fl) == 0, "spot %zu is not \"%s\"", r, from);
                CHECKF(r + fl == n || !segment_byte((unsigned char)in[r + fl]),
                       "\"%s\" replaced inside a longer segment at %zu", from, r);
                CHECKF(r == 0 || (!segment_byte((unsigned char)in[r - 1]) && in[r - 1] != '/'),
                       "\"%s\" replaced after a host or word at %zu ('%c' before it)", from, r, in[r - 1]);
                memcpy(back + w, from, fl);
                w += fl;
                r += fl;
                i += ml;
                spots++;
            } else {
                back[w++] = out[i++];
                r++;
            }
        }
        CHECK(spots == count);
        CHECKF(w == n && memcmp(back, in, n) == 0, "putting \"%s\" back does not give the input", from);
        free(back);
    }

    if (tl > 0 && !seg_prefix(from, to) && !seg_prefix(to, from)) {
        /* nothing left to rewrite */
        char *o2 = NULL;
        size_t n2 = 0, c2 = 0;
        CHECK(rewrite_base(out, outn, from, to, kind, &o2, &n2, &c2) == 0);
        CHECKF(c2 == 0, "%zu more references after rewriting", c2);
        free(o2);
        /* and back again */
        if (plain(from) && plain(to) && !memmem(in, n, to, tl)) {
            CHECK(rewrite_base(out, outn, to, from, kind, &o2, &n2, &c2) == 0);
            CHECKF(c2 == count, "%zu references back, %zu forth", c2, count);
            CHECKF(o2 && n2 == n && memcmp(o2, in, n) == 0, "rewriting back does not restore the input");
            free(o2);
        }
    }
    free(out);

done:
    /* kind detection copes with anything */
    {
        rewrite_kind k = rewrite_kind_for(in_from, in_to[0] ? in_to : NULL);
        CHECK((unsigned)k <= RW_ROBOTS);
        CHECK(rewrite_kind_name(k) != NULL);
        CHECK(rewrite_kind_for(NULL, NULL) == RW_NONE);
        CHECK(strcmp(rewrite_kind_name((rewrite_kind)99), "none") == 0);
    }
    free(in);
    free(text);
    free(in_from);
    free(in_to);
    return 0;
}
