/* Questions of a quiz: add, update, delete, reorder, with validation that names the offending
 * field. Kinds and their `correct`: single_choice -> index into choices; multiple_choice ->
 * array of indexes (all must match); true_false -> boolean; short_answer -> accepted strings. */
#ifndef WORKER_WK_QUESTION_H
#define WORKER_WK_QUESTION_H

#include "worker/wk_handle.h"

#define WK_QUESTION_MAX 200 /* questions per quiz */

void wk_question_create(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_question_update(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_question_delete(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_question_reorder(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);

#endif
