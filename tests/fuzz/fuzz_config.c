/*
 * fuzz_config — config_load_buffer on arbitrary YAML, then the dump.
 *
 * Input: [u8 mode][YAML bytes...]
 *
 * Whether or not the load succeeds, the configuration must stay consistent
 * (config.c only stores checked values), so config_dump must always produce
 * YAML that loads again, into either mode, and dumps to the same text. A
 * failed load leaves an error message without control bytes (values are
 * escaped before they are quoted).
 */
#include "fuzz_util.h"

#include "tomed/config.h"

static void check_msg(const tomed_error *err)
{
    CHECK(err->status == TOMED_EXIT_CONFIG || err->status == TOMED_EXIT_RUNTIME);
    CHECK(err->msg[0] != '\0');
    CHECK(memchr(err->msg, '\0', sizeof err->msg) != NULL);
    for (const unsigned char *p = (const unsigned char *)err->msg; *p; p++)
        CHECKF(*p >= 0x20 && *p != 0x7f, "control byte %#x in error message: %s", *p, err->msg);
}

static void check_fields(const tomed_config *cfg)
{
    char host[256];
    unsigned port;
    CHECK(cfg->root && cfg->root[0]);
    CHECK(cfg->base && cfg->base[0] == '/');
    size_t bl = strlen(cfg->base);
    CHECK(bl == 1 || cfg->base[bl - 1] != '/');
    CHECK(config_parse_listen(cfg->listen, host, sizeof host, &port) == 0 && port <= 65535);
    CHECK(cfg->n_cache_rules <= 256);
    for (size_t i = 0; i < cfg->n_cache_rules; i++) {
        CHECK(cfg->cache_rules[i].match && cfg->cache_rules[i].match[0] == '/');
        CHECK(cfg->cache_rules[i].cache_control && cfg->cache_rules[i].cache_control[0]);
    }
    CHECK(cfg->brotli_quality <= 11 && cfg->gzip_level >= 1 && cfg->gzip_level <= 9);
    CHECK(cfg->max_url_length >= 64 && cfg->max_url_length <= 65536);
    CHECK(cfg->max_connections >= 1 && cfg->threads <= 256);
    CHECK(cfg->turbo <= 1 && cfg->admin_on_public <= 1 && cfg->reload_watch <= 1);
}

/* dump -> load into a fresh config of mode -> dump: same text */
static void check_reload(const char *dump, enum config_mode mode)
{
    tomed_config *c = config_new(mode);
    tomed_error err = {0};
    CHECK(c != NULL);
    int rc = config_load_buffer(c, "dump.yaml", dump, strlen(dump), &err);
    CHECKF(rc == 0, "the dump does not load again: %s\n--- dump ---\n%s", err.msg, dump);
    check_fields(c);
    char *again = config_dump(c);
    CHECK(again != NULL);
    CHECKF(strcmp(again, dump) == 0, "dump differs after reload\n--- first ---\n%s\n--- second ---\n%s",
           dump, again);
    free(again);
    config_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fdp f = {data, size};
    enum config_mode mode = (fdp_u8(&f) & 1) ? CONFIG_MODE_SERVE : CONFIG_MODE_RUN;
    /* an exact-size copy without a terminator: the loader takes a length */
    size_t len = f.n;
    char *buf = malloc(len ? len : 1);
    if (!buf) abort();
    memcpy(buf, f.p, len);

    tomed_config *cfg = config_new(mode);
    tomed_error err = {0};
    CHECK(cfg != NULL);
    int rc = config_load_buffer(cfg, "fuzz.yaml", buf, len, &err);
    if (rc != 0) {
        CHECK(rc == -1);
        check_msg(&err);
    } else {
        CHECK(err.status == 0);
    }
    check_fields(cfg);
    char *dump = config_dump(cfg);
    CHECK(dump != NULL);
    if (!fuzz_seen(dump)) { /* most inputs leave a dump already verified */
        check_reload(dump, mode);
        check_reload(dump, mode == CONFIG_MODE_RUN ? CONFIG_MODE_SERVE : CONFIG_MODE_RUN);
    }
    free(dump);
    config_free(cfg);
    free(buf);
    return 0;
}
