/* Attempt handlers. The questions are read and the attempt written in one transaction, so the
 * score always matches the questions as they were when it was computed. */
#include "worker/wk_attempt.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "common/ident.h"
#include "common/mem.h"
#include "worker/wk_idem.h"
#include "worker/wk_json.h"
#include "worker/wk_kind.h"
#include "worker/wk_page.h"
#include "worker/wk_question.h"
#include "worker/wk_read.h"
#include "worker/wk_reply.h"

#define ATTEMPT_JSON                                                                      \
    "json_build_object('id', id, 'quiz_id', quiz_id, 'user_id', user_id, 'score', score," \
    " 'max_score', max_score, 'results', results, 'submitted_at', submitted_at)"

/* Scores body.answers against the quiz's questions (rows: id, kind, correct, points). Returns
 * the results array (new reference) and totals, or NULL with a 400 naming the bad answer. */
static json_t *s_score(json_t *answers, const PGresult *qs, int *score, int *max,
                       proto_reply_t *rep)
{
    int n = PQntuples(qs);
    json_t *results = json_array(), *given = json_object();
    *score = *max = 0;
    size_t i;
    json_t *a;
    json_array_foreach (answers, i, a) {
        const char *qid = json_string_value(json_object_get(a, "question_id"));
        uint8_t u[16];
        char norm[IDENT_UUID_STR_LEN + 1];
        if (!json_is_object(a) || !qid || ident_uuid_parse(qid, strlen(qid), u) < 0 ||
            !json_object_get(a, "answer") || json_object_size(a) != 2) {
            wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST,
                           "answers[%zu] must be {\"question_id\": <uuid>, \"answer\": ...}", i);
            goto fail;
        }
        ident_uuid_format(u, norm);
        if (json_object_get(given, norm)) {
            wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "answers[%zu] repeats a question", i);
            goto fail;
        }
        json_object_set(given, norm, json_object_get(a, "answer"));
    }
    for (int r = 0; r < n; r++) {
        const char *id = PQgetvalue(qs, r, 0), *kind = PQgetvalue(qs, r, 1);
        int points = atoi(PQgetvalue(qs, r, 3));
        json_t *answer = json_object_get(given, id);
        json_t *correct = json_loads(PQgetvalue(qs, r, 2), JSON_DECODE_ANY, NULL);
        wk_kind_t k;
        if (wk_kind_parse(kind, &k) < 0 || !correct) { /* the table's CHECK keeps this out */
            json_decref(correct);
            wk_reply_error(rep, PROTO_STATUS_INTERNAL, "question %s is not scorable", id);
            goto fail;
        }
        if (answer && !wk_kind_answer_ok(k, answer)) {
            json_decref(correct);
            wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST,
                           "the answer to question %s has the wrong shape for %s", id, kind);
            goto fail;
        }
        bool ok = answer && wk_kind_is_correct(k, correct, answer);
        json_decref(correct);
        *max += points;
        *score += ok ? points : 0;
        json_array_append_new(results, json_pack("{s:s, s:b, s:i}", "question_id", id, "correct",
                                                 ok, "points_awarded", ok ? points : 0));
        json_object_del(given, id);
    }
    if (json_object_size(given) > 0) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST,
                       "an answer names a question not in this quiz");
        goto fail;
    }
    json_decref(given);
    return results;
fail:
    json_decref(given);
    json_decref(results);
    return NULL;
}

void wk_attempt_create(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    static const char *const allowed[] = {"answers", NULL};
    json_t *body = wk_json_object(req, allowed, rep), *results = NULL;
    if (!body)
        return;
    json_t *answers = json_object_get(body, "answers");
    if (!json_is_array(answers) || json_array_size(answers) > WK_QUESTION_MAX) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "\"answers\" must be an array of at most %d",
                       WK_QUESTION_MAX);
        json_decref(body);
        return;
    }
    char quiz[IDENT_UUID_STR_LEN + 1], user[IDENT_UUID_STR_LEN + 1];
    ident_uuid_format(req->params[0], quiz);
    ident_uuid_format(req->user_id, user);
    wk_tx_t tx;
    bool replayed = false;
    PGresult *qs = NULL;
    if (wk_tx_begin(&tx, ctx->db, req->tenant, req->deadline_ms) < 0 ||
        wk_idem_claim(&tx, req, rep, &replayed) < 0) {
        wk_reply_tx_error(rep, &tx);
        goto out;
    }
    if (replayed)
        goto out;
    const char *v[1] = {quiz};
    /* KEY SHARE on the quiz: it cannot be deleted while this attempt is scored against it. */
    PGresult *exists = wk_tx_exec(&tx, "SELECT 1 FROM quizzes WHERE id = $1 FOR KEY SHARE", 1, v);
    if (!exists) {
        wk_reply_tx_error(rep, &tx);
        goto out;
    }
    int found = PQntuples(exists);
    PQclear(exists);
    if (!found) {
        wk_reply_error(rep, PROTO_STATUS_NOT_FOUND, "quiz not found");
        goto out;
    }
    qs = wk_tx_exec(&tx,
                    "SELECT id::text, kind, correct::text, points FROM questions"
                    " WHERE quiz_id = $1 ORDER BY position",
                    1, v);
    if (!qs) {
        wk_reply_tx_error(rep, &tx);
        goto out;
    }
    int score, max;
    results = s_score(answers, qs, &score, &max, rep);
    if (!results)
        goto out;
    char *results_text = json_dumps(results, JSON_COMPACT);
    char s_score_text[12], s_max_text[12];
    snprintf(s_score_text, sizeof s_score_text, "%d", score);
    snprintf(s_max_text, sizeof s_max_text, "%d", max);
    const char *ins[5] = {quiz, user, s_score_text, s_max_text, results_text};
    PGresult *res = wk_tx_exec(&tx,
                               "INSERT INTO attempts (quiz_id, user_id, score, max_score, results)"
                               " VALUES ($1, $2, $3, $4, $5) RETURNING " ATTEMPT_JSON,
                               5, ins);
    free(results_text);
    if (res)
        wk_reply_row(rep, PROTO_STATUS_CREATED, res, "attempt not stored");
    if (!res || wk_idem_store(&tx, req, rep) < 0 || wk_tx_commit(&tx) < 0)
        wk_reply_tx_error(rep, &tx);
    PQclear(res);
out:
    PQclear(qs);
    wk_tx_end(&tx);
    json_decref(results);
    json_decref(body);
}

void wk_attempt_list(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    wk_page_t page;
    if (wk_page_parse(req, &page, rep) < 0)
        return;
    char quiz[IDENT_UUID_STR_LEN + 1], user[IDENT_UUID_STR_LEN + 1];
    ident_uuid_format(req->params[0], quiz);
    ident_uuid_format(req->user_id, user);
    const char *v[5];
    wk_page_params(&page, v);
    v[3] = quiz;
    v[4] = req->role == PROTO_ROLE_ADMIN ? NULL : user; /* members see their own */
    /* clang-format off */
    wk_read_page(ctx, req, rep, req->tenant,
                 "SELECT " ATTEMPT_JSON "," WK_PAGE_KEYS("submitted_at", "id")
                 " FROM attempts WHERE quiz_id = $4 AND ($5::uuid IS NULL OR user_id = $5::uuid)"
                 " AND" WK_PAGE_AFTER("submitted_at", "id", "uuid")
                 WK_PAGE_ORDER("submitted_at", "id"),
                 5, v, &page);
    /* clang-format on */
}

void wk_attempt_get(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    char id[IDENT_UUID_STR_LEN + 1], user[IDENT_UUID_STR_LEN + 1];
    ident_uuid_format(req->params[0], id);
    ident_uuid_format(req->user_id, user);
    const char *v[3] = {id, req->role == PROTO_ROLE_ADMIN ? "true" : "false", user};
    /* Another member's attempt is as absent as an unknown one. */
    wk_read_row(ctx, req, rep, req->tenant,
                "SELECT " ATTEMPT_JSON " FROM attempts WHERE id = $1"
                " AND ($2::boolean OR user_id = $3::uuid)",
                3, v, "attempt not found");
}
