/* The mover (see wk_mover.h). Each step is a transaction of its own; an operation's state in
 * quiz.operations says how far it got, so a resumed operation carries on from there. */
#include "worker/wk_mover.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ident.h"
#include "common/log.h"
#include "common/mem.h"
#include "worker/wk_db.h"
#include "worker/wk_lifecycle.h"
#include "worker/wk_transfer.h"

#define RECHECK_S     1  /* how often queued operations are looked for */
#define SAMPLE_S      60 /* how often the shard's tenant sizes are sampled */
#define PURGE_S       2  /* how often tenants past their grace period are looked for */
#define PURGE_MAX     16 /* purged per look */
#define LEASE         "30 seconds"
#define REBALANCE_MAX 4096 /* moves one rebalance makes at the most */

struct wk_mover {
    wk_db_t *db;                          /* provisioning, on the control cluster (the registry) */
    wk_db_t *cluster_db[WK_CLUSTERS_MAX]; /* provisioning on each other cluster, on first use */
    wk_db_t *owner_db[WK_CLUSTERS_MAX];   /* each cluster's owner, for moves between them */
    const wk_clusters_t *clusters;
    char *user;
    int cluster, shard;     /* this worker's: its tenants' sizes are sampled there */
    char identity[300];     /* "host:pid", recorded with the operations it takes */
    uint64_t sampled_at_us; /* monotonic time of the last sample (0: none yet) */
    uint64_t purged_at_us;  /* of the last look for tenants to purge */
    pthread_t tid;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop, nudged;
};

/* An operation taken from the queue. */
typedef struct {
    char id[IDENT_UUID_STR_LEN + 1];
    char kind[16];
    char tenant[IDENT_UUID_STR_LEN + 1];
    char to[12];
    char by[16];
} op_t;

/* Runs sql in a transaction of its own; the result (PQclear it) or NULL after logging. */
static PGresult *s_exec1(wk_db_t *db, const char *sql, int n, const char *const *v)
{
    wk_tx_t tx;
    PGresult *res = NULL;
    if (wk_tx_begin(&tx, db, NULL, 0) == 0) {
        res = wk_tx_exec(&tx, sql, n, v);
        if (res && wk_tx_commit(&tx) < 0) {
            PQclear(res);
            res = NULL;
        }
    }
    if (!res)
        log_warning("mover: %s", tx.detail);
    wk_tx_end(&tx);
    return res;
}

static void s_finish(wk_db_t *db, const char *id, const char *error)
{
    const char *v[2] = {id, error};
    PQclear(s_exec1(db,
                    error ? "UPDATE quiz.operations SET state = 'failed', error = $2,"
                            " finished_at = now(), lease_until = NULL WHERE id = $1"
                          : "UPDATE quiz.operations SET state = 'done', progress = 1,"
                            " finished_at = now(), lease_until = NULL WHERE id = $1",
                    error ? 2 : 1, v));
    if (error)
        log_warning("operation %s failed: %s", id, error);
}

/* Moves a tenant's role grant on cluster c, which is not the control cluster: granted to `to`
 * (revoke false) or revoked from `from` (revoke true), in a transaction of its own. 0 or -1. */
static int s_regrant(wk_mover_t *m, int c, const uint8_t id[16], int from, int to, bool revoke)
{
    if (!m->cluster_db[c])
        m->cluster_db[c] = wk_db_new(m->clusters->dsn[c], m->user, false, false);
    wk_tx_t tx;
    int rc = wk_tx_begin(&tx, m->cluster_db[c], NULL, 0) == 0 &&
                     wk_tx_move_grant(&tx, id, revoke ? from : -1, revoke ? -1 : to) == 0 &&
                     wk_tx_commit(&tx) == 0
                 ? 0
                 : -1;
    if (rc < 0)
        log_warning("move: cluster %d: %s", c, tx.detail);
    wk_tx_end(&tx);
    return rc;
}

/* Renews the operation's lease while a long move runs; false once the mover must stop. */
static bool s_keep_going(void *arg)
{
    wk_mover_t *m = ((void **)arg)[0];
    const char *v[1] = {((const char **)arg)[1]};
    PQclear(s_exec1(m->db,
                    "UPDATE quiz.operations SET lease_until = now() + interval '" LEASE "'"
                    " WHERE id = $1",
                    1, v));
    pthread_mutex_lock(&m->lock);
    bool stop = m->stop;
    pthread_mutex_unlock(&m->lock);
    return !stop;
}

/* A move between clusters (wk_transfer.h), on the clusters' owner connections. */
static const char *s_transfer(wk_mover_t *m, const char *op_id, const char *tenant, int from,
                              int to, int from_c, int to_c)
{
    for (int c = 0; c < 2; c++) {
        int k = c ? to_c : from_c;
        if (!m->owner_db[k])
            m->owner_db[k] = wk_db_new(m->clusters->dsn[k], NULL, false, false);
    }
    void *arg[2] = {m, (void *)op_id};
    wk_transfer_t t = {.registry = m->db,
                       .source = m->owner_db[from_c],
                       .target = m->owner_db[to_c],
                       .source_dsn = m->clusters->dsn[from_c],
                       .op_id = op_id,
                       .tenant = tenant,
                       .from = from,
                       .to = to,
                       .keep_going = s_keep_going,
                       .arg = arg};
    return wk_transfer_run(&t);
}

/* One move. Within the control cluster, one transaction. On another cluster: the new shard's
 * grant first, then the registry's flip with the row locked, then the old grant's revocation;
 * a mover that dies between them leaves the operation to be resumed, every step repeatable.
 * NULL when done, else why it failed (static text). */
static const char *s_move(wk_mover_t *m, const char *op_id, const char *tenant, const char *to)
{
    wk_db_t *db = m->db;
    uint64_t start = clock_mono_us();
    wk_tx_t tx;
    if (wk_tx_begin(&tx, db, NULL, 0) < 0) {
        wk_tx_end(&tx);
        return "database unavailable";
    }
    const char *v[2] = {tenant, to};
    const char *why = NULL;
    /* The tenant's row is locked for the move: tenant creation and deletion wait for it. */
    PGresult *res = wk_tx_exec(&tx,
                               "SELECT t.shard, fs.cluster <> ts.cluster, ts.dedicated AND EXISTS"
                               " (SELECT 1 FROM quiz.tenants o WHERE o.shard = ts.shard AND"
                               " o.status <> 'deleted' AND o.id <> t.id), fs.cluster, ts.cluster"
                               " FROM quiz.tenants t JOIN quiz.shards fs ON fs.shard = t.shard,"
                               " quiz.shards ts WHERE t.id = $1 AND t.status = 'active' AND"
                               " ts.shard = $2 FOR UPDATE OF t",
                               2, v);
    if (!res) {
        why = "could not read the placement";
    } else if (PQntuples(res) == 0) {
        why = "the tenant or the target shard no longer exists";
    } else if (strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
        why = "the dedicated target shard already holds another tenant";
    }
    int from = res && PQntuples(res) ? atoi(PQgetvalue(res, 0, 0)) : -1;
    int cluster = res && PQntuples(res) ? atoi(PQgetvalue(res, 0, 3)) : -1;
    int target = res && PQntuples(res) ? atoi(PQgetvalue(res, 0, 4)) : -1;
    if (!why && (cluster < 0 || cluster >= m->clusters->count || target < 0 ||
                 target >= m->clusters->count))
        why = "the tenant's or the target's cluster is not configured on this worker";
    PQclear(res);
    if (!why && cluster != target) {
        /* Long: copy and catch-up run without the registry row's lock. */
        wk_tx_end(&tx);
        return s_transfer(m, op_id, tenant, from, atoi(to), cluster, target);
    }
    uint8_t id[16];
    if (!why && ident_uuid_parse(tenant, strlen(tenant), id) < 0)
        why = "bad tenant id";
    char from_text[12];
    snprintf(from_text, sizeof from_text, "%d", from);
    const char *w[4] = {tenant, to, op_id, from_text};
    if (!why && from != atoi(to)) {
        bool remote = cluster != 0;
        if (remote && s_regrant(m, cluster, id, from, atoi(to), false) < 0)
            res = NULL;
        else if (!remote && wk_tx_move_grant(&tx, id, from, atoi(to)) < 0)
            res = NULL;
        else
            res = wk_tx_exec(&tx, "UPDATE quiz.tenants SET shard = $2 WHERE id = $1", 2, w);
        if (!res)
            why = "could not move the tenant's role and registry row";
        PQclear(res);
    }
    if (!why) {
        const char *done[2] = {op_id, from_text};
        res = wk_tx_exec(&tx,
                         "UPDATE quiz.operations SET state = 'done', progress = 1, from_shard ="
                         " CASE WHEN $2::int = to_shard THEN from_shard ELSE $2::int END,"
                         " freeze_ms = 0, finished_at = now(), lease_until = NULL WHERE id = $1",
                         2, done);
        PQclear(res);
        PGresult *audit =
            res ? wk_tx_exec(&tx,
                             "INSERT INTO quiz.platform_audit (action, tenant_id, detail)"
                             " VALUES ('tenant.move', $1, jsonb_build_object('from', $4::int,"
                             " 'to', $2::int, 'operation', $3::uuid))",
                             4, w)
                : NULL;
        PQclear(audit);
        if (!res || !audit || wk_tx_commit(&tx) < 0)
            why = "could not commit the move";
        else if (cluster != 0 && from != atoi(to) && s_regrant(m, cluster, id, from, 0, true) < 0)
            log_warning("move of tenant %s: shard %d keeps its grant until revoked by hand", tenant,
                        from); /* served by the new shard all the same */
    }
    if (why && tx.detail[0])
        log_warning("move of tenant %s: %s", tenant, tx.detail);
    wk_tx_end(&tx);
    if (!why)
        log_info("moved tenant %s from shard %d to shard %s in %.1f ms (operation %s)", tenant,
                 from, to, (double)(clock_mono_us() - start) / 1000.0, op_id);
    return why;
}

/* The next move that evens the non-dedicated shards, as a child operation of the rebalance
 * (queued, so a resumed rebalance finds it): 1 with *child set, 0 when balanced, -1 on error.
 * Balanced: the fullest shard within 10% of the emptiest, or no single move would help. */
static int s_plan_move(wk_db_t *db, const op_t *op, op_t *child)
{
    bool storage = strcmp(op->by, "storage") == 0;
    /* Tenant sizes as last sampled by their shards' workers (s_sample). */
    static const char *const sql =
        "WITH tenants AS (SELECT id, shard, coalesce(storage_bytes, 0) bytes, created_at"
        "  FROM quiz.tenants WHERE status = 'active'),"
        " load AS (SELECT s.shard, count(t.id) n, coalesce(sum(t.bytes), 0) bytes"
        "  FROM quiz.shards s LEFT JOIN tenants t ON t.shard = s.shard"
        "  WHERE NOT s.dedicated GROUP BY s.shard),"
        " w AS (SELECT shard, CASE WHEN $1 THEN bytes ELSE n END AS v FROM load),"
        " hi AS (SELECT shard, v FROM w ORDER BY v DESC, shard LIMIT 1),"
        " lo AS (SELECT shard, v FROM w ORDER BY v, shard LIMIT 1)"
        " SELECT t.id::text, lo.shard FROM hi, lo, tenants t"
        " WHERE t.shard = hi.shard AND hi.shard <> lo.shard AND hi.v - lo.v > 0.1 * hi.v"
        "  AND CASE WHEN $1 THEN t.bytes > 0 AND t.bytes < hi.v - lo.v ELSE hi.v - lo.v > 1 END"
        " ORDER BY CASE WHEN $1 THEN t.bytes ELSE 0 END DESC, t.created_at DESC LIMIT 1";
    const char *v[1] = {storage ? "true" : "false"};
    PGresult *res = s_exec1(db, sql, 1, v);
    if (!res)
        return -1;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    snprintf(child->tenant, sizeof child->tenant, "%s", PQgetvalue(res, 0, 0));
    snprintf(child->to, sizeof child->to, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    uint8_t u[16];
    ident_uuid_random(u);
    ident_uuid_format(u, child->id);
    const char *w[4] = {child->id, child->tenant, child->to, op->id};
    res = s_exec1(db,
                  "INSERT INTO quiz.operations (id, kind, tenant_id, to_shard, parent_id)"
                  " VALUES ($1, 'move', $2, $3, $4)",
                  4, w);
    PQclear(res);
    return res ? 1 : -1;
}

/* Copies the operation columns (id, kind, tenant, to, by) of row 0 of res into op. */
static void s_op_read(const PGresult *res, op_t *op)
{
    snprintf(op->id, sizeof op->id, "%s", PQgetvalue(res, 0, 0));
    snprintf(op->kind, sizeof op->kind, "%s", PQgetvalue(res, 0, 1));
    snprintf(op->tenant, sizeof op->tenant, "%s", PQgetvalue(res, 0, 2));
    snprintf(op->to, sizeof op->to, "%s", PQgetvalue(res, 0, 3));
    snprintf(op->by, sizeof op->by, "%s", PQgetvalue(res, 0, 4));
}

/* The columns s_op_read takes, for RETURNING and SELECT. */
#define OP_COLUMNS                                                                          \
    " id::text, kind, coalesce(tenant_id::text, ''), coalesce(to_shard, -1), coalesce(by, " \
    "'tenants')"

/* A child move left queued by a rebalance that stopped: 1 with *child set, 0, or -1. */
static int s_pending_child(wk_db_t *db, const op_t *op, op_t *child)
{
    const char *v[1] = {op->id};
    PGresult *res = s_exec1(db,
                            "SELECT" OP_COLUMNS " FROM quiz.operations WHERE parent_id = $1"
                            " AND state NOT IN ('done', 'failed') ORDER BY started_at LIMIT 1",
                            1, v);
    if (!res)
        return -1;
    int found = PQntuples(res) == 1;
    if (found)
        s_op_read(res, child);
    PQclear(res);
    return found;
}

/* Moves tenants one at a time until balanced, renewing the lease and progress between moves. */
static void s_rebalance(wk_mover_t *m, const op_t *op)
{
    int moved = 0;
    for (; moved < REBALANCE_MAX; moved++) {
        op_t child;
        int rc = s_pending_child(m->db, op, &child);
        if (rc == 0)
            rc = s_plan_move(m->db, op, &child);
        if (rc < 0) {
            s_finish(m->db, op->id, "could not plan the next move");
            return;
        }
        if (rc == 0)
            break;
        const char *why = s_move(m, child.id, child.tenant, child.to);
        if (why) {
            s_finish(m->db, child.id, why);
            s_finish(m->db, op->id, "a move of the rebalance failed");
            return;
        }
        char progress[16];
        snprintf(progress, sizeof progress, "%.3f", (double)(moved + 1) / (moved + 2));
        const char *v[2] = {op->id, progress};
        PQclear(s_exec1(
            m->db,
            "UPDATE quiz.operations SET progress = $2, lease_until = now() + interval '" LEASE
            "' WHERE id = $1",
            2, v));
        pthread_mutex_lock(&m->lock);
        bool stop = m->stop;
        pthread_mutex_unlock(&m->lock);
        if (stop)
            return; /* the lease runs out and another mover resumes */
    }
    s_finish(m->db, op->id, NULL);
    log_info("rebalance %s done: %d moves", op->id, moved);
}

/* Takes the oldest operation nobody holds. 1 with *op set, 0 if none, -1 on error. */
static int s_claim(wk_mover_t *m, op_t *op)
{
    PGresult *res = s_exec1(
        m->db,
        "UPDATE quiz.operations SET lease_until = now() + interval '" LEASE "', claimed_by = $1,"
        " state = CASE WHEN state = 'queued' THEN (CASE kind WHEN 'move' THEN 'cutover'"
        " ELSE 'copying' END) ELSE state END"
        " WHERE id = (SELECT id FROM quiz.operations WHERE state NOT IN ('done', 'failed')"
        " AND parent_id IS NULL AND (lease_until IS NULL OR lease_until < now())"
        " ORDER BY started_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " RETURNING" OP_COLUMNS,
        1, (const char *const[]){m->identity});
    if (!res)
        return -1;
    int found = PQntuples(res) == 1;
    if (found)
        s_op_read(res, op);
    PQclear(res);
    return found;
}

/* Samples the storage of this shard's tenants on its cluster (one pass over pg_class) into the
 * registry. Logged and skipped on failure: the figures only grow older. */
/* The provisioning connection to this worker's own cluster. */
static wk_db_t *s_own_cluster(wk_mover_t *m)
{
    if (!m->cluster)
        return m->db;
    if (!m->cluster_db[m->cluster])
        m->cluster_db[m->cluster] = wk_db_new(m->clusters->dsn[m->cluster], m->user, false, false);
    return m->cluster_db[m->cluster];
}

static void s_sample(wk_mover_t *m)
{
    m->sampled_at_us = clock_mono_us();
    wk_db_t *db = s_own_cluster(m);
    PGresult *sizes = s_exec1(db,
                              "SELECT '{' || string_agg(substr(nspname, 8), ',') || '}',"
                              " '{' || string_agg(b::text, ',') || '}' FROM (SELECT n.nspname,"
                              " sum(pg_total_relation_size(c.oid))::bigint b FROM pg_class c"
                              " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname"
                              " LIKE 'tenant\\_%' AND c.relkind = 'r' GROUP BY 1) z",
                              0, NULL);
    if (!sizes || PQgetisnull(sizes, 0, 0)) {
        PQclear(sizes);
        return;
    }
    char shard[12];
    snprintf(shard, sizeof shard, "%d", m->shard);
    const char *v[3] = {PQgetvalue(sizes, 0, 0), PQgetvalue(sizes, 0, 1), shard};
    PQclear(s_exec1(m->db,
                    "UPDATE quiz.tenants t SET storage_bytes = v.b, storage_sampled_at = now()"
                    " FROM unnest($1::uuid[], $2::bigint[]) v (id, b)"
                    " WHERE t.id = v.id AND t.shard = $3 AND t.status <> 'deleted'",
                    3, v));
    PQclear(sizes);
}

static void *s_thread(void *arg)
{
    wk_mover_t *m = arg;
    for (;;) {
        if (!m->sampled_at_us || clock_mono_us() - m->sampled_at_us >= SAMPLE_S * 1000000ULL)
            s_sample(m);
        if (clock_mono_us() - m->purged_at_us >= PURGE_S * 1000000ULL) {
            m->purged_at_us = clock_mono_us();
            wk_lifecycle_purge(m->db, s_own_cluster(m), m->shard, PURGE_MAX);
        }
        op_t op;
        int claimed = s_claim(m, &op);
        if (claimed == 1 && strcmp(op.kind, "move") == 0) {
            const char *why = s_move(m, op.id, op.tenant, op.to);
            if (why)
                s_finish(m->db, op.id, why);
        } else if (claimed == 1) {
            s_rebalance(m, &op);
        }
        pthread_mutex_lock(&m->lock);
        if (claimed != 1 && !m->stop && !m->nudged) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += RECHECK_S;
            pthread_cond_timedwait(&m->wake, &m->lock, &until);
        }
        m->nudged = false;
        bool stop = m->stop;
        pthread_mutex_unlock(&m->lock);
        if (stop)
            break;
    }
    return NULL;
}

wk_mover_t *wk_mover_start(const wk_clusters_t *clusters, int cluster, int shard, const char *user)
{
    wk_mover_t *m = mem_zalloc(sizeof *m);
    m->clusters = clusters;
    m->cluster = cluster;
    m->shard = shard;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    snprintf(m->identity, sizeof m->identity, "%s:%d", host, (int)getpid());
    m->user = user ? mem_strdup(user) : NULL;
    m->db = wk_db_new(clusters->dsn[0], user, false, false);
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->wake, NULL);
    pthread_create(&m->tid, NULL, s_thread, m);
    return m;
}

void wk_mover_nudge(wk_mover_t *mover)
{
    if (!mover)
        return;
    pthread_mutex_lock(&mover->lock);
    mover->nudged = true;
    pthread_cond_signal(&mover->wake);
    pthread_mutex_unlock(&mover->lock);
}

void wk_mover_stop(wk_mover_t **mover_p)
{
    if (!mover_p || !*mover_p)
        return;
    wk_mover_t *m = *mover_p;
    pthread_mutex_lock(&m->lock);
    m->stop = true;
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->tid, NULL);
    wk_db_destroy(&m->db);
    for (int c = 0; c < WK_CLUSTERS_MAX; c++) {
        wk_db_destroy(&m->cluster_db[c]);
        wk_db_destroy(&m->owner_db[c]);
    }
    free(m->user);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->wake);
    free(m);
    *mover_p = NULL;
}
