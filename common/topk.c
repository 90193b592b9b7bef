/* Space-Saving top-K sketch (see topk.h), in stripes: each thread counts into one of STRIPES
 * sketches under that stripe's own mutex, so threads rarely meet on a lock; a report merges
 * them. A tenant seen by several stripes is summed, so its count stays an overestimate by at
 * most what it inherited in each. */
#include "common/topk.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

#define STRIPES 8

typedef struct {
    pthread_mutex_t lock;
    int used;
    topk_entry_t *entries; /* [cap] */
    uint64_t total_requests, total_usec;
    char pad[64]; /* stripes on cache lines of their own */
} stripe_t;

struct topk {
    int k, cap;
    stripe_t stripes[STRIPES];
};

static atomic_int s_next_stripe;
static _Thread_local int s_stripe = -1;

topk_t *topk_new(int k)
{
    topk_t *t = mem_zalloc(sizeof *t);
    t->k = k < 1 ? 1 : k > TOPK_MAX ? TOPK_MAX : k;
    t->cap = 4 * t->k;
    for (int s = 0; s < STRIPES; s++) {
        pthread_mutex_init(&t->stripes[s].lock, NULL);
        t->stripes[s].entries = mem_zalloc((size_t)t->cap * sizeof(topk_entry_t));
    }
    return t;
}

void topk_destroy(topk_t **tp)
{
    if (!tp || !*tp)
        return;
    for (int s = 0; s < STRIPES; s++) {
        pthread_mutex_destroy(&(*tp)->stripes[s].lock);
        free((*tp)->stripes[s].entries);
    }
    free(*tp);
    *tp = NULL;
}

void topk_add(topk_t *t, const uint8_t tenant[16], uint64_t usec)
{
    if (s_stripe < 0)
        s_stripe = atomic_fetch_add(&s_next_stripe, 1) % STRIPES;
    stripe_t *st = &t->stripes[s_stripe];
    pthread_mutex_lock(&st->lock);
    st->total_requests++;
    st->total_usec += usec;
    topk_entry_t *e = NULL, *lightest = NULL;
    for (int i = 0; i < st->used && !e; i++) {
        if (memcmp(st->entries[i].tenant, tenant, 16) == 0)
            e = &st->entries[i];
        else if (!lightest || st->entries[i].requests < lightest->requests)
            lightest = &st->entries[i];
    }
    if (!e && st->used < t->cap) {
        e = &st->entries[st->used++];
        memcpy(e->tenant, tenant, 16);
    } else if (!e) { /* the newcomer replaces the lightest and inherits its count */
        e = lightest;
        memcpy(e->tenant, tenant, 16);
        e->usec = 0;
    }
    e->requests++;
    e->usec += usec;
    pthread_mutex_unlock(&st->lock);
}

static int s_by_tenant(const void *a, const void *b)
{
    return memcmp(((const topk_entry_t *)a)->tenant, ((const topk_entry_t *)b)->tenant, 16);
}

static int s_heavier_first(const void *a, const void *b)
{
    const topk_entry_t *x = a, *y = b;
    return x->requests < y->requests ? 1 : x->requests > y->requests ? -1 : 0;
}

int topk_top(topk_t *t, topk_entry_t *out, uint64_t *total_requests, uint64_t *total_usec)
{
    topk_entry_t *all = mem_alloc((size_t)(STRIPES * t->cap) * sizeof *all);
    int n = 0;
    *total_requests = *total_usec = 0;
    for (int s = 0; s < STRIPES; s++) {
        stripe_t *st = &t->stripes[s];
        pthread_mutex_lock(&st->lock);
        memcpy(all + n, st->entries, (size_t)st->used * sizeof *all);
        n += st->used;
        *total_requests += st->total_requests;
        *total_usec += st->total_usec;
        pthread_mutex_unlock(&st->lock);
    }
    /* One entry per tenant, summed over the stripes. */
    qsort(all, (size_t)n, sizeof *all, s_by_tenant);
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m && memcmp(all[m - 1].tenant, all[i].tenant, 16) == 0) {
            all[m - 1].requests += all[i].requests;
            all[m - 1].usec += all[i].usec;
        } else {
            all[m++] = all[i];
        }
    }
    qsort(all, (size_t)m, sizeof *all, s_heavier_first);
    if (m > t->k)
        m = t->k;
    memcpy(out, all, (size_t)m * sizeof *out);
    free(all);
    return m;
}
