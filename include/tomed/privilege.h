/*
 * privilege — never serve as root by accident: drop to server.user after the
 * ports are bound, or refuse (container mode) unless told otherwise.
 */
#ifndef TOMED_PRIVILEGE_H
#define TOMED_PRIVILEGE_H

#include <sys/types.h>

#include "tomed/config.h"
#include "tomed/error.h"

/* Before binding: with effective uid euid, may tomed go on? Container mode
 * as root needs server.user or server.allow_root; `serve` only warns. */
int privilege_check(const tomed_config *cfg, uid_t euid, tomed_error *err);

/* After binding: when running as root and server.user is set, switch every
 * thread to that user and its group (supplementary groups cleared), and check
 * root cannot be regained. 0 when nothing was to be done or it succeeded. */
int privilege_drop(const tomed_config *cfg, tomed_error *err);

#endif
