/*
 * config — builds the effective configuration from four layers: built-in
 * defaults < one YAML file < TOMED_* environment variables < command-line
 * flags. Every value, whatever its source, goes through the same checks in
 * key_set(), so an error reads the same everywhere except for its origin
 * ("conf/tomed.yaml:12:5", "TOMED_LISTEN", "--listen").
 *
 * Every setting is one row of the `keys` table: that row drives YAML loading,
 * the environment variable name, config_set (flags), the dump, the defaults
 * and the "expected one of" lists, so adding a setting is one line plus its
 * struct field.
 *
 * Ownership: a tomed_config owns every string and the rules array it points
 * at. Setters replace a value by freeing the old one only after the new one is
 * checked and copied, so the struct stays consistent, and safe to free, even
 * after a failed load. Nothing here keeps global mutable state.
 *
 * Only this module knows libyaml. It uses the document API: the shape of the
 * configuration is fixed (at most three levels deep), so walking it is bounded
 * even for hostile input, and aliases cannot multiply work beyond the caps
 * below (value length, number of rules).
 */
#include "tomed/config.h"
#include "tomed/log.h"
#include "tomed/netaddr.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* Caps that keep a hostile file (or aliases repeating one big scalar) from
 * costing much memory; real values are far below them. */
#define VALUE_MAX 8192          /* bytes in one string value */
#define RULES_MAX 256           /* entries in cache.rules */
#define FILE_MAX (1024 * 1024)  /* a Kubernetes ConfigMap holds at most 1 MiB */

enum kind {
    K_ROOT,     /* non-empty path */
    K_LISTEN,   /* "host:port", "[v6]:port", ":port" */
    K_BASE,     /* URL path; trailing '/' removed */
    K_HEALTH,   /* URL path or "" */
    K_SITEFILE, /* site-relative file name or "" */
    K_CACHE,    /* non-empty header value */
    K_HEADER,   /* header value; "" removes the header */
    K_GLOB,     /* cache rule pattern (rules only, not in the table) */
    K_SIZE,     /* bytes, stored as uint64_t */
    K_UINT,     /* whole number, stored as unsigned */
    K_DURATION, /* seconds, stored as unsigned */
    K_RULES,    /* cache.rules: YAML only */
    K_BOOL,     /* true/false (also yes/no, on/off), stored as unsigned 0/1 */
    K_ADMIN,    /* like K_LISTEN, or "" for none */
    K_ACCESSLOG,/* "off", "clf" or "json" */
    K_USER,     /* a user name, "uid" or "uid:gid", or "" */
    K_CIDRS,    /* comma-separated CIDRs, or a YAML sequence of them; "" none */
    K_DIR,      /* a directory path, or "" for the default */
};

struct key_def {
    const char *name;      /* dotted key = YAML path */
    enum kind kind;
    size_t off;            /* field in tomed_config */
    const char *def_run;   /* default, as text parsed like any other value */
    const char *def_serve; /* default in SERVE mode; NULL = same as def_run */
    uint64_t min, max;     /* numeric kinds only */
};

#define F(field) offsetof(tomed_config, field)

/* Order matters: it is the dump order and the order of "expected one of"
 * lists, and the keys of one section must be contiguous. */
static const struct key_def keys[] = {
    {"root", K_ROOT, F(root), "/srv/docs", "./docs", 0, 0},
    {"listen", K_LISTEN, F(listen), "0.0.0.0:8080", "127.0.0.1:4173", 0, 0},
    {"base", K_BASE, F(base), "/", NULL, 0, 0},
    {"health_path", K_HEALTH, F(health_path), "/healthz", NULL, 0, 0},
    {"readiness_path", K_HEALTH, F(readiness_path), "/readyz", NULL, 0, 0},
    {"metrics_path", K_HEALTH, F(metrics_path), "/metrics", NULL, 0, 0},
    {"not_found_page", K_SITEFILE, F(not_found_page), "404.html", NULL, 0, 0},
    {"spa_fallback", K_SITEFILE, F(spa_fallback), "", NULL, 0, 0},
    {"cache.immutable", K_CACHE, F(cache_immutable), "public, max-age=31536000, immutable", NULL, 0, 0},
    {"cache.revalidate", K_CACHE, F(cache_revalidate), "no-cache", NULL, 0, 0},
    {"cache.default", K_CACHE, F(cache_default), "public, max-age=600, must-revalidate", NULL, 0, 0},
    {"cache.rules", K_RULES, 0, NULL, NULL, 0, 0},
    {"headers.content_security_policy", K_HEADER, F(csp),
     "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
     "img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; "
     "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
     NULL, 0, 0},
    {"headers.csp_auto", K_BOOL, F(csp_auto), "true", NULL, 0, 1},
    {"headers.x_content_type_options", K_HEADER, F(x_content_type_options), "nosniff", NULL, 0, 0},
    {"headers.referrer_policy", K_HEADER, F(referrer_policy), "strict-origin-when-cross-origin", NULL, 0, 0},
    {"headers.x_frame_options", K_HEADER, F(x_frame_options), "DENY", NULL, 0, 0},
    {"headers.cross_origin_opener_policy", K_HEADER, F(cross_origin_opener_policy), "same-origin", NULL, 0, 0},
    {"headers.permissions_policy", K_HEADER, F(permissions_policy),
     "camera=(), microphone=(), geolocation=()", NULL, 0, 0},
    {"limits.memory_file_max", K_SIZE, F(memory_file_max), "1MiB", NULL, 0, UINT64_MAX},
    {"limits.max_connections", K_UINT, F(max_connections), "1024", NULL, 1, UINT_MAX},
    {"limits.max_connections_per_ip", K_UINT, F(max_connections_per_ip), "0", NULL, 0, UINT_MAX},
    {"limits.connection_timeout", K_DURATION, F(connection_timeout_s), "30s", NULL, 1, UINT_MAX},
    {"limits.header_timeout", K_DURATION, F(header_timeout_s), "30s", NULL, 0, UINT_MAX},
    {"limits.max_url_length", K_UINT, F(max_url_length), "4096", NULL, 64, 65536},
    {"limits.max_header_size", K_SIZE, F(max_header_size), "16KiB", NULL, 1024, 1048576},
    {"server.threads", K_UINT, F(threads), "0", NULL, 0, 256},
    {"server.shutdown_timeout", K_DURATION, F(shutdown_timeout_s), "10s", NULL, 0, UINT_MAX},
    {"server.drain_delay", K_DURATION, F(drain_delay_s), "5s", "0", 0, UINT_MAX},
    {"server.turbo", K_BOOL, F(turbo), "true", NULL, 0, 1},
    {"server.epoll", K_BOOL, F(epoll), "false", NULL, 0, 1},
    {"server.user", K_USER, F(user), "", NULL, 0, 0},
    {"server.allow_root", K_BOOL, F(allow_root), "false", NULL, 0, 1},
    {"server.trusted_proxies", K_CIDRS, F(trusted_proxies), "", NULL, 0, 0},
    {"compression.min_size", K_SIZE, F(compress_min_size), "256", NULL, 0, UINT64_MAX},
    {"compression.memory_max", K_SIZE, F(compress_memory_max), "64MiB", NULL, 0, UINT64_MAX},
    {"compression.max_file_size", K_SIZE, F(compress_max_file_size), "8MiB", NULL, 0, UINT64_MAX},
    {"compression.brotli_quality", K_UINT, F(brotli_quality), "11", NULL, 0, 11},
    {"compression.gzip_level", K_UINT, F(gzip_level), "9", NULL, 1, 9},
    {"storage.dir", K_DIR, F(storage_dir), "", NULL, 0, 0},
    {"log.access", K_ACCESSLOG, F(access_log), "json", "clf", 0, 0},
    {"log.buffer", K_SIZE, F(log_buffer), "256KiB", NULL, 4096, 64u << 20},
    {"admin.listen", K_ADMIN, F(admin_listen), "", NULL, 0, 0},
    {"admin.on_public_listener", K_BOOL, F(admin_on_public), "true", NULL, 0, 1},
    {"admin.public_metrics", K_BOOL, F(admin_public_metrics), "false", "true", 0, 1},
    {"rewrite.enabled", K_BOOL, F(rewrite_enabled), "true", NULL, 0, 1},
    {"rewrite.build_base", K_HEALTH, F(build_base), "", NULL, 0, 0},
    {"reload.watch", K_BOOL, F(reload_watch), "false", "true", 0, 1},
    {"reload.keep_previous", K_DURATION, F(keep_previous_s), "10m", NULL, 0, UINT_MAX},
};

#define N_KEYS (sizeof keys / sizeof keys[0])

/* ---- small helpers ------------------------------------------------------ */

static bool is_number(enum kind kind)
{
    return kind == K_SIZE || kind == K_UINT || kind == K_DURATION || kind == K_BOOL;
}

/* Kinds where "" (or YAML null) is a meaningful value: "switch it off". */
static bool allows_empty(enum kind kind)
{
    return kind == K_HEALTH || kind == K_SITEFILE || kind == K_HEADER || kind == K_ADMIN ||
           kind == K_USER || kind == K_CIDRS || kind == K_DIR;
}

static const char *kind_noun(enum kind kind)
{
    switch (kind) {
    case K_UINT: return "a whole number";
    case K_SIZE: return "a size";
    case K_DURATION: return "a duration";
    case K_BOOL: return "true or false";
    case K_RULES: return "a sequence";
    default: return "a string";
    }
}

/* Length of the section part of a dotted name ("limits" in
 * "limits.max_connections"); 0 for a top-level key. */
static size_t section_len(const char *name)
{
    const char *dot = strchr(name, '.');
    return dot ? (size_t)(dot - name) : 0;
}

static char **str_field(tomed_config *cfg, const struct key_def *k)
{
    return (char **)(void *)((char *)cfg + k->off);
}

static const char *str_value(const tomed_config *cfg, const struct key_def *k)
{
    return *(char *const *)(const void *)((const char *)cfg + k->off);
}

/* A value shown inside an error message: quoted by the caller, escaped here
 * so control bytes cannot forge log lines, and truncated so one huge value
 * cannot push the location out of the message. */
struct shown {
    char s[112];
};

static struct shown show_n(const char *v, size_t len)
{
    struct shown out;
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        char tmp[8];
        size_t n = 1;

        tmp[0] = (char)c;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            n = 2;
        } else if (c < 0x20 || c == 0x7f) {
            n = (size_t)snprintf(tmp, sizeof tmp, "\\x%02x", c);
        }
        if (o + n + 4 > sizeof out.s - 16) {
            memcpy(out.s + o, "...", 4);
            return out;
        }
        memcpy(out.s + o, tmp, n);
        o += n;
    }
    out.s[o] = '\0';
    return out;
}

static struct shown show(const char *v)
{
    return show_n(v, strlen(v));
}

/* Writes a reason into why (if any) and returns -1, for check functions. */
static int say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL && cap > 0) {
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Sets a configuration error "where: label: why" (label may be NULL). */
static int fail(tomed_error *err, const char *where, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(tomed_error *err, const char *where, const char *label, const char *fmt, ...)
{
    char why[800];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (label != NULL)
        return error_set(err, TOMED_EXIT_CONFIG, "%s: %s: %s", where, label, why);
    return error_set(err, TOMED_EXIT_CONFIG, "%s: %s", where, why);
}

static int oom(tomed_error *err)
{
    return error_set(err, TOMED_EXIT_RUNTIME, "out of memory");
}

/* Length of the UTF-8 sequence at s (at most len bytes) and its code point;
 * 0 if it is not valid UTF-8 (overlong forms and surrogates included). */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    size_t n;
    uint32_t c, min;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0) {
        n = 2, c = s[0] & 0x1f, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        n = 3, c = s[0] & 0x0f, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        n = 4, c = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

/* ---- value checks ------------------------------------------------------- */

/* Rules every string obeys, whatever its key: values end up in HTTP headers,
 * paths and the dump, none of which can carry these bytes faithfully. */
static int check_text(const char *v, size_t len, char *why, size_t cap)
{
    const unsigned char *s = (const unsigned char *)v;
    uint32_t cp;

    if (strlen(v) != len)
        return say(why, cap, "must not contain a NUL byte");
    if (len > VALUE_MAX)
        return say(why, cap, "is %zu bytes long, more than the limit of %d", len, VALUE_MAX);
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f)
            return say(why, cap, "must not contain control characters (line breaks, tabs), got \"%s\"",
                       show_n(v, len).s);
    }
    for (size_t i = 0; i < len;) {
        size_t n = utf8_decode(s + i, len - i, &cp);
        if (n == 0)
            return say(why, cap, "is not valid UTF-8, got \"%s\"", show_n(v, len).s);
        i += n;
    }
    return 0;
}

/* True if the '/'-separated path v has a segment equal to one of "." or "..". */
static bool has_dot_segment(const char *v, bool single_dot_too)
{
    for (const char *seg = v; seg != NULL;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);

        if ((n == 2 && seg[0] == '.' && seg[1] == '.') || (single_dot_too && n == 1 && seg[0] == '.'))
            return true;
        seg = end ? end + 1 : NULL;
    }
    return false;
}

/* base and health_path: compared against request paths byte for byte, so
 * anything a client would have to encode, or that normalisation would change,
 * can never match and is refused here. */
static int check_url_path(const char *v, char *why, size_t cap)
{
    if (v[0] != '/')
        return say(why, cap, "must start with \"/\", got \"%s\"", show(v).s);
    for (const char *p = v; *p != '\0'; p++) {
        const char *bad = NULL;

        switch (*p) {
        case '?': bad = "\"?\""; break;
        case '#': bad = "\"#\""; break;
        case '%': bad = "\"%\""; break;
        case '\\': bad = "\"\\\\\""; break;
        case ' ': bad = "whitespace"; break;
        default: break;
        }
        if (bad != NULL)
            return say(why, cap, "must not contain %s, got \"%s\"", bad, show(v).s);
    }
    if (strstr(v, "//") != NULL)
        return say(why, cap, "must not contain \"//\", got \"%s\"", show(v).s);
    if (has_dot_segment(v + 1, true))
        return say(why, cap, "must not contain \".\" or \"..\" segments, got \"%s\"", show(v).s);
    return 0;
}

static int check_site_file(const char *v, char *why, size_t cap)
{
    size_t len = strlen(v);

    if (len == 0)
        return 0;
    if (v[0] == '/')
        return say(why, cap, "must be relative to the site root, without a leading \"/\", got \"%s\"",
                   show(v).s);
    if (v[len - 1] == '/')
        return say(why, cap, "must name a file, not a directory, got \"%s\"", show(v).s);
    if (has_dot_segment(v, false))
        return say(why, cap, "must not contain a \"..\" segment, got \"%s\"", show(v).s);
    return 0;
}

/* The parser behind config_parse_listen; explains itself in why (may be NULL). */
static int listen_split(const char *s, char *host, size_t hostcap, unsigned *port, char *why,
                        size_t cap)
{
    static const char forms[] = "expected \"host:port\", \"[v6]:port\" or \":port\"";
    const char *colon, *h = s;
    size_t hlen;
    unsigned long p = 0;

    if (s == NULL || host == NULL || hostcap == 0 || port == NULL)
        return say(why, cap, "%s", forms);
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':' || close == s + 1)
            return say(why, cap, "%s, got \"%s\"", forms, show(s).s);
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
        for (size_t i = 0; i < hlen; i++) {
            if (strchr("0123456789abcdefABCDEF:.", h[i]) == NULL)
                return say(why, cap, "invalid IPv6 address \"%s\"", show_n(h, hlen).s);
        }
        if (memchr(h, ':', hlen) == NULL)
            return say(why, cap, "invalid IPv6 address \"%s\"", show_n(h, hlen).s);
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return say(why, cap, "%s, got \"%s\"", forms, show(s).s);
        hlen = (size_t)(colon - s);
        if (memchr(s, ':', hlen) != NULL)
            return say(why, cap, "an IPv6 address needs brackets, as in \"[::1]:8080\", got \"%s\"",
                       show(s).s);
        for (size_t i = 0; i < hlen; i++) {
            char c = s[i];
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-';
            if (!ok)
                return say(why, cap, "invalid host \"%s\"", show_n(s, hlen).s);
        }
    }
    const char *ps = colon + 1;
    size_t plen = strlen(ps);
    if (plen == 0 || plen > 5 || strspn(ps, "0123456789") != plen)
        return say(why, cap, "port must be 0..65535, got \"%s\"", show(ps).s);
    for (size_t i = 0; i < plen; i++)
        p = p * 10 + (unsigned long)(ps[i] - '0');
    if (p > 65535)
        return say(why, cap, "port must be 0..65535, got \"%s\"", show(ps).s);
    if (hlen >= hostcap || hlen > 253)
        return say(why, cap, "host is too long, got \"%s\"", show_n(h, hlen).s);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (unsigned)p;
    return 0;
}

int config_parse_listen(const char *listen, char *host, size_t hostcap, unsigned *port)
{
    return listen_split(listen, host, hostcap, port, NULL, 0);
}

/* Checks a string value of any string kind; v is NUL-terminated, len its
 * claimed length (YAML scalars may hide a NUL). */
static int check_string(enum kind kind, const char *v, size_t len, char *why, size_t cap)
{
    char host[256];
    unsigned port;

    if (check_text(v, len, why, cap) < 0)
        return -1;
    if (len == 0 && !allows_empty(kind))
        return say(why, cap, "must not be empty");
    switch (kind) {
    case K_LISTEN: return listen_split(v, host, sizeof host, &port, why, cap);
    case K_ADMIN: return len == 0 ? 0 : listen_split(v, host, sizeof host, &port, why, cap);
    case K_USER:
        for (size_t i = 0; i < len; i++)
            if (!(isalnum((unsigned char)v[i]) || v[i] == '_' || v[i] == '-' || v[i] == '.' ||
                  v[i] == ':'))
                return say(why, cap, "expected a user name, uid or uid:gid, got \"%s\"", show(v).s);
        return 0;
    case K_ACCESSLOG:
        if (log_parse_format(v) >= 0)
            return 0;
        return say(why, cap, "expected off, clf (or common) or json, got \"%s\"", show(v).s);
    case K_BASE: return check_url_path(v, why, cap);
    case K_HEALTH:
        if (len == 0)
            return 0;
        if (check_url_path(v, why, cap) < 0)
            return -1;
        if (v[len - 1] == '/')
            return say(why, cap, "must not end with \"/\", got \"%s\"", show(v).s);
        return 0;
    case K_SITEFILE: return check_site_file(v, why, cap);
    case K_CIDRS: return netaddr_set_parse(v, NULL, why, cap);
    case K_GLOB:
        if (v[0] != '/')
            return say(why, cap, "must start with \"/\", got \"%s\"", show(v).s);
        return 0;
    default: return 0;
    }
}

/* Leading decimal digits of *p into *out; -1 if there are none, -2 on overflow. */
static int parse_digits(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t n = 0;
    bool big = false;

    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (n > (UINT64_MAX - d) / 10)
            big = true;
        else
            n = n * 10 + d;
    }
    *p = s;
    *out = n;
    return big ? -2 : 0;
}

/* Multiplier of a size or duration suffix; 0 if unknown. For "ms" returns 1
 * and sets *ms, since milliseconds divide rather than multiply. */
static uint64_t unit_of(enum kind kind, const char *suffix, bool *ms)
{
    static const struct { const char *s; uint64_t mult; } sizes[] = {
        {"", 1}, {"B", 1}, {"K", 1024}, {"KiB", 1024}, {"M", 1 << 20}, {"MiB", 1 << 20},
        {"G", 1 << 30}, {"GiB", 1 << 30},
    };
    static const struct { const char *s; uint64_t mult; } times[] = {
        {"", 1}, {"s", 1}, {"ms", 1}, {"m", 60}, {"h", 3600},
    };

    *ms = false;
    if (kind == K_UINT)
        return *suffix == '\0' ? 1 : 0;
    if (kind == K_SIZE) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            if (strcmp(suffix, sizes[i].s) == 0)
                return sizes[i].mult;
        return 0;
    }
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        if (strcmp(suffix, times[i].s) == 0) {
            *ms = strcmp(suffix, "ms") == 0;
            return times[i].mult;
        }
    }
    return 0;
}

static int check_bool(const char *v, uint64_t *out, char *why, size_t cap)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
            *out = strcasecmp(v, yes[i]) == 0;
            return 0;
        }
    }
    return say(why, cap, "expected true or false, got \"%s\"", show(v).s);
}

static int check_number(const struct key_def *k, const char *v, uint64_t *out, char *why, size_t cap)
{
    if (k->kind == K_BOOL)
        return check_bool(v, out, why, cap);
    static const char *const examples[] = {
        [K_UINT] = "a whole number",
        [K_SIZE] = "a size such as 1048576, 512K or 1MiB",
        [K_DURATION] = "a duration such as 30, 30s, 500ms, 5m or 1h",
    };
    const char *unit = k->kind == K_SIZE ? " bytes" : k->kind == K_DURATION ? "s" : "";
    const char *p = v;
    uint64_t n, mult;
    bool ms, big;
    int r = parse_digits(&p, &n);

    mult = r == -1 ? 0 : unit_of(k->kind, p, &ms);
    if (mult == 0)
        return say(why, cap, "expected %s, got \"%s\"", examples[k->kind], show(v).s);
    big = r == -2 || n > UINT64_MAX / mult;
    if (!big && ms)
        n = n / 1000 + (n % 1000 != 0); /* round up: "1ms" must not become "never" */
    else if (!big)
        n *= mult;
    if (!big && n >= k->min && n <= k->max) {
        *out = n;
        return 0;
    }
    if (k->min > 0 && k->max < UINT_MAX)
        return say(why, cap, "must be between %" PRIu64 "%s and %" PRIu64 "%s, got \"%s\"", k->min,
                   unit, k->max, unit, show(v).s);
    if (!big && n < k->min)
        return say(why, cap, "must be at least %" PRIu64 "%s, got \"%s\"", k->min, unit, show(v).s);
    return say(why, cap, "must be at most %" PRIu64 "%s, got \"%s\"", k->max, unit, show(v).s);
}

/* ---- setting one key ---------------------------------------------------- */

/* Truncates a very long file name rather than failing: origins are for messages. */
static void origin_copy(config_origin *o, const char *where)
{
    size_t n = strnlen(where, sizeof o->where - 1);

    memcpy(o->where, where, n);
    o->where[n] = '\0';
}

/* origins is NULL only in a struct built by hand (other modules' tests). */
static void set_origin(tomed_config *cfg, const struct key_def *k, const char *where)
{
    if (cfg->origins != NULL)
        origin_copy(&cfg->origins[k - keys], where);
}

/* The one place a value enters the configuration: checks it for k, then
 * stores it. where names the origin for messages and for root_origin. */
static int key_set(tomed_config *cfg, const struct key_def *k, const char *v, size_t len,
                   const char *where, tomed_error *err)
{
    char why[640];
    uint64_t n = 0;

    if (k->kind == K_RULES)
        return fail(err, where, k->name,
                    "can only be set in the YAML file, as a list of {match, cache_control} mappings");
    if (is_number(k->kind)) {
        if (strlen(v) != len)
            return fail(err, where, k->name, "must not contain a NUL byte");
        if (check_number(k, v, &n, why, sizeof why) < 0)
            return fail(err, where, k->name, "%s", why);
        if (k->kind == K_SIZE)
            *(uint64_t *)(void *)((char *)cfg + k->off) = n;
        else
            *(unsigned *)(void *)((char *)cfg + k->off) = (unsigned)n; /* max <= UINT_MAX */
        set_origin(cfg, k, where);
        return 0;
    }
    if (check_string(k->kind, v, len, why, sizeof why) < 0)
        return fail(err, where, k->name, "%s", why);
    if (k->kind == K_BASE && len > 1 && v[len - 1] == '/')
        len--; /* "/tomeclicker/" and "/tomeclicker" mean the same mount */
    char *copy = strndup(v, len);
    if (copy == NULL)
        return oom(err);
    char **field = str_field(cfg, k);
    free(*field);
    *field = copy;
    if (k->kind == K_ROOT)
        origin_copy(&cfg->root_origin, where);
    set_origin(cfg, k, where);
    return 0;
}

static void rules_free(config_cache_rule *rules, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rules[i].match);
        free(rules[i].cache_control);
    }
    free(rules);
}

/* ---- names and lists ---------------------------------------------------- */

/* "limits.max_connections" -> "TOMED_LIMITS_MAX_CONNECTIONS". */
static void env_name(const struct key_def *k, char *buf, size_t cap)
{
    size_t o = (size_t)snprintf(buf, cap, "TOMED_");

    for (const char *p = k->name; *p != '\0' && o + 1 < cap; p++)
        buf[o++] = *p == '.' ? '_' : (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
    buf[o] = '\0';
}

/* config_set's lookup: flags spell words with '-', keys with '_'. */
static const struct key_def *key_by_name(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *a = keys[i].name, *b = name;
        while (*a != '\0' && (*a == *b || (*a == '_' && *b == '-')))
            a++, b++;
        if (*a == '\0' && *b == '\0')
            return &keys[i];
    }
    return NULL;
}

static const struct key_def *key_by_env(const char *name, size_t len)
{
    char buf[128];

    for (size_t i = 0; i < N_KEYS; i++) {
        env_name(&keys[i], buf, sizeof buf);
        if (strlen(buf) == len && memcmp(buf, name, len) == 0)
            return &keys[i];
    }
    return NULL;
}

enum list_what { LIST_TOP, LIST_SECTION };

static void list_add(char *buf, size_t cap, size_t *o, const char *s, size_t n)
{
    int w = snprintf(buf + *o, cap - *o, "%s%.*s", *o ? ", " : "", (int)n, s);

    if (w > 0)
        *o = *o + (size_t)w < cap ? *o + (size_t)w : cap - 1;
}

/* The "expected one of" list for a message, from the table. For
 * LIST_SECTION, sec names the section ("limits"). */
static void key_list(char *buf, size_t cap, enum list_what what, const char *sec)
{
    size_t o = 0, prev_sl = 0;
    const char *prev = "";

    buf[0] = '\0';
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key_def *k = &keys[i];
        size_t sl = section_len(k->name);

        if (what == LIST_TOP) {
            /* sections are contiguous: list each once */
            if (sl == 0)
                list_add(buf, cap, &o, k->name, strlen(k->name));
            else if (sl != prev_sl || strncmp(prev, k->name, sl) != 0)
                list_add(buf, cap, &o, k->name, sl);
            prev = k->name;
            prev_sl = sl;
        } else if (what == LIST_SECTION) {
            if (sl == strlen(sec) && sl > 0 && strncmp(k->name, sec, sl) == 0)
                list_add(buf, cap, &o, k->name + sl + 1, strlen(k->name + sl + 1));
        }
    }
}

/* Edit distance, bounded: names are short. */
static size_t distance(const char *a, size_t n, const char *b, size_t m)
{
    size_t row[128];
    if (n >= 127 || m >= 127)
        return SIZE_MAX;
    for (size_t j = 0; j <= m; j++)
        row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[m];
}

/* The known key (or variable name, for env) nearest to what was typed, if it
 * is near enough to be a typo: " (did you mean X?)"; else "". A full list of
 * three dozen names helps nobody at a terminal. */
static void suggest(char *buf, size_t cap, const char *typed, size_t len, bool env)
{
    size_t best = SIZE_MAX;
    char name[128], best_name[128] = "";
    for (size_t i = 0; i < N_KEYS; i++) {
        if (keys[i].kind == K_RULES)
            continue;
        if (env)
            env_name(&keys[i], name, sizeof name);
        else
            snprintf(name, sizeof name, "%s", keys[i].name);
        size_t d = distance(typed, len, name, strlen(name));
        if (d < best) {
            best = d;
            snprintf(best_name, sizeof best_name, "%s", name);
        }
    }
    if (best <= 3 || (best != SIZE_MAX && best * 4 <= len))
        snprintf(buf, cap, " (did you mean %s?)", best_name);
    else
        buf[0] = '\0';
}

/* ---- lifetime ----------------------------------------------------------- */

tomed_config *config_new(enum config_mode mode)
{
    tomed_config *cfg = calloc(1, sizeof *cfg);
    tomed_error err = {0};

    if (cfg == NULL)
        return NULL;
    cfg->mode = mode;
    cfg->origins = calloc(N_KEYS, sizeof *cfg->origins);
    if (cfg->origins == NULL) {
        free(cfg);
        return NULL;
    }
    set_origin(cfg, key_by_name("cache.rules"), "default");
    /* Defaults go through key_set like any value, so they obey the same rules. */
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key_def *k = &keys[i];
        const char *v = mode == CONFIG_MODE_SERVE && k->def_serve ? k->def_serve : k->def_run;

        if (v != NULL && key_set(cfg, k, v, strlen(v), "default", &err) < 0) {
            config_free(cfg);
            return NULL;
        }
    }
    return cfg;
}

void config_free(tomed_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < N_KEYS; i++) {
        if (!is_number(keys[i].kind) && keys[i].kind != K_RULES)
            free(*str_field(cfg, &keys[i]));
    }
    rules_free(cfg->cache_rules, cfg->n_cache_rules);
    free(cfg->config_file);
    free(cfg->origins);
    free(cfg);
}

const char *config_origin_of(const tomed_config *cfg, const char *key)
{
    const struct key_def *k = key != NULL ? key_by_name(key) : NULL;

    if (cfg == NULL || k == NULL || cfg->origins == NULL)
        return NULL;
    return cfg->origins[k - keys].where;
}

/* ---- YAML --------------------------------------------------------------- */

struct loader {
    tomed_config *cfg;
    const char *name;        /* file name for messages */
    yaml_document_t *doc;
    tomed_error *err;
    size_t key_line[N_KEYS]; /* 1-based line where a key was first set; 0 = not yet */
    size_t sec_line[N_KEYS]; /* same for sections, indexed by their first key */
};

struct where {
    char s[320];
};

static struct where at(const struct loader *ld, yaml_mark_t m)
{
    struct where w;

    snprintf(w.s, sizeof w.s, "%s:%zu:%zu", ld->name, m.line + 1, m.column + 1);
    return w;
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* Plain "", "~" and "null" are YAML's null; quoted they are strings. */
static bool is_null(const yaml_node_t *n)
{
    const char *v;
    size_t len;

    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    v = scalar(n);
    len = n->data.scalar.length;
    return len == 0 || (len == 1 && v[0] == '~') ||
           (len == 4 && (memcmp(v, "null", 4) == 0 || memcmp(v, "Null", 4) == 0 ||
                         memcmp(v, "NULL", 4) == 0));
}

/* What a node is, for "expected X, got Y". */
struct described {
    char s[sizeof(struct shown) + 8];
};

static struct described describe(const yaml_node_t *n)
{
    struct described out;

    if (n->type == YAML_MAPPING_NODE)
        snprintf(out.s, sizeof out.s, "a mapping");
    else if (n->type == YAML_SEQUENCE_NODE)
        snprintf(out.s, sizeof out.s, "a sequence");
    else if (is_null(n) && n->data.scalar.length == 0)
        snprintf(out.s, sizeof out.s, "an empty value");
    else if (is_null(n))
        snprintf(out.s, sizeof out.s, "null");
    else
        snprintf(out.s, sizeof out.s, "\"%s\"", show_n(scalar(n), n->data.scalar.length).s);
    return out;
}

static size_t rule_count(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

/* One {match, cache_control} item of cache.rules into *rule. */
static int load_rule(struct loader *ld, size_t i, const yaml_node_t *n, config_cache_rule *rule)
{
    static const char *const names[2] = {"match", "cache_control"};
    static const enum kind kinds[2] = {K_GLOB, K_CACHE};
    const yaml_node_t *vals[2] = {NULL, NULL};
    size_t lines[2] = {0, 0};
    char label[64], sub[96], why[640];

    snprintf(label, sizeof label, "cache.rules[%zu]", i);
    if (n->type != YAML_MAPPING_NODE)
        return fail(ld->err, at(ld, n->start_mark).s, label,
                    "expected a mapping with \"match\" and \"cache_control\", got %s", describe(n).s);
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *kn = yaml_document_get_node(ld->doc, p->key);
        const yaml_node_t *vn = yaml_document_get_node(ld->doc, p->value);
        size_t j = 2;

        if (kn == NULL || vn == NULL)
            continue;
        if (kn->type != YAML_SCALAR_NODE)
            return fail(ld->err, at(ld, kn->start_mark).s, label, "expected a key name, got %s",
                        describe(kn).s);
        for (j = 0; j < 2; j++)
            if (kn->data.scalar.length == strlen(names[j]) && strcmp(scalar(kn), names[j]) == 0)
                break;
        if (j == 2)
            return fail(ld->err, at(ld, kn->start_mark).s, label,
                        "unknown key \"%s\" (expected one of: match, cache_control)",
                        show_n(scalar(kn), kn->data.scalar.length).s);
        if (lines[j] != 0)
            return fail(ld->err, at(ld, kn->start_mark).s, label,
                        "duplicate key \"%s\" (first set at line %zu)", names[j], lines[j]);
        lines[j] = kn->start_mark.line + 1;
        vals[j] = vn;
    }
    for (size_t j = 0; j < 2; j++) {
        const yaml_node_t *v = vals[j];
        char **dst = j == 0 ? &rule->match : &rule->cache_control;

        snprintf(sub, sizeof sub, "%s.%s", label, names[j]);
        if (v == NULL)
            return fail(ld->err, at(ld, n->start_mark).s, label, "missing \"%s\"", names[j]);
        if (v->type != YAML_SCALAR_NODE || is_null(v))
            return fail(ld->err, at(ld, v->start_mark).s, sub, "expected a string, got %s", describe(v).s);
        if (check_string(kinds[j], scalar(v), v->data.scalar.length, why, sizeof why) < 0)
            return fail(ld->err, at(ld, v->start_mark).s, sub, "%s", why);
        if ((*dst = strdup(scalar(v))) == NULL)
            return oom(ld->err);
    }
    return 0;
}

/* cache.rules replaces any rules from an earlier layer as a whole. */
static int load_rules(struct loader *ld, const struct key_def *k, const yaml_node_t *n)
{
    config_cache_rule *rules = NULL;
    size_t count = 0;

    if (!is_null(n)) {
        if (n->type != YAML_SEQUENCE_NODE)
            return fail(ld->err, at(ld, n->start_mark).s, k->name,
                        "expected a sequence of {match, cache_control} mappings, got %s", describe(n).s);
        count = rule_count(n);
        if (count > RULES_MAX)
            return fail(ld->err, at(ld, n->start_mark).s, k->name, "has %zu rules, more than the limit of %d",
                        count, RULES_MAX);
        if (count > 0 && (rules = calloc(count, sizeof *rules)) == NULL)
            return oom(ld->err);
        for (size_t i = 0; i < count; i++) {
            const yaml_node_t *item = yaml_document_get_node(ld->doc, n->data.sequence.items.start[i]);
            if (item != NULL && load_rule(ld, i, item, &rules[i]) < 0) {
                rules_free(rules, count);
                return -1;
            }
        }
    }
    rules_free(ld->cfg->cache_rules, ld->cfg->n_cache_rules);
    ld->cfg->cache_rules = rules;
    ld->cfg->n_cache_rules = count;
    set_origin(ld->cfg, k, at(ld, n->start_mark).s);
    return 0;
}

/* A YAML sequence of CIDRs: each item is checked where it stands (its own
 * line:col in a message), then the list is kept as one comma-separated
 * string, the form the environment and flags give. */
static int load_cidr_list(struct loader *ld, const struct key_def *k, const yaml_node_t *n)
{
    char label[64], why[640], *joined;
    size_t count = rule_count(n), len = 0;

    if (count > NETADDR_SET_MAX)
        return fail(ld->err, at(ld, n->start_mark).s, k->name, "has %zu networks, more than the limit of %d",
                    count, NETADDR_SET_MAX);
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item = yaml_document_get_node(ld->doc, n->data.sequence.items.start[i]);
        if (item == NULL)
            continue;
        snprintf(label, sizeof label, "%s[%zu]", k->name, i);
        if (item->type != YAML_SCALAR_NODE || is_null(item) || strchr(scalar(item), ',') != NULL)
            return fail(ld->err, at(ld, item->start_mark).s, label,
                        "expected one network such as 10.42.0.0/16, got %s", describe(item).s);
        if (check_text(scalar(item), item->data.scalar.length, why, sizeof why) < 0 ||
            netaddr_set_parse(scalar(item), NULL, why, sizeof why) < 0)
            return fail(ld->err, at(ld, item->start_mark).s, label, "%s", why);
        len += item->data.scalar.length + 1;
    }
    if ((joined = calloc(1, len + 1)) == NULL)
        return oom(ld->err);
    for (size_t i = 0; i < count; i++) {
        const yaml_node_t *item = yaml_document_get_node(ld->doc, n->data.sequence.items.start[i]);
        if (item == NULL)
            continue;
        if (joined[0] != '\0')
            strcat(joined, ",");
        strcat(joined, scalar(item));
    }
    int rc = key_set(ld->cfg, k, joined, strlen(joined), at(ld, n->start_mark).s, ld->err);
    free(joined);
    return rc;
}

static int load_leaf(struct loader *ld, const struct key_def *k, const yaml_node_t *n)
{
    struct where w = at(ld, n->start_mark);

    if (k->kind == K_RULES)
        return load_rules(ld, k, n);
    if (k->kind == K_CIDRS && n->type == YAML_SEQUENCE_NODE)
        return load_cidr_list(ld, k, n);
    if (n->type != YAML_SCALAR_NODE)
        return fail(ld->err, w.s, k->name, "expected %s, got %s", kind_noun(k->kind), describe(n).s);
    if (is_null(n)) {
        if (allows_empty(k->kind))
            return key_set(ld->cfg, k, "", 0, w.s, ld->err);
        return fail(ld->err, w.s, k->name, "expected %s, got %s", kind_noun(k->kind), describe(n).s);
    }
    /* A quoted number is a string in YAML; refusing it keeps files portable
     * to other YAML tools, which would read a different type. */
    if (is_number(k->kind) && n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return fail(ld->err, w.s, k->name, "expected %s without quotes, got %s", kind_noun(k->kind),
                    describe(n).s);
    return key_set(ld->cfg, k, scalar(n), n->data.scalar.length, w.s, ld->err);
}

/* Finds key name (len bytes) in section sec ("" = top level). Returns the
 * table index of a leaf, or of the first key of a section (*is_section). */
static bool lookup(const char *sec, const char *name, size_t len, size_t *idx, bool *is_section)
{
    size_t secl = strlen(sec);

    for (size_t i = 0; i < N_KEYS; i++) {
        const char *kn = keys[i].name;
        size_t sl = section_len(kn);

        if (secl > 0) {
            if (sl != secl || strncmp(kn, sec, sl) != 0)
                continue;
            kn += sl + 1;
            sl = 0;
        }
        if (sl == 0 && strlen(kn) == len && memcmp(kn, name, len) == 0) {
            *idx = i, *is_section = false;
            return true;
        }
        if (sl > 0 && sl == len && memcmp(kn, name, len) == 0) {
            *idx = i, *is_section = true;
            return true;
        }
    }
    return false;
}

static int load_mapping(struct loader *ld, const char *sec, const yaml_node_t *n);

/* One key: value pair of the mapping for section sec ("" = top level). */
static int load_pair(struct loader *ld, const char *sec, const yaml_node_t *kn, const yaml_node_t *vn)
{
    const char *label = *sec ? sec : NULL;
    char list[800], secname[32];
    struct shown name;
    size_t idx, *seen;
    bool is_section;

    if (kn->type != YAML_SCALAR_NODE)
        return fail(ld->err, at(ld, kn->start_mark).s, label, "expected a key name, got %s", describe(kn).s);
    name = show_n(scalar(kn), kn->data.scalar.length);
    if (!lookup(sec, scalar(kn), kn->data.scalar.length, &idx, &is_section)) {
        key_list(list, sizeof list, *sec ? LIST_SECTION : LIST_TOP, sec);
        return fail(ld->err, at(ld, kn->start_mark).s, label, "unknown key \"%s\" (expected one of: %s)",
                    name.s, list);
    }
    seen = is_section ? &ld->sec_line[idx] : &ld->key_line[idx];
    if (*seen != 0)
        return fail(ld->err, at(ld, kn->start_mark).s, label, "duplicate key \"%s\" (first set at line %zu)",
                    name.s, *seen);
    *seen = kn->start_mark.line + 1;
    if (!is_section)
        return load_leaf(ld, &keys[idx], vn);
    snprintf(secname, sizeof secname, "%.*s", (int)section_len(keys[idx].name), keys[idx].name);
    return load_mapping(ld, secname, vn);
}

static int load_mapping(struct loader *ld, const char *sec, const yaml_node_t *n)
{
    if (*sec != '\0' && is_null(n))
        return 0; /* "limits:" with every child commented out */
    if (n->type != YAML_MAPPING_NODE) {
        if (*sec == '\0')
            return fail(ld->err, at(ld, n->start_mark).s, NULL,
                        "the document must be a mapping of keys such as \"root: ./docs\", got %s",
                        describe(n).s);
        return fail(ld->err, at(ld, n->start_mark).s, sec, "expected a mapping, got %s", describe(n).s);
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *kn = yaml_document_get_node(ld->doc, p->key);
        const yaml_node_t *vn = yaml_document_get_node(ld->doc, p->value);

        if (kn != NULL && vn != NULL && load_pair(ld, sec, kn, vn) < 0)
            return -1;
    }
    return 0;
}

/* Reader errors carry a byte offset, not a mark: turn it into line:col. */
static void offset_mark(const char *buf, size_t len, size_t off, size_t *line, size_t *col)
{
    *line = 1, *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n')
            *line += 1, *col = 1;
        else if (((unsigned char)buf[i] & 0xc0) != 0x80)
            *col += 1;
    }
}

static int syntax_error(const yaml_parser_t *p, const char *name, const char *buf, size_t len,
                        tomed_error *err)
{
    const char *problem = p->problem ? p->problem : "invalid YAML";
    size_t line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;

    if (p->error == YAML_MEMORY_ERROR)
        return oom(err);
    if (p->error == YAML_READER_ERROR) {
        offset_mark(buf, len, p->problem_offset, &line, &col);
        return error_set(err, TOMED_EXIT_CONFIG, "%s:%zu:%zu: invalid text: %s", name, line, col, problem);
    }
    if (p->context != NULL)
        return error_set(err, TOMED_EXIT_CONFIG, "%s:%zu:%zu: syntax error: %s (%s at line %zu, column %zu)",
                         name, line, col, problem, p->context, p->context_mark.line + 1,
                         p->context_mark.column + 1);
    return error_set(err, TOMED_EXIT_CONFIG, "%s:%zu:%zu: syntax error: %s", name, line, col, problem);
}

/* Parses the whole stream first (a syntax error anywhere, or a second
 * document, is reported before anything is applied), then applies it. */
int config_load_buffer(tomed_config *cfg, const char *name, const char *buf, size_t len,
                       tomed_error *err)
{
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    int rc = 0;

    if (name == NULL)
        name = "<config>";
    if (buf == NULL)
        buf = "", len = 0;
    if (cfg == NULL)
        return error_set(err, TOMED_EXIT_CONFIG, "%s: no configuration to load into", name);
    if (!yaml_parser_initialize(&parser))
        return oom(err);
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = syntax_error(&parser, name, buf, len, err);
        yaml_parser_delete(&parser);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root != NULL) {
        if (!yaml_parser_load(&parser, &extra)) {
            rc = syntax_error(&parser, name, buf, len, err);
        } else {
            if (yaml_document_get_root_node(&extra) != NULL)
                rc = error_set(err, TOMED_EXIT_CONFIG,
                               "%s:%zu:%zu: more than one document (the file must hold one mapping)", name,
                               extra.start_mark.line + 1, extra.start_mark.column + 1);
            yaml_document_delete(&extra);
        }
    }
    if (rc == 0 && root != NULL && !is_null(root)) {
        struct loader ld = {.cfg = cfg, .name = name, .doc = &doc, .err = err};
        rc = load_mapping(&ld, "", root);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

/* Reads all of path; on error says why, naming the file. */
static int read_all(const char *path, char **out, size_t *outlen, tomed_error *err)
{
    struct stat st;
    size_t len = 0, cap = 0;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return error_set(err, TOMED_EXIT_CONFIG, "%s: cannot read: %s", path, strerror(errno));
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return error_set(err, TOMED_EXIT_CONFIG, "%s: cannot read: %s", path, strerror(EISDIR));
    }
    for (;;) {
        if (len == cap) {
            /* one byte past the limit is enough to know the file is too big */
            size_t ncap = cap == 0 ? 4096 : cap * 2 > FILE_MAX + 1 ? FILE_MAX + 1 : cap * 2;
            char *bigger = len > FILE_MAX ? NULL : realloc(buf, ncap);
            if (bigger == NULL) {
                free(buf);
                close(fd);
                if (len > FILE_MAX)
                    return error_set(err, TOMED_EXIT_CONFIG, "%s: cannot read: larger than %d bytes",
                                     path, FILE_MAX);
                return oom(err);
            }
            buf = bigger, cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return error_set(err, TOMED_EXIT_CONFIG, "%s: cannot read: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    *out = buf;
    *outlen = len;
    return 0;
}

int config_load_file(tomed_config *cfg, const char *path, tomed_error *err)
{
    char *buf = NULL, *copy;
    size_t len = 0;
    int rc;

    if (path == NULL || cfg == NULL)
        return error_set(err, TOMED_EXIT_CONFIG, "config: no file to load");
    if (read_all(path, &buf, &len, err) < 0)
        return -1;
    rc = config_load_buffer(cfg, path, buf, len, err);
    free(buf);
    if (rc < 0)
        return -1;
    if ((copy = strdup(path)) == NULL)
        return oom(err);
    free(cfg->config_file);
    cfg->config_file = copy;
    return 0;
}

/* ---- environment and flags ---------------------------------------------- */

int config_apply_env(tomed_config *cfg, char *const *envp, tomed_error *err)
{
    char name[128], list[800];

    if (cfg == NULL)
        return error_set(err, TOMED_EXIT_CONFIG, "environment: no configuration to apply to");
    for (char *const *e = envp; e != NULL && *e != NULL; e++) {
        const char *s = *e, *eq = strchr(s, '=');
        size_t nlen = eq ? (size_t)(eq - s) : strlen(s);
        const char *val = eq ? eq + 1 : "";
        const struct key_def *k;

        if (strncmp(s, "TOMED_", 6) != 0 || (nlen == 12 && memcmp(s, "TOMED_CONFIG", 12) == 0))
            continue;
        /* Kubernetes injects TOMED_SERVICE_HOST, TOMED_PORT_8080_TCP... into
         * every pod of a namespace with a Service named "tomed": not ours */
        if (strncmp(s, "TOMED_SERVICE_", 14) == 0 || (nlen == 10 && memcmp(s, "TOMED_PORT", 10) == 0) ||
            strncmp(s, "TOMED_PORT_", 11) == 0)
            continue;
        k = key_by_env(s, nlen);
        if (k == NULL) {
            suggest(list, sizeof list, s, nlen, true);
            return error_set(err, TOMED_EXIT_CONFIG,
                             "%s: unknown variable%s; every key is in conf/tomed.yaml, as "
                             "TOMED_<KEY> with dots as underscores",
                             show_n(s, nlen).s, list);
        }
        snprintf(name, sizeof name, "%.*s", (int)nlen, s); /* known names are short */
        if (key_set(cfg, k, val, strlen(val), name, err) < 0)
            return -1;
    }
    return 0;
}

int config_set(tomed_config *cfg, const char *key, const char *value, const char *origin,
               tomed_error *err)
{
    const struct key_def *k;
    char list[800];

    if (origin == NULL)
        origin = key ? key : "config_set";
    if (cfg == NULL || key == NULL || value == NULL)
        return error_set(err, TOMED_EXIT_CONFIG, "%s: missing key or value", origin);
    k = key_by_name(key);
    if (k == NULL) {
        suggest(list, sizeof list, key, strlen(key), false);
        return error_set(err, TOMED_EXIT_CONFIG,
                         "%s: unknown key \"%s\"%s; every key is in conf/tomed.yaml and tomed --help",
                         origin, show(key).s, list);
    }
    return key_set(cfg, k, value, strlen(value), origin, err);
}

/* ---- validation --------------------------------------------------------- */

int config_validate(const tomed_config *cfg, tomed_error *err)
{
    struct stat st;
    const char *where;

    if (cfg == NULL || cfg->root == NULL)
        return error_set(err, TOMED_EXIT_CONFIG, "config: no root directory");
    where = cfg->root_origin.where[0] ? cfg->root_origin.where : "root";
    if (stat(cfg->root, &st) != 0)
        return error_set(err, TOMED_EXIT_CONFIG, "%s: root: \"%s\": %s", where, show(cfg->root).s,
                         strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return error_set(err, TOMED_EXIT_CONFIG, "%s: root: \"%s\": is not a directory", where,
                         show(cfg->root).s);
    /* The site is read and walked: catch a permission problem here, with the
     * origin of the setting, rather than as a bare error from the loader. */
    if (access(cfg->root, R_OK | X_OK) != 0)
        return error_set(err, TOMED_EXIT_CONFIG, "%s: root: \"%s\": %s", where, show(cfg->root).s,
                         strerror(errno));
    /* Probes and scrapes must be answered somewhere. */
    if (!cfg->admin_on_public && (!cfg->admin_listen || !cfg->admin_listen[0])) {
        const char *o = config_origin_of(cfg, "admin.on_public_listener");
        return error_set(err, TOMED_EXIT_CONFIG,
                         "%s: admin.on_public_listener: false needs admin.listen, or health, "
                         "readiness and metrics would be answered nowhere",
                         o ? o : "admin.on_public_listener");
    }
    return 0;
}

/* ---- dump --------------------------------------------------------------- */

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A YAML double-quoted scalar in plain ASCII: escapes cover every byte that
 * YAML would refuse or fold, so the dump reads back byte for byte. */
static void sb_quoted(struct sbuf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s);
    uint32_t cp;

    sb_add(b, "\"", 1);
    for (size_t i = 0; i < len;) {
        size_t n = 1;
        if (u[i] == '"' || u[i] == '\\')
            sb_printf(b, "\\%c", u[i]);
        else if (u[i] >= 0x20 && u[i] < 0x7f)
            sb_add(b, s + i, 1);
        else if (u[i] < 0x80 || (n = utf8_decode(u + i, len - i, &cp)) == 0)
            sb_printf(b, "\\x%02X", u[i]), n = 1; /* cannot happen for checked values */
        else if (cp <= 0xffff)
            sb_printf(b, "\\u%04" PRIX32, cp);
        else
            sb_printf(b, "\\U%08" PRIX32, cp);
        i += n;
    }
    sb_add(b, "\"", 1);
}

static void dump_rules(struct sbuf *b, const tomed_config *cfg)
{
    if (cfg->n_cache_rules == 0) {
        sb_printf(b, "  rules: []\n");
        return;
    }
    sb_printf(b, "  rules:\n");
    for (size_t i = 0; i < cfg->n_cache_rules; i++) {
        sb_printf(b, "    - match: ");
        sb_quoted(b, cfg->cache_rules[i].match);
        sb_printf(b, "\n      cache_control: ");
        sb_quoted(b, cfg->cache_rules[i].cache_control);
        sb_add(b, "\n", 1);
    }
}

char *config_dump(const tomed_config *cfg)
{
    struct sbuf b = {NULL, 0, 0, false};
    size_t prev_sl = 0;
    const char *prev = "";

    if (cfg == NULL)
        return NULL;
    sb_printf(&b, "# tomed: effective configuration\n");
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key_def *k = &keys[i];
        size_t sl = section_len(k->name);
        const char *leaf = sl ? k->name + sl + 1 : k->name;

        if (sl > 0 && (sl != prev_sl || strncmp(prev, k->name, sl) != 0))
            sb_printf(&b, "%.*s:\n", (int)sl, k->name);
        prev = k->name, prev_sl = sl;
        if (k->kind == K_RULES) {
            dump_rules(&b, cfg);
            continue;
        }
        sb_printf(&b, "%s%s: ", sl ? "  " : "", leaf);
        if (k->kind == K_SIZE)
            sb_printf(&b, "%" PRIu64, *(const uint64_t *)(const void *)((const char *)cfg + k->off));
        else if (k->kind == K_BOOL)
            sb_printf(&b, "%s", *(const unsigned *)(const void *)((const char *)cfg + k->off) ? "true" : "false");
        else if (is_number(k->kind))
            sb_printf(&b, "%u", *(const unsigned *)(const void *)((const char *)cfg + k->off));
        else
            sb_quoted(&b, str_value(cfg, k) ? str_value(cfg, k) : "");
        sb_add(&b, "\n", 1);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
