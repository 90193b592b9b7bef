/* Space-Saving top-K sketch (see topk.h). */
#include "common/topk.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

struct topk {
    pthread_mutex_t lock;
    int k, cap, used;
    topk_entry_t *entries; /* [cap] */
    uint64_t total_requests, total_usec;
};

topk_t *topk_new(int k)
{
    topk_t *t = mem_zalloc(sizeof *t);
    t->k = k < 1 ? 1 : k > TOPK_MAX ? TOPK_MAX : k;
    t->cap = 4 * t->k;
    t->entries = mem_zalloc((size_t)t->cap * sizeof *t->entries);
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void topk_destroy(topk_t **tp)
{
    if (!tp || !*tp)
        return;
    pthread_mutex_destroy(&(*tp)->lock);
    free((*tp)->entries);
    free(*tp);
    *tp = NULL;
}

void topk_add(topk_t *t, const uint8_t tenant[16], uint64_t usec)
{
    pthread_mutex_lock(&t->lock);
    t->total_requests++;
    t->total_usec += usec;
    topk_entry_t *e = NULL, *lightest = NULL;
    for (int i = 0; i < t->used && !e; i++) {
        if (memcmp(t->entries[i].tenant, tenant, 16) == 0)
            e = &t->entries[i];
        else if (!lightest || t->entries[i].requests < lightest->requests)
            lightest = &t->entries[i];
    }
    if (!e && t->used < t->cap) {
        e = &t->entries[t->used++];
        memcpy(e->tenant, tenant, 16);
    } else if (!e) { /* the newcomer replaces the lightest and inherits its count */
        e = lightest;
        memcpy(e->tenant, tenant, 16);
        e->usec = 0;
    }
    e->requests++;
    e->usec += usec;
    pthread_mutex_unlock(&t->lock);
}

static int s_heavier_first(const void *a, const void *b)
{
    const topk_entry_t *x = a, *y = b;
    return x->requests < y->requests ? 1 : x->requests > y->requests ? -1 : 0;
}

int topk_top(topk_t *t, topk_entry_t *out, uint64_t *total_requests, uint64_t *total_usec)
{
    pthread_mutex_lock(&t->lock);
    topk_entry_t *copy = mem_alloc((size_t)t->cap * sizeof *copy);
    int n = t->used;
    memcpy(copy, t->entries, (size_t)n * sizeof *copy);
    *total_requests = t->total_requests;
    *total_usec = t->total_usec;
    pthread_mutex_unlock(&t->lock);
    qsort(copy, (size_t)n, sizeof *copy, s_heavier_first);
    if (n > t->k)
        n = t->k;
    memcpy(out, copy, (size_t)n * sizeof *out);
    free(copy);
    return n;
}
