/* The spare schema keeper: one thread per worker with its own provisioning connection. Each
 * round is one transaction: drop one stale spare, or build one if its shard has fewer than the
 * target. Rounds run at start, after each taken spare (nudge) and every minute, which notices
 * spares taken by another worker of the shard. */
#include "worker/wk_spare.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ident.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/shard.h"
#include "worker/wk_migrate.h"
#include "worker/wk_metrics.h"

/* Advisory lock key (with the shard as second key): one builder per shard at a time. */
#define SPARE_LOCK    "7218402"
#define RECHECK_S     60 /* periodic check while nothing happens */
#define AFTER_ERROR_S 5  /* pause after a failed round (database down, say) */

struct wk_spares {
    wk_db_t *db;
    int shard, shards, target;
    bool dedicated[SHARD_MAX];            /* as for shard_place */
    char shard_text[12], shards_text[12]; /* as query parameters */
    pthread_t tid;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop, nudged;
};

typedef enum { ROUND_IDLE, ROUND_WORKED, ROUND_FAILED } round_t;

/* Drops one spare of this shard (or of a shard that no longer exists) that no worker will take:
 * built for another shard count or an older version. Only those: during a rolling upgrade the
 * older workers must leave the newer spares alone. */
static round_t s_prune_one(wk_spares_t *s, wk_tx_t *tx)
{
    char target[WK_MIGRATE_VERSION_LEN];
    if (wk_migrate_target(tx, target) < 0)
        return ROUND_FAILED;
    const char *v[3] = {s->shard_text, s->shards_text, target};
    PGresult *res = wk_tx_exec(tx,
                               "DELETE FROM quiz.spare_schemas WHERE id = (SELECT id FROM"
                               " quiz.spare_schemas WHERE (shard = $1 OR shard >= $2) AND"
                               " (shards <> $2 OR version < $3)"
                               " LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id::text",
                               3, v);
    if (!res)
        return ROUND_FAILED;
    uint8_t id[16];
    bool found = PQntuples(res) == 1 &&
                 ident_uuid_parse(PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)), id) == 0;
    PQclear(res);
    if (!found)
        return ROUND_IDLE;
    return wk_tx_schema(tx, id, WK_SCHEMA_DROP, -1) == 0 ? ROUND_WORKED : ROUND_FAILED;
}

/* Builds one spare if the shard has fewer than the target. */
static round_t s_build_one(wk_spares_t *s, wk_tx_t *tx)
{
    char target[WK_MIGRATE_VERSION_LEN], built[WK_MIGRATE_VERSION_LEN];
    if (wk_migrate_target(tx, target) < 0)
        return ROUND_FAILED;
    const char *v[4] = {NULL, s->shard_text, s->shards_text, target};
    PGresult *res = wk_tx_exec(tx,
                               "SELECT count(*) FROM quiz.spare_schemas"
                               " WHERE shard = $1 AND shards = $2 AND version = $3",
                               3, v + 1);
    if (!res)
        return ROUND_FAILED;
    long have = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    wk_metrics_spares(have);
    if (have >= s->target)
        return ROUND_IDLE;
    uint8_t id[16];
    do /* `shards` draws on average */
        ident_uuid_random(id);
    while (shard_place(id, s->dedicated, s->shards) != s->shard);
    char text[IDENT_UUID_STR_LEN + 1];
    ident_uuid_format(id, text);
    v[0] = text;
    if (wk_tx_schema(tx, id, WK_SCHEMA_CREATE, -1) < 0 ||
        wk_migrate_tenant(tx, NULL, NULL, built) < 0 ||
        wk_tx_schema(tx, id, WK_SCHEMA_LEAVE, -1) < 0)
        return ROUND_FAILED;
    v[3] = built; /* a migration registered meanwhile is in it */
    res = wk_tx_exec(tx,
                     "INSERT INTO quiz.spare_schemas (id, shard, shards, version)"
                     " VALUES ($1, $2, $3, $4)",
                     4, v);
    PQclear(res);
    return res ? ROUND_WORKED : ROUND_FAILED;
}

static round_t s_round(wk_spares_t *s)
{
    wk_tx_t tx;
    if (wk_tx_begin(&tx, s->db, NULL, 0) < 0) {
        log_warning("spare schemas: %s", tx.detail);
        return ROUND_FAILED;
    }
    const char *v[1] = {s->shard_text};
    PGresult *res = wk_tx_exec(&tx, "SELECT pg_try_advisory_xact_lock(" SPARE_LOCK ", $1)", 1, v);
    round_t r = res ? ROUND_IDLE : ROUND_FAILED;
    /* Without the lock another worker of the shard is at work: leave it to that one. */
    if (res && strcmp(PQgetvalue(res, 0, 0), "t") == 0 && (r = s_prune_one(s, &tx)) == ROUND_IDLE)
        r = s_build_one(s, &tx);
    PQclear(res);
    if (r == ROUND_WORKED && wk_tx_commit(&tx) < 0)
        r = ROUND_FAILED;
    if (r == ROUND_FAILED)
        log_warning("spare schemas: %s", tx.detail);
    wk_tx_end(&tx);
    return r;
}

static void *s_keeper(void *arg)
{
    wk_spares_t *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        s->nudged = false;
        pthread_mutex_unlock(&s->lock);
        round_t r = s_round(s);
        pthread_mutex_lock(&s->lock);
        if (r == ROUND_WORKED)
            continue;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += r == ROUND_FAILED ? AFTER_ERROR_S : RECHECK_S;
        while (!s->stop && !s->nudged)
            if (pthread_cond_timedwait(&s->wake, &s->lock, &until) != 0)
                break;
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

wk_spares_t *wk_spares_start(const char *dsn, const char *user, int shard, int shards,
                             const bool *dedicated, int target)
{
    if (target <= 0)
        return NULL;
    wk_spares_t *s = mem_zalloc(sizeof *s);
    s->db = wk_db_new(dsn, user, false, false);
    s->shard = shard;
    s->shards = shards;
    for (int k = 0; k < shards && dedicated; k++)
        s->dedicated[k] = dedicated[k];
    s->target = target;
    snprintf(s->shard_text, sizeof s->shard_text, "%d", shard);
    snprintf(s->shards_text, sizeof s->shards_text, "%d", shards);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_create(&s->tid, NULL, s_keeper, s);
    return s;
}

/* Sets one of the keeper's flags and wakes it. */
static void s_tell(wk_spares_t *s, bool *flag)
{
    pthread_mutex_lock(&s->lock);
    *flag = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

void wk_spares_nudge(wk_spares_t *s)
{
    if (s)
        s_tell(s, &s->nudged);
}

void wk_spares_stop(wk_spares_t **spares_p)
{
    wk_spares_t *s = *spares_p;
    if (!s)
        return;
    s_tell(s, &s->stop);
    pthread_join(s->tid, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    wk_db_destroy(&s->db);
    free(s);
    *spares_p = NULL;
}

int wk_spares_take(wk_tx_t *tx, int shard, int shards, const char *version, uint8_t id[16])
{
    char a[12], b[12];
    snprintf(a, sizeof a, "%d", shard);
    snprintf(b, sizeof b, "%d", shards);
    const char *v[3] = {a, b, version};
    PGresult *res = wk_tx_exec(tx,
                               "DELETE FROM quiz.spare_schemas WHERE id = (SELECT id FROM"
                               " quiz.spare_schemas WHERE shard = $1 AND shards = $2 AND"
                               " version = $3 ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
                               " RETURNING id::text",
                               3, v);
    if (!res)
        return -1;
    int took = PQntuples(res) == 1 &&
               ident_uuid_parse(PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)), id) == 0;
    PQclear(res);
    return took;
}
