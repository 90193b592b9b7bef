/* The pooler leak canary: a background thread per worker that, every interval, asks the
 * database on a connection of its own (the serving login, so behind a transaction-mode pooler it
 * is handed the same server connections as the requests) whether the session it landed on is
 * clean: no role, search_path, statement_timeout or TimeZone set outside a transaction, and
 * current_user the login. Tenant isolation behind a pooler rests on every request's settings
 * being SET LOCAL (wk_db.h); a session-level SET by anyone sharing the pool would carry one
 * client's tenant into another's transaction. Counted in /metrics
 * (quiz_worker_pool_canary_checks_total, _leaks_total), a leak logged as an error. */
#ifndef WORKER_WK_CANARY_H
#define WORKER_WK_CANARY_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct wk_canary wk_canary_t;

/* Starts the thread (interval_ms 0: none, NULL returned) for dsn as user (NULL: the DSN's). */
wk_canary_t *wk_canary_start(const char *dsn, const char *user, int interval_ms);
/* Stops and frees it. NULL is fine. */
void wk_canary_stop(wk_canary_t **canary_p);

/* One check on conn: 1 clean, 0 a leak (the settings that leaked in why), -1 the query failed
 * (libpq's message in why). */
int wk_canary_check(PGconn *conn, char *why, size_t len);

#endif
