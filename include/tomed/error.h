/*
 * error — one error value that startup code fills in with context and returns
 * upwards; main() prints it once and chooses the exit status from it.
 */
#ifndef TOMED_ERROR_H
#define TOMED_ERROR_H

/* Exit statuses, documented in the README and in `tomed --help`. */
enum tomed_exit {
    TOMED_EXIT_OK = 0,
    TOMED_EXIT_RUNTIME = 1, /* could not serve: bind failed, site unreadable, out of memory */
    TOMED_EXIT_CONFIG = 2,  /* bad command line, configuration or site directory */
};

typedef struct tomed_error {
    int status;      /* one of enum tomed_exit; 0 while no error is set */
    char msg[1024];  /* "file:line:col: what is wrong" or "what: why" */
} tomed_error;

/* Set err (if not NULL and not already set: the first, most specific error
 * wins) and return -1, so callers can `return error_set(...)`. */
int error_set(tomed_error *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
