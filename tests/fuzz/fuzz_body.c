/* libFuzzer target: the JSON body validators a client's request body meets in the worker, each
 * on the same input: a user's (email, name, role), a quiz's (title, description), a question's
 * (wk_question_body_parse: kind, choices and correct together) and an attempt's (each answer's
 * shape for every kind, and its scoring). They must answer 400 or accept, never crash, leak or
 * leave a reply without a status. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"
#include "worker/wk_json.h"
#include "worker/wk_kind.h"
#include "worker/wk_question_body.h"

/* A request carrying body; the caller frees req->body. */
static void s_request(proto_request_t *req, const uint8_t *data, size_t size)
{
    memset(req, 0, sizeof *req);
    req->body = malloc(size + 1);
    memcpy(req->body, data, size);
    req->body[size] = '\0';
    req->body_len = size;
}

/* An answered validation must have said why. */
static void s_settle(proto_reply_t *rep, int rc)
{
    if (rc < 0 && rep->status != PROTO_STATUS_BAD_REQUEST)
        abort();
    proto_reply_clear(rep);
    memset(rep, 0, sizeof *rep);
}

static void s_user(const proto_request_t *req)
{
    static const char *const allowed[] = {"email", "username", "role", "password", NULL};
    proto_reply_t rep = {0};
    json_t *o = wk_json_object(req, allowed, &rep);
    const char *email, *name;
    int rc = o ? wk_json_email(o, "email", &email, &rep) : -1;
    if (rc == 0)
        rc = wk_json_string(o, "username", false, 1, 100, &name, &rep);
    s_settle(&rep, rc);
    json_decref(o);
}

static void s_quiz(const proto_request_t *req)
{
    static const char *const allowed[] = {"title", "description", NULL};
    proto_reply_t rep = {0};
    json_t *o = wk_json_object(req, allowed, &rep);
    const char *title, *description;
    int rc = o ? wk_json_string(o, "title", true, 1, 200, &title, &rep) : -1;
    if (rc == 0)
        rc = wk_json_string(o, "description", false, 0, 4000, &description, &rep);
    s_settle(&rep, rc);
    json_decref(o);
}

static void s_question(const proto_request_t *req)
{
    proto_reply_t rep = {0};
    json_t *o = wk_json_object(req, wk_question_body_fields, &rep);
    wk_question_body_t q;
    int rc = o ? wk_question_body_parse(o, &q, &rep) : -1;
    if (rc == 0) {
        /* A valid question scores answers: its own correct value, and each member given. */
        wk_kind_t k;
        json_t *correct = json_loads(q.correct, JSON_DECODE_ANY, NULL);
        if (wk_kind_parse(q.kind, &k) < 0 || !correct)
            abort();
        const char *key;
        json_t *v;
        json_object_foreach (o, key, v)
            if (wk_kind_answer_ok(k, v))
                (void)wk_kind_is_correct(k, correct, v);
        json_decref(correct);
        wk_question_body_clear(&q);
    }
    s_settle(&rep, rc);
    json_decref(o);
}

static void s_attempt(const proto_request_t *req)
{
    static const char *const allowed[] = {"answers", NULL};
    static const char *const kinds[] = {"single_choice", "multiple_choice", "true_false",
                                        "short_answer"};
    static const char *const corrects[] = {"1", "[0, 2]", "true", "[\"Rome\", \"roma\"]"};
    proto_reply_t rep = {0};
    json_t *o = wk_json_object(req, allowed, &rep);
    json_t *answers = json_object_get(o, "answers");
    size_t i;
    json_t *a;
    json_array_foreach (answers, i, a) {
        json_t *answer = json_object_get(a, "answer");
        for (int n = 0; answer && n < 4; n++) {
            wk_kind_t k;
            json_t *correct = json_loads(corrects[n], JSON_DECODE_ANY, NULL);
            if (wk_kind_parse(kinds[n], &k) < 0)
                abort();
            if (wk_kind_answer_ok(k, answer))
                (void)wk_kind_is_correct(k, correct, answer);
            json_decref(correct);
        }
    }
    s_settle(&rep, o ? 0 : -1);
    json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_request_t req;
    s_request(&req, data, size);
    s_user(&req);
    s_quiz(&req);
    s_question(&req);
    s_attempt(&req);
    free(req.body);
    return 0;
}
