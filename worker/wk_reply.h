/* Filling a proto reply from a handler: a JSON body, an error with a detail, or the failure
 * recorded by a transaction. */
#ifndef WORKER_WK_REPLY_H
#define WORKER_WK_REPLY_H

#include <jansson.h>

#include "proto/proto.h"
#include "worker/wk_db.h"

/* Takes ownership of json (a malloc'd string; NULL for no body). */
void wk_reply_body(proto_reply_t *rep, proto_status_t status, char *json);
/* Serialises and releases the jansson value (steals the reference). */
void wk_reply_json(proto_reply_t *rep, proto_status_t status, json_t *value);
/* Copies the text of the first column of the first row as the body, or answers not found. */
void wk_reply_row(proto_reply_t *rep, proto_status_t status, const PGresult *res,
                  const char *not_found);
void wk_reply_error(proto_reply_t *rep, proto_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The failure a transaction recorded (status and detail). */
void wk_reply_tx_error(proto_reply_t *rep, const wk_tx_t *tx);

#endif
