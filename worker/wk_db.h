/* One worker thread's PostgreSQL connection and the tenant-bound transaction every request runs
 * in. The tenant context (role, search_path, statement_timeout from the request deadline) is set
 * with SET LOCAL inside the transaction, so nothing survives into the next request even behind a
 * transaction-mode pooler. SQLSTATEs are translated to proto statuses here and nowhere else.
 *
 * Database roles (created by `quiz-worker --migrate --shards S`):
 *   quiz_shard_<k>    LOGIN: serves shard k; member of the tenant roles of its shard only
 *   quiz_provisioner  LOGIN CREATEROLE: creates and drops tenant schemas and roles
 *   quiz_tenant       group of all tenant roles: may append to the shared platform audit
 *   tenant_<hex>      NOLOGIN: owns one tenant's schema; each request runs under it */
#ifndef WORKER_WK_DB_H
#define WORKER_WK_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/proto.h"

typedef struct wk_db wk_db_t;

/* A connection for `dsn` logging in as `user` (NULL: the DSN's own user), not opened until
 * first use. With set_role, tenant transactions also switch to the tenant's role. With
 * pipeline, transactions use libpq's pipeline mode: the transaction's set-up travels with its
 * first statement and a read-only request costs one round trip (wk_tx_exec_last); such a
 * connection cannot run scripts (wk_tx_script, wk_tx_schema). Caller owns; NULL never. */
wk_db_t *wk_db_new(const char *dsn, const char *user, bool set_role, bool pipeline);
void wk_db_destroy(wk_db_t **db_p);
/* The catalog-cache budget: once the connection has entered `tenants` distinct tenants, it is
 * closed at the end of that transaction and the next one connects afresh, since a backend
 * caches the catalog of every schema it touches (~77 kB per tenant) and never gives it back.
 * 0 (the default): never. Behind a transaction pooler this bounds only our side; the pooler's
 * server_lifetime bounds the server's. */
void wk_db_set_tenant_budget(wk_db_t *db, int tenants);
/* Connections closed for the budget so far. */
unsigned long wk_db_recycled(const wk_db_t *db);
/* Connections opened so far: a change means the server may be another one. */
unsigned long wk_db_connects(const wk_db_t *db);
/* Closes the connection (one that did not answer in time); the next use opens another. */
void wk_db_close(wk_db_t *db);
/* Opens (or reopens after a failure) the connection. Borrowed PGconn, or NULL when PostgreSQL is
 * unreachable; reconnects are attempted at most every 500 ms so a dead database costs little. */
PGconn *wk_db_conn(wk_db_t *db);

/* Where a transaction is; wk_db.c's s_tx_to is the only place that moves it. */
typedef enum {
    WK_TX_CLOSED,   /* nothing open and nothing left to read */
    WK_TX_PREPARED, /* pipelined: open, nothing sent yet (BEGIN goes with the first statement) */
    WK_TX_OPEN,     /* open on the server (pipelined: BEGIN and the set-up queued) */
    WK_TX_DRAINING, /* pipelined: committed, its sync still to read (wk_tx_end does) */
} wk_tx_state_t;

/* A transaction in progress: created by wk_tx_begin, ended by wk_tx_commit or wk_tx_end. */
typedef struct {
    wk_db_t *db;
    PGconn *conn;
    proto_status_t status; /* status of the first failure, or PROTO_STATUS_OK */
    bool lost;             /* that failure took the connection with it */
    char detail[256];      /* what failed, for the client: never SQL text or values */
    char sqlstate[6];      /* of that failure ("" when the server gave none) */
    char server[256];      /* the server's message of it, for operators' tools only */
    wk_tx_state_t state;
    uint64_t began_us; /* clock_mono_us() at wk_tx_begin, for the transaction's duration */
    bool pipelined;    /* on a serving connection: statements are queued, not run one by one */
    /* Pipelined transactions only: */
    bool tenant_bound;    /* the set-up names a tenant (its role missing = tenant deleted) */
    int pending;          /* queued statements whose results are unread */
    int unsynced;         /* statements queued since the last sync */
    int syncs;            /* syncs whose PGRES_PIPELINE_SYNC is unread */
    char search_path[48]; /* "tenant_<hex>" or "quiz" */
    char timeout[24];     /* statement_timeout in ms */
} wk_tx_t;

/* Begins a transaction bound to the tenant's schema (tenant NULL: shared schema only) with a
 * statement timeout from deadline_ms. 0, or -1 with tx->status set. */
int wk_tx_begin(wk_tx_t *tx, wk_db_t *db, const uint8_t *tenant, uint64_t deadline_ms)
    __attribute__((warn_unused_result));
typedef enum {
    WK_SCHEMA_CREATE,
    WK_SCHEMA_ENTER,
    WK_SCHEMA_LEAVE,
    WK_SCHEMA_DROP
} wk_schema_action_t;
/* Provisioning, on a quiz_provisioner connection, which is a member of a tenant's role only
 * between ENTER or CREATE and LEAVE, or within DROP.
 * CREATE: creates the tenant's role and schema (owned by the role) and continues the
 * transaction as that role in that schema, so the migrations that follow create tenant-owned
 * tables. ENTER: continues as the role in its schema (one created earlier: a spare). LEAVE:
 * back to the provisioner, granting the role to shard `shard`'s login (shard < 0: to none).
 * DROP: drops the schema with its contents and the role (which ends its grants). `shard` is
 * used by LEAVE only. 0, or -1 with tx->status. */
int wk_tx_schema(wk_tx_t *tx, const uint8_t tenant[16], wk_schema_action_t action, int shard)
    __attribute__((warn_unused_result));
/* Drops the tenant's schema and role in a transaction of its own on provisioning connection db
 * (a schema no registry row names any more, or never did). 0, or -1 with why (the server's
 * message where there is one) in why. */
int wk_db_drop_schema(wk_db_t *db, const uint8_t tenant[16], char *why, size_t len)
    __attribute__((warn_unused_result));
/* Moves a tenant between shards of one cluster: its role granted to shard `to`'s login and
 * revoked from shard `from`'s (either half skipped when its shard is < 0), so PostgreSQL itself
 * refuses the old shard from the next transaction on (provisioning connection). 0, or -1 with
 * tx->status. */
int wk_tx_move_grant(wk_tx_t *tx, const uint8_t tenant[16], int from, int to)
    __attribute__((warn_unused_result));
/* Runs one parameterized statement (values are text, NULL = SQL NULL). Returns the result the
 * caller must PQclear, or NULL with tx->status/detail set from the SQLSTATE. */
PGresult *wk_tx_exec(wk_tx_t *tx, const char *sql, int nparams, const char *const *values);
/* Runs the transaction's last statement and commits, pipelined in one round trip. Returns the
 * statement's result only if the commit succeeded too, else NULL with tx->status set. */
PGresult *wk_tx_exec_last(wk_tx_t *tx, const char *sql, int nparams, const char *const *values);
/* Runs a script of several statements without parameters (migrations only). 0 or -1. */
int wk_tx_script(wk_tx_t *tx, const char *sql) __attribute__((warn_unused_result));
/* A failure as operators' tools report it: the server's message where there is one, else the
 * client-safe detail. */
const char *wk_tx_why(const wk_tx_t *tx);
/* Commits. 0, or -1 with tx->status set (the transaction is then gone). */
int wk_tx_commit(wk_tx_t *tx) __attribute__((warn_unused_result));
/* Rolls back if still open; safe after commit. */
void wk_tx_end(wk_tx_t *tx);

#endif
