/* Reply construction shared by all handlers. Bodies are JSON; errors carry a short detail the
 * gateway puts into the problem+json document. */
#include "worker/wk_reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

void wk_reply_body(proto_reply_t *rep, proto_status_t status, char *json)
{
    free(rep->body);
    rep->status = status;
    rep->body = json;
    rep->body_len = json ? strlen(json) : 0;
}

void wk_reply_json(proto_reply_t *rep, proto_status_t status, json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT);
    json_decref(value);
    if (!text) {
        wk_reply_error(rep, PROTO_STATUS_INTERNAL, "could not serialise reply");
        return;
    }
    wk_reply_body(rep, status, text);
}

void wk_reply_row(proto_reply_t *rep, proto_status_t status, const PGresult *res,
                  const char *not_found)
{
    if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0)) {
        wk_reply_error(rep, PROTO_STATUS_NOT_FOUND, "%s", not_found);
        return;
    }
    wk_reply_body(rep, status, mem_strdup(PQgetvalue(res, 0, 0)));
}

void wk_reply_error(proto_reply_t *rep, proto_status_t status, const char *fmt, ...)
{
    char detail[PROTO_MAX_DETAIL];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    wk_reply_body(rep, status, NULL);
    free(rep->detail);
    rep->detail = mem_strdup(detail);
}

void wk_reply_tx_error(proto_reply_t *rep, const wk_tx_t *tx)
{
    proto_status_t status = tx->status == PROTO_STATUS_OK ? PROTO_STATUS_INTERNAL : tx->status;
    const char *detail = tx->detail[0] ? tx->detail : "transaction failed";
    wk_reply_error(rep, status, "%s", detail);
    if (status == PROTO_STATUS_UNAVAILABLE) /* the database, or the tenant, is briefly away */
        proto_reply_header(rep, "Retry-After", "1");
}
