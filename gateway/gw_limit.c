/* Fixed-window limiter over a table of atomic (window << 32 | count) words. */
#include "gateway/gw_limit.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

struct gw_limit {
    atomic_uint per_window;                        /* allowed events per key and window */
    unsigned window_s;                             /* the window's length */
    unsigned char seed[crypto_shorthash_KEYBYTES]; /* random: attackers cannot aim collisions */
    size_t nslots;
    atomic_uint_fast64_t slots[]; /* (window << 32) | count */
};

gw_limit_t *gw_limit_new(unsigned per_window, unsigned window_s, size_t slots)
{
    gw_limit_t *l = mem_zalloc(sizeof *l + slots * sizeof l->slots[0]);
    l->per_window = per_window;
    l->window_s = window_s ? window_s : 1;
    l->nslots = slots ? slots : 1;
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
    unsigned per_window = atomic_load_explicit(&l->per_window, memory_order_relaxed);
    if (per_window == 0)
        return 0;
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)key, strlen(key), l->seed);
    uint64_t idx;
    memcpy(&idx, h, sizeof idx);
    atomic_uint_fast64_t *slot = &l->slots[idx % l->nslots];
    uint64_t window = (uint64_t)(now / l->window_s) & 0xffffffffu;
    uint64_t cur = atomic_load_explicit(slot, memory_order_relaxed), next;
    do {
        uint64_t count = (cur >> 32) == window ? (cur & 0xffffffffu) : 0;
        if (count >= per_window)
            return (int)(l->window_s - (uint64_t)now % l->window_s);
        next = window << 32 | (count + 1);
    } while (!atomic_compare_exchange_weak_explicit(slot, &cur, next, memory_order_relaxed,
                                                    memory_order_relaxed));
    return 0;
}

void gw_limit_set_rate(gw_limit_t *l, unsigned per_window)
{
    atomic_store_explicit(&l->per_window, per_window, memory_order_relaxed);
}
