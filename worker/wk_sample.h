/* Per-tenant figures that may be a few seconds old: tenant stats' storage, which costs the
 * database a look at the size of every file of the tenant's tables. One slot per tenant (by
 * hash, a fixed table: a colliding tenant only measures again) shared by the worker's threads.
 * Per worker process: two workers of a shard may answer figures up to WK_SAMPLE_MAX_AGE_MS
 * apart. */
#ifndef WORKER_WK_SAMPLE_H
#define WORKER_WK_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

#define WK_SAMPLE_MAX_AGE_MS 5000

/* The tenant's figure if one was taken less than WK_SAMPLE_MAX_AGE_MS ago. */
bool wk_sample_get(const uint8_t tenant[16], int64_t *value);
/* Records the figure just taken. */
void wk_sample_put(const uint8_t tenant[16], int64_t value);

#endif
