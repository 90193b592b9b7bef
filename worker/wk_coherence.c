/* Validation rounds (see wk_coherence.h). Why the xmin: the log's ids come from a sequence, in
 * the order transactions wrote, not the order they committed, so "rows after the last id seen"
 * would miss a transaction that wrote early and committed late. A transaction the previous
 * round's snapshot did not see had an xid at or past that snapshot's xmin, so reading from that
 * xid on misses none; rows read again in the next round are skipped by id (seen). */
#include "worker/wk_coherence.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/ident.h"
#include "common/log.h"
#include "common/mem.h"
#include "worker/wk_db.h"

#define ROUND_TIMEOUT_MS 1000
#define HISTORY          12 /* xmins kept, a tenth of the retention apart */

typedef struct {
    uint64_t at_ms;
    char xmin[24];
} seen_xmin_t;

struct wk_coherence {
    wk_db_t *db;
    wk_cache_t *cache;
    unsigned long connects; /* of db, at the last round */
    bool have_xmin;
    char xmin[24]; /* of the last round's snapshot */
    unsigned long long xmin_value;
    uint64_t last_ok_ms; /* when the last successful round began (0: none yet) */
    long long *seen;     /* ids of the log rows the last round read, ascending */
    int nseen;
    /* The log keeps a row retain_ms after its transaction ended; a cache not validated for
       stale_ms (less) is forgotten; xmins are noted a tenth of retain_ms apart. */
    uint64_t retain_ms, stale_ms, prune_every_ms;
    seen_xmin_t history[HISTORY];
    int nhistory;
    uint64_t last_prune_ms;
};

wk_coherence_t *wk_coherence_new(const char *dsn, const char *user, wk_cache_t *cache, int retain_s)
{
    wk_coherence_t *co = mem_zalloc(sizeof *co);
    co->retain_ms = (uint64_t)retain_s * 1000;
    co->stale_ms = co->retain_ms * 4 / 5;
    co->prune_every_ms = co->retain_ms / 10;
    co->db = wk_db_new(dsn, user, false, false);
    co->cache = cache;
    wk_db_conn(co->db); /* now, as the database threads do: the first round does not pay for it */
    return co;
}

void wk_coherence_destroy(wk_coherence_t **co_p)
{
    wk_coherence_t *co = *co_p;
    if (!co)
        return;
    wk_db_destroy(&co->db);
    free(co->seen);
    free(co);
    *co_p = NULL;
}

/* One statement, outside any transaction of ours: nothing to set up, so a transaction pooler
 * serves it as it is. Its time limit is ours (timeout_ms), not a statement_timeout: past it the
 * connection is closed, and the next round, on a new one, starts the cache afresh. */
static PGresult *s_query(wk_db_t *db, const char *sql, int n, const char *const *values, char *why,
                         size_t len)
{
    PGconn *conn = wk_db_conn(db);
    if (!conn) {
        snprintf(why, len, "database unavailable");
        return NULL;
    }
    if (!PQsendQueryParams(conn, sql, n, NULL, values, NULL, NULL, 0)) {
        snprintf(why, len, "%s", PQerrorMessage(conn));
        return NULL;
    }
    uint64_t until = clock_now_ms() + ROUND_TIMEOUT_MS;
    while (PQisBusy(conn)) {
        uint64_t now = clock_now_ms();
        struct pollfd p = {PQsocket(conn), POLLIN, 0};
        if (now >= until || (poll(&p, 1, (int)(until - now)) < 0 && errno != EINTR) ||
            !PQconsumeInput(conn)) {
            snprintf(why, len, "%s", now >= until ? "no answer in time" : PQerrorMessage(conn));
            wk_db_close(db);
            return NULL;
        }
    }
    PGresult *res = NULL;
    for (PGresult *r; (r = PQgetResult(conn));) {
        if (!res && (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK))
            res = r;
        else {
            if (!res)
                snprintf(why, len, "%s", PQresultErrorMessage(r));
            PQclear(r);
        }
    }
    return res;
}

static int s_cmp_id(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static bool s_seen(const wk_coherence_t *co, long long id)
{
    return co->nseen && bsearch(&id, co->seen, (size_t)co->nseen, sizeof id, s_cmp_id);
}

/* The tenants' role names as one text[] literal (names derived from ids only). */
static char *s_role_array(const wk_coherence_tenant_t *tenants, int n)
{
    char *out = mem_alloc((size_t)n * (IDENT_SCHEMA_LEN + 1) + 3), *p = out;
    *p++ = '{';
    for (int i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        ident_schema_name(tenants[i].tenant, p);
        p += strlen(p);
    }
    *p++ = '}';
    *p = '\0';
    return out;
}

/* The rows of one round applied: drops, tenants' answers, the new xmin. */
static void s_apply(wk_coherence_t *co, PGresult *res, wk_coherence_tenant_t *tenants, int n)
{
    int rows = PQntuples(res);
    long long *ids = mem_alloc(((size_t)rows + 1) * sizeof *ids);
    int nids = 0;
    for (int r = 0; r < rows; r++) {
        const char *kind = PQgetvalue(res, r, 0), *a = PQgetvalue(res, r, 1);
        if (kind[0] == 'x') {
            unsigned long long x = strtoull(a, NULL, 10);
            if (co->have_xmin && x < co->xmin_value) {
                log_warning("the database's xmin went back (%llu < %llu): restored or failed over;"
                            " the quiz cache starts afresh",
                            x, co->xmin_value);
                wk_cache_drop(co->cache, NULL, NULL);
                co->nhistory = 0; /* those xmins are another history's */
            }
            snprintf(co->xmin, sizeof co->xmin, "%s", a);
            co->xmin_value = x;
            co->have_xmin = true;
        } else if (kind[0] == 'c') {
            long long id = strtoll(a, NULL, 10);
            ids[nids++] = id;
            uint8_t tenant[16], quiz[16];
            if (s_seen(co, id) ||
                ident_uuid_parse(PQgetvalue(res, r, 2), strlen(PQgetvalue(res, r, 2)), tenant) < 0)
                continue;
            bool one =
                !PQgetisnull(res, r, 3) &&
                ident_uuid_parse(PQgetvalue(res, r, 3), strlen(PQgetvalue(res, r, 3)), quiz) == 0;
            wk_cache_drop(co->cache, tenant, one ? quiz : NULL);
        } else if (kind[0] == 't') {
            long i = strtol(a, NULL, 10) - 1; /* its place in the roles asked about */
            if (i < 0 || i >= n)
                continue;
            tenants[i].role_oid =
                PQgetisnull(res, r, 2) ? 0 : (uint32_t)strtoul(PQgetvalue(res, r, 2), NULL, 10);
            tenants[i].member = PQgetvalue(res, r, 3)[0] == 't';
        }
    }
    qsort(ids, (size_t)nids, sizeof *ids, s_cmp_id);
    free(co->seen);
    co->seen = ids;
    co->nseen = nids;
}

int wk_coherence_round(wk_coherence_t *co, wk_coherence_tenant_t *tenants, int n)
{
    for (int i = 0; i < n; i++) {
        tenants[i].role_oid = 0;
        tenants[i].member = false;
    }
    uint64_t now = clock_mono_us() / 1000;
    if (co->last_ok_ms && now - co->last_ok_ms > co->stale_ms) {
        /* the log may have been pruned past what this cache has not read */
        wk_cache_drop(co->cache, NULL, NULL);
        co->have_xmin = false;
    }
    char *roles = s_role_array(tenants, n), why[256] = "";
    const char *v[2] = {co->have_xmin ? co->xmin : NULL, roles};
    PGresult *res = s_query(co->db, "SELECT kind, a, b, c FROM quiz.cache_round($1, $2)", 2, v, why,
                            sizeof why);
    if (!res)
        log_warning("quiz cache validation failed: %s", why);
    free(roles);
    if (wk_db_connects(co->db) != co->connects) {
        /* another connection, perhaps to another server: nothing read before counts */
        wk_cache_drop(co->cache, NULL, NULL);
        co->connects = wk_db_connects(co->db);
        co->have_xmin = false;
        co->nseen = 0;
        co->nhistory = 0;
    }
    if (!res)
        return -1;
    s_apply(co, res, tenants, n);
    PQclear(res);
    co->last_ok_ms = now;
    return 0;
}

void wk_coherence_prune(wk_coherence_t *co)
{
    uint64_t now = clock_mono_us() / 1000;
    if (!co->have_xmin || now - co->last_prune_ms < co->prune_every_ms)
        return;
    co->last_prune_ms = now;
    if (co->nhistory == HISTORY) {
        memmove(co->history, co->history + 1, (HISTORY - 1) * sizeof *co->history);
        co->nhistory--;
    }
    co->history[co->nhistory].at_ms = now;
    snprintf(co->history[co->nhistory].xmin, sizeof co->history[0].xmin, "%s", co->xmin);
    co->nhistory++;
    /* The newest xmin seen at least retain_ms ago: every transaction below it had ended then. */
    const char *horizon = NULL;
    for (int i = 0; i < co->nhistory; i++)
        if (now - co->history[i].at_ms >= co->retain_ms)
            horizon = co->history[i].xmin;
    if (!horizon)
        return;
    const char *v[1] = {horizon};
    char why[256] = "";
    PGresult *res = s_query(co->db, "DELETE FROM quiz.quiz_changes WHERE xid < $1::xid8", 1, v, why,
                            sizeof why);
    if (!res)
        log_warning("could not prune the quiz change log: %s", why);
    PQclear(res);
}
