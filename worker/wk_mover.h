/* The mover: a background thread per worker that runs placement operations queued in
 * quiz.operations (tenant moves, rebalances) on its own provisioning connection. Any worker's
 * mover may take any operation; it holds it by a lease it renews, so a mover that dies (or a
 * worker killed mid-move) leaves an operation another mover resumes once the lease runs out.
 *
 * A move between shards of one cluster is one transaction: the tenant's role granted to the
 * target shard's login and revoked from the source's, the registry flipped (which bumps the
 * placement epoch), the operation done. Nothing is copied and no write is frozen: from the next
 * transaction on PostgreSQL refuses the old shard, whose worker redirects (wk_placement.h). A
 * move between clusters copies the tenant with logical replication (wk_transfer.h). */
#ifndef WORKER_WK_MOVER_H
#define WORKER_WK_MOVER_H

#include "worker/wk_cluster.h"

typedef struct wk_mover wk_mover_t;

/* Starts the thread; it provisions as `user` (NULL: each DSN's own) on the control cluster and,
 * for tenants there, on the others. It also samples, about once a minute, the storage of the
 * tenants of shard `shard` (on cluster `cluster`) into the registry, and every few seconds
 * purges that shard's tenants past their grace period (wk_lifecycle.h). `clusters` must
 * outlive the mover. */
wk_mover_t *wk_mover_start(const wk_clusters_t *clusters, int cluster, int shard, const char *user);
/* An operation was queued: look now rather than at the next periodic check. NULL is ignored. */
void wk_mover_nudge(wk_mover_t *mover);
/* Stops the thread (after the step in progress) and frees it. */
void wk_mover_stop(wk_mover_t **mover_p);

#endif
