/* A tenant's move between clusters (see wk_transfer.h). */
#include "worker/wk_transfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/ident.h"
#include "common/log.h"
#include "common/mem.h"
#include "worker/wk_migrate.h"

#define SYNC_TIMEOUT_S     600   /* initial copy of every table */
#define CATCHUP_TIMEOUT_MS 5000  /* the target reaching the frozen source */
#define APPROACH_MS        10000 /* at most, the target closing in before the freeze */
#define POLL_MS            20
#define LOCK_TIMEOUT_MS    100 /* one try of the freeze's lock: writers queue behind it */

typedef struct {
    const wk_transfer_t *t;
    char schema[64]; /* tenant_<hex> */
    char name[48];   /* quizmove_<hex of the operation> */
    uint8_t id[16];
    bool frozen;        /* the source's tables refuse writes (quiz.refuse_write_while_moving) */
    bool revoked;       /* the source shard's grant is revoked */
    int lock_tries;     /* attempts of the freeze's lock (each waits up to LOCK_TIMEOUT_MS) */
    double approach_ms; /* the target closing in, before the freeze */
    double counts_ms, verify_ms; /* the frozen catch-up: counts equal, then checksums equal */
    char *tables;                /* the tenant's tables, qualified and comma-separated (owned) */
    /* Monotonic times of the stages, for the closing log line. */
    uint64_t start_us, frozen_us, locked_us, caught_up_us;
} run_t;

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One statement outside any transaction block (CREATE and DROP SUBSCRIPTION must be); the
 * result (PQclear it) or NULL after logging. */
static PGresult *s_raw(wk_db_t *db, const char *sql)
{
    PGconn *c = wk_db_conn(db);
    PGresult *r = c ? PQexec(c, sql) : NULL;
    if (r && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK))
        return r;
    log_warning("move: %s", c ? PQerrorMessage(c) : "database unavailable");
    PQclear(r);
    return NULL;
}

static bool s_ok(wk_db_t *db, const char *sql)
{
    PGresult *r = s_raw(db, sql);
    PQclear(r);
    return r != NULL;
}

/* The first cell of a query as a new string ("" for no row), or NULL. */
static char *s_value(wk_db_t *db, const char *sql)
{
    PGresult *r = s_raw(db, sql);
    char *v = r ? mem_strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "") : NULL;
    PQclear(r);
    return v;
}

static void s_state(const run_t *r, const char *state)
{
    const char *v[2] = {r->t->op_id, state};
    wk_tx_t tx;
    if (wk_tx_begin(&tx, r->t->registry, NULL, 0) == 0) {
        PGresult *res = wk_tx_exec(&tx,
                                   "UPDATE quiz.operations SET state = $2,"
                                   " lease_until = now() + interval '30 seconds' WHERE id = $1",
                                   2, v);
        if (res && wk_tx_commit(&tx) < 0)
            log_warning("move: could not record state %s: %s", state, tx.detail);
        PQclear(res);
    }
    wk_tx_end(&tx);
}

/* Drops the subscription, its slot and the publication, whatever state they are in. */
static void s_drop_replication(run_t *r)
{
    char sql[512];
    /* With the source reachable, dropping the subscription drops its slot there too (waiting
       for the walsender to let go); without, the slot is detached and dropped below. */
    snprintf(sql, sizeof sql, "DROP SUBSCRIPTION IF EXISTS %s", r->name);
    /* The source's walsender may still hold the slot for a moment ("replication slot is
       active"): the drop is tried again for up to 5 s before the subscription is detached. */
    bool dropped = false;
    for (int i = 0; i < 50 && !(dropped = s_ok(r->t->target, sql)); i++)
        s_sleep_ms(100);
    if (!dropped) {
        snprintf(sql, sizeof sql,
                 "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_subscription WHERE subname = '%s') THEN"
                 " ALTER SUBSCRIPTION %s DISABLE; ALTER SUBSCRIPTION %s SET (slot_name = NONE);"
                 " DROP SUBSCRIPTION %s; END IF; END $$",
                 r->name, r->name, r->name, r->name);
        s_ok(r->t->target, sql);
    }
    snprintf(sql, sizeof sql,
             "SELECT count(*) FILTER (WHERE active), count(pg_drop_replication_slot(slot_name))"
             " FILTER (WHERE NOT active) FROM pg_replication_slots WHERE slot_name = '%s'",
             r->name);
    for (int i = 0; i < 100; i++) { /* an active slot is let go within moments */
        char *active = s_value(r->t->source, sql);
        bool done = active && strcmp(active, "0") == 0;
        free(active);
        if (done)
            break;
        s_sleep_ms(50);
    }
    snprintf(sql, sizeof sql, "DROP PUBLICATION IF EXISTS %s", r->name);
    s_ok(r->t->source, sql);
}

/* Removes what an earlier attempt of this operation may have left: the replication and the
 * target's copy. Each step is harmless when there is nothing to remove. */
static void s_cleanup(run_t *r)
{
    char sql[256];
    s_drop_replication(r);
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; DROP ROLE IF EXISTS %s", r->schema,
             r->schema);
    s_ok(r->t->target, sql);
}

/* Adds (on) or removes the write freeze on every table of the tenant's source schema, in one
 * transaction. It first takes every table's SHARE ROW EXCLUSIVE lock in one statement, which
 * waits for the writes already under way (they then replicate) while reads go on. A writer
 * holding one table and wanting the next could deadlock with that, so the wait is short and
 * retried: the writers finish in between. */
static bool s_freeze(run_t *r, bool on)
{
    char sql[2048];
    snprintf(sql, sizeof sql,
             "DO $$ DECLARE t text; BEGIN SET LOCAL lock_timeout = '%dms';"
             " EXECUTE (SELECT 'LOCK TABLE ' || string_agg(format('%%I.%%I', schemaname,"
             "  tablename), ', ') || ' IN SHARE ROW EXCLUSIVE MODE' FROM pg_tables"
             "  WHERE schemaname = '%s' AND tablename <> 'schema_migrations');"
             " FOR t IN SELECT format('%%I.%%I', schemaname, tablename) FROM pg_tables"
             "  WHERE schemaname = '%s' AND tablename <> 'schema_migrations' LOOP"
             "  EXECUTE format('DROP TRIGGER IF EXISTS quizmove_freeze ON %%s', t);"
             "  IF %s THEN EXECUTE format('CREATE TRIGGER quizmove_freeze BEFORE INSERT OR"
             "   UPDATE OR DELETE OR TRUNCATE ON %%s FOR EACH STATEMENT EXECUTE FUNCTION"
             "   quiz.refuse_write_while_moving()', t); END IF;"
             " END LOOP; END $$",
             LOCK_TIMEOUT_MS, r->schema, r->schema, on ? "true" : "false");
    for (r->lock_tries = 1; r->lock_tries <= 50; r->lock_tries++) {
        if (s_ok(r->t->source, sql))
            return true;
        s_sleep_ms(5);
    }
    return false;
}

/* Back to the source: its writes and grant restored, the copy and the replication removed. */
static const char *s_rollback(run_t *r, const char *why)
{
    char sql[256];
    if (r->frozen && !s_freeze(r, false))
        log_error("move of tenant %s: could not lift the write freeze on shard %d: drop the"
                  " quizmove_freeze triggers of %s by hand",
                  r->t->tenant, r->t->from, r->schema);
    r->frozen = false;
    if (r->revoked) {
        snprintf(sql, sizeof sql, "GRANT %s TO quiz_shard_%d", r->schema, r->t->from);
        if (!s_ok(r->t->source, sql))
            log_error("move of tenant %s: could not give shard %d its grant back: the tenant"
                      " is frozen until it is granted by hand",
                      r->t->tenant, r->t->from);
        r->revoked = false;
    }
    s_cleanup(r);
    log_warning("move of tenant %s rolled back to shard %d: %s", r->t->tenant, r->t->from, why);
    return why;
}

/* The source's tables, comma-separated and qualified (schema_migrations apart: the target's
 * own migrations wrote it). NULL on error. */
static char *s_tables(run_t *r)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT string_agg(format('%%I.%%I', schemaname, tablename), ', ' ORDER BY"
             " tablename) FROM pg_tables WHERE schemaname = '%s' AND tablename <>"
             " 'schema_migrations'",
             r->schema);
    return s_value(r->t->source, sql);
}

/* The query of a fingerprint: every table's row count, or (full) its count and an order-free
 * checksum, a sum of row hashes that needs no sort, as one text. From PostgreSQL 14 a row is
 * hashed column by column with its types' own hash functions (hash_record_extended), three
 * times faster than hashing its text; every column type of a tenant table must then have one
 * (json, point and xml have not; the move tests would fail). */
static char *s_fingerprint_sql(PGconn *c, const char *tables, bool full)
{
    const char *row = PQserverVersion(c) >= 140000 ? "hash_record_extended(x, 0)"
                                                   : "hashtextextended(x::text, 0)";
    char *list = mem_strdup(tables), *save = NULL;
    size_t cap = 256;
    char *sql = mem_alloc(cap);
    strcpy(sql, "SET TimeZone TO 'UTC'; SELECT concat_ws(' '");
    for (char *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        char part[512];
        if (full)
            snprintf(part, sizeof part,
                     ", (SELECT count(*) || ':' || coalesce(sum(%s), 0) FROM %s x)", row, t);
        else
            snprintf(part, sizeof part, ", (SELECT count(*) FROM %s x)", t);
        cap += strlen(part);
        sql = mem_realloc(sql, cap);
        strcat(sql, part);
    }
    strcat(sql, ")");
    free(list);
    return sql;
}

/* The fingerprint of the tenant's tables on db; NULL on error. */
static char *s_fingerprint(wk_db_t *db, const char *tables, bool full)
{
    PGconn *c = wk_db_conn(db);
    if (!c)
        return NULL;
    char *sql = s_fingerprint_sql(c, tables, full);
    char *v = s_value(db, sql);
    free(sql);
    return v;
}

/* Starts the full fingerprint on db without waiting for it (s_fingerprint_wait collects it),
 * so the source's checksum runs while the target catches up. */
static bool s_fingerprint_send(wk_db_t *db, const char *tables)
{
    PGconn *c = wk_db_conn(db);
    if (!c)
        return false;
    char *sql = s_fingerprint_sql(c, tables, true);
    bool sent = PQsendQuery(c, sql) == 1;
    free(sql);
    if (!sent)
        log_warning("move: %s", PQerrorMessage(c));
    return sent;
}

/* What s_fingerprint_send started, read to its end; NULL on error. */
static char *s_fingerprint_wait(wk_db_t *db)
{
    PGconn *c = wk_db_conn(db);
    char *v = NULL;
    bool failed = !c;
    for (PGresult *res; c && (res = PQgetResult(c));) {
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            free(v);
            v = mem_strdup(PQgetvalue(res, 0, 0));
        } else if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            failed = true;
            log_warning("move: %s", PQresultErrorMessage(res));
        }
        PQclear(res);
    }
    if (failed) {
        free(v);
        v = NULL;
    }
    return v;
}

/* Waits until the target's copy equals the frozen source's: row counts first (cheap, polled)
 * while the source computes its checksum, then the target's checksum once the counts agree
 * (again until it matches: an update changes no count). 0, or -1 after the timeout. */
static int s_catch_up(run_t *r, const char *tables)
{
    uint64_t t0 = clock_mono_us(), t1 = 0;
    char *counts = s_fingerprint(r->t->source, tables, false);
    bool sent = counts && s_fingerprint_send(r->t->source, tables);
    char *want = NULL;
    int rc = -1;
    for (int waited = 0; sent && waited < CATCHUP_TIMEOUT_MS; waited += POLL_MS) {
        char *got = s_fingerprint(r->t->target, tables, false);
        bool same = got && strcmp(got, counts) == 0;
        free(got);
        if (same && !want) {
            t1 = clock_mono_us();
            want = s_fingerprint_wait(r->t->source);
            sent = want != NULL;
            if (!want)
                break;
        }
        if (same) {
            got = s_fingerprint(r->t->target, tables, true);
            same = got && strcmp(got, want) == 0;
            free(got);
        }
        if (same) {
            rc = 0;
            break;
        }
        s_sleep_ms(POLL_MS);
    }
    if (sent && !want)
        free(s_fingerprint_wait(r->t->source)); /* the source's connection free again */
    r->counts_ms = t1 ? (double)(t1 - t0) / 1000.0 : 0;
    r->verify_ms = (double)(clock_mono_us() - t0) / 1000.0 - r->counts_ms;
    free(counts);
    free(want);
    return rc;
}

/* The total of a counts fingerprint ("12 0 340"); -1 for NULL. */
static long long s_rows(const char *counts)
{
    if (!counts)
        return -1;
    long long sum = 0;
    for (const char *p = counts; *p;) {
        char *end;
        sum += strtoll(p, &end, 10);
        p = end == p ? p + 1 : end;
    }
    return sum;
}

/* Before the freeze, while the tenant writes: waits until the target holds at least as many
 * rows as the source did one poll earlier, that is until replication lags by about a poll,
 * so that the freeze waits only for the last moments' writes. Gives up after APPROACH_MS and
 * lets the freeze's own catch-up wait; a heuristic for timing only (deletes fool it), never
 * for correctness, which the frozen comparison decides. */
static void s_approach(run_t *r, const char *tables)
{
    long long before = -1;
    for (int waited = 0; waited < APPROACH_MS && r->t->keep_going(r->t->arg); waited += POLL_MS) {
        char *src = s_fingerprint(r->t->source, tables, false);
        char *dst = s_fingerprint(r->t->target, tables, false);
        long long have = s_rows(dst), want = s_rows(src);
        free(src);
        free(dst);
        if (have < 0 || want < 0 || (before >= 0 && have >= before))
            return;
        before = want;
        s_sleep_ms(POLL_MS);
    }
}

/* Sets the target's sequences to the source's values (logical replication carries none). */
static int s_sequences(run_t *r)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(string_agg(format('SELECT setval(%%L, %%s, true)',"
             " format('%%I.%%I', schemaname, sequencename), last_value), '; '), '')"
             " FROM pg_sequences WHERE schemaname = '%s' AND last_value IS NOT NULL",
             r->schema);
    char *script = s_value(r->t->source, sql);
    bool ok = script && (!*script || s_ok(r->t->target, script));
    free(script);
    return ok ? 0 : -1;
}

/* Builds the target's empty schema at its cluster's tenant version, granted to nobody yet. */
static int s_build_target(run_t *r)
{
    wk_tx_t tx;
    char version[WK_MIGRATE_VERSION_LEN];
    int rc = wk_tx_begin(&tx, r->t->target, NULL, 0) == 0 &&
                     wk_tx_schema(&tx, r->id, WK_SCHEMA_CREATE, -1) == 0 &&
                     wk_migrate_tenant(&tx, NULL, NULL, version) == 0 &&
                     wk_tx_schema(&tx, r->id, WK_SCHEMA_LEAVE, -1) == 0 && wk_tx_commit(&tx) == 0
                 ? 0
                 : -1;
    if (rc < 0)
        log_warning("move: target schema: %s", tx.detail);
    wk_tx_end(&tx);
    return rc;
}

/* Flips the registry and closes the operation, with the tenant's row locked. 0 or -1. */
static int s_flip(run_t *r, uint64_t freeze_ms)
{
    char to[12], from[12], freeze[24];
    snprintf(to, sizeof to, "%d", r->t->to);
    snprintf(from, sizeof from, "%d", r->t->from);
    snprintf(freeze, sizeof freeze, "%llu", (unsigned long long)freeze_ms);
    const char *v[5] = {r->t->tenant, to, r->t->op_id, from, freeze};
    wk_tx_t tx;
    PGresult *a = NULL, *b = NULL, *c = NULL;
    int rc = -1;
    if (wk_tx_begin(&tx, r->t->registry, NULL, 0) == 0 &&
        (a = wk_tx_exec(&tx,
                        "UPDATE quiz.tenants SET shard = $2 WHERE id = $1 AND shard = $3"
                        " AND status = 'active' RETURNING id",
                        3, (const char *const[]){v[0], v[1], v[3]})) &&
        PQntuples(a) == 1 &&
        (b = wk_tx_exec(&tx,
                        "UPDATE quiz.operations SET progress = 0.99, from_shard = $2,"
                        " freeze_ms = $3 WHERE id = $1",
                        3, (const char *const[]){v[2], v[3], v[4]})) &&
        (c = wk_tx_exec(&tx,
                        "INSERT INTO quiz.platform_audit (action, tenant_id, detail) VALUES"
                        " ('tenant.move', $1, jsonb_build_object('from', $2::int, 'to', $3::int,"
                        " 'operation', $4::uuid, 'freeze_ms', $5::int))",
                        5, (const char *const[]){v[0], v[3], v[1], v[2], v[4]})) &&
        wk_tx_commit(&tx) == 0)
        rc = 0;
    if (rc < 0)
        log_warning("move: registry flip: %s", tx.detail);
    PQclear(a);
    PQclear(b);
    PQclear(c);
    wk_tx_end(&tx);
    return rc;
}

/* Stage 1, while the tenant serves from the source: the target schema built empty, the
 * tenant's tables published on the source and subscribed by the target, and their initial
 * COPY waited for. NULL, or why it failed. */
static const char *s_copy(run_t *r)
{
    const wk_transfer_t *t = r->t;
    char sql[2048];
    snprintf(sql, sizeof sql, "SELECT max(version) FROM %s.schema_migrations", r->schema);
    char *version = s_value(t->source, sql);
    char *target = s_value(t->target, "SELECT max(version) FROM quiz.tenant_migrations");
    bool current = version && target && strcmp(version, target) == 0;
    free(version);
    free(target);
    if (!current)
        return "the source schema is not at the target cluster's tenant version: migrate first";
    if (s_build_target(r) < 0)
        return "could not build the tenant's schema on the target cluster";
    r->tables = s_tables(r);
    if (!r->tables || !*r->tables)
        return "could not list the tenant's tables";
    /* As the cluster's owner: publishing another role's tables takes a superuser (or their
       owner holding CREATE on the database). */
    snprintf(sql, sizeof sql, "CREATE PUBLICATION %s FOR TABLE %s", r->name, r->tables);
    if (!s_ok(t->source, sql))
        return "could not publish the tenant's tables";
    PGconn *tc = wk_db_conn(t->target);
    char *conninfo = tc ? PQescapeLiteral(tc, t->source_dsn, strlen(t->source_dsn)) : NULL;
    if (!conninfo)
        return "the target cluster is unreachable";
    snprintf(sql, sizeof sql,
             "CREATE SUBSCRIPTION %s CONNECTION %s PUBLICATION %s WITH (copy_data = true)", r->name,
             conninfo, r->name);
    PQfreemem(conninfo);
    if (!s_ok(t->target, sql))
        return "could not subscribe the target to the source";
    snprintf(sql, sizeof sql,
             "SELECT count(*) FILTER (WHERE srsubstate NOT IN ('r', 's')) FROM pg_subscription_rel"
             " WHERE srsubid = (SELECT oid FROM pg_subscription WHERE subname = '%s')",
             r->name);
    for (int waited = 0; waited < SYNC_TIMEOUT_S * 1000 && t->keep_going(t->arg); waited += 100) {
        char *left = s_value(t->target, sql);
        bool synced = left && strcmp(left, "0") == 0;
        free(left);
        if (synced)
            return NULL;
        s_sleep_ms(100);
    }
    return "the initial copy did not finish";
}

/* Stage 2, the freeze of this tenant's writes (503, retry; reads go on from the source): the
 * target catches up with the frozen source and is verified, then the hand-over: the source
 * shard stops serving the tenant (for these milliseconds reads get 503 too, so none can see
 * the source once the target has taken a write), the target shard starts, the registry flips.
 * NULL, or why it failed (the target's grant undone). */
static const char *s_cutover(run_t *r)
{
    const wk_transfer_t *t = r->t;
    r->frozen_us = clock_mono_us();
    r->frozen = true;
    if (!s_freeze(r, true))
        return "could not freeze the tenant's writes on the source";
    /* A synchronous commit flushes the WAL of the writes before the freeze now, whatever
       synchronous_commit they ran with, so the walsender need not wait for the WAL writer. */
    s_ok(t->source, "BEGIN; SET LOCAL synchronous_commit = on;"
                    " SELECT pg_logical_emit_message(true, 'quizmove', 'frozen'); COMMIT");
    r->locked_us = clock_mono_us();
    if (s_catch_up(r, r->tables) < 0 || s_sequences(r) < 0)
        return "the target did not catch up with the frozen source";
    char sql[256];
    snprintf(sql, sizeof sql, "REVOKE %s FROM quiz_shard_%d", r->schema, t->from);
    r->revoked = true;
    if (!s_ok(t->source, sql))
        return "could not take the tenant from the source shard";
    snprintf(sql, sizeof sql, "GRANT %s TO quiz_shard_%d", r->schema, t->to);
    if (!s_ok(t->target, sql))
        return "could not hand the copy to the target shard";
    r->caught_up_us = clock_mono_us();
    if (s_flip(r, (r->caught_up_us - r->frozen_us) / 1000) < 0) {
        snprintf(sql, sizeof sql, "REVOKE %s FROM quiz_shard_%d", r->schema, t->to);
        s_ok(t->target, sql);
        return "could not flip the registry";
    }
    return NULL;
}

/* Stage 3, the target is the tenant's now: the replication goes (dropping the slot waits for
 * the source's walsender to let go of it), then the verified source copy, then the operation
 * is closed. Nothing is left to apply: the source was frozen and the target caught up. */
static void s_finish(run_t *r)
{
    const wk_transfer_t *t = r->t;
    s_drop_replication(r);
    char sql[256];
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE; DROP ROLE %s", r->schema, r->schema);
    if (!s_ok(t->source, sql))
        log_warning("move of tenant %s: the source copy on shard %d is left: drop %s by hand",
                    t->tenant, t->from, r->schema);
    wk_tx_t tx;
    PGresult *res = NULL;
    if (wk_tx_begin(&tx, t->registry, NULL, 0) == 0)
        res = wk_tx_exec(&tx,
                         "UPDATE quiz.operations SET state = 'done', progress = 1,"
                         " finished_at = now(), lease_until = NULL WHERE id = $1",
                         1, (const char *const[]){t->op_id});
    if (!res || wk_tx_commit(&tx) < 0)
        log_warning("move of tenant %s is complete, but its operation %s could not be closed",
                    t->tenant, t->op_id); /* a resumed mover finds it moved and closes it */
    PQclear(res);
    wk_tx_end(&tx);
    log_info("moved tenant %s from shard %d to shard %d across clusters in %.0f ms (closing in"
             " %.0f ms), writes frozen %llu ms (lock %.0f ms in %d tries, catch-up %.0f ms: counts"
             " equal after %.0f ms, checksums after %.0f more; operation %s)",
             t->tenant, t->from, t->to, (double)(clock_mono_us() - r->start_us) / 1000.0,
             r->approach_ms, (unsigned long long)((r->caught_up_us - r->frozen_us) / 1000),
             (double)(r->locked_us - r->frozen_us) / 1000.0, r->lock_tries,
             (double)(r->caught_up_us - r->locked_us) / 1000.0, r->counts_ms, r->verify_ms,
             t->op_id);
}

const char *wk_transfer_run(const wk_transfer_t *t)
{
    run_t r = {.t = t, .start_us = clock_mono_us()};
    uint8_t op[16];
    char hex[33];
    if (ident_uuid_parse(t->tenant, strlen(t->tenant), r.id) < 0 ||
        ident_uuid_parse(t->op_id, strlen(t->op_id), op) < 0)
        return "bad ids";
    ident_schema_name(r.id, r.schema);
    ident_hex(op, 16, hex);
    snprintf(r.name, sizeof r.name, "quizmove_%s", hex);
    /* A resumed move starts over: the source was authoritative all along. A mover that died
       during the freeze may have left it frozen and its grant revoked. */
    r.revoked = r.frozen = true;
    s_rollback(&r, "starting (again) from a clean state");
    s_state(&r, "copying");
    const char *why = s_copy(&r);
    if (!why) {
        s_state(&r, "catching_up");
        uint64_t approach = clock_mono_us();
        s_approach(&r, r.tables);
        r.approach_ms = (double)(clock_mono_us() - approach) / 1000.0;
        s_state(&r, "cutover");
        why = s_cutover(&r);
    }
    free(r.tables);
    if (why)
        return s_rollback(&r, why);
    s_finish(&r);
    return NULL;
}
