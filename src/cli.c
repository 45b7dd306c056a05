/*
 * cli — parse the command line into a subcommand and a list of settings.
 *
 * Every configuration key is also a flag, so the command line never lags
 * behind the YAML file: "--limits.max-connections 64" sets the same thing as
 * "limits: {max_connections: 64}" and TOMED_LIMITS_MAX_CONNECTIONS=64.
 */
#include <stdio.h>
#include <string.h>

#include "tomed/cli.h"

void cli_usage(FILE *out)
{
    fputs(
        "tomed " TOMED_VERSION " - serve a prebuilt static site (a SvelteKit adapter-static build)\n"
        "\n"
        "Usage:\n"
        "  tomed serve [DIR] [options]   preview a build: DIR defaults to ./docs,\n"
        "                                listens on 127.0.0.1:4173\n"
        "  tomed run [options]           container mode: root /srv/docs, listens on 0.0.0.0:8080\n"
        "  tomed --config FILE           the same as: tomed run --config FILE\n"
        "  tomed check [DIR] [options]   validate the configuration and the site, print the\n"
        "                                effective configuration as YAML\n"
        "  tomed precompress [DIR]       write x.br and x.gz siblings of DIR's compressible\n"
        "                                files (where smaller), on every core\n"
        "  tomed version                 print the version and library versions\n"
        "  tomed help                    this text\n"
        "\n"
        "Options:\n"
        "  -c, --config FILE     YAML configuration (also TOMED_CONFIG); conf/tomed.yaml\n"
        "                        documents every key\n"
        "  -l, --listen ADDR     host:port, [v6addr]:port or :port (port 0 picks a free one)\n"
        "  -b, --base PATH       mount the site under PATH, e.g. /tomeclicker (default /)\n"
        "      --root DIR        the site directory (same as the DIR argument)\n"
        "      --spa-fallback F  serve site file F (e.g. 200.html) for unknown page paths\n"
        "      --KEY VALUE       any configuration key, e.g. --limits.max-connections 256,\n"
        "                        --headers.content-security-policy \"default-src 'self'\"\n"
        "\n"
        "Precedence: built-in defaults < YAML file < TOMED_* environment < flags.\n"
        "Environment: TOMED_<KEY> with dots as underscores, e.g. TOMED_BASE=/tomeclicker,\n"
        "TOMED_LIMITS_MAX_CONNECTIONS=256.\n"
        "\n"
        "Signals: SIGTERM/SIGINT stop accepting, finish requests in flight (at most\n"
        "server.shutdown_timeout) and exit 0.\n"
        "\n"
        "Exit status:\n"
        "  0  success, or a clean shutdown\n"
        "  1  runtime failure: cannot listen on the address, cannot read the site\n"
        "  2  bad command line, configuration or site directory (the message says\n"
        "     file:line:col or which flag or variable)\n",
        out);
}

static int add_setting(cli_args *a, const char *name, size_t name_len, const char *value,
                       tomed_error *err)
{
    if (a->n_settings == CLI_MAX_SETTINGS)
        return error_set(err, TOMED_EXIT_CONFIG, "too many options");
    cli_setting *s = &a->settings[a->n_settings];
    if (name_len + 3 > sizeof s->flag || name_len >= sizeof s->key)
        return error_set(err, TOMED_EXIT_CONFIG, "--%.*s: unknown option", (int)(name_len > 40 ? 40 : name_len), name);
    snprintf(s->flag, sizeof s->flag, "--%.*s", (int)name_len, name);
    for (size_t i = 0; i < name_len; i++)
        s->key[i] = name[i] == '-' ? '_' : name[i];
    s->key[name_len] = '\0';
    s->value = value;
    a->n_settings++;
    return 0;
}

int cli_parse(int argc, char **argv, cli_args *a, tomed_error *err)
{
    memset(a, 0, sizeof *a);
    a->command = CLI_RUN;
    int i = 1;
    if (i < argc && argv[i][0] != '-') {
        const char *c = argv[i++];
        if (strcmp(c, "serve") == 0)
            a->command = CLI_SERVE;
        else if (strcmp(c, "run") == 0)
            a->command = CLI_RUN;
        else if (strcmp(c, "check") == 0)
            a->command = CLI_CHECK;
        else if (strcmp(c, "version") == 0)
            a->command = CLI_VERSION;
        else if (strcmp(c, "precompress") == 0)
            a->command = CLI_PRECOMPRESS;
        else if (strcmp(c, "help") == 0)
            a->command = CLI_HELP;
        else
            return error_set(err, TOMED_EXIT_CONFIG,
                             "unknown command \"%s\" (expected serve, run, check, precompress, version or help; "
                             "see tomed --help)", c);
    }
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            a->command = CLI_HELP;
            return 0;
        }
        if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
            a->command = CLI_VERSION;
            return 0;
        }
        if (arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (a->dir || (a->command != CLI_SERVE && a->command != CLI_CHECK &&
                           a->command != CLI_PRECOMPRESS))
                return error_set(err, TOMED_EXIT_CONFIG, "unexpected argument \"%s\" (see tomed --help)", arg);
            a->dir = arg;
            continue;
        }
        /* Short aliases take the next argument. */
        const char *name;
        size_t name_len;
        const char *value = NULL;
        if (strcmp(arg, "-c") == 0)
            name = "config";
        else if (strcmp(arg, "-l") == 0)
            name = "listen";
        else if (strcmp(arg, "-b") == 0)
            name = "base";
        else if (arg[1] == '-' && arg[2])
            name = arg + 2;
        else
            return error_set(err, TOMED_EXIT_CONFIG, "unknown option \"%s\" (see tomed --help)", arg);
        const char *eq = strchr(name, '=');
        if (eq) {
            name_len = (size_t)(eq - name);
            value = eq + 1;
        } else {
            name_len = strlen(name);
            if (i + 1 >= argc)
                return error_set(err, TOMED_EXIT_CONFIG, "--%.*s needs a value (see tomed --help)",
                                 (int)name_len, name);
            value = argv[++i];
        }
        if (name_len == 6 && strncmp(name, "config", 6) == 0) {
            a->config_file = value;
            continue;
        }
        if (add_setting(a, name, name_len, value, err) < 0)
            return -1;
    }
    return 0;
}
