/* Attempts: submitting answers to a quiz (scored on the server, stored with per-question
 * results), listing a quiz's attempts (admins all, members their own), reading one. */
#ifndef WORKER_WK_ATTEMPT_H
#define WORKER_WK_ATTEMPT_H

#include "worker/wk_handle.h"

void wk_attempt_create(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_attempt_list(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_attempt_get(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);

#endif
