/* The gateway's picture of placement, with no database connection: a new tenant goes where the
 * jump hash over the non-dedicated shards puts it; an existing one is asked of the shard a
 * worker last named for it (a redirect), else of that same hash. Workers are the truth: a
 * worker asked about a tenant that is not its own answers with the owner and the registry's
 * placement epoch, and the gateway retries there and remembers (gw_http.c). */
#ifndef GATEWAY_GW_PLACEMENT_H
#define GATEWAY_GW_PLACEMENT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct gw_placement gw_placement_t;

/* `shards` shards, of which those with dedicated[k] take no hashed tenants (NULL: none).
 * Caller owns the result. */
gw_placement_t *gw_placement_new(int shards, const bool *dedicated);
void gw_placement_destroy(gw_placement_t **placement_p);
/* Where a tenant being created goes; -1 if every shard is dedicated. */
int gw_placement_new_tenant(const gw_placement_t *p, const uint8_t tenant[16]);
/* The shard to ask about an existing tenant. Thread-safe. */
int gw_placement_shard(gw_placement_t *p, const uint8_t tenant[16]);
/* A worker said the tenant lives on `shard` at placement `epoch`: remembered, unless what is
 * remembered is newer. Thread-safe; a full table forgets an older entry (one redirect more). */
void gw_placement_learn(gw_placement_t *p, const uint8_t tenant[16], int shard, uint64_t epoch);
/* The newest placement epoch a worker has told of (0: none yet), and redirects followed. */
uint64_t gw_placement_epoch(const gw_placement_t *p);

#endif
