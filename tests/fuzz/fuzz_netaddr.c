/*
 * fuzz_netaddr — CIDR lists and the client address behind trusted proxies.
 *
 * Input: [u8 which][16 bytes peer] then NUL-separated strings: the trusted
 *        list, then header values (bit 0 of which: X-Forwarded-For, else
 *        Forwarded; bit 1: also give the other header one value "1.2.3.4").
 *
 * Checked on top of ASan and UBSan: a list that parses holds CIDRs with no
 * host bits, each containing its own network address, and the text of each
 * item it accepted; netaddr_client always sets the client, returns the peer
 * for an untrusted peer or when it says PEER, and otherwise names an
 * address that is untrusted or (all hops trusted) trusted, whose text reads
 * back as the same address.
 */
#include "fuzz_util.h"

#include "tomed/netaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp f = {data, size};
    uint8_t which = fdp_u8(&f);
    netaddr peer;
    for (int i = 0; i < 16; i++)
        peer.b[i] = fdp_u8(&f);
    char *list = fdp_str(&f, '\0', NULL);
    netaddr_set set;
    char why[256];
    if (netaddr_set_parse(list, &set, why, sizeof why) < 0) {
        CHECK(set.n == 0 && set.cidrs == NULL);
        CHECK(memchr(why, '\0', sizeof why) != NULL);
        netaddr_set_parse("", &set, NULL, 0);
    }
    for (size_t i = 0; i < set.n; i++) {
        const netaddr_cidr *c = &set.cidrs[i];
        CHECK(c->bits <= 128);
        for (unsigned bit = c->bits; bit < 128; bit++)
            CHECK((c->addr.b[bit / 8] & (0x80 >> (bit % 8))) == 0);
        CHECK(netaddr_set_contains(&set, &c->addr));
        char text[NETADDR_TEXT];
        size_t n = netaddr_format(&c->addr, text, sizeof text);
        netaddr back;
        CHECK(n > 0 && netaddr_parse(text, n, &back) == 0 && memcmp(&back, &c->addr, 16) == 0);
    }

    const char *vals[8];
    char *owned[8];
    size_t nv = 0;
    while (f.n > 0 && nv < 8) {
        owned[nv] = fdp_str(&f, '\0', NULL);
        vals[nv] = owned[nv];
        nv++;
    }
    const char *other[1] = {"1.2.3.4"};
    size_t n_other = (which & 2) ? 1 : 0;
    netaddr client;
    memset(&client, 0xa5, sizeof client);
    enum netaddr_source src =
        which & 1 ? netaddr_client(&set, &peer, vals, nv, other, n_other, &client)
                  : netaddr_client(&set, &peer, other, n_other, vals, nv, &client);
    if (!netaddr_set_contains(&set, &peer))
        CHECK(src == NETADDR_PEER);
    if (src == NETADDR_PEER) {
        CHECK(memcmp(&client, &peer, sizeof peer) == 0);
    } else {
        CHECK(src == NETADDR_XFF || src == NETADDR_FORWARDED);
        char text[NETADDR_TEXT];
        size_t n = netaddr_format(&client, text, sizeof text);
        netaddr back;
        CHECKF(n > 0 && netaddr_parse(text, n, &back) == 0 && memcmp(&back, &client, 16) == 0,
               "client %s does not read back", text);
    }
    for (size_t i = 0; i < nv; i++)
        free(owned[i]);
    netaddr_set_free(&set);
    free(list);
    return 0;
}
