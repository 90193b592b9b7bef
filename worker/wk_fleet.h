/* Fleet migrations: every tenant schema brought to the newest migration in quiz.tenant_migrations
 * (sql/shared/012_fleet_migrations.sql), run by `quiz-worker --migrate` and `quizctl migrate`.
 *
 * One transaction per tenant, as the tenant's role in its schema, with lock_timeout (100 ms,
 * doubled on each of 5 tries) so a migration waits behind serving transactions only briefly and
 * never makes them queue for long; `jobs` tenants at once, bounded by each cluster's free
 * connections. Each tenant's version (or its error) is recorded in the registry: a failed
 * tenant is named and the rest go on, and a re-run resumes, costing nothing for tenants already
 * at the target (one registry query finds the others). Tenants created while it runs are born
 * at the new version (creation applies every registered migration) and a last pass catches
 * those begun before it was registered.
 *
 * The expand/contract rule: a migration must leave the schema usable by the version serving
 * now. Add (tables, nullable columns or columns with a default, indexes, functions); never
 * drop, rename, retype or tighten in the same release that stops using a thing: that is a
 * later, separate migration whose first line is `-- contract`, run with allow_contract once no
 * serving version uses what it removes. wk_fleet_lint refuses an unmarked migration that
 * breaks the rule where the text shows it. */
#ifndef WORKER_WK_FLEET_H
#define WORKER_WK_FLEET_H

#include <stdbool.h>

#include "worker/wk_cluster.h"
#include "worker/wk_db.h"

typedef enum { WK_FLEET_QUIET, WK_FLEET_LINES, WK_FLEET_BAR } wk_fleet_progress_t;

typedef struct {
    int jobs;            /* tenants migrated at once (1..64) */
    bool dry_run;        /* say what would change; change nothing */
    bool status;         /* only report tenants per version */
    bool allow_contract; /* run pending contract migrations */
    bool json;           /* the report as one JSON line on stdout */
    const char *dir;     /* more migration files (NNN_name.sql) to register first, or NULL */
    wk_fleet_progress_t progress; /* on stderr */
} wk_fleet_opts_t;

/* Runs it over the clusters (as each DSN's login: the database owner). The exit status: 0, 1
 * when a tenant failed or the run was refused (named on stderr). */
int wk_fleet_run(const wk_clusters_t *clusters, const wk_fleet_opts_t *opts);

/* Registers the migrations compiled into this binary (sql/tenant) in the open transaction, on
 * one cluster; those present stay as they are. 0, or -1 (tx->detail, or why in err). */
int wk_fleet_register_compiled(wk_tx_t *tx, char *err, size_t len);

/* NULL when the migration keeps the expand/contract rule (or is marked `-- contract`), else
 * the construct that breaks it, e.g. "DROP COLUMN". */
const char *wk_fleet_lint(const char *sql);

#endif
