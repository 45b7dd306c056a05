/*
 * watch — notice that the site directory changed, with inotify: files written
 * in place (a developer's `npm run build`), Kubernetes' atomic `..data`
 * symlink swap in a mounted volume, and the whole directory replaced by rename.
 */
#ifndef TOMED_WATCH_H
#define TOMED_WATCH_H

#include "tomed/error.h"

typedef struct watcher watcher;

/* Watch root (every directory below it, and its parent for a rename of root
 * itself). Caller owns the result; NULL with err set if inotify is unavailable. */
watcher *watch_start(const char *root, tomed_error *err);

/* The descriptor to poll for readability. */
int watch_fd(const watcher *w);

/* Read pending events; nonzero if any concerns the site. Never blocks. */
int watch_drain(watcher *w);

/* Watch the tree again from scratch (after a reload: directories may have
 * been replaced, and their old watches point at deleted inodes). 0 or -1. */
int watch_rearm(watcher *w);

/* NULL is a no-op. */
void watch_free(watcher *w);

#endif
