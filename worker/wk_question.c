/* Question handlers. A question is validated as a whole (after merging a PATCH into the stored
 * question) so kind, choices and correct always agree. Every change bumps the quiz's version,
 * which is its ETag. */
#include "worker/wk_question.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"
#include "common/mem.h"
#include "worker/wk_idem.h"
#include "worker/wk_json.h"
#include "worker/wk_question_body.h"
#include "worker/wk_quiz.h"
#include "worker/wk_reply.h"

#define WK_STR_(x) #x
#define WK_STR(x)  WK_STR_(x)

#define QUESTION_JSON                                                                  \
    "jsonb_build_object('id', id, 'kind', kind, 'prompt', prompt, 'choices', choices," \
    " 'correct', correct, 'explanation', explanation, 'points', points, 'position', position)"

static int s_bad(proto_reply_t *rep, const char *msg)
{
    wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "%s", msg);
    return -1;
}

/* Begins a transaction and locks the quiz for a change (404/403/412 answered). 0, or -1 when
 * rep is set and the transaction ended. */
static int s_begin(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep, wk_tx_t *tx,
                   bool idempotent)
{
    bool replayed = false;
    if (wk_tx_begin(tx, ctx->db, req->tenant, req->deadline_ms) < 0 ||
        (idempotent && wk_idem_claim(tx, req, rep, &replayed) < 0)) {
        wk_reply_tx_error(rep, tx);
        wk_tx_end(tx);
        return -1;
    }
    if (replayed || wk_quiz_lock(tx, req, rep) < 0) {
        if (tx->status != PROTO_STATUS_OK)
            wk_reply_tx_error(rep, tx);
        wk_tx_end(tx);
        return -1;
    }
    return 0;
}

void wk_question_create(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    json_t *body = wk_json_object(req, wk_question_body_fields, rep);
    wk_question_body_t q;
    if (!body || wk_question_body_parse(body, &q, rep) < 0) {
        if (body)
            wk_question_body_clear(&q);
        json_decref(body);
        return;
    }
    char quiz[IDENT_UUID_STR_LEN + 1];
    ident_uuid_format(req->params[0], quiz);
    wk_tx_t tx;
    if (s_begin(ctx, req, rep, &tx, true) < 0)
        goto out;
    const char *v[7] = {quiz, q.kind, q.prompt, q.choices, q.correct, q.explanation, q.points};
    /* Appended at the end; the quiz row lock serialises concurrent additions. */
    PGresult *res = wk_tx_exec(
        &tx,
        "INSERT INTO questions (quiz_id, kind, prompt, choices, correct, explanation, points, "
        "position)"
        " SELECT $1, $2, $3, $4, $5, $6, $7, coalesce(max(position) + 1, 0) FROM questions"
        " WHERE quiz_id = $1 HAVING count(*) < " WK_STR(
            WK_QUESTION_MAX) " RETURNING " QUESTION_JSON,
        7, v);
    if (res && PQntuples(res) == 0) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "a quiz holds at most %d questions",
                       WK_QUESTION_MAX);
    } else if (res) {
        wk_reply_row(rep, PROTO_STATUS_CREATED, res, "question not created");
        if (wk_quiz_touch(&tx, req, rep) < 0 || wk_idem_store(&tx, req, rep) < 0 ||
            wk_tx_commit(&tx) < 0)
            wk_reply_tx_error(rep, &tx);
    } else {
        wk_reply_tx_error(rep, &tx);
    }
    PQclear(res);
    wk_tx_end(&tx);
out:
    wk_question_body_clear(&q);
    json_decref(body);
}

void wk_question_update(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    json_t *body = wk_json_object(req, wk_question_body_fields, rep);
    if (!body)
        return;
    char quiz[IDENT_UUID_STR_LEN + 1], id[IDENT_UUID_STR_LEN + 1];
    ident_uuid_format(req->params[0], quiz);
    ident_uuid_format(req->params[1], id);
    wk_question_body_t q = {0};
    json_t *merged = NULL;
    wk_tx_t tx;
    if (s_begin(ctx, req, rep, &tx, false) < 0)
        goto out;
    const char *key[2] = {quiz, id};
    PGresult *cur =
        wk_tx_exec(&tx,
                   "SELECT jsonb_build_object('kind', kind, 'prompt', prompt, 'choices', choices,"
                   " 'correct', correct, 'explanation', explanation, 'points', points)"
                   " FROM questions WHERE quiz_id = $1 AND id = $2",
                   2, key);
    if (!cur) {
        wk_reply_tx_error(rep, &tx);
        goto end;
    }
    if (PQntuples(cur) == 0) {
        PQclear(cur);
        wk_reply_error(rep, PROTO_STATUS_NOT_FOUND, "question not found");
        goto end;
    }
    merged = json_loads(PQgetvalue(cur, 0, 0), 0, NULL);
    PQclear(cur);
    if (!merged || json_object_update(merged, body) < 0) {
        wk_reply_error(rep, PROTO_STATUS_INTERNAL, "could not read the stored question");
        goto end;
    }
    if (wk_question_body_parse(merged, &q, rep) < 0)
        goto end;
    const char *v[8] = {quiz, id, q.kind, q.prompt, q.choices, q.correct, q.explanation, q.points};
    PGresult *res =
        wk_tx_exec(&tx,
                   "UPDATE questions SET kind = $3, prompt = $4, choices = $5, correct = $6,"
                   " explanation = $7, points = $8 WHERE quiz_id = $1 AND id = $2"
                   " RETURNING " QUESTION_JSON,
                   8, v);
    if (res)
        wk_reply_row(rep, PROTO_STATUS_OK, res, "question not found");
    if (!res || wk_quiz_touch(&tx, req, rep) < 0 || wk_tx_commit(&tx) < 0)
        wk_reply_tx_error(rep, &tx);
    PQclear(res);
end:
    wk_tx_end(&tx);
out:
    wk_question_body_clear(&q);
    json_decref(merged);
    json_decref(body);
}

void wk_question_delete(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    char quiz[IDENT_UUID_STR_LEN + 1], id[IDENT_UUID_STR_LEN + 1];
    ident_uuid_format(req->params[0], quiz);
    ident_uuid_format(req->params[1], id);
    wk_tx_t tx;
    if (s_begin(ctx, req, rep, &tx, false) < 0)
        return;
    const char *v[2] = {quiz, id};
    PGresult *res = wk_tx_exec(
        &tx, "DELETE FROM questions WHERE quiz_id = $1 AND id = $2 RETURNING position", 2, v);
    if (res && PQntuples(res) == 0) {
        wk_reply_error(rep, PROTO_STATUS_NOT_FOUND, "question not found");
    } else if (res) {
        /* Close the gap so positions stay 0..n-1. */
        const char *shift[2] = {quiz, PQgetvalue(res, 0, 0)};
        PGresult *r2 = wk_tx_exec(&tx,
                                  "UPDATE questions SET position = position - 1"
                                  " WHERE quiz_id = $1 AND position > $2",
                                  2, shift);
        PQclear(r2);
        wk_reply_body(rep, PROTO_STATUS_NO_CONTENT, NULL);
        if (!r2 || wk_quiz_touch(&tx, req, rep) < 0 || wk_tx_commit(&tx) < 0)
            wk_reply_tx_error(rep, &tx);
    } else {
        wk_reply_tx_error(rep, &tx);
    }
    PQclear(res);
    wk_tx_end(&tx);
}

void wk_question_reorder(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    static const char *const allowed[] = {"question_ids", NULL};
    json_t *body = wk_json_object(req, allowed, rep);
    if (!body)
        return;
    json_t *ids = json_object_get(body, "question_ids");
    char *array = NULL;
    if (!json_is_array(ids) || json_array_size(ids) > WK_QUESTION_MAX) {
        s_bad(rep, "\"question_ids\" must be an array of the quiz's question ids");
        goto out;
    }
    /* Build a PostgreSQL uuid[] literal from validated UUIDs only. */
    size_t n = json_array_size(ids);
    array = mem_alloc(n * 38 + 3);
    size_t len = 0;
    array[len++] = '{';
    size_t i;
    json_t *v;
    json_array_foreach (ids, i, v) {
        uint8_t u[16];
        if (!json_is_string(v) ||
            ident_uuid_parse(json_string_value(v), json_string_length(v), u) < 0) {
            s_bad(rep, "\"question_ids\" must hold question ids (UUIDs)");
            goto out;
        }
        if (i)
            array[len++] = ',';
        ident_uuid_format(u, array + len);
        len += IDENT_UUID_STR_LEN;
    }
    array[len++] = '}';
    array[len] = '\0';
    char quiz[IDENT_UUID_STR_LEN + 1], count[12];
    ident_uuid_format(req->params[0], quiz);
    snprintf(count, sizeof count, "%zu", n);
    wk_tx_t tx;
    if (s_begin(ctx, req, rep, &tx, true) < 0)
        goto out;
    const char *p[3] = {quiz, array, count};
    /* The list must be exactly the quiz's questions, each once. */
    PGresult *chk =
        wk_tx_exec(&tx,
                   "SELECT (SELECT count(*) FROM questions WHERE quiz_id = $1) = $3::int"
                   " AND (SELECT count(DISTINCT x) FROM unnest($2::uuid[]) x) = $3::int"
                   " AND (SELECT count(*) FROM questions WHERE quiz_id = $1"
                   "      AND id = ANY($2::uuid[])) = $3::int",
                   3, p);
    if (chk && PQgetvalue(chk, 0, 0)[0] != 't') {
        s_bad(rep, "\"question_ids\" must list every question of the quiz exactly once");
    } else if (chk) {
        PGresult *upd = wk_tx_exec(&tx,
                                   "UPDATE questions q SET position = o.n - 1"
                                   " FROM unnest($2::uuid[]) WITH ORDINALITY AS o(id, n)"
                                   " WHERE q.quiz_id = $1 AND q.id = o.id",
                                   2, p);
        PQclear(upd);
        if (!upd || wk_quiz_touch(&tx, req, rep) < 0 ||
            wk_quiz_reply_full(&tx, req, rep, PROTO_STATUS_OK, false) < 0 ||
            wk_idem_store(&tx, req, rep) < 0 || wk_tx_commit(&tx) < 0)
            wk_reply_tx_error(rep, &tx);
    } else {
        wk_reply_tx_error(rep, &tx);
    }
    PQclear(chk);
    wk_tx_end(&tx);
out:
    free(array);
    json_decref(body);
}
