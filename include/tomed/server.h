/*
 * server — the libmicrohttpd daemon: listening socket, request handler,
 * prebuilt responses for each snapshot entry, and the drain on shutdown.
 * The only module that knows libmicrohttpd.
 */
#ifndef TOMED_SERVER_H
#define TOMED_SERVER_H

#include "tomed/config.h"
#include "tomed/error.h"
#include "tomed/site.h"

typedef struct server server;

/* Raise the soft limit on open descriptors to the hard one, before the site
 * is loaded: the connection limits are sized from it (server_start). */
void server_raise_fd_limit(void);

/*
 * Bind cfg->listen (and cfg->admin_listen when set): the one step that may need
 * root (a port below 1024), so it comes before privileges are dropped and the
 * site is loaded. Nothing is answered yet; connections wait in the backlog.
 * cfg must outlive the server. On error fills err (TOMED_EXIT_RUNTIME, with the
 * address and errno text) and returns -1. Free an unstarted server with
 * server_stop(srv, 0).
 */
int server_bind(const tomed_config *cfg, server **out, tomed_error *err);

/*
 * Start serving snap on the bound sockets (the server takes over the caller's
 * reference). On error fills err, frees srv and returns -1.
 */
int server_start(server *srv, site_snapshot *snap, tomed_error *err);

/* The port actually bound (differs from the configured one when that was 0). */
unsigned server_port(const server *srv);

/* The admin listener's bound port, or 0 when there is none. */
unsigned server_admin_port(const server *srv);

/*
 * Load the site again beside the live snapshot and swap it in atomically; a
 * request sees one generation or the other, never a mix. On failure (site
 * unreadable, index.html gone) the live snapshot stays, err says why, and the
 * failure is counted. Call from one thread at a time.
 */
int server_reload(server *srv, tomed_error *err);

/* After SIGTERM: readiness answers 503 from now on; everything else is still served. */
void server_begin_drain(server *srv);

/* Housekeeping from the main thread, about once a second: publishes the
 * compressor's totals to the metrics when it has finished, releases the
 * previous generation once reload.keep_previous has passed, and hands freed
 * memory back to the kernel once a burst of connections has gone. */
void server_poll(server *srv);

/*
 * Graceful stop: close the listening socket so new connections are refused,
 * let requests in flight finish for at most timeout_s seconds, then stop the
 * daemon and free everything. NULL is a no-op.
 */
void server_stop(server *srv, unsigned timeout_s);

#endif
