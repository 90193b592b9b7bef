/* Attempts: submitting answers to a quiz (scored on the server, stored with per-question
 * results), listing a quiz's attempts (admins all, members their own), reading one. */
#ifndef WORKER_WK_ATTEMPT_H
#define WORKER_WK_ATTEMPT_H

#include <jansson.h>
#include <stdbool.h>

#include "worker/wk_handle.h"

void wk_attempt_create(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_attempt_list(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_attempt_get(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);

/* Scoring, pure: true if `answer` is right for a question of `kind` whose stored answer is
 * `correct`. Short answers match after trimming and (ASCII) case folding. */
bool wk_attempt_is_correct(const char *kind, const json_t *correct, const json_t *answer);

#endif
