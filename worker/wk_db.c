/* libpq connection per worker thread and the request transaction.
 *
 * Serving connections are pipelined: BEGIN and the tenant set-up (set_config of role,
 * search_path, statement_timeout and TimeZone, all transaction-local, values as parameters)
 * are queued and travel with the first statement; a read ends with its statement, COMMIT and a
 * sync in the same flight, so it costs one round trip. Provisioning and migration connections
 * run plain statements and scripts. The only identifier ever put into SQL text is the tenant
 * schema/role name, derived from the UUID alone and quoted by PQescapeIdentifier. */
#include "worker/wk_db.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/ident.h"
#include "common/log.h"
#include "common/mem.h"
#include "worker/wk_metrics.h"

#define RECONNECT_INTERVAL_MS 500

struct wk_db {
    char *dsn;                /* libpq connection string, owned */
    char *user;               /* login role overriding the DSN's, owned; NULL = the DSN's */
    bool set_role;            /* switch to the tenant's role in tenant transactions */
    bool pipeline;            /* transactions use pipeline mode */
    PGconn *conn;             /* NULL until connected */
    uint64_t last_attempt_ms; /* time of the last failed connection attempt */
    bool opened_before;       /* a connection was open once: the next is a reconnect */
    /* The catalog cache budget: tenants this connection entered since it connected. */
    int budget;             /* recycle after this many distinct tenants (0: never) */
    int touched;            /* distinct tenants entered */
    size_t cap;             /* slots of seen: a power of two, at least twice the budget */
    uint8_t (*seen)[16];    /* open addressing; all-zero = empty (no tenant id is nil) */
    unsigned long recycled; /* connections closed for the budget */
    unsigned long connects; /* connections opened */
};

void wk_db_set_tenant_budget(wk_db_t *db, int tenants)
{
    free(db->seen);
    db->seen = NULL;
    db->budget = tenants > 0 ? tenants : 0;
    db->touched = 0;
    for (db->cap = 16; db->budget && db->cap < (size_t)db->budget * 2; db->cap *= 2)
        ;
    if (db->budget)
        db->seen = mem_zalloc(db->cap * 16);
}

unsigned long wk_db_recycled(const wk_db_t *db)
{
    return db->recycled;
}

unsigned long wk_db_connects(const wk_db_t *db)
{
    return db->connects;
}

/* Counts a tenant this connection enters, once. */
static void s_note_tenant(wk_db_t *db, const uint8_t tenant[16])
{
    if (!db->budget)
        return;
    static const uint8_t nil[16];
    uint64_t h = 0;
    memcpy(&h, tenant + 8, sizeof h); /* random bits of a v4 UUID */
    for (size_t i = (size_t)h & (db->cap - 1);; i = (i + 1) & (db->cap - 1)) {
        if (memcmp(db->seen[i], tenant, 16) == 0)
            return;
        if (memcmp(db->seen[i], nil, 16) == 0) {
            memcpy(db->seen[i], tenant, 16);
            db->touched++;
            return;
        }
    }
}

/* Closes the connection, if any. */
static void s_close(wk_db_t *db)
{
    if (!db->conn)
        return;
    PQfinish(db->conn);
    db->conn = NULL;
    wk_metrics_db_closed();
}

void wk_db_close(wk_db_t *db)
{
    s_close(db);
}

/* Between transactions: a connection that entered more tenants than its budget is closed, so
 * the backend's catalog cache (never shrunk, ~77 kB per tenant) goes with it; the next request
 * connects afresh. The set is never full: it is closed at the budget, below half the slots. */
static void s_maybe_recycle(wk_db_t *db)
{
    if (!db->budget || db->touched < db->budget || !db->conn)
        return;
    log_debug("closing a database connection that entered %d tenants (budget %d)", db->touched,
              db->budget);
    s_close(db);
    db->touched = 0;
    db->recycled++;
    memset(db->seen, 0, db->cap * 16);
}

wk_db_t *wk_db_new(const char *dsn, const char *user, bool set_role, bool pipeline)
{
    wk_db_t *db = mem_zalloc(sizeof *db);
    db->dsn = mem_strdup(dsn);
    db->user = user ? mem_strdup(user) : NULL;
    db->set_role = set_role;
    db->pipeline = pipeline;
    return db;
}

void wk_db_destroy(wk_db_t **db_p)
{
    if (!db_p || !*db_p)
        return;
    wk_db_t *db = *db_p;
    s_close(db);
    free(db->dsn);
    free(db->user);
    free(db->seen);
    free(db);
    *db_p = NULL;
}

/* Server notices ("already exists, skipping") are routine: debug level, not stderr noise. */
static void s_notice(void *arg, const char *message)
{
    (void)arg;
    log_debug("database notice: %.*s", (int)strcspn(message, "\n"), message);
}

PGconn *wk_db_conn(wk_db_t *db)
{
    if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
        return db->conn;
    uint64_t now = clock_now_ms();
    if (db->last_attempt_ms && now - db->last_attempt_ms < RECONNECT_INTERVAL_MS)
        return NULL;
    s_close(db);
    /* Keywords after the expanded DSN override it: the login role is ours to choose, its
       password comes from the DSN's environment (PGPASSWORD, ~/.pgpass) as usual. */
    const char *keys[] = {"dbname", db->user ? "user" : NULL, NULL};
    const char *vals[] = {db->dsn, db->user, NULL};
    db->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        /* PQerrorMessage names host and port, never the password. */
        log_warning("could not connect to database: %s", PQerrorMessage(db->conn));
        PQfinish(db->conn);
        db->conn = NULL;
        db->last_attempt_ms = now;
        return NULL;
    }
    db->last_attempt_ms = 0;
    db->connects++;
    wk_metrics_db_opened(db->opened_before);
    db->opened_before = true;
    PQsetNoticeProcessor(db->conn, s_notice, NULL);
    return db->conn;
}

/* What a failed result's SQLSTATE means: the worker's one translation point from database
 * errors to statuses and client messages. `lost`: the connection is not worth another
 * statement (the server went or is going away); any other error leaves it usable, so a frozen
 * write or a deadlock costs no reconnect. `message`: what the client is told (NULL: what
 * failed, and the constraint violated if any). */
typedef struct {
    proto_status_t status;
    bool lost;
    const char *message;
} db_error_t;

/* Entering a tenant's role is where PostgreSQL tells that the tenant is not this shard's: a
 * role this shard's login is not a member of (42501), or no such role on this cluster ("role
 * does not exist", 22023 or 42704: never created, deleted, or moved to another cluster).
 * Either is MISROUTED, and the dispatcher asks the registry (wk_placement): a redirect, or 404
 * for a tenant that does not exist. Routine since placement is data: no warning. */
static const char *const s_not_here[] = {"42501", "22023", "42704"};

/* SQLSTATE prefixes, most specific first. */
static const struct {
    const char *prefix;
    db_error_t error;
} s_states[] = {
    {"23505", {PROTO_STATUS_CONFLICT, false, NULL}}, /* unique_violation */
    {"23503", {PROTO_STATUS_CONFLICT, false, NULL}}, /* foreign_key_violation */
    {"23", {PROTO_STATUS_BAD_REQUEST, false, NULL}}, /* other integrity violations */
    {"22", {PROTO_STATUS_BAD_REQUEST, false, NULL}}, /* data exception: bad uuid, too long */
    {"42P01", {PROTO_STATUS_NOT_FOUND, false, "tenant not found"}}, /* the schema is gone */
    {"3F000", {PROTO_STATUS_NOT_FOUND, false, "tenant not found"}}, /* invalid_schema_name */
    {"57014", {PROTO_STATUS_TIMEOUT, false, NULL}},     /* query_canceled by statement_timeout */
    {"55006", {PROTO_STATUS_UNAVAILABLE, false, NULL}}, /* object_in_use: the tenant is moving */
    {"08", {PROTO_STATUS_UNAVAILABLE, true, NULL}},     /* connection exceptions */
    {"57P", {PROTO_STATUS_UNAVAILABLE, true, NULL}},    /* admin/crash shutdown, cannot connect */
    {"53", {PROTO_STATUS_UNAVAILABLE, false, NULL}},    /* insufficient resources */
    {"40", {PROTO_STATUS_UNAVAILABLE, false, NULL}},    /* serialization failure, deadlock */
};

/* Violations a client causes, by constraint name, with what it is told. */
static const struct {
    const char *constraint, *message;
} s_constraints[] = {
    {"users_email_key", "a user with this email already exists"},
    {"operations_one_move_per_tenant", "a move of this tenant is already running"},
    {"operations_one_rebalance", "a rebalance is already running"},
};

static db_error_t s_error_of(const PGresult *res, bool entering_tenant)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state) /* no server answer: the connection broke */
        return (db_error_t){PROTO_STATUS_UNAVAILABLE, true, NULL};
    for (size_t i = 0; entering_tenant && i < sizeof s_not_here / sizeof s_not_here[0]; i++)
        if (strcmp(state, s_not_here[i]) == 0)
            return (db_error_t){PROTO_STATUS_MISROUTED, false,
                                "tenant is not served by this shard"};
    db_error_t error = {PROTO_STATUS_INTERNAL, false, NULL};
    for (size_t i = 0; i < sizeof s_states / sizeof s_states[0]; i++) {
        if (strncmp(state, s_states[i].prefix, strlen(s_states[i].prefix)) == 0) {
            error = s_states[i].error;
            break;
        }
    }
    const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    for (size_t i = 0; constraint && i < sizeof s_constraints / sizeof s_constraints[0]; i++)
        if (strcmp(constraint, s_constraints[i].constraint) == 0)
            error.message = s_constraints[i].message;
    return error;
}

/* Moves the transaction's state; asserts the moves its life allows (see wk_tx_state_t). */
static void s_tx_to(wk_tx_t *tx, wk_tx_state_t to)
{
    static const bool allowed[4][4] = {
        [WK_TX_CLOSED] = {[WK_TX_PREPARED] = true, [WK_TX_OPEN] = true, [WK_TX_CLOSED] = true},
        [WK_TX_PREPARED] = {[WK_TX_OPEN] = true, [WK_TX_CLOSED] = true},
        /* OPEN -> PREPARED: the server went before the first statement; again, afresh */
        [WK_TX_OPEN] = {[WK_TX_DRAINING] = true, [WK_TX_CLOSED] = true, [WK_TX_PREPARED] = true},
        [WK_TX_DRAINING] = {[WK_TX_DRAINING] = true, [WK_TX_CLOSED] = true},
    };
    assert(allowed[tx->state][to]);
    tx->state = to;
}

/* Statements may still be added. */
static bool s_tx_open(const wk_tx_t *tx)
{
    return tx->state == WK_TX_PREPARED || tx->state == WK_TX_OPEN;
}

static void s_fail(wk_tx_t *tx, const PGresult *res, const char *what);

/* The quoted schema (and role) name for a tenant ("quiz" without one); PQfreemem it. The only
 * place a SQL identifier is built from data, and only from the UUID's hex. */
static char *s_schema_quoted(PGconn *conn, const uint8_t *tenant)
{
    char schema[IDENT_SCHEMA_LEN + 1] = "quiz";
    if (tenant)
        ident_schema_name(tenant, schema);
    return PQescapeIdentifier(conn, schema, strlen(schema));
}

/* Runs a parameterless utility script inside the open transaction; 0 or -1 (recorded). */
static int s_utility(wk_tx_t *tx, const char *sql, const char *what)
{
    PGresult *res = PQexec(tx->conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        s_fail(tx, res, what);
    PQclear(res);
    return ok ? 0 : -1;
}

/* Records the first failure of the transaction, logging what the client is not told.
 * entering_tenant: the failure is of the statement that enters the tenant's role. */
static void s_fail_as(wk_tx_t *tx, const PGresult *res, const char *what, bool entering_tenant)
{
    if (tx->status != PROTO_STATUS_OK)
        return;
    db_error_t error = s_error_of(res, entering_tenant);
    tx->status = error.status;
    tx->lost = error.lost;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    snprintf(tx->sqlstate, sizeof tx->sqlstate, "%s", state ? state : "");
    snprintf(tx->server, sizeof tx->server, "%s",
             primary ? primary : (tx->conn ? PQerrorMessage(tx->conn) : "no connection"));
    bool moving = state && strcmp(state, "55006") == 0; /* a write frozen by a move: expected */
    if (!moving &&
        (tx->status == PROTO_STATUS_INTERNAL || tx->status == PROTO_STATUS_UNAVAILABLE)) {
        /* The SQLSTATE as a field of its own; the server's message on one line. */
        const char *msg = tx->conn ? PQerrorMessage(tx->conn) : "no connection";
        log_warning("could not %s: sqlstate=%s %.*s", what, state ? state : "-",
                    (int)strcspn(msg, "\n"), msg);
    }
    if (error.message)
        snprintf(tx->detail, sizeof tx->detail, "%s", error.message);
    else
        snprintf(tx->detail, sizeof tx->detail, "%s%s%s", what, constraint ? " violates " : "",
                 constraint ? constraint : "");
}

static void s_fail(wk_tx_t *tx, const PGresult *res, const char *what)
{
    s_fail_as(tx, res, what, false);
}

/* ---- pipelined transactions (serving connections) ---- */

/* Queues a statement; 0, or -1 (recorded) if libpq refused it. */
static int s_pl_send(wk_tx_t *tx, const char *sql, int n, const char *const *values)
{
    if (!PQsendQueryParams(tx->conn, sql, n, NULL, values, NULL, NULL, 0)) {
        s_fail(tx, NULL, "send query");
        return -1;
    }
    tx->pending++;
    tx->unsynced++;
    return 0;
}

static int s_pl_sync(wk_tx_t *tx)
{
    if (!PQpipelineSync(tx->conn)) {
        s_fail(tx, NULL, "sync pipeline");
        return -1;
    }
    tx->syncs++;
    tx->unsynced = 0;
    return 0;
}

/* Reads the next queued statement's result (and the NULL that ends it). */
static PGresult *s_pl_read(wk_tx_t *tx)
{
    PGresult *r = PQgetResult(tx->conn);
    if (r) {
        PGresult *more;
        while ((more = PQgetResult(tx->conn)))
            PQclear(more);
    }
    tx->pending--;
    return r;
}

/* Reads the next sync marker. */
static void s_pl_read_sync(wk_tx_t *tx)
{
    /* Before the sync's own result may come an error of what the sync did (the commit of an
       implicit transaction), ended by a NULL. Two NULLs in a row: the connection is gone. */
    for (int nulls = 0; nulls < 2;) {
        PGresult *r = PQgetResult(tx->conn);
        if (!r) {
            nulls++;
            continue;
        }
        nulls = 0;
        bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        if (!sync)
            s_fail(tx, r, "commit");
        PQclear(r);
        if (sync) {
            tx->syncs--;
            return;
        }
    }
    s_fail(tx, NULL, "read the sync");
    tx->syncs--;
}

static bool s_ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return r && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
}

/* Queues BEGIN and the tenant set-up ahead of the first statement; implicit: the set-up alone,
 * for a transaction of one statement (see s_pl_flight). */
static int s_pl_queue_begin(wk_tx_t *tx, bool implicit)
{
    s_tx_to(tx, WK_TX_OPEN);
    if (PQpipelineStatus(tx->conn) == PQ_PIPELINE_OFF && !PQenterPipelineMode(tx->conn)) {
        s_fail(tx, NULL, "enter pipeline mode");
        return -1;
    }
    const char *v[2] = {tx->search_path, tx->timeout};
    /* set_config(..., true) is SET LOCAL: it ends with the transaction, pooler or not. Setting
       "role" checks membership like SET ROLE: only the tenants of this shard are reachable. */
    return (!implicit && s_pl_send(tx, "BEGIN", 0, NULL) < 0) ||
                   s_pl_send(tx,
                             tx->tenant_bound && tx->db->set_role
                                 ? "SELECT set_config('role', $1, true), set_config('search_path', "
                                   "$1, true),"
                                   " set_config('statement_timeout', $2, true),"
                                   " set_config('TimeZone', 'UTC', true)"
                                 : "SELECT set_config('search_path', $1, true),"
                                   " set_config('statement_timeout', $2, true),"
                                   " set_config('TimeZone', 'UTC', true)",
                             2, v) < 0
               ? -1
               : 0;
}

/* Records a failed BEGIN or tenant set-up (s_error_of tells a tenant not served here). */
static void s_begin_failed(wk_tx_t *tx, const PGresult *res, bool tenant_bound)
{
    s_fail_as(tx, res, "begin transaction", tenant_bound);
}

/* Reads the results of BEGIN and the set-up if they are still unread. */
static void s_pl_read_begin(wk_tx_t *tx, int leave)
{
    while (tx->pending > leave) {
        PGresult *r = s_pl_read(tx);
        if (!s_ok(r))
            s_begin_failed(tx, r, tx->tenant_bound);
        PQclear(r);
    }
}

/* One flight: [BEGIN, set-up,] statement [, COMMIT, sync]. Returns the statement's result.
 * A transaction of one statement (the common read) sends no BEGIN and COMMIT: what the
 * extended protocol sends up to a Sync is one implicit transaction, so the set-up (SET LOCAL)
 * and the statement share it, commit at the Sync and roll back together on an error. Two
 * statements fewer for the server to run per read. */
static PGresult *s_pl_flight(wk_tx_t *tx, const char *sql, int n, const char *const *values,
                             bool last)
{
    bool implicit = last && tx->state == WK_TX_PREPARED;
    if ((tx->state == WK_TX_PREPARED && s_pl_queue_begin(tx, implicit) < 0) ||
        s_pl_send(tx, sql, n, values) < 0)
        return NULL;
    if (last) {
        if ((!implicit && s_pl_send(tx, "COMMIT", 0, NULL) < 0) || s_pl_sync(tx) < 0)
            return NULL;
    } else if (!PQsendFlushRequest(tx->conn) || PQflush(tx->conn) != 0) {
        s_fail(tx, NULL, "flush pipeline");
        return NULL;
    }
    s_pl_read_begin(tx, last && !implicit ? 2 : 1);
    PGresult *res = s_pl_read(tx);
    if (!s_ok(res)) {
        s_fail(tx, res, "run query");
        PQclear(res);
        res = NULL;
    }
    if (implicit) {
        s_pl_read_sync(tx); /* the commit of the implicit transaction */
        if (tx->status == PROTO_STATUS_OK)
            s_tx_to(tx, WK_TX_DRAINING);
        else {
            PQclear(res);
            res = NULL;
        }
    } else if (last) {
        PGresult *c = s_pl_read(tx);
        /* A COMMIT of a failed transaction reports success with a ROLLBACK tag. */
        if (!s_ok(c) || strcmp(PQcmdStatus(c), "COMMIT") != 0)
            s_fail(tx, c, "commit");
        else
            s_tx_to(tx, WK_TX_DRAINING);
        PQclear(c);
        s_pl_read_sync(tx);
        if (tx->status != PROTO_STATUS_OK) {
            PQclear(res);
            res = NULL;
        }
    }
    return res;
}

/* Drops the connection so the next wk_db_conn opens a fresh one at once. */
static void s_reset(wk_db_t *db)
{
    s_close(db);
    db->last_attempt_ms = 0;
}

/* The server went away (or is going): the connection is not worth another statement. */
static bool s_conn_lost(wk_tx_t *tx)
{
    return PQstatus(tx->conn) == CONNECTION_BAD || tx->lost;
}

/* Ends a pipelined transaction whatever its state: drains what is queued, rolls back what is
 * open, and leaves the connection idle outside pipeline mode for the next request. */
static void s_pl_end(wk_tx_t *tx)
{
    bool sent = tx->state == WK_TX_OPEN || tx->state == WK_TX_DRAINING;
    if (sent && s_conn_lost(tx)) {
        s_reset(tx->db); /* draining a dying connection is pointless: the next request reconnects */
        tx->conn = NULL;
    }
    if (!sent || !tx->conn) {
        s_tx_to(tx, WK_TX_CLOSED);
        return;
    }
    if (tx->unsynced > 0)
        s_pl_sync(tx);
    while (tx->pending > 0)
        PQclear(s_pl_read(tx));
    while (tx->syncs > 0)
        s_pl_read_sync(tx);
    if (PQtransactionStatus(tx->conn) != PQTRANS_IDLE) {
        /* An error before the sync left the transaction aborted, or it was never committed. */
        if (s_pl_send(tx, "ROLLBACK", 0, NULL) == 0 && s_pl_sync(tx) == 0) {
            PQclear(s_pl_read(tx));
            s_pl_read_sync(tx);
        }
    }
    PQexitPipelineMode(tx->conn);
    s_tx_to(tx, WK_TX_CLOSED);
}

/* The pipelined statement, retried once on a fresh connection if the server went away before
 * this transaction's first statement ran. */
static PGresult *s_pl_exec(wk_tx_t *tx, const char *sql, int n, const char *const *values,
                           bool last)
{
    bool first = tx->state == WK_TX_PREPARED;
    PGresult *res = s_pl_flight(tx, sql, n, values, last);
    if (!res && first && s_conn_lost(tx)) {
        s_reset(tx->db);
        tx->conn = wk_db_conn(tx->db);
        if (!tx->conn)
            return NULL;
        tx->status = PROTO_STATUS_OK;
        tx->lost = false;
        tx->detail[0] = '\0';
        s_tx_to(tx, WK_TX_PREPARED); /* a fresh connection: as if nothing had been sent */
        tx->pending = tx->unsynced = tx->syncs = 0;
        res = s_pl_flight(tx, sql, n, values, last);
    }
    return res;
}

/* ---- transactions ---- */

int wk_tx_begin(wk_tx_t *tx, wk_db_t *db, const uint8_t *tenant, uint64_t deadline_ms)
{
    memset(tx, 0, sizeof *tx);
    tx->db = db;
    tx->began_us = clock_mono_us();
    tx->conn = wk_db_conn(db);
    if (!tx->conn) {
        tx->status = PROTO_STATUS_UNAVAILABLE;
        snprintf(tx->detail, sizeof tx->detail, "database unavailable");
        return -1;
    }
    uint64_t now = clock_now_ms();
    if (deadline_ms && deadline_ms <= now) {
        tx->status = PROTO_STATUS_TIMEOUT;
        snprintf(tx->detail, sizeof tx->detail, "deadline passed before the query started");
        return -1;
    }
    uint64_t timeout = deadline_ms ? deadline_ms - now : 0;
    if (tenant)
        s_note_tenant(db, tenant);
    if (db->pipeline) {
        /* Nothing is sent yet: the set-up travels with the first statement. */
        tx->pipelined = true;
        tx->tenant_bound = tenant != NULL;
        snprintf(tx->search_path, sizeof tx->search_path, "quiz");
        if (tenant)
            ident_schema_name(tenant, tx->search_path);
        snprintf(tx->timeout, sizeof tx->timeout, "%llu", (unsigned long long)timeout);
        s_tx_to(tx, WK_TX_PREPARED);
        return 0;
    }
    char *quoted = s_schema_quoted(tx->conn, tenant);
    if (!quoted) {
        s_fail(tx, NULL, "quote schema name");
        return -1;
    }
    /* One message, one round trip; UTC makes every JSON timestamp RFC 3339 in UTC. The tenant's
       role narrows this transaction to its own schema: a query naming another tenant's schema
       fails with a permission error even if a bug builds one. */
    char sql[384];
    snprintf(sql, sizeof sql,
             "BEGIN; %s%s%s SET LOCAL search_path TO %s; SET LOCAL statement_timeout = %llu;"
             " SET LOCAL TimeZone TO 'UTC'",
             tenant && db->set_role ? "SET LOCAL ROLE " : "", tenant && db->set_role ? quoted : "",
             tenant && db->set_role ? ";" : "", quoted, (unsigned long long)timeout);
    PQfreemem(quoted);
    PGresult *res = PQexec(tx->conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQstatus(tx->conn) == CONNECTION_BAD) {
        /* The server restarted since our last request; nothing ran yet, so retry once. */
        PQclear(res);
        res = NULL;
        tx->conn = wk_db_conn(db);
        if (tx->conn)
            res = PQexec(tx->conn, sql);
    }
    int ok = tx->conn && PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        s_begin_failed(tx, res, tenant != NULL);
    PQclear(res);
    if (!ok) {
        wk_tx_end(tx);
        return -1;
    }
    s_tx_to(tx, WK_TX_OPEN);
    return 0;
}

/* The quoted name of the tenant's schema and role for a provisioning statement in the open
 * (unpipelined) transaction; PQfreemem it. NULL (recorded) if the transaction failed already. */
static char *s_provision_name(wk_tx_t *tx, const uint8_t tenant[16])
{
    assert(!tx->pipelined);
    if (!s_tx_open(tx) || tx->status != PROTO_STATUS_OK)
        return NULL;
    char *q = s_schema_quoted(tx->conn, tenant);
    if (!q)
        s_fail(tx, NULL, "quote schema name");
    return q;
}

int wk_tx_schema(wk_tx_t *tx, const uint8_t tenant[16], wk_schema_action_t action, int shard)
{
    char *q = s_provision_name(tx, tenant);
    if (!q)
        return -1;
    /* The provisioner is a member of a tenant role only inside these transactions: PostgreSQL
       recomputes a login's whole membership list after any GRANT or REVOKE anywhere, which for
       a member of every tenant role grew each creation by ~4 ms per thousand tenants. */
    char grant[128] = "";
    if (shard >= 0)
        snprintf(grant, sizeof grant, " GRANT %s TO quiz_shard_%d;", q, shard);
    static const char *const what[] = {"create schema", "enter schema", "leave schema",
                                       "drop schema"};
    char *sql = NULL;
    switch (action) {
    case WK_SCHEMA_CREATE:
        sql =
            mem_printf("CREATE ROLE %s NOLOGIN; GRANT %s TO CURRENT_USER; GRANT quiz_tenant TO %s;"
                       " CREATE SCHEMA %s AUTHORIZATION %s;"
                       " SET LOCAL ROLE %s; SET LOCAL search_path TO %s",
                       q, q, q, q, q, q, q);
        break;
    case WK_SCHEMA_ENTER:
        sql = mem_printf("GRANT %s TO CURRENT_USER; SET LOCAL ROLE %s; SET LOCAL search_path TO %s",
                         q, q, q);
        break;
    case WK_SCHEMA_LEAVE:
        sql = mem_printf("RESET ROLE;%s REVOKE %s FROM CURRENT_USER", grant, q);
        break;
    case WK_SCHEMA_DROP:
        sql = mem_printf("GRANT %s TO CURRENT_USER; DROP SCHEMA %s CASCADE; DROP ROLE %s", q, q, q);
        break;
    }
    PQfreemem(q);
    int rc = s_utility(tx, sql, what[action]);
    free(sql);
    return rc;
}

const char *wk_tx_why(const wk_tx_t *tx)
{
    return tx->server[0] ? tx->server : tx->detail;
}

int wk_db_drop_schema(wk_db_t *db, const uint8_t tenant[16], char *why, size_t len)
{
    wk_tx_t tx;
    int rc = wk_tx_begin(&tx, db, NULL, 0) == 0 &&
                     wk_tx_schema(&tx, tenant, WK_SCHEMA_DROP, -1) == 0 && wk_tx_commit(&tx) == 0
                 ? 0
                 : -1;
    if (rc < 0)
        snprintf(why, len, "%s", wk_tx_why(&tx));
    wk_tx_end(&tx);
    return rc;
}

int wk_tx_move_grant(wk_tx_t *tx, const uint8_t tenant[16], int from, int to)
{
    char *q = s_provision_name(tx, tenant);
    if (!q)
        return -1;
    char grant[128] = "", revoke[128] = "";
    if (to >= 0)
        snprintf(grant, sizeof grant, "GRANT %s TO quiz_shard_%d;", q, to);
    if (from >= 0)
        snprintf(revoke, sizeof revoke, "REVOKE %s FROM quiz_shard_%d;", q, from);
    char *sql = mem_printf("%s%s", grant, revoke);
    PQfreemem(q);
    int rc = s_utility(tx, sql, "move the tenant's role");
    free(sql);
    return rc;
}

PGresult *wk_tx_exec(wk_tx_t *tx, const char *sql, int nparams, const char *const *values)
{
    if (!s_tx_open(tx) || tx->status != PROTO_STATUS_OK)
        return NULL;
    if (tx->pipelined)
        return s_pl_exec(tx, sql, nparams, values, false);
    PGresult *res = PQexecParams(tx->conn, sql, nparams, NULL, values, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    s_fail(tx, res, "run query");
    PQclear(res);
    return NULL;
}

PGresult *wk_tx_exec_last(wk_tx_t *tx, const char *sql, int nparams, const char *const *values)
{
    if (!s_tx_open(tx) || tx->status != PROTO_STATUS_OK)
        return NULL;
    if (tx->pipelined)
        return s_pl_exec(tx, sql, nparams, values, true);
    PGresult *res = wk_tx_exec(tx, sql, nparams, values);
    if (res && wk_tx_commit(tx) < 0) {
        PQclear(res);
        res = NULL;
    }
    return res;
}

int wk_tx_script(wk_tx_t *tx, const char *sql)
{
    assert(!tx->pipelined); /* scripts are for provisioning and migration connections */
    if (!s_tx_open(tx) || tx->status != PROTO_STATUS_OK)
        return -1;
    return s_utility(tx, sql, "run migration");
}

int wk_tx_commit(wk_tx_t *tx)
{
    if (!s_tx_open(tx) || tx->status != PROTO_STATUS_OK) {
        wk_tx_end(tx);
        return -1;
    }
    if (tx->pipelined) {
        if (tx->state == WK_TX_PREPARED) {
            s_tx_to(tx, WK_TX_CLOSED); /* nothing was sent: nothing to commit */
            return 0;
        }
        if (s_pl_send(tx, "COMMIT", 0, NULL) < 0 || s_pl_sync(tx) < 0)
            return -1;
        s_pl_read_begin(tx, 1);
        PGresult *c = s_pl_read(tx);
        int ok = s_ok(c) && strcmp(PQcmdStatus(c), "COMMIT") == 0;
        if (!ok)
            s_fail(tx, c, "commit");
        PQclear(c);
        s_pl_read_sync(tx);
        s_tx_to(tx, WK_TX_DRAINING);
        return ok ? 0 : -1;
    }
    PGresult *res = PQexec(tx->conn, "COMMIT");
    /* A COMMIT of a failed transaction reports success with a ROLLBACK tag. */
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0;
    if (!ok)
        s_fail(tx, res, "commit");
    PQclear(res);
    s_tx_to(tx, WK_TX_CLOSED);
    return ok ? 0 : -1;
}

void wk_tx_end(wk_tx_t *tx)
{
    if (!tx->conn)
        return;
    if (tx->pipelined) {
        s_pl_end(tx);
    } else {
        if (PQtransactionStatus(tx->conn) != PQTRANS_IDLE && PQstatus(tx->conn) == CONNECTION_OK)
            PQclear(PQexec(tx->conn, "ROLLBACK"));
        s_tx_to(tx, WK_TX_CLOSED);
    }
    if (tx->db->conn == tx->conn)
        s_maybe_recycle(tx->db);
    tx->conn = NULL;
    wk_metrics_db_transaction(clock_mono_us() - tx->began_us);
}
