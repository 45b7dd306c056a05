/*
 * app — what each subcommand does: build the configuration from its layers,
 * load the site, serve until a signal, and report errors once.
 */
#ifndef TOMED_APP_H
#define TOMED_APP_H

/* Run tomed as `tomed argv...`; returns the process exit status (enum tomed_exit).
 * The one place that prints an error and chooses the exit status. */
int app_main(int argc, char **argv, char **envp);

#endif
