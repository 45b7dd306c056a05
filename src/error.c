/*
 * error — fills in the one tomed_error that startup code passes down and
 * returns upwards. The first error set wins: it is the most specific one, and
 * callers further up can then `return error_set(...)` without hiding it.
 */
#include "tomed/error.h"

#include <stdarg.h>
#include <stdio.h>

int error_set(tomed_error *err, int status, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err->status != 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    /* A status of 0 would mean "no error" and let a later call overwrite the
     * message, so a caller's mistake still ends in a failure exit. */
    err->status = status != 0 ? status : TOMED_EXIT_RUNTIME;
    return -1;
}
