/*
 * fuzz_config_set — config_set (the path of flags and TOMED_* variables) and
 * config_parse_listen.
 *
 * Input: [u8 mode][u8 hostcap] then NUL-separated "key", "value" pairs.
 *
 * Every value is also parsed as a listen address with a random host buffer
 * size. After the pairs, the dump must load again and dump identically.
 */
#include "fuzz_util.h"

#include "tomed/config.h"

static void check_listen(const char *v, size_t hostcap)
{
    char *host = malloc(hostcap ? hostcap : 1);
    unsigned port = 123456;
    if (!host) abort();
    int rc = config_parse_listen(v, hostcap ? host : NULL, hostcap, &port);
    if (rc == 0) {
        CHECK(hostcap > 0);
        size_t hl = strnlen(host, hostcap);
        CHECK(hl < hostcap && hl <= 253);
        CHECK(port <= 65535);
        CHECK(strchr(host, '[') == NULL && strchr(host, ']') == NULL);
        /* the port is the decimal after the last ':' */
        const char *c = strrchr(v, ':');
        CHECK(c != NULL && (unsigned)strtoul(c + 1, NULL, 10) == port);
        /* a bare host has no ':'; a bracketed one is an IPv6 literal */
        if (v[0] != '[') CHECK(strchr(host, ':') == NULL);
        else CHECK(strchr(host, ':') != NULL);
    } else {
        CHECK(rc == -1);
    }
    free(host);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp f = {data, size};
    enum config_mode mode = (fdp_u8(&f) & 1) ? CONFIG_MODE_SERVE : CONFIG_MODE_RUN;
    size_t hostcap = fdp_u8(&f) + 1;
    if (hostcap == 256) hostcap = 0;
    tomed_config *cfg = config_new(mode);
    CHECK(cfg != NULL);

    for (int i = 0; i < 8 && f.n > 0; i++) {
        char *key = fdp_str(&f, '\0', NULL);
        char *val = fdp_str(&f, '\0', NULL);
        tomed_error err = {0};
        int rc = config_set(cfg, key, val, "--fuzz", &err);
        if (rc != 0) {
            CHECK(rc == -1 && err.status != 0 && err.msg[0]);
            for (const unsigned char *p = (const unsigned char *)err.msg; *p; p++)
                CHECKF(*p >= 0x20 && *p != 0x7f, "control byte in: %s", err.msg);
        } else {
            const char *o = config_origin_of(cfg, key);
            CHECK(o != NULL && strcmp(o, "--fuzz") == 0);
        }
        check_listen(val, hostcap);
        free(key);
        free(val);
    }
    char *dump = config_dump(cfg);
    CHECK(dump != NULL);
    if (!fuzz_seen(dump)) { /* the same dump was verified before */
        tomed_config *c2 = config_new(mode);
        tomed_error err = {0};
        CHECKF(config_load_buffer(c2, "dump.yaml", dump, strlen(dump), &err) == 0, "%s\n%s", err.msg, dump);
        char *d2 = config_dump(c2);
        CHECKF(strcmp(dump, d2) == 0, "\n%s\n---\n%s", dump, d2);
        free(d2);
        config_free(c2);
    }
    free(dump);
    config_free(cfg);
    return 0;
}
