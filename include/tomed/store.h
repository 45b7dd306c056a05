/*
 * store — where the bytes tomed serves live: packs, unlinked files in
 * storage.dir that are appended to and then mapped read-only and shared.
 *
 * A mapping of a file on a disk-backed file system is page cache: the kernel
 * drops its clean pages under memory pressure and reads them back on the next
 * access, so a site's bodies and compressed variants cost no anonymous memory
 * and a Pi pod is not OOM-killed for a large site. Packs are unlinked at
 * creation (O_TMPFILE), so no other process can truncate one under its
 * mapping (which would SIGBUS), nothing is left behind after a crash, and a
 * stale file in the directory can never be served. One pack holds a whole
 * load's bytes (one mapping, not one per file: vm.max_map_count is 65530).
 *
 * A pack is reference-counted: each entry or variant whose bytes are in it
 * holds a reference, so a pack lives exactly as long as something served
 * from it, across generations.
 */
#ifndef TOMED_STORE_H
#define TOMED_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "tomed/error.h"

typedef struct store_pack store_pack;

/*
 * The directory packs are made in, decided once at start-up: dir when set
 * (created with mode 0700 if missing; unusable is an error naming it, exit
 * status 1), else the first usable of $TMPDIR, /var/tmp, /tmp, else none
 * (packs then live in memfds: correct, but their pages are anonymous). Stale
 * files a crashed tomed left (tomed-pack-*, only from the mkstemp fallback)
 * are removed. Returns 0 or -1 with err set.
 */
int store_init(const char *dir, tomed_error *err);

/* The directory store_init chose ("" = memfd). Static storage. */
const char *store_dir(void);

/*
 * A new empty pack with one reference, owned by the caller. With reserve > 0
 * it is mapped at once with that capacity (a sparse file: untouched space
 * costs nothing) and appends become readable as they are made; with 0 it is
 * mapped by store_pack_seal once complete. NULL with err set on failure.
 */
store_pack *store_pack_new(uint64_t reserve, tomed_error *err);

/* Append n bytes; *off is where they start. -1 (errno set) on a write error
 * or when a reserved pack is full. */
int store_pack_append(store_pack *p, const void *data, size_t n, uint64_t *off);

/* Map a pack made without a reserve; appends after it are refused. 0 or -1. */
int store_pack_seal(store_pack *p);

/* The bytes at off: valid while the pack lives, after seal (or, reserved,
 * after the append returned). */
const unsigned char *store_pack_at(const store_pack *p, uint64_t off);

/* Bytes appended so far. */
uint64_t store_pack_size(const store_pack *p);

store_pack *store_pack_ref(store_pack *p);
/* Drop a reference; the last unmaps and closes. NULL is a no-op. */
void store_pack_unref(store_pack *p);

#endif
