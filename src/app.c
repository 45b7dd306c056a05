/*
 * app — the subcommands and the process lifecycle.
 *
 * Startup code below returns errors with context in a tomed_error; app_main is
 * the one place that prints them and turns them into an exit status, so every
 * failure looks the same to a person and to Kubernetes.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/opensslv.h>
#include <yaml.h>
#include <zlib.h>

#include "tomed/app.h"
#include "tomed/cli.h"
#include "tomed/config.h"
#include "tomed/diag.h"
#include "tomed/prebuild.h"
#include "tomed/privilege.h"
#include "tomed/reqhead.h"
#include "tomed/responses.h"
#include "tomed/server.h"
#include "tomed/site.h"
#include "tomed/siteload.h"
#include "tomed/store.h"
#include "tomed/sveltekit.h"
#include "tomed/watch.h"

static void print_version(void)
{
    printf("tomed %s (libmicrohttpd %s, zlib %s, libyaml %s, %s)\n", TOMED_VERSION,
           MHD_get_version(), zlibVersion(), yaml_get_version_string(), OPENSSL_VERSION_TEXT);
}

/* `tomed serve` on a build made for a base path previews it under that base,
 * as `vite preview` would, unless --base (or the file or environment) says
 * otherwise. */
static int detect_base(tomed_config *cfg, tomed_error *err)
{
    const char *origin = config_origin_of(cfg, "base");
    if (cfg->mode != CONFIG_MODE_SERVE || !origin || strcmp(origin, "default") != 0)
        return 0;
    char path[4096], html[65536], base[256];
    snprintf(path, sizeof path, "%s/index.html", cfg->root);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(html, 1, sizeof html, f);
    fclose(f);
    if (sveltekit_detect_base(html, n, base, sizeof base) < 0)
        return 0;
    if (config_set(cfg, "base", base, "index.html", err) < 0)
        return -1;
    diag(DIAG_NOTICE, "serving under %s, the base this build was made for (--base / to "
                      "override)", diag_q(base));
    return 0;
}

/* defaults < YAML < TOMED_* < flags, then validation. Caller owns *out. */
static int build_config(const cli_args *a, char **envp, tomed_config **out, tomed_error *err)
{
    tomed_config *cfg = config_new(a->command == CLI_SERVE || a->command == CLI_PRECOMPRESS
                                       ? CONFIG_MODE_SERVE
                                       : CONFIG_MODE_RUN);
    *out = cfg;
    if (!cfg)
        return error_set(err, TOMED_EXIT_RUNTIME, "out of memory");
    const char *file = a->config_file ? a->config_file : getenv("TOMED_CONFIG");
    if (file && file[0] && config_load_file(cfg, file, err) < 0)
        return -1;
    if (config_apply_env(cfg, envp, err) < 0)
        return -1;
    for (size_t i = 0; i < a->n_settings; i++)
        if (config_set(cfg, a->settings[i].key, a->settings[i].value, a->settings[i].flag, err) < 0)
            return -1;
    if (a->dir && config_set(cfg, "root", a->dir, "command line", err) < 0)
        return -1;
    if (config_validate(cfg, err) < 0)
        return -1;
    if (a->command == CLI_PRECOMPRESS)
        return 0; /* a build step: serves nothing, runs as the build's user */
    if (a->command != CLI_CHECK && privilege_check(cfg, geteuid(), err) < 0)
        return -1;
    return detect_base(cfg, err);
}

static void human_bytes(uint64_t n, char *buf, size_t cap)
{
    if (n < 10 * 1024)
        snprintf(buf, cap, "%llu bytes", (unsigned long long)n);
    else if (n < 10ull * 1024 * 1024)
        snprintf(buf, cap, "%.1f KiB", (double)n / 1024);
    else
        snprintf(buf, cap, "%.1f MiB", (double)n / (1024 * 1024));
}

/* The one line a person acts on: what is served and the URL to open. */
static void print_banner(const tomed_config *cfg, const site_snapshot *snap, unsigned port)
{
    char host[256], size[32];
    unsigned ignored;
    config_parse_listen(cfg->listen, host, sizeof host, &ignored);
    const char *shown = host;
    int v6 = strchr(host, ':') != NULL;
    if (!host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        shown = "localhost"; /* wildcard: the machine's own name is what a person opens */
        v6 = 0;
    }
    human_bytes(snap->total_bytes, size, sizeof size);
    /* the library version running, not the one built against: which
     * request checks libmicrohttpd makes depends on it */
    diag(DIAG_NOTICE | DIAG_BARE,
         "tomed %s (libmicrohttpd %s): serving %zu files (%s) from %s at http://%s%s%s:%u%s%s",
         TOMED_VERSION, MHD_get_version(), snap->n_entries, size, diag_q(cfg->root),
         v6 ? "[" : "", diag_q(shown), v6 ? "]" : "", port, diag_q(cfg->base),
         strcmp(cfg->base, "/") == 0 ? "" : "/");
}

/* The site's _redirects and _headers rules, one a comment line each; the
 * lines that could not be used were warned about on stderr as it loaded. */
static void print_site_rules(const site_snapshot *snap)
{
    if (!snap->rules)
        return;
    printf("# site rules: %zu in _redirects, %zu in _headers, %zu lines ignored\n",
           siterules_redirect_count(snap->rules), siterules_header_rule_count(snap->rules),
           siterules_warning_count(snap->rules));
    char *text = siterules_describe(snap->rules);
    for (char *line = text, *nl; line && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!nl)
            break;
        printf("#   %.*s\n", (int)(nl - line), line);
    }
    free(text);
}

/* One line per request check: whether the linked libmicrohttpd refuses such
 * a request itself or leaves it to tomed (src/reqhead.c). */
static void print_request_checks(void)
{
    const char *lib = MHD_get_version();
    for (unsigned i = 0; i < REQHEAD_RULES; i++) {
        const char *what = NULL;
        int by = reqhead_rule(lib, i, &what);
        printf("# request check: %s: %s libmicrohttpd %s\n", what,
               by == REQHEAD_BY_LIBRARY ? "refused by" : "left to tomed by", lib);
    }
}

/* `tomed precompress DIR`: siblings written at build time (prebuild.h). */
static int cmd_precompress(const tomed_config *cfg)
{
    prebuild_opts o = {.brotli_quality = (int)cfg->brotli_quality,
                       .gzip_level = (int)cfg->gzip_level,
                       .min_size = cfg->compress_min_size,
                       .threads = cfg->threads,
                       .progress = stderr};
    prebuild_stats st;
    int rc = prebuild_dir(cfg->root, &o, &st);
    char in[32], out[32];
    human_bytes(st.in_bytes, in, sizeof in);
    human_bytes(st.out_bytes, out, sizeof out);
    diag(DIAG_NOTICE,
         "precompress: %zu compressible of %zu files: %zu siblings written (%s -> %s), %zu up to "
         "date, %zu not smaller, %zu stale removed, %zu failed",
         st.compressible, st.files, st.written, in, out, st.up_to_date, st.not_smaller,
         st.removed, st.failed);
    return rc;
}

/* Memory a `tomed serve` of this snapshot holds, for sizing a container
 * (deploy/README.md "Sizing"). The files' bytes and their variants are not
 * tomed's own memory (store.h): they are page cache in storage.dir's packs,
 * mapped as they are served, which the kernel reclaims under pressure; they
 * are reported beside the estimate, not in it. Calibrated against VmRSS less
 * the packs' mapped pages, of tomed serve on x86_64 (2026-12-06): the
 * example site (27 files) 9.0 MiB once loaded; generated sites of 1,000 and
 * 4,000 files of 1-4 KB 1.8 and 3.1 MiB of RssAnon once loaded, 2.2 and 4.1
 * with their br/gzip variants. Responses are built for the files asked for,
 * for at most RESPONSES_KEPT_MAX representations: that part is what serving
 * the whole site adds. Generated variants are assumed half the file's size,
 * as text compresses to at most that. A busy connection costs about 55 KiB
 * (measured: 53.4 KiB each over 300 kept-alive connections, most of it
 * libmicrohttpd's pool, sized in server.c's connection_memory). */
/* The process, its libraries, listeners, one file: 9.0 MiB on Debian 12
 * (libmicrohttpd 0.9.75, OpenSSL 3.0) and 10.3 on Debian 13 (1.0.1, OpenSSL
 * 3.5; the image's platform), the same binary source (test-trixie measures
 * both): the midpoint keeps both within 7%. */
#define SIZING_BASELINE (9830ull << 10)
#define SIZING_PER_FILE 512ull           /* entry, path, CSP, hash slot */
#define SIZING_PER_VARIANT 192ull        /* a variant's record */
#define SIZING_PER_RESPONSES 2560ull     /* a representation's kept 200 and 304 */
#define SIZING_COMPRESSOR (768ull << 10) /* what the compressor's scratch leaves behind */

static void print_memory_estimate(const tomed_config *cfg, const site_snapshot *snap)
{
    uint64_t held = 0, siblings = 0, generated = 0;
    size_t n_siblings = 0, n_generated = 0;
    for (size_t i = 0; i < snap->n_entries; i++) {
        const site_entry *e = snap->entries[i];
        if (e->data)
            held += e->size;
        for (int k = ENC_BR; k < ENC_COUNT; k++) {
            const site_variant *v = site_entry_variant(e, (enum encoding)k);
            if (v) {
                n_siblings++;
                siblings += v->data ? v->size : 0;
            } else if (e->negotiable && e->size <= cfg->compress_max_file_size &&
                       generated + e->size / 2 <= cfg->compress_memory_max) {
                /* as the background compressor: not above compression.max_file_size,
                 * and it stops at compression.memory_max */
                generated += e->size / 2;
                n_generated++;
            }
        }
    }
    uint64_t loaded = SIZING_BASELINE + snap->n_entries * SIZING_PER_FILE +
                      n_siblings * SIZING_PER_VARIANT;
    uint64_t compressed = n_generated ? n_generated * SIZING_PER_VARIANT + SIZING_COMPRESSOR : 0;
    uint64_t reps = snap->n_entries + n_siblings + n_generated;
    uint64_t responses = (reps < RESPONSES_KEPT_MAX ? reps : RESPONSES_KEPT_MAX) *
                         SIZING_PER_RESPONSES;
    /* in MiB throughout: the unit container memory is sized in */
    const double mib = 1024.0 * 1024.0;
    printf("# memory: about %.1f MiB resident when serving: %.1f MiB once loaded (%zu files, "
           "%zu precompressed siblings) + %.1f MiB for about %zu generated variants "
           "(compression.memory_max %.1f MiB) + %.1f MiB of responses once every file is asked "
           "for; add about 55 KiB per busy connection; besides, %.1f MiB of file bytes and "
           "%.1f MiB of variants in page cache (storage.dir, reclaimable)\n",
           (double)(loaded + compressed + responses) / mib, (double)loaded / mib,
           snap->n_entries, n_siblings, (double)compressed / mib, n_generated,
           (double)cfg->compress_memory_max / mib, (double)responses / mib,
           (double)held / mib, (double)(siblings + generated) / mib);
}

static int cmd_check(const tomed_config *cfg, tomed_error *err)
{
    site_snapshot *snap = NULL;
    /* a check is asked for its detail: the loader's debug lines (each ignored
     * precompressed sibling, by name) go to stderr too */
    diag_set_level(DIAG_DEBUG);
    /* read the site as `run` would: as server.user, when started as root */
    if (privilege_drop(cfg, err) < 0)
        return -1;
    if (store_init(cfg->storage_dir, err) < 0 || site_load(cfg, 1, &snap, err) < 0)
        return -1;
    char *yaml = config_dump(cfg);
    if (!yaml) {
        site_snapshot_unref(snap);
        return error_set(err, TOMED_EXIT_RUNTIME, "out of memory");
    }
    fputs(yaml, stdout);
    if (snap->rewriting) {
        printf("# rewrite: build base %s -> mount base %s: %llu references in %zu files\n",
               snap->build_base, cfg->base, (unsigned long long)snap->rewrites,
               snap->rewritten_files);
        for (size_t i = 0; i < snap->n_entries; i++)
            if (snap->entries[i]->rewrites)
                printf("#   %s: %u\n", snap->entries[i]->path, snap->entries[i]->rewrites);
    } else if (snap->build_base[0]) {
        printf("# rewrite: none (built for %s, mounted at %s%s)\n", snap->build_base, cfg->base,
               cfg->rewrite_enabled ? "" : ", rewrite.enabled false");
    }
    print_site_rules(snap);
    char size[32];
    human_bytes(snap->total_bytes, size, sizeof size);
    printf("# site: %zu files (%s) in %s\n", snap->n_entries, size, cfg->root);
    print_memory_estimate(cfg, snap);
    print_request_checks();
    free(yaml);
    site_snapshot_unref(snap);
    return 0;
}

static int event_loop(const tomed_config *cfg, server *srv, const sigset_t *set, watcher *w);

static int cmd_serve(const tomed_config *cfg, tomed_error *err)
{
    /* Block the signals we wait for before any thread exists, so every
     * libmicrohttpd thread inherits the mask and only sigwait sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
#ifdef __GLIBC__
    /* One malloc arena, not one per thread: the compressor thread's own arena
     * kept its scratch memory resident even after malloc_trim (3.3 MiB of a
     * 13.8 MiB idle RSS on the example site), and a Pi's memory is the scarce
     * thing. The hot path allocates nothing per request (libmicrohttpd's pool,
     * prebuilt responses), so the shared lock costs nothing measurable. */
    mallopt(M_ARENA_MAX, 1);
#endif
    server_raise_fd_limit();

    /* Bind, drop privileges, then load: binding a port below 1024 is the one
     * thing that needs root. The site is read as server.user, so a file only
     * root may read is not served by a process that no longer is root, and
     * every reload reads it exactly as the first load did. Connections that
     * arrive meanwhile wait in the listen backlog. */
    server *srv = NULL;
    if (server_bind(cfg, &srv, err) < 0)
        return -1;
    /* storage.dir is made and checked as the user that will write to it */
    if (privilege_drop(cfg, err) < 0 || store_init(cfg->storage_dir, err) < 0) {
        server_stop(srv, 0);
        return -1;
    }
    /* Watch before loading: a change made while the site loads, or right
     * after the banner, must not be missed. */
    watcher *w = NULL;
    if (cfg->reload_watch) {
        tomed_error werr = {0};
        if (!(w = watch_start(cfg->root, &werr)))
            diag(DIAG_WARN, "%s; reload with SIGHUP instead", werr.msg);
    }
    site_snapshot *snap = NULL;
    if (site_load(cfg, 1, &snap, err) < 0) {
        server_stop(srv, 0);
        watch_free(w);
        return -1;
    }
    site_snapshot_ref(snap); /* keep it for the banner; the server takes the first reference */
    if (server_start(srv, snap, err) < 0) {
        site_snapshot_unref(snap);
        watch_free(w);
        return -1;
    }
    if (snap->rewriting)
        diag(DIAG_NOTICE, "built for %s, mounted at %s: rewrote %llu references in %zu files "
                          "(tomed check lists them)",
             diag_q(snap->build_base), diag_q(cfg->base), (unsigned long long)snap->rewrites,
             snap->rewritten_files);
    if (snap->n_entries == 0)
        diag(DIAG_WARN, "%s holds no files: /readyz answers 503 until a site is loaded (SIGHUP "
                        "or reload.watch)", diag_q(cfg->root));
    print_banner(cfg, snap, server_port(srv));
    if (server_admin_port(srv))
        diag(DIAG_NOTICE, "admin endpoints (%s, %s, %s) on port %u", diag_q(cfg->health_path),
             diag_q(cfg->readiness_path), diag_q(cfg->metrics_path), server_admin_port(srv));
    else if (cfg->metrics_path && cfg->metrics_path[0] && !cfg->admin_public_metrics)
        diag(DIAG_NOTICE, "%s is answered on admin.listen only, and none is set: metrics are off "
                          "(admin.public_metrics: true puts them on this port)",
             diag_q(cfg->metrics_path));
    site_snapshot_unref(snap);

    int rc = event_loop(cfg, srv, &set, w);
    watch_free(w);
    return rc;
}

static void reload(server *srv, const char *why)
{
    tomed_error err = {0};
    if (server_reload(srv, &err) < 0)
        diag(DIAG_ERROR, "reload (%s) failed, still serving the previous site: %s", why, err.msg);
}

/* Stop: readiness first, then (after drain_delay) the listener, then wait for
 * requests in flight. */
static int shut_down(const tomed_config *cfg, server *srv, int sfd, int sig)
{
    const char *name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    server_begin_drain(srv);
    if (cfg->drain_delay_s > 0) {
        /* Kubernetes removes the endpoint only after readiness fails; keep
         * serving meanwhile. A second signal cuts the wait short. */
        diag(DIAG_NOTICE, "%s: readiness now 503; serving %us more before draining", name,
             cfg->drain_delay_s);
        struct pollfd p = {.fd = sfd, .events = POLLIN};
        poll(&p, 1, (int)(cfg->drain_delay_s > 86400 ? 86400 : cfg->drain_delay_s) * 1000);
    }
    diag(DIAG_NOTICE, "%s: draining (at most %us)", name, cfg->shutdown_timeout_s);
    server_stop(srv, cfg->shutdown_timeout_s);
    diag(DIAG_NOTICE, "stopped");
    return 0;
}

/*
 * The main thread's loop: signals (through a signalfd, so they are ordinary
 * events), inotify with a quiet period (a build writes hundreds of files in a
 * burst; reload once, after it), and a one-second housekeeping tick.
 */
static int event_loop(const tomed_config *cfg, server *srv, const sigset_t *set, watcher *w)
{
    enum { QUIET_MS = 300 };
    int sfd = signalfd(-1, set, SFD_CLOEXEC);
    if (sfd < 0) {
        diag(DIAG_CRIT, "signalfd: %s", strerror(errno));
        server_stop(srv, cfg->shutdown_timeout_s);
        return -1;
    }
    int pending = 0; /* a change seen, waiting for the quiet period */
    for (;;) {
        struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = w ? watch_fd(w) : -1, .events = POLLIN}};
        int n = poll(p, 2, pending ? QUIET_MS : 1000);
        if (n < 0 && errno != EINTR)
            break;
        if (n == 0) {
            if (pending) {
                pending = 0;
                watch_rearm(w); /* first, so changes made during the reload are seen */
                reload(srv, "files changed");
            }
            server_poll(srv);
            continue;
        }
        if (p[1].revents & POLLIN)
            pending |= watch_drain(w);
        if (!(p[0].revents & POLLIN))
            continue;
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof si) != (ssize_t)sizeof si)
            continue;
        if (si.ssi_signo == SIGHUP) {
            if (w)
                watch_rearm(w);
            reload(srv, "SIGHUP");
            continue;
        }
        int rc = shut_down(cfg, srv, sfd, (int)si.ssi_signo);
        close(sfd);
        return rc;
    }
    close(sfd);
    server_stop(srv, cfg->shutdown_timeout_s);
    return -1;
}

int app_main(int argc, char **argv, char **envp)
{
    tomed_error err = {0};
    cli_args args;
    tomed_config *cfg = NULL;
    int rc = 0;

    if (cli_parse(argc, argv, &args, &err) < 0)
        goto out;
    if (args.command == CLI_HELP) {
        cli_usage(stdout);
        return TOMED_EXIT_OK;
    }
    if (args.command == CLI_VERSION) {
        print_version();
        return TOMED_EXIT_OK;
    }
    if (build_config(&args, envp, &cfg, &err) < 0)
        goto out;
    if (args.command == CLI_PRECOMPRESS)
        rc = cmd_precompress(cfg);
    else
        rc = args.command == CLI_CHECK ? cmd_check(cfg, &err) : cmd_serve(cfg, &err);
out:
    config_free(cfg);
    if (err.status) {
        diag(DIAG_ERROR | DIAG_BARE, "tomed: %s", err.msg);
        return err.status;
    }
    return rc < 0 ? TOMED_EXIT_RUNTIME : TOMED_EXIT_OK;
}
