/*
 * fuzz_accept_encoding — encoding_negotiate.
 *
 * Input: [u8 available mask][Accept-Encoding value...]
 *
 * The chosen coding is identity or one that is available; choosing X again
 * when only X is available gives X; coding names and "q" are
 * case-insensitive, so upper-casing the header changes nothing.
 */
#include "fuzz_util.h"

#include "tomed/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp f = {data, size};
    unsigned avail = fdp_u8(&f);
    char *h = fdp_str(&f, '\0', NULL);

    enum encoding e = encoding_negotiate(h, avail);
    CHECK(e == ENC_IDENTITY || e == ENC_BR || e == ENC_GZIP);
    if (e != ENC_IDENTITY) {
        CHECKF(avail & ENC_MASK(e), "\"%s\" with mask %#x chose %d", h, avail, (int)e);
        CHECK(encoding_negotiate(h, ENC_MASK(e)) == e);
        CHECK(encoding_name(e) != NULL && encoding_suffix(e) != NULL);
    }
    /* nothing available but identity */
    CHECK(encoding_negotiate(h, 0) == ENC_IDENTITY);
    CHECK(encoding_negotiate(h, ENC_MASK(ENC_IDENTITY)) == ENC_IDENTITY);
    /* only the two real coding bits matter */
    CHECK(encoding_negotiate(h, avail & (ENC_MASK(ENC_BR) | ENC_MASK(ENC_GZIP))) == e);

    char *up = fuzz_dup(h);
    for (char *p = up; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    CHECKF(encoding_negotiate(up, avail) == e, "\"%s\" vs \"%s\"", h, up);

    CHECK(encoding_negotiate(NULL, avail) == ENC_IDENTITY);
    free(up);
    free(h);
    return 0;
}
