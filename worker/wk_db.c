/* libpq connection per worker thread and the request transaction. A request costs three round
 * trips: BEGIN+SET LOCAL (one simple-query message), the statement, COMMIT. The only identifier
 * ever put into SQL text is the tenant schema name, derived from the UUID alone and quoted by
 * PQescapeIdentifier; every value travels as a parameter. */
#include "worker/wk_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ident.h"
#include "common/log.h"
#include "common/mem.h"

#define RECONNECT_INTERVAL_MS 500

struct wk_db {
    char *dsn;                /* libpq connection string, owned */
    char *user;               /* login role overriding the DSN's, owned; NULL = the DSN's */
    bool set_role;            /* SET LOCAL ROLE to the tenant's role in tenant transactions */
    PGconn *conn;             /* NULL until connected */
    uint64_t last_attempt_ms; /* time of the last failed connection attempt */
};

uint64_t wk_db_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

wk_db_t *wk_db_new(const char *dsn, const char *user, bool set_role)
{
    wk_db_t *db = mem_zalloc(sizeof *db);
    db->dsn = mem_strdup(dsn);
    db->user = user ? mem_strdup(user) : NULL;
    db->set_role = set_role;
    return db;
}

void wk_db_destroy(wk_db_t **db_p)
{
    if (!db_p || !*db_p)
        return;
    wk_db_t *db = *db_p;
    if (db->conn)
        PQfinish(db->conn);
    free(db->dsn);
    free(db->user);
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
    uint64_t now = wk_db_now_ms();
    if (db->last_attempt_ms && now - db->last_attempt_ms < RECONNECT_INTERVAL_MS)
        return NULL;
    if (db->conn)
        PQfinish(db->conn);
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
    PQsetNoticeProcessor(db->conn, s_notice, NULL);
    return db->conn;
}

proto_status_t wk_db_status_of(const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state)
        return PROTO_STATUS_UNAVAILABLE; /* no server answer: the connection broke */
    static const struct {
        const char *prefix;
        proto_status_t status;
    } map[] = {
        {"23505", PROTO_STATUS_CONFLICT},    /* unique_violation */
        {"23503", PROTO_STATUS_CONFLICT},    /* foreign_key_violation */
        {"23", PROTO_STATUS_BAD_REQUEST},    /* other integrity violations: checks, not null */
        {"22", PROTO_STATUS_BAD_REQUEST},    /* data exception: bad uuid, too long, bad json */
        {"42P01", PROTO_STATUS_NOT_FOUND},   /* undefined_table: the tenant schema is gone */
        {"3F000", PROTO_STATUS_NOT_FOUND},   /* invalid_schema_name */
        {"57014", PROTO_STATUS_TIMEOUT},     /* query_canceled by statement_timeout */
        {"08", PROTO_STATUS_UNAVAILABLE},    /* connection exceptions */
        {"57P", PROTO_STATUS_UNAVAILABLE},   /* admin/crash shutdown, cannot connect now */
        {"53", PROTO_STATUS_UNAVAILABLE},    /* insufficient resources */
        {"40", PROTO_STATUS_UNAVAILABLE},    /* serialization failure, deadlock: retry */
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strncmp(state, map[i].prefix, strlen(map[i].prefix)) == 0)
            return map[i].status;
    return PROTO_STATUS_INTERNAL;
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

/* Records the first failure of the transaction, logging what the client is not told. */
static void s_fail(wk_tx_t *tx, const PGresult *res, const char *what)
{
    if (tx->status != PROTO_STATUS_OK)
        return;
    tx->status = wk_db_status_of(res);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *constraint = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    if (tx->status == PROTO_STATUS_INTERNAL || tx->status == PROTO_STATUS_UNAVAILABLE)
        log_warning("could not %s: %s%s", what, state ? state : "",
                    tx->conn ? PQerrorMessage(tx->conn) : "no connection");
    snprintf(tx->detail, sizeof tx->detail, "%s%s%s", what,
             constraint ? " violates " : "", constraint ? constraint : "");
}

int wk_tx_begin(wk_tx_t *tx, wk_db_t *db, const uint8_t *tenant, uint64_t deadline_ms)
{
    memset(tx, 0, sizeof *tx);
    tx->db = db;
    tx->conn = wk_db_conn(db);
    if (!tx->conn) {
        tx->status = PROTO_STATUS_UNAVAILABLE;
        snprintf(tx->detail, sizeof tx->detail, "database unavailable");
        return -1;
    }
    uint64_t now = wk_db_now_ms();
    if (deadline_ms && deadline_ms <= now) {
        tx->status = PROTO_STATUS_TIMEOUT;
        snprintf(tx->detail, sizeof tx->detail, "deadline passed before the query started");
        return -1;
    }
    uint64_t timeout = deadline_ms ? deadline_ms - now : 0;
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
    if (!ok) {
        s_fail(tx, res, "begin transaction");
        /* The tenant's role is gone (22023 "role does not exist"): the tenant was deleted. */
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (tenant && state && strcmp(state, "22023") == 0)
            tx->status = PROTO_STATUS_NOT_FOUND;
    }
    PQclear(res);
    if (!ok) {
        wk_tx_end(tx);
        return -1;
    }
    tx->open = 1;
    return 0;
}

int wk_tx_schema(wk_tx_t *tx, const uint8_t tenant[16], wk_schema_action_t action)
{
    if (!tx->open || tx->status != PROTO_STATUS_OK)
        return -1;
    char *q = s_schema_quoted(tx->conn, tenant);
    if (!q) {
        s_fail(tx, NULL, "quote schema name");
        return -1;
    }
    char *sql = action == WK_SCHEMA_CREATE
                    ? mem_printf("CREATE ROLE %s NOLOGIN; GRANT %s TO CURRENT_USER;"
                                 " GRANT quiz_tenant TO %s; CREATE SCHEMA %s AUTHORIZATION %s;"
                                 " SET LOCAL ROLE %s; SET LOCAL search_path TO %s",
                                 q, q, q, q, q, q, q)
                    : mem_printf("DROP SCHEMA IF EXISTS %s CASCADE; DROP ROLE IF EXISTS %s", q, q);
    PQfreemem(q);
    int rc = s_utility(tx, sql, action == WK_SCHEMA_CREATE ? "create schema" : "drop schema");
    free(sql);
    return rc;
}

int wk_tx_grant_shard(wk_tx_t *tx, const uint8_t tenant[16], int shard)
{
    if (!tx->open || tx->status != PROTO_STATUS_OK)
        return -1;
    char *q = s_schema_quoted(tx->conn, tenant);
    if (!q) {
        s_fail(tx, NULL, "quote schema name");
        return -1;
    }
    char *sql = mem_printf("RESET ROLE; GRANT %s TO quiz_shard_%d", q, shard);
    PQfreemem(q);
    int rc = s_utility(tx, sql, "grant tenant role to shard");
    free(sql);
    return rc;
}

PGresult *wk_tx_exec(wk_tx_t *tx, const char *sql, int nparams, const char *const *values)
{
    if (!tx->open || tx->status != PROTO_STATUS_OK)
        return NULL;
    PGresult *res = PQexecParams(tx->conn, sql, nparams, NULL, values, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    s_fail(tx, res, "run query");
    PQclear(res);
    return NULL;
}

int wk_tx_script(wk_tx_t *tx, const char *sql)
{
    if (!tx->open || tx->status != PROTO_STATUS_OK)
        return -1;
    return s_utility(tx, sql, "run migration");
}

int wk_tx_commit(wk_tx_t *tx)
{
    if (!tx->open || tx->status != PROTO_STATUS_OK) {
        wk_tx_end(tx);
        return -1;
    }
    PGresult *res = PQexec(tx->conn, "COMMIT");
    /* A COMMIT of a failed transaction reports success with a ROLLBACK tag. */
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0;
    if (!ok)
        s_fail(tx, res, "commit");
    PQclear(res);
    tx->open = 0;
    return ok ? 0 : -1;
}

void wk_tx_end(wk_tx_t *tx)
{
    if (!tx->conn)
        return;
    if (PQtransactionStatus(tx->conn) != PQTRANS_IDLE && PQstatus(tx->conn) == CONNECTION_OK)
        PQclear(PQexec(tx->conn, "ROLLBACK"));
    tx->open = 0;
}
