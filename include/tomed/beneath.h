/*
 * beneath — open a path below a directory descriptor without following any
 * symbolic link and without leaving that directory, so that what the site
 * loader opens is exactly the canonical path it vetted.
 *
 * The site loader resolves a symlink with realpath(3) and checks the result
 * (inside the root, no dot-directory). Opening the link afterwards would
 * follow it again, and a link swapped in between would be followed to
 * wherever it now points. Opening the canonical path instead, refusing every
 * symlink on the way, makes the swap harmless: the open either reaches the
 * vetted file or fails.
 *
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) does
 * this in the kernel (Linux >= 5.6). Where it is missing (older kernels,
 * seccomp profiles that answer ENOSYS or EPERM) the same is done one path
 * component at a time with O_NOFOLLOW, each component opened relative to the
 * descriptor of the one before.
 */
#ifndef TOMED_BENEATH_H
#define TOMED_BENEATH_H

/*
 * Open rel (relative, '/'-separated, no "." or ".." components, no symlinks;
 * "" is dirfd itself) below dirfd with open(2) flags (O_CLOEXEC is added).
 * Returns a new descriptor the caller owns, or -1 with errno: ELOOP (or
 * ENOTDIR) when a component is a symlink, EXDEV when rel would leave dirfd
 * (an absolute path or a ".." component), or what open(2) says.
 */
int beneath_open(int dirfd, const char *rel, int flags);

/* Which implementation beneath_open uses: 1 openat2, 0 the O_NOFOLLOW walk.
 * Tests force the walk with beneath_force_walk(1) to cover both. */
int beneath_uses_openat2(void);
void beneath_force_walk(int on);

#endif
