/* Logging to stderr with sd-daemon priority prefixes, which journald turns into levels.
 * log_req_* prefix a line with the request id, tenant and shard so one request can be followed
 * across gateway and worker. Secrets (tokens, passwords, DSNs with passwords) are never logged. */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdint.h>

typedef enum { LOG_LEVEL_ERROR, LOG_LEVEL_WARNING, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG } log_level_t;

/* Sets the process name shown in each line and the most verbose level printed. */
void log_init(const char *name, log_level_t max_level);
void log_write(log_level_t level, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* What identifies a request in the logs: 16-byte request id, tenant (NULL if none), shard. */
typedef struct {
    const uint8_t *request_id;
    const uint8_t *tenant;
    int shard;
} log_req_t;

void log_req_write(log_level_t level, const log_req_t *req, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* From begin to end, every line this thread logs without a prefix of its own carries req's ids
 * (copied), so a database failure deep in a handler still names its request. */
void log_req_begin(const log_req_t *req);
void log_req_end(void);

/* One request's access line, at info level, in logfmt after the request's ids:
 *   request=<hex> tenant=<uuid> shard=K access route=quiz_get method=GET status=200
 *   duration_us=1234 [db_us=800] user=<uuid or ->
 * Under systemd (stderr is the journal's stream) every line goes to the journal with fields
 * instead: REQUEST_ID, TENANT_ID, SHARD on each line about a request, and ROUTE, METHOD, STATUS,
 * DURATION_US, DB_US, USER_ID on this one, so `journalctl REQUEST_ID=<hex>` finds a request in
 * the gateway and its worker. */
typedef struct {
    const char *route;    /* the operation's name */
    const char *method;   /* HTTP method (gateway), or NULL */
    const char *status;   /* "200" (gateway) or "ok" (worker) */
    uint64_t duration_us; /* arrival to answer */
    long long db_us;      /* database time, or -1 where not measured */
    const uint8_t *user;  /* the caller's user id, or NULL */
} log_access_t;
void log_access(const log_req_t *req, const log_access_t *a);

#define log_error(...)          log_write(LOG_LEVEL_ERROR, NULL, __VA_ARGS__)
#define log_warning(...)        log_write(LOG_LEVEL_WARNING, NULL, __VA_ARGS__)
#define log_info(...)           log_write(LOG_LEVEL_INFO, NULL, __VA_ARGS__)
#define log_debug(...)          log_write(LOG_LEVEL_DEBUG, NULL, __VA_ARGS__)
#define log_req_error(r, ...)   log_req_write(LOG_LEVEL_ERROR, r, __VA_ARGS__)
#define log_req_warning(r, ...) log_req_write(LOG_LEVEL_WARNING, r, __VA_ARGS__)
#define log_req_info(r, ...)    log_req_write(LOG_LEVEL_INFO, r, __VA_ARGS__)
#define log_req_debug(r, ...)   log_req_write(LOG_LEVEL_DEBUG, r, __VA_ARGS__)

#endif
