/*
 * config — the effective configuration: built-in defaults, then a YAML file,
 * then TOMED_* environment variables, then command-line flags, each layer
 * overriding the one before. The result is validated once and never changes.
 *
 * Every setting has one dotted key ("limits.max_connections"), which is its
 * YAML path, its environment variable (TOMED_LIMITS_MAX_CONNECTIONS) and its
 * long flag (--limits.max-connections; the common ones also have short names
 * such as --listen). Errors name where the bad value came from:
 * "conf/tomed.yaml:12:5: limits.max_connections: expected a whole number, got \"many\"".
 */
#ifndef TOMED_CONFIG_H
#define TOMED_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "tomed/error.h"

enum config_mode { CONFIG_MODE_RUN, CONFIG_MODE_SERVE };

/* One Cache-Control override: the first rule whose glob matches the site path wins.
 * Globs: '*' matches within a segment, '**' across segments, '?' one byte. */
typedef struct config_cache_rule {
    char *match;
    char *cache_control;
} config_cache_rule;

/* Where a value came from, for error messages: "file:line:col", "TOMED_X" or "--x". */
typedef struct config_origin {
    char where[256];
} config_origin;

typedef struct tomed_config {
    enum config_mode mode;

    char *root;              /* site directory (the SvelteKit docs/) */
    config_origin root_origin;
    char *listen;            /* "127.0.0.1:4173", "[::]:8080", ":8080" */
    char *base;              /* mount base: "/" or "/x" without trailing slash */
    char *health_path;       /* liveness endpoint, outside the base ("" disables) */
    char *readiness_path;    /* readiness: 200 when serving, 503 while draining ("" disables) */
    char *metrics_path;      /* Prometheus exposition ("" disables) */
    char *not_found_page;    /* site file served with 404 ("" disables), default "404.html" */
    char *spa_fallback;      /* site file served with 200 for unknown page paths, "" = none */

    /* Cache-Control defaults fitted to SvelteKit, then ordered overrides. */
    char *cache_immutable;   /* /_app/immutable/ ** */
    char *cache_revalidate;  /* HTML, /_app/version.json, service-worker.js */
    char *cache_default;     /* everything else */
    config_cache_rule *cache_rules;
    size_t n_cache_rules;

    /* Security headers; "" removes a header. */
    char *csp;               /* the policy, or with csp_auto the template each HTML page extends */
    unsigned csp_auto;       /* add the SHA-256 of each page's inline scripts and styles */
    char *x_content_type_options;
    char *referrer_policy;
    char *x_frame_options;
    char *cross_origin_opener_policy;
    char *permissions_policy;

    /* Limits and timing. */
    char *storage_dir;             /* where the bodies' packs go (store.h); "" = a temp dir */
    uint64_t memory_file_max;      /* files up to this size are held in memory; larger ones use sendfile */
    unsigned max_connections;
    unsigned max_connections_per_ip; /* 0 = unlimited */
    unsigned connection_timeout_s;   /* idle/read timeout of a connection */
    unsigned header_timeout_s;       /* a whole request header within this long; 0 = off */
    unsigned max_url_length;         /* longer request paths answer 414 */
    uint64_t max_header_size;        /* request header fields beyond the request line; more: 431 */
    unsigned threads;                /* 0 = one per CPU core */
    unsigned shutdown_timeout_s;     /* drain bound after SIGTERM */
    unsigned drain_delay_s;          /* after SIGTERM, answer readiness 503 this long before
                                        refusing connections, so the endpoint leaves the Service */
    unsigned turbo;                  /* libmicrohttpd's opportunistic reads/writes */
    unsigned epoll;                  /* epoll instead of poll(2) in the polling threads */
    char *user;                      /* started as root: switch to this user after binding */
    unsigned allow_root;             /* started as root without a user: serve as root anyway */
    char *trusted_proxies;           /* comma-separated CIDRs whose X-Forwarded-For / Forwarded
                                        name the client (netaddr_set_parse); "" = none */

    /* Compression of compressible types, once per file, in the background. */
    uint64_t compress_min_size;      /* smaller files are sent as they are */
    uint64_t compress_memory_max;    /* cap on bytes of generated variants; 0 disables */
    uint64_t compress_max_file_size; /* larger files are not compressed at run time */
    unsigned brotli_quality;         /* 0..11 */
    unsigned gzip_level;             /* 1..9 */

    char *access_log;        /* "off", "clf" or "json" (stdout) */
    uint64_t log_buffer;     /* bytes of access-log lines queued for a slow stdout; more are dropped */
    char *admin_listen;      /* a second listener serving only health, readiness, metrics; "" none */
    unsigned admin_on_public;/* also answer health/readiness/metrics on the public listener */
    unsigned admin_public_metrics; /* ...metrics included (off in run mode: versions, counts) */

    unsigned rewrite_enabled;/* rewrite the build's base to the mount base in text assets */
    char *build_base;        /* the base the build was made for; "" = read it from index.html */
    unsigned reload_watch;   /* reload when inotify sees the site change (SIGHUP always reloads) */
    unsigned keep_previous_s;/* after a reload, the previous build's /_app/immutable/ files stay
                                available this long, for pages loaded before the swap */

    char *config_file;       /* the YAML file that was read, or NULL */

    /* Where each key's value came from ("default", "file:line:col", "TOMED_X",
     * "--x"), one per key, owned by the config. Read it with config_origin_of. */
    config_origin *origins;
} tomed_config;

/* Allocate a configuration holding the built-in defaults for mode.
 * Caller owns it; free with config_free. NULL only when out of memory. */
tomed_config *config_new(enum config_mode mode);

/* Free a configuration and everything it owns; NULL is a no-op. */
void config_free(tomed_config *cfg);

/* Layer a YAML file over cfg. On error returns -1 with err->msg
 * "path:line:col: message" (line and column 1-based) and status TOMED_EXIT_CONFIG. */
int config_load_file(tomed_config *cfg, const char *path, tomed_error *err);

/* Same, from a buffer; name is used in messages. For tests and fuzzing. */
int config_load_buffer(tomed_config *cfg, const char *name, const char *buf, size_t len,
                       tomed_error *err);

/* Layer TOMED_* variables from envp (NULL-terminated "K=V" strings) over cfg.
 * TOMED_CONFIG is ignored here (the caller uses it to find the file). An unknown
 * TOMED_ variable is an error, so a typo is never silently ignored. */
int config_apply_env(tomed_config *cfg, char *const *envp, tomed_error *err);

/* Set one dotted key from a string, as env and flags do; origin names the source
 * ("--listen", "TOMED_LISTEN") for error messages. */
int config_set(tomed_config *cfg, const char *key, const char *value, const char *origin,
               tomed_error *err);

/* Check cross-field rules and the file system (root exists and is a directory).
 * Errors point at the origin of the offending value. */
int config_validate(const tomed_config *cfg, tomed_error *err);

/* Write the effective configuration as YAML that config_load_file accepts
 * (used by `tomed check`). Returns a malloc'd string the caller frees. */
char *config_dump(const tomed_config *cfg);

/* Where the effective value of a dotted key came from: "default",
 * "file:line:col", "TOMED_X" or the flag, for messages such as
 * "conf/tomed.yaml:5:15: spa_fallback: ...". NULL for an unknown key.
 * The string lives as long as cfg. */
const char *config_origin_of(const tomed_config *cfg, const char *key);

/* Parse cfg->listen into host (without brackets; "" for all interfaces) and port.
 * 0 on success, -1 if malformed. Pure. */
int config_parse_listen(const char *listen, char *host, size_t hostcap, unsigned *port);

#endif
