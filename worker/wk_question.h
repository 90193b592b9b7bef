/* Questions of a quiz: add, update, delete, reorder, with validation that names the offending
 * field (the rules of each kind are in wk_kind.h). */
#ifndef WORKER_WK_QUESTION_H
#define WORKER_WK_QUESTION_H

#include "worker/wk_handle.h"

#define WK_QUESTION_MAX 200 /* questions per quiz */

void wk_question_create(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_question_update(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_question_delete(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_question_reorder(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);

#endif
