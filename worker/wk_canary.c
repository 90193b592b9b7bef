/* The pooler leak canary (see wk_canary.h). */
#include "worker/wk_canary.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "worker/wk_db.h"
#include "worker/wk_metrics.h"

struct wk_canary {
    wk_db_t *db;
    int interval_ms;
    pthread_t tid;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
};

/* One statement, so an implicit transaction of its own: whatever it sees was left on the
 * session. A setting differs from its reset value only if someone SET it for the session. */
static const char CHECK_SQL[] =
    "SELECT coalesce(string_agg(name, ',' ORDER BY name), '')"
    "    || CASE WHEN current_user <> session_user THEN ' current_user' ELSE '' END"
    "  FROM pg_settings"
    " WHERE name IN ('role', 'search_path', 'statement_timeout', 'TimeZone',"
    "                'default_transaction_read_only', 'idle_in_transaction_session_timeout')"
    "   AND setting IS DISTINCT FROM reset_val";

int wk_canary_check(PGconn *conn, char *why, size_t len)
{
    PGresult *res = PQexec(conn, CHECK_SQL);
    int rc = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        const char *leaked = PQgetvalue(res, 0, 0);
        snprintf(why, len, "%s", leaked);
        rc = *leaked ? 0 : 1;
    } else {
        snprintf(why, len, "%s", PQerrorMessage(conn));
    }
    PQclear(res);
    return rc;
}

static void *s_main(void *arg)
{
    wk_canary_t *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        if (!c->stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += c->interval_ms / 1000;
            until.tv_nsec += (long)(c->interval_ms % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&c->wake, &c->lock, &until);
        }
        bool stop = c->stop;
        pthread_mutex_unlock(&c->lock);
        if (stop)
            break;
        PGconn *conn = wk_db_conn(c->db);
        if (!conn)
            continue; /* the database is away: the serving threads say so */
        char why[256];
        int rc = wk_canary_check(conn, why, sizeof why);
        if (rc >= 0)
            wk_metrics_canary(rc == 0);
        if (rc == 0)
            log_error("pool canary: a session came with settings left on it by another client: "
                      "%s",
                      why);
        else if (rc < 0)
            log_warning("pool canary: check failed: %s", why);
    }
    return NULL;
}

wk_canary_t *wk_canary_start(const char *dsn, const char *user, int interval_ms)
{
    if (interval_ms <= 0)
        return NULL;
    wk_canary_t *c = mem_zalloc(sizeof *c);
    c->db = wk_db_new(dsn, user, false, false);
    c->interval_ms = interval_ms;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (pthread_create(&c->tid, NULL, s_main, c) != 0) {
        log_error("could not start the pool canary");
        wk_db_destroy(&c->db);
        free(c);
        return NULL;
    }
    return c;
}

void wk_canary_stop(wk_canary_t **canary_p)
{
    wk_canary_t *c = canary_p ? *canary_p : NULL;
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->tid, NULL);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    wk_db_destroy(&c->db);
    free(c);
    *canary_p = NULL;
}
