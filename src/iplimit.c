/*
 * iplimit — per-address counters for limits.max_connections_per_ip (see
 * iplimit.h for what is counted and why not libmicrohttpd's own limit).
 *
 * Open addressing with linear probing over a power-of-two table; removal
 * shifts the following run back (no tombstones), so a table that churns
 * through addresses for days never fills with dead slots.
 */
#include "tomed/iplimit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    netaddr addr;
    unsigned count; /* 0 = empty */
} slot;

struct iplimit {
    pthread_mutex_t mu;
    unsigned max;
    size_t mask; /* table size - 1 */
    size_t used, capacity;
    slot *t;
};

iplimit *iplimit_new(unsigned max, size_t capacity)
{
    iplimit *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    size_t n = 16;
    while (n < 2 * capacity) /* at most half full: short probe runs */
        n *= 2;
    l->t = calloc(n, sizeof *l->t);
    if (!l->t) {
        free(l);
        return NULL;
    }
    l->mask = n - 1;
    l->max = max;
    l->capacity = capacity;
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

void iplimit_free(iplimit *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l->t);
    free(l);
}

static size_t home(const iplimit *l, const netaddr *a)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int i = 0; i < 16; i++)
        h = (h ^ a->b[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29)) & l->mask;
}

/* The slot holding a, or the empty slot ending its probe run. */
static size_t find(const iplimit *l, const netaddr *a)
{
    size_t i = home(l, a);
    while (l->t[i].count && memcmp(&l->t[i].addr, a, sizeof *a) != 0)
        i = (i + 1) & l->mask;
    return i;
}

int iplimit_acquire(iplimit *l, const netaddr *a)
{
    pthread_mutex_lock(&l->mu);
    size_t i = find(l, a);
    int rc = 0;
    if (l->t[i].count) {
        if (l->t[i].count >= l->max)
            rc = -1;
        else
            l->t[i].count++;
    } else if (l->used >= l->capacity || l->max == 0) {
        rc = -1;
    } else {
        l->t[i].addr = *a;
        l->t[i].count = 1;
        l->used++;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void iplimit_release(iplimit *l, const netaddr *a)
{
    pthread_mutex_lock(&l->mu);
    size_t i = find(l, a);
    if (l->t[i].count && --l->t[i].count == 0) {
        l->used--;
        /* shift back every later member of the run that may sit here */
        size_t hole = i, j = i;
        for (;;) {
            j = (j + 1) & l->mask;
            if (!l->t[j].count)
                break;
            size_t h = home(l, &l->t[j].addr);
            /* j may move to hole unless its home lies cyclically in (hole, j] */
            int stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
            if (!stays) {
                l->t[hole] = l->t[j];
                l->t[j].count = 0;
                hole = j;
            }
        }
    }
    pthread_mutex_unlock(&l->mu);
}

unsigned iplimit_count(iplimit *l, const netaddr *a)
{
    pthread_mutex_lock(&l->mu);
    unsigned n = l->t[find(l, a)].count;
    pthread_mutex_unlock(&l->mu);
    return n;
}
