/* The pooler leak canary (see wk_canary.h). */
#include "worker/wk_canary.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "worker/wk_db.h"
#include "worker/wk_metrics.h"
#include "worker/wk_periodic.h"

struct wk_canary {
    wk_db_t *db;
    wk_periodic_t *thread;
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

static void s_check_once(void *arg)
{
    wk_canary_t *c = arg;
    PGconn *conn = wk_db_conn(c->db);
    if (!conn)
        return; /* the database is away: the serving threads say so */
    char why[256];
    int rc = wk_canary_check(conn, why, sizeof why);
    if (rc >= 0)
        wk_metrics_canary(rc == 0);
    if (rc == 0)
        log_error("pool canary: a session came with settings left on it by another client: %s",
                  why);
    else if (rc < 0)
        log_warning("pool canary: check failed: %s", why);
}

wk_canary_t *wk_canary_start(const char *dsn, const char *user, int interval_ms)
{
    if (interval_ms <= 0)
        return NULL;
    wk_canary_t *c = mem_zalloc(sizeof *c);
    c->db = wk_db_new(dsn, user, false, false);
    c->thread = wk_periodic_start("pool canary", s_check_once, c, interval_ms);
    if (!c->thread) {
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
    wk_periodic_stop(&c->thread);
    wk_db_destroy(&c->db);
    free(c);
    *canary_p = NULL;
}
