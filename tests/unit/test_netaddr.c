/* Unit tests for netaddr: CIDR parsing and matching, X-Forwarded-For and Forwarded walks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tomed/netaddr.h"

static netaddr addr(const char *s)
{
    netaddr a;
    assert_int_equal(netaddr_parse(s, strlen(s), &a), 0);
    return a;
}

static int contains(const char *list, const char *a)
{
    netaddr_set set;
    char why[200] = "";
    assert_int_equal(netaddr_set_parse(list, &set, why, sizeof why), 0);
    netaddr x = addr(a);
    int r = netaddr_set_contains(&set, &x);
    netaddr_set_free(&set);
    return r;
}

static void test_parse_addresses(void **state)
{
    (void)state;
    netaddr a;
    assert_int_equal(netaddr_parse("10.0.0.1", 8, &a), 0);
    assert_int_equal(netaddr_parse("fd00::1", 7, &a), 0);
    assert_int_equal(netaddr_parse("::ffff:10.0.0.1", 15, &a), 0);
    assert_int_equal(netaddr_parse("10.0.0.1 ", 9, &a), -1);
    assert_int_equal(netaddr_parse("10.0.0", 6, &a), -1);
    assert_int_equal(netaddr_parse("256.0.0.1", 9, &a), -1);
    assert_int_equal(netaddr_parse("[::1]", 5, &a), -1);
    assert_int_equal(netaddr_parse("fe80::1%eth0", 12, &a), -1);
    assert_int_equal(netaddr_parse("", 0, &a), -1);
    /* a NUL inside the claimed length is not an address */
    assert_int_equal(netaddr_parse("1.2.3.4\0", 8, &a), -1);
}

static void test_format_unmaps_ipv4(void **state)
{
    (void)state;
    char buf[NETADDR_TEXT];
    netaddr a = addr("::ffff:10.0.0.1");
    netaddr_format(&a, buf, sizeof buf);
    assert_string_equal(buf, "10.0.0.1");
    a = addr("2001:db8:0::1");
    netaddr_format(&a, buf, sizeof buf);
    assert_string_equal(buf, "2001:db8::1");
}

static void test_cidr_matching(void **state)
{
    (void)state;
    assert_true(contains("10.42.0.0/16", "10.42.7.9"));
    assert_false(contains("10.42.0.0/16", "10.43.0.1"));
    assert_true(contains("fd00::/8", "fd12:3456::1"));
    assert_false(contains("fd00::/8", "fe80::1"));
    /* a bare address is /32 or /128 */
    assert_true(contains("127.0.0.1", "127.0.0.1"));
    assert_false(contains("127.0.0.1", "127.0.0.2"));
    assert_true(contains("::1", "::1"));
    /* odd prefix lengths cut inside a byte */
    assert_true(contains("192.168.0.0/23", "192.168.1.255"));
    assert_false(contains("192.168.0.0/23", "192.168.2.0"));
    assert_true(contains("0.0.0.0/0", "203.0.113.5"));
    /* an IPv4-mapped peer (dual-stack listener) matches an IPv4 CIDR */
    assert_true(contains("10.0.0.0/8", "::ffff:10.0.0.1"));
    assert_false(contains("10.0.0.0/8", "::ffff:11.0.0.1"));
    /* but not a native IPv6 address that merely ends in the same bytes */
    assert_false(contains("10.0.0.0/8", "::a00:1"));
    /* lists: spaces and empty items are fine */
    assert_true(contains(" 10.0.0.0/8 ,, fd00::/8 ", "fd00::5"));
    assert_false(contains("", "10.0.0.1"));
}

static void test_cidr_errors(void **state)
{
    (void)state;
    char why[200];
    netaddr_set set;
    assert_int_equal(netaddr_set_parse("10.0.0.0/33", &set, why, sizeof why), -1);
    assert_non_null(strstr(why, "/33 is more than 32"));
    assert_int_equal(netaddr_set_parse("fd00::/129", &set, why, sizeof why), -1);
    assert_int_equal(netaddr_set_parse("10.0.0.0/", &set, why, sizeof why), -1);
    assert_int_equal(netaddr_set_parse("10.0.0.0/8x", &set, why, sizeof why), -1);
    assert_int_equal(netaddr_set_parse("10.0.0.0/-1", &set, why, sizeof why), -1);
    assert_int_equal(netaddr_set_parse("pods", &set, why, sizeof why), -1);
    assert_non_null(strstr(why, "\"pods\" is not an IPv4 or IPv6 address"));
    assert_int_equal(netaddr_set_parse("10.0.0.0/8, 10.42.0.1/16", &set, why, sizeof why), -1);
    assert_non_null(strstr(why, "the network is 10.42.0.0/16"));
    assert_null(set.cidrs);
    assert_int_equal(set.n, 0);
    char many[1200] = "";
    for (int i = 0; i <= NETADDR_SET_MAX; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "10.0.%d.0/24,", i);
    assert_int_equal(netaddr_set_parse(many, &set, why, sizeof why), -1);
    assert_non_null(strstr(why, "more than 64"));
}

/* The client for a request from peer through proxies trusted by list. */
static const char *client(const char *list, const char *peer, const char *xff, const char *fwd)
{
    static char out[NETADDR_TEXT + 16];
    netaddr_set set;
    assert_int_equal(netaddr_set_parse(list, &set, NULL, 0), 0);
    netaddr p = addr(peer), c;
    const char *x[1] = {xff}, *f[1] = {fwd};
    enum netaddr_source src = netaddr_client(&set, &p, x, xff ? 1 : 0, f, fwd ? 1 : 0, &c);
    netaddr_set_free(&set);
    netaddr_format(&c, out, sizeof out);
    /* the source must agree with whether the address moved */
    if (src == NETADDR_PEER)
        assert_memory_equal(&c, &p, sizeof c);
    return out;
}

static void test_untrusted_peer_ignores_headers(void **state)
{
    (void)state;
    assert_string_equal(client("", "203.0.113.9", "1.2.3.4", NULL), "203.0.113.9");
    assert_string_equal(client("10.0.0.0/8", "203.0.113.9", "1.2.3.4", NULL), "203.0.113.9");
    assert_string_equal(client("10.0.0.0/8", "203.0.113.9", NULL, "for=1.2.3.4"), "203.0.113.9");
}

static void test_xff_rightmost_untrusted(void **state)
{
    (void)state;
    const char *t = "10.0.0.0/8";
    assert_string_equal(client(t, "10.0.0.2", "198.51.100.7", NULL), "198.51.100.7");
    /* the client forged a left part; the ingress appended the real address */
    assert_string_equal(client(t, "10.0.0.2", "1.1.1.1, 198.51.100.7", NULL), "198.51.100.7");
    /* two trusted hops in front of the client */
    assert_string_equal(client(t, "10.0.0.2", "1.1.1.1, 198.51.100.7, 10.0.0.9, 10.1.1.1", NULL),
                        "198.51.100.7");
    /* every hop trusted: the leftmost */
    assert_string_equal(client(t, "10.0.0.2", "10.9.9.9, 10.0.0.9", NULL), "10.9.9.9");
    /* IPv6 hops, bare and bracketed, ports */
    assert_string_equal(client(t, "10.0.0.2", "2001:db8::1", NULL), "2001:db8::1");
    assert_string_equal(client(t, "10.0.0.2", "[2001:db8::2]:4711", NULL), "2001:db8::2");
    assert_string_equal(client(t, "10.0.0.2", "198.51.100.7:1234", NULL), "198.51.100.7");
    /* an IPv4-mapped peer is trusted by an IPv4 CIDR */
    assert_string_equal(client(t, "::ffff:10.0.0.2", "198.51.100.7", NULL), "198.51.100.7");
}

static void test_xff_garbage_keeps_peer(void **state)
{
    (void)state;
    const char *t = "10.0.0.0/8";
    assert_string_equal(client(t, "10.0.0.2", "not-an-ip", NULL), "10.0.0.2");
    assert_string_equal(client(t, "10.0.0.2", "198.51.100.7, garbage", NULL), "10.0.0.2");
    assert_string_equal(client(t, "10.0.0.2", "", NULL), "10.0.0.2");
    assert_string_equal(client(t, "10.0.0.2", " , ", NULL), "10.0.0.2");
    assert_string_equal(client(t, "10.0.0.2", "1.2.3.4:99999", NULL), "10.0.0.2");
    assert_string_equal(client(t, "10.0.0.2", "[1.2.3.4]", NULL), "10.0.0.2");
    /* garbage left of the client is the client's own business */
    assert_string_equal(client(t, "10.0.0.2", "garbage, 198.51.100.7", NULL), "198.51.100.7");
}

static void test_xff_over_several_fields(void **state)
{
    (void)state;
    netaddr_set set;
    assert_int_equal(netaddr_set_parse("10.0.0.0/8", &set, NULL, 0), 0);
    netaddr p = addr("10.0.0.2"), c;
    const char *x[2] = {"198.51.100.1, 198.51.100.2", "10.0.0.3"};
    assert_int_equal(netaddr_client(&set, &p, x, 2, NULL, 0, &c), NETADDR_XFF);
    char buf[NETADDR_TEXT];
    netaddr_format(&c, buf, sizeof buf);
    assert_string_equal(buf, "198.51.100.2");
    netaddr_set_free(&set);
}

static void test_long_chain(void **state)
{
    (void)state;
    char chain[2048] = "198.51.100.1";
    for (int i = 0; i < 40; i++)
        strcat(chain, ", 10.0.0.1");
    /* the client is further left than the hops kept: the peer */
    assert_string_equal(client("10.0.0.0/8", "10.0.0.2", chain, NULL), "10.0.0.2");
    /* an untrusted hop within reach is found */
    strcat(chain, ", 198.51.100.9");
    assert_string_equal(client("10.0.0.0/8", "10.0.0.2", chain, NULL), "198.51.100.9");
}

static void test_forwarded(void **state)
{
    (void)state;
    const char *t = "10.0.0.0/8";
    assert_string_equal(client(t, "10.0.0.2", NULL, "for=198.51.100.7"), "198.51.100.7");
    assert_string_equal(client(t, "10.0.0.2", NULL, "For=\"198.51.100.7:4711\";proto=https"),
                        "198.51.100.7");
    assert_string_equal(client(t, "10.0.0.2", NULL, "for=\"[2001:db8:cafe::17]:4711\""),
                        "2001:db8:cafe::17");
    assert_string_equal(client(t, "10.0.0.2", NULL, "for=\"[2001:db8::1]\""), "2001:db8::1");
    /* parameters in any order, by= ignored, several elements */
    assert_string_equal(client(t, "10.0.0.2", NULL,
                               "for=1.1.1.1, proto=http;for=198.51.100.7;by=10.0.0.2, for=10.0.0.5"),
                        "198.51.100.7");
    /* a quoted comma does not split an element */
    assert_string_equal(client(t, "10.0.0.2", NULL, "for=198.51.100.7;x=\"a,b\""), "198.51.100.7");
    /* XFF wins when both are present */
    assert_string_equal(client(t, "10.0.0.2", "198.51.100.1", "for=198.51.100.2"), "198.51.100.1");
}

static void test_forwarded_unusable(void **state)
{
    (void)state;
    const char *t = "10.0.0.0/8";
    assert_string_equal(client(t, "10.0.0.2", NULL, "for=unknown"), "10.0.0.2");
    assert_string_equal(client(t, "10.0.0.2", NULL, "for=_hidden"), "10.0.0.2");
    assert_string_equal(client(t, "10.0.0.2", NULL, "for=198.51.100.7, for=_hidden"), "10.0.0.2");
    assert_string_equal(client(t, "10.0.0.2", NULL, "proto=https"), "10.0.0.2");
    /* unquoted IPv6 is not a token */
    assert_string_equal(client(t, "10.0.0.2", NULL, "for=[2001:db8::1]"), "10.0.0.2");
    assert_string_equal(client(t, "10.0.0.2", NULL, "for=\"unterminated"), "10.0.0.2");
    assert_string_equal(client(t, "10.0.0.2", NULL, "for=1.2.3.4;for=5.6.7.8"), "10.0.0.2");
    assert_string_equal(client(t, "10.0.0.2", NULL, "for"), "10.0.0.2");
    assert_string_equal(client(t, "10.0.0.2", NULL, "for=\"\""), "10.0.0.2");
    /* an obfuscated port is fine */
    assert_string_equal(client(t, "10.0.0.2", NULL, "for=\"198.51.100.7:_p1\""), "198.51.100.7");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_addresses),
        cmocka_unit_test(test_format_unmaps_ipv4),
        cmocka_unit_test(test_cidr_matching),
        cmocka_unit_test(test_cidr_errors),
        cmocka_unit_test(test_untrusted_peer_ignores_headers),
        cmocka_unit_test(test_xff_rightmost_untrusted),
        cmocka_unit_test(test_xff_garbage_keeps_peer),
        cmocka_unit_test(test_xff_over_several_fields),
        cmocka_unit_test(test_long_chain),
        cmocka_unit_test(test_forwarded),
        cmocka_unit_test(test_forwarded_unusable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
