/* Quizzes: create, list (newest first, by author, by title words), get with ordered questions
 * in one query, update and delete under optimistic concurrency (ETag = quiz version, checked
 * against If-Match), stats. Members edit their own quizzes; admins edit any. */
#ifndef WORKER_WK_QUIZ_H
#define WORKER_WK_QUIZ_H

#include <stdbool.h>

#include "worker/wk_handle.h"

void wk_quiz_create(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_quiz_list(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_quiz_get(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_quiz_update(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_quiz_delete(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_quiz_stats(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);

/* For handlers that change a quiz or its questions, inside tx: locks the quiz row (params[0]),
 * answers 404 if absent, 412 if If-Match is present and stale, 403 if the caller is neither its
 * author nor an admin. 0 to go on, -1 when rep is set (or tx failed: see tx->status). */
int wk_quiz_lock(wk_tx_t *tx, const proto_request_t *req, proto_reply_t *rep)
    __attribute__((warn_unused_result));
/* Bumps the quiz's version after a change and adds the new ETag to rep. 0 or -1. */
int wk_quiz_touch(wk_tx_t *tx, const proto_request_t *req, proto_reply_t *rep)
    __attribute__((warn_unused_result));
/* Answers with the full quiz (params[0]) and its questions as the caller may see them; with
 * last, this is the transaction's last statement and it commits (one round trip). 0 or -1. */
int wk_quiz_reply_full(wk_tx_t *tx, const proto_request_t *req, proto_reply_t *rep,
                       proto_status_t status, bool last) __attribute__((warn_unused_result));

#endif
