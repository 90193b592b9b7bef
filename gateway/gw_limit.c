/* Fixed-window limiter over a table of atomic (minute << 32 | count) words. */
#include "gateway/gw_limit.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

#define SLOTS 4096

struct gw_limit {
    atomic_uint per_minute;                        /* allowed events per key and minute */
    unsigned char seed[crypto_shorthash_KEYBYTES]; /* random: attackers cannot aim collisions */
    atomic_uint_fast64_t slots[SLOTS];             /* (minute << 32) | count */
};

gw_limit_t *gw_limit_new(unsigned per_minute)
{
    gw_limit_t *l = mem_zalloc(sizeof *l);
    l->per_minute = per_minute;
    crypto_shorthash_keygen(l->seed);
    return l;
}

void gw_limit_destroy(gw_limit_t **limit_p)
{
    if (!limit_p || !*limit_p)
        return;
    free(*limit_p);
    *limit_p = NULL;
}

int gw_limit_hit(gw_limit_t *l, const char *key, int64_t now)
{
    unsigned per_minute = atomic_load_explicit(&l->per_minute, memory_order_relaxed);
    if (per_minute == 0)
        return 0;
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)key, strlen(key), l->seed);
    uint64_t idx;
    memcpy(&idx, h, sizeof idx);
    atomic_uint_fast64_t *slot = &l->slots[idx % SLOTS];
    uint64_t minute = (uint64_t)(now / 60) & 0xffffffffu;
    uint64_t cur = atomic_load_explicit(slot, memory_order_relaxed), next;
    do {
        uint64_t count = (cur >> 32) == minute ? (cur & 0xffffffffu) : 0;
        if (count >= per_minute)
            return (int)(60 - now % 60);
        next = minute << 32 | (count + 1);
    } while (!atomic_compare_exchange_weak_explicit(slot, &cur, next, memory_order_relaxed,
                                                    memory_order_relaxed));
    return 0;
}

void gw_limit_set_rate(gw_limit_t *l, unsigned per_minute)
{
    atomic_store_explicit(&l->per_minute, per_minute, memory_order_relaxed);
}
