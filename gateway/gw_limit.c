/* GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp) over a table of
 * atomic words, each the slot's theoretical arrival time in microseconds: an event conforms
 * while that time is at most burst - 1 intervals ahead of now, and moves it one interval
 * (window / per_window) on. So the burst may come at once, and past it events are let through
 * evenly, one per interval, never in a burst at a window's edge. */
#include "gateway/gw_limit.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

struct gw_limit {
    atomic_uint per_window;                        /* allowed events per key and window */
    int64_t window_us;                             /* the window's length */
    unsigned burst_pct;                            /* of per_window, that may come at once */
    unsigned char seed[crypto_shorthash_KEYBYTES]; /* random: attackers cannot aim collisions */
    size_t nslots;
    _Atomic uint32_t *rates;     /* per slot: a key's own per_window + 1; 0: the default */
    atomic_int_fast64_t slots[]; /* theoretical arrival time (µs); 0: never seen */
};

gw_limit_t *gw_limit_new(unsigned per_window, unsigned window_s, unsigned burst_pct, size_t slots)
{
    gw_limit_t *l = mem_zalloc(sizeof *l + slots * sizeof l->slots[0]);
    l->per_window = per_window;
    l->burst_pct = burst_pct;
    l->window_us = (int64_t)(window_s ? window_s : 1) * 1000000;
    l->nslots = slots ? slots : 1;
    l->rates = mem_zalloc(l->nslots * sizeof *l->rates);
    crypto_shorthash_keygen(l->seed);
    return l;
}

void gw_limit_destroy(gw_limit_t **limit_p)
{
    if (!limit_p || !*limit_p)
        return;
    free((void *)(*limit_p)->rates);
    free(*limit_p);
    *limit_p = NULL;
}

size_t gw_limit_slot(const gw_limit_t *l, const char *key)
{
    unsigned char h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const unsigned char *)key, strlen(key), l->seed);
    uint64_t idx;
    memcpy(&idx, h, sizeof idx);
    return (size_t)(idx % l->nslots);
}

void gw_limit_set_slot_rate(gw_limit_t *l, size_t i, long per_window)
{
    uint32_t v = per_window < 0 ? 0 : (uint32_t)per_window + 1;
    if (atomic_load_explicit(&l->rates[i], memory_order_relaxed) != v) { /* mostly unchanged */
        atomic_store_explicit(&l->rates[i], v, memory_order_relaxed);
        /* A new rate starts with a full bucket: the old one's debt, counted in its intervals,
           would otherwise hold a raised tenant back for up to a window. */
        atomic_store_explicit(&l->slots[i], 0, memory_order_relaxed);
    }
}

int64_t gw_limit_hit(gw_limit_t *l, const char *key, int64_t now_us)
{
    return gw_limit_hit_slot(l, gw_limit_slot(l, key), now_us);
}

int64_t gw_limit_hit_slot(gw_limit_t *l, size_t i, int64_t now_us)
{
    uint32_t own = atomic_load_explicit(&l->rates[i], memory_order_relaxed);
    unsigned per_window =
        own ? own - 1 : atomic_load_explicit(&l->per_window, memory_order_relaxed);
    if (per_window == 0)
        return 0;
    atomic_int_fast64_t *slot = &l->slots[i];
    /* At least 1 µs: at a huge rate a zero interval would leave no tolerance at all, and
       threads whose clocks read a microsecond apart would refuse each other. */
    int64_t interval = l->window_us / per_window > 0 ? l->window_us / per_window : 1;
    int64_t burst = (int64_t)per_window * l->burst_pct / 100,
            least = per_window < 10 ? per_window : 10;
    if (burst < least) /* a few requests in a row (a login, then a call) are no burst */
        burst = least;
    int64_t tolerance = (burst > 1 ? burst - 1 : 0) * interval;
    int64_t tat = atomic_load_explicit(slot, memory_order_relaxed), next;
    do {
        int64_t from = tat > now_us ? tat : now_us;
        if (from - now_us > tolerance)
            return from - now_us - tolerance;
        next = from + interval;
    } while (!atomic_compare_exchange_weak_explicit(slot, &tat, next, memory_order_relaxed,
                                                    memory_order_relaxed));
    return 0;
}

int gw_limit_retry_after(int64_t wait_us)
{
    return (int)((wait_us + 999999) / 1000000);
}

void gw_limit_set_rate(gw_limit_t *l, unsigned per_window)
{
    atomic_store_explicit(&l->per_window, per_window, memory_order_relaxed);
}
