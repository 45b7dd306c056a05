/*
 * privilege — the root rules.
 *
 * A bare Pi serving port 80 starts tomed as root; nothing after the bind
 * needs root, and a server reading untrusted requests should not hold it. So
 * tomed binds, then becomes server.user. In container mode (`tomed run`, what
 * systemd or a pod starts) running as root with no user to drop to is refused
 * unless server.allow_root says it is meant; `tomed serve` on a laptop only warns.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tomed/diag.h"
#include "tomed/privilege.h"

/* "name", "uid" or "uid:gid" to ids; -1 if unknown. */
static int resolve(const char *spec, uid_t *uid, gid_t *gid)
{
    char *end;
    unsigned long u = strtoul(spec, &end, 10);
    if (end != spec && (*end == '\0' || *end == ':')) {
        *uid = (uid_t)u;
        if (*end == ':') {
            const char *g = end + 1;
            unsigned long gv = strtoul(g, &end, 10);
            if (end == g || *end)
                return -1;
            *gid = (gid_t)gv;
            return 0;
        }
        struct passwd *pw = getpwuid(*uid);
        *gid = pw ? pw->pw_gid : (gid_t)u;
        return 0;
    }
    struct passwd *pw = getpwnam(spec);
    if (!pw)
        return -1;
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

/* Serving as root on purpose (server.allow_root) or as a preview on a laptop
 * (`serve`) is allowed with a warning; otherwise it is refused. */
static int root_rule(const tomed_config *cfg, const char *why, tomed_error *err)
{
    if (cfg->allow_root)
        return 0;
    if (cfg->mode == CONFIG_MODE_SERVE) {
        diag(DIAG_WARN, "serving as root%s; set server.user to drop privileges", why);
        return 0;
    }
    const char *o = config_origin_of(cfg, "server.user");
    return error_set(err, TOMED_EXIT_CONFIG,
                     "refusing to serve as root%s: set server.user (e.g. \"nobody\") to switch "
                     "to after binding, or server.allow_root: true (%s)",
                     why, o ? o : "server.user");
}

int privilege_check(const tomed_config *cfg, uid_t euid, tomed_error *err)
{
    if (euid != 0)
        return 0;
    if (!cfg->user || !cfg->user[0])
        return root_rule(cfg, "", err);
    /* a user that is root by another name ("root", "0", "0:0", "toor") drops
     * nothing: the same rule as no user at all */
    uid_t uid;
    gid_t gid;
    if (resolve(cfg->user, &uid, &gid) < 0) {
        const char *o = config_origin_of(cfg, "server.user");
        return error_set(err, TOMED_EXIT_CONFIG, "%s: server.user: no such user \"%s\"",
                         o ? o : "server.user", cfg->user);
    }
    if (uid == 0)
        return root_rule(cfg, " (server.user is uid 0)", err);
    return 0;
}

int privilege_drop(const tomed_config *cfg, tomed_error *err)
{
    if (geteuid() != 0 || !cfg->user || !cfg->user[0])
        return 0;
    const char *o = config_origin_of(cfg, "server.user");
    uid_t uid;
    gid_t gid;
    if (resolve(cfg->user, &uid, &gid) < 0)
        return error_set(err, TOMED_EXIT_CONFIG, "%s: server.user: no such user \"%s\"",
                         o ? o : "server.user", cfg->user);
    /* glibc applies setgid/setuid to every thread of the process */
    if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
        return error_set(err, TOMED_EXIT_RUNTIME, "server.user: cannot switch to \"%s\": %s",
                         cfg->user, strerror(errno));
    if (uid != 0 && setuid(0) == 0)
        return error_set(err, TOMED_EXIT_RUNTIME, "server.user: root could be regained");
    diag(DIAG_NOTICE, "running as uid %u gid %u (%s)", (unsigned)uid, (unsigned)gid,
         diag_q(cfg->user));
    return 0;
}
