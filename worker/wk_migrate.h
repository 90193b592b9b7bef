/* Schema migrations from the files compiled in from sql/: the shared schema once per database,
 * and each tenant schema (at creation, inside the creating transaction; later by --migrate).
 * Each schema records the versions applied to it in its own schema_migrations table. */
#ifndef WORKER_WK_MIGRATE_H
#define WORKER_WK_MIGRATE_H

#include <stdbool.h>

#include "worker/wk_cluster.h"
#include "worker/wk_db.h"

/* Applies every tenant migration to the new, empty schema the transaction is bound to, in one
 * round trip. 0 or -1. */
int wk_migrate_tenant(wk_tx_t *tx) __attribute__((warn_unused_result));
/* The last tenant migration compiled in: the version a new schema is at. */
const char *wk_migrate_tenant_version(void);
/* On every cluster: applies pending shared migrations and creates the database roles for
 * `shards` shards (see wk_db.h) with their grants. On the control cluster, adds the missing rows
 * of the shard map (shard k on cluster k mod the cluster count; dedicated[k]: takes no hashed
 * tenants; NULL: none does). Then applies pending tenant migrations to every active tenant on
 * its own cluster, under an advisory lock so concurrent runs wait for each other. Needs a login
 * that may create roles (the database owner) on each. 0, or -1 after logging. */
int wk_migrate_all(const wk_clusters_t *clusters, int shards, const bool *dedicated)
    __attribute__((warn_unused_result));

#endif
