/* Placement overrides learned from redirects (see gw_placement.h): an open-addressing table of
 * tenant -> (shard, epoch) under a read-write lock. Lookups take the read lock only once some
 * redirect was learned, so a deployment whose tenants all sit where the hash says pays one
 * atomic load per request. */
#include "gateway/gw_placement.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/shard.h"

#define SLOTS  65536 /* a power of two; 10,000 moved tenants fit well */
#define PROBES 16    /* slots tried per key before an older entry is overwritten */

typedef struct {
    uint8_t tenant[16];
    uint64_t epoch; /* 0: empty */
    int shard;
} slot_t;

struct gw_placement {
    int shards;
    bool dedicated[SHARD_MAX];
    pthread_rwlock_t lock;      /* guards slots */
    slot_t *slots;              /* [SLOTS] */
    atomic_int used;            /* slots filled, for the lock-free fast path */
    atomic_uint_fast64_t epoch; /* newest epoch heard */
};

gw_placement_t *gw_placement_new(int shards, const bool *dedicated)
{
    gw_placement_t *p = mem_zalloc(sizeof *p);
    p->shards = shards;
    for (int k = 0; k < shards && dedicated; k++)
        p->dedicated[k] = dedicated[k];
    pthread_rwlock_init(&p->lock, NULL);
    p->slots = mem_zalloc(sizeof(slot_t) * SLOTS);
    return p;
}

void gw_placement_destroy(gw_placement_t **placement_p)
{
    if (!placement_p || !*placement_p)
        return;
    gw_placement_t *p = *placement_p;
    pthread_rwlock_destroy(&p->lock);
    free(p->slots);
    free(p);
    *placement_p = NULL;
}

int gw_placement_new_tenant(const gw_placement_t *p, const uint8_t tenant[16])
{
    return shard_place(tenant, p->dedicated, p->shards);
}

static size_t s_home(const uint8_t tenant[16])
{
    return (size_t)shard_hash(tenant) & (SLOTS - 1);
}

int gw_placement_shard(gw_placement_t *p, const uint8_t tenant[16])
{
    int shard = -1;
    if (atomic_load_explicit(&p->used, memory_order_acquire) > 0) {
        pthread_rwlock_rdlock(&p->lock);
        for (size_t i = 0, at = s_home(tenant); i < PROBES; i++, at = (at + 1) & (SLOTS - 1)) {
            const slot_t *s = &p->slots[at];
            if (s->epoch && memcmp(s->tenant, tenant, 16) == 0) {
                shard = s->shard;
                break;
            }
        }
        pthread_rwlock_unlock(&p->lock);
    }
    if (shard < 0 || shard >= p->shards)
        shard = shard_place(tenant, p->dedicated, p->shards);
    return shard < 0 ? 0 : shard; /* all dedicated: shard 0 redirects */
}

void gw_placement_learn(gw_placement_t *p, const uint8_t tenant[16], int shard, uint64_t epoch)
{
    if (shard < 0 || shard >= p->shards || epoch == 0)
        return;
    pthread_rwlock_wrlock(&p->lock);
    slot_t *target = NULL, *oldest = NULL;
    for (size_t i = 0, at = s_home(tenant); i < PROBES; i++, at = (at + 1) & (SLOTS - 1)) {
        slot_t *s = &p->slots[at];
        if (s->epoch && memcmp(s->tenant, tenant, 16) == 0) {
            target = s;
            break;
        }
        if (!s->epoch && !target)
            target = s; /* the first free slot, unless the key turns up further on */
        if (s->epoch && (!oldest || s->epoch < oldest->epoch))
            oldest = s;
    }
    if (!target)
        target = oldest;
    bool same = target->epoch && memcmp(target->tenant, tenant, 16) == 0;
    if (!same || target->epoch <= epoch) {
        if (!target->epoch)
            atomic_fetch_add_explicit(&p->used, 1, memory_order_release);
        memcpy(target->tenant, tenant, 16);
        target->shard = shard;
        target->epoch = epoch;
    }
    pthread_rwlock_unlock(&p->lock);
    uint64_t seen = atomic_load(&p->epoch);
    while (epoch > seen && !atomic_compare_exchange_weak(&p->epoch, &seen, epoch))
        ;
}

uint64_t gw_placement_epoch(const gw_placement_t *p)
{
    return atomic_load(&((gw_placement_t *)p)->epoch);
}
