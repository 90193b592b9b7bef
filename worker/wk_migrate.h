/* Schema migrations from the files compiled in from sql/: the shared schema once per database,
 * and each tenant schema (at creation, inside the creating transaction; later by --migrate).
 * Each schema records the versions applied to it in its own schema_migrations table. */
#ifndef WORKER_WK_MIGRATE_H
#define WORKER_WK_MIGRATE_H

#include <stdbool.h>

#include "worker/wk_cluster.h"
#include "worker/wk_db.h"

#define WK_MIGRATE_VERSION_LEN 128

/* Applies the registered tenant migrations (quiz.tenant_migrations of the transaction's
 * cluster, see wk_fleet.h) newer than `after` and up to `upto` (NULL: no bound) to the schema
 * the transaction is bound to, in one round trip: all of them to a new, empty one; in two
 * steps around loading data that is at an older version (an import). The version it is then at
 * in `version` (unchanged when none applied). 0 or -1. */
int wk_migrate_tenant(wk_tx_t *tx, const char *after, const char *upto,
                      char version[WK_MIGRATE_VERSION_LEN]) __attribute__((warn_unused_result));
/* The newest registered tenant migration of the transaction's cluster: the version a new
 * schema is at. 0 or -1 (none registered). */
int wk_migrate_target(wk_tx_t *tx, char version[WK_MIGRATE_VERSION_LEN])
    __attribute__((warn_unused_result));
/* On every cluster: applies pending shared migrations and creates the database roles for
 * `shards` shards (see wk_db.h) with their grants. On the control cluster, adds the missing rows
 * of the shard map (shard k on cluster k mod the cluster count; dedicated[k]: takes no hashed
 * tenants; NULL: none does), and registers the tenant migrations compiled in. Then migrates
 * every tenant (wk_fleet_run). Needs a login that may create roles (the database owner) on
 * each. 0, or -1 after logging. */
int wk_migrate_all(const wk_clusters_t *clusters, int shards, const bool *dedicated)
    __attribute__((warn_unused_result));

#endif
