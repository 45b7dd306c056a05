/*
 * watch — inotify over the site directory, for live reload.
 *
 * What has to be seen, and how:
 *  - files created, written, moved or deleted anywhere in the tree: a watch
 *    on every directory (inotify is not recursive);
 *  - Kubernetes volume updates: the kubelet writes a new hidden directory and
 *    renames a `..data` symlink over the old one in the mounted root, so the
 *    root's own watch sees a rename even though no visible file changed;
 *  - the root replaced by rename (`mv docs.new docs`): a watch on the parent
 *    directory sees the name arrive, and the old root's watch sees it leave.
 * The caller debounces: a build writes hundreds of files in a burst.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tomed/watch.h"

#define WATCH_MASK                                                                           \
    (IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |      \
     IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define WATCH_MAX_DEPTH 32

struct watcher {
    int fd;
    char root[PATH_MAX];
    char parent[PATH_MAX];
    char name[NAME_MAX + 1]; /* root's name in parent */
    int parent_wd;
};

static void add_tree(watcher *w, const char *dir, int depth)
{
    if (depth > WATCH_MAX_DEPTH || inotify_add_watch(w->fd, dir, WATCH_MASK) < 0)
        return; /* a directory we cannot watch is still served; it only reloads on SIGHUP */
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        /* hidden directories are not served, and Kubernetes' ..2024_* data
         * directories are announced by the ..data rename in the root */
        if (de->d_name[0] == '.')
            continue;
        char sub[PATH_MAX];
        struct stat st;
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name) >= sizeof sub)
            continue;
        /* lstat: never follow a symlink out of the tree (a link to / would
         * have us watch, and reload for, the whole file system); a symlinked
         * directory inside the root is still served, and reloads on SIGHUP */
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            add_tree(w, sub, depth + 1);
    }
    closedir(d);
}

int watch_rearm(watcher *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0)
        return -1;
    w->parent_wd = inotify_add_watch(w->fd, w->parent, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
    add_tree(w, w->root, 0);
    return 0;
}

watcher *watch_start(const char *root, tomed_error *err)
{
    watcher *w = calloc(1, sizeof *w);
    if (!w) {
        error_set(err, TOMED_EXIT_RUNTIME, "out of memory");
        return NULL;
    }
    w->fd = -1;
    /* Keep the path as configured, not its realpath: a symlinked root that
     * is re-pointed must be followed to its new target. */
    snprintf(w->root, sizeof w->root, "%s", root);
    size_t n = strlen(w->root);
    while (n > 1 && w->root[n - 1] == '/')
        w->root[--n] = '\0';
    const char *slash = strrchr(w->root, '/');
    const char *name = slash ? slash + 1 : w->root;
    size_t name_len = strlen(name);
    if (name_len >= sizeof w->name) {
        error_set(err, TOMED_EXIT_RUNTIME, "watch %s: %s", root, strerror(ENAMETOOLONG));
        free(w);
        return NULL;
    }
    memcpy(w->name, name, name_len + 1);
    if (slash)
        snprintf(w->parent, sizeof w->parent, "%.*s", slash == w->root ? 1 : (int)(slash - w->root),
                 w->root);
    else
        snprintf(w->parent, sizeof w->parent, ".");
    if (watch_rearm(w) < 0) {
        error_set(err, TOMED_EXIT_RUNTIME, "watch %s: inotify: %s", root, strerror(errno));
        free(w);
        return NULL;
    }
    return w;
}

int watch_fd(const watcher *w)
{
    return w->fd;
}

int watch_drain(watcher *w)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    int relevant = 0;
    for (;;) {
        ssize_t r = read(w->fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return relevant;
        for (char *p = buf; p < buf + r;) {
            const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
            if (ev->wd != w->parent_wd)
                relevant = 1; /* anything inside the tree, or the root itself moving */
            else if (ev->len && strcmp(ev->name, w->name) == 0)
                relevant = 1; /* a new directory took the root's name */
            if (ev->mask & IN_Q_OVERFLOW)
                relevant = 1;
            p += sizeof *ev + ev->len;
        }
    }
}

void watch_free(watcher *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    free(w);
}
