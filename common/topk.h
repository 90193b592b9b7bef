/* The heaviest tenants, in bounded memory: a Space-Saving sketch (Metwally et al.) over tenant
 * ids counting requests and the database time they took. It keeps 4K entries; a tenant not
 * among them takes the place of the lightest, inheriting its request count (an overestimate by
 * at most that count), so any tenant with more than total/(4K) of the requests is certainly
 * listed. Time is counted from the moment a tenant entered. Thread-safe: threads count into 8
 * stripes with a mutex each (an update is a scan of at most 4K ids), merged by topk_top; a
 * tenant's requests spread over the threads, so its share of each stripe is its share. */
#ifndef COMMON_TOPK_H
#define COMMON_TOPK_H

#include <stdint.h>

#define TOPK_MAX 100 /* the most tenants a sketch may report */

typedef struct topk topk_t;

typedef struct {
    uint8_t tenant[16];
    uint64_t requests;
    uint64_t usec;
} topk_entry_t;

/* A sketch reporting up to k (1..TOPK_MAX) tenants. */
topk_t *topk_new(int k);
void topk_destroy(topk_t **t);
/* Counts one request of the tenant, which took `usec` of database time. */
void topk_add(topk_t *t, const uint8_t tenant[16], uint64_t usec);
/* The k heaviest by requests, heaviest first, into out[k]; returns how many. *total_requests
 * and *total_usec: over all tenants, so "other" is the total less the listed. */
int topk_top(topk_t *t, topk_entry_t *out, uint64_t *total_requests, uint64_t *total_usec);

#endif
