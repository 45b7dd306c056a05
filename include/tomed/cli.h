/*
 * cli — the command line: subcommand, config file, site directory and the
 * settings given as flags. Pure parsing; app.c acts on the result.
 */
#ifndef TOMED_CLI_H
#define TOMED_CLI_H

#include <stdio.h>
#include "tomed/error.h"

enum cli_command { CLI_RUN, CLI_SERVE, CLI_CHECK, CLI_VERSION, CLI_HELP, CLI_PRECOMPRESS };

#define CLI_MAX_SETTINGS 64

typedef struct cli_setting {
    char key[96];        /* dotted config key, e.g. "limits.max_connections" */
    const char *value;   /* points into argv */
    char flag[112];      /* the flag as typed, for error messages ("--listen") */
} cli_setting;

typedef struct cli_args {
    enum cli_command command;
    const char *config_file; /* --config FILE, or NULL */
    const char *dir;         /* positional site directory (serve, check, precompress), or NULL */
    cli_setting settings[CLI_MAX_SETTINGS];
    size_t n_settings;
} cli_args;

/* Parse argv. Flags: --config/-c FILE, --listen/-l, --base/-b, --root, and
 * --<key> VALUE or --<key>=VALUE for any config key (dashes may stand for
 * underscores). Unknown subcommands and missing values are errors
 * (TOMED_EXIT_CONFIG); unknown keys are caught later by config_set. */
int cli_parse(int argc, char **argv, cli_args *out, tomed_error *err);

/* The --help text. */
void cli_usage(FILE *out);

#endif
