/* The quiz product over real HTTP: a quiz's whole life, scoring of every question kind,
 * hidden answers, pagination, optimistic concurrency, validation, idempotent retries under
 * concurrency, roles, and tenants kept apart. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"
#include "tests/helpers/api.h"
#include "tests/helpers/db.h"
#include "tests/helpers/stack.h"

static qstack_t S;

static void setup(void)
{
    stack_suite_init(&S);
}
static void teardown(void)
{
    stack_suite_fini(&S);
}

TestSuite(quiz, .init = setup, .fini = teardown, .timeout = 180);

/* POSTs a quiz; returns its id (37 bytes) and ETag (32 bytes) through out parameters. */
static void s_quiz(const api_tenant_t *t, const char *token, const char *title, char *id,
                   char *etag)
{
    char body[300];
    snprintf(body, sizeof body, "{\"title\":\"%s\",\"description\":\"d\"}", title);
    http_resp_t r;
    cr_assert_eq(api_call(&S, &r, "POST", "/api/quizzes", t->id, token, body, NULL), 201, "%s",
                 r.body);
    api_field(&r, "id", id, 37);
    if (etag)
        cr_assert_eq(http_header(&r, "ETag", etag, 32), 0);
    http_resp_clear(&r);
}

/* Adds a question; returns its id. */
static void s_question(const api_tenant_t *t, const char *token, const char *quiz, const char *json,
                       char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/api/quizzes/%s/questions", quiz);
    http_resp_t r;
    cr_assert_eq(api_call(&S, &r, "POST", path, t->id, token, json, NULL), 201, "%s -> %s", json,
                 r.body);
    api_field(&r, "id", id, 37);
    http_resp_clear(&r);
}

Test(quiz, whole_life_of_a_quiz)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char author_id[37], author[1024], taker_id[37], taker[1024];
    api_user(&S, &t, "author@q.example", "member", author_id, author);
    api_user(&S, &t, "taker@q.example", "member", taker_id, taker);

    char quiz[37], etag[32], q1[37], q2[37], q3[37], q4[37];
    s_quiz(&t, author, "Capitals of Europe", quiz, etag);
    cr_expect_str_eq(etag, "\"1\"");
    s_question(&t, author, quiz,
               "{\"kind\":\"single_choice\",\"prompt\":\"Capital of France?\","
               "\"choices\":[\"Lyon\",\"Paris\",\"Nice\"],\"correct\":1,\"points\":2,"
               "\"explanation\":\"Paris since 987\"}",
               q1);
    s_question(
        &t, author, quiz,
        "{\"kind\":\"multiple_choice\",\"prompt\":\"Which are in Spain?\","
        "\"choices\":[\"Madrid\",\"Porto\",\"Sevilla\",\"Lisbon\"],\"correct\":[0,2],\"points\":3}",
        q2);
    s_question(&t, author, quiz,
               "{\"kind\":\"true_false\",\"prompt\":\"Bern is the capital of "
               "Switzerland\",\"correct\":true}",
               q3);
    s_question(&t, author, quiz,
               "{\"kind\":\"short_answer\",\"prompt\":\"Capital of "
               "Italy?\",\"correct\":[\"Rome\",\"Roma\"],\"points\":4}",
               q4);

    /* The author sees answers, in order; another member does not. */
    char path[256];
    snprintf(path, sizeof path, "/api/quizzes/%s", quiz);
    http_resp_t r;
    cr_assert_eq(api_call(&S, &r, "GET", path, t.id, author, NULL, NULL), 200);
    json_t *j = http_json(&r);
    json_t *qs = json_object_get(j, "questions");
    cr_assert_eq(json_array_size(qs), 4);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(qs, 0), "id")), q1);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(qs, 3), "id")), q4);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(qs, 0), "correct")), 1);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(qs, 0), "explanation")),
                     "Paris since 987");
    cr_expect_eq(http_header(&r, "ETag", etag, sizeof etag), 0);
    cr_expect_str_eq(etag, "\"5\"", "each question bumps the quiz version");
    json_decref(j);
    http_resp_clear(&r);
    cr_assert_eq(api_call(&S, &r, "GET", path, t.id, taker, NULL, NULL), 200);
    cr_expect(strstr(r.body, "\"correct\"") == NULL, "answers shown to a taker: %s", r.body);
    cr_expect(strstr(r.body, "explanation") == NULL);
    cr_expect(strstr(r.body, "Capital of Italy?") != NULL);
    http_resp_clear(&r);

    /* Take it: right, partially right multiple choice (0 points), wrong, short answer with
       other case and spaces. 2 + 0 + 0 + 4 = 6 of 10. */
    char body[1024], apath[128];
    snprintf(apath, sizeof apath, "/api/quizzes/%s/attempts", quiz);
    snprintf(body, sizeof body,
             "{\"answers\":[{\"question_id\":\"%s\",\"answer\":1},{\"question_id\":\"%s\","
             "\"answer\":[0]},"
             "{\"question_id\":\"%s\",\"answer\":false},{\"question_id\":\"%s\",\"answer\":\"  "
             "rOmA \"}]}",
             q1, q2, q3, q4);
    cr_assert_eq(api_call(&S, &r, "POST", apath, t.id, taker, body, NULL), 201, "%s", r.body);
    j = http_json(&r);
    char attempt[37];
    snprintf(attempt, sizeof attempt, "%s", json_string_value(json_object_get(j, "id")));
    cr_expect_eq(json_integer_value(json_object_get(j, "score")), 6);
    cr_expect_eq(json_integer_value(json_object_get(j, "max_score")), 10);
    cr_expect_str_eq(json_string_value(json_object_get(j, "user_id")), taker_id);
    json_t *res = json_object_get(j, "results");
    cr_assert_eq(json_array_size(res), 4);
    int expect_points[4] = {2, 0, 0, 4};
    for (int i = 0; i < 4; i++) {
        json_t *x = json_array_get(res, (size_t)i);
        cr_expect_eq(json_integer_value(json_object_get(x, "points_awarded")), expect_points[i],
                     "q%d", i + 1);
        cr_expect_eq(json_is_true(json_object_get(x, "correct")), expect_points[i] > 0);
    }
    json_decref(j);
    http_resp_clear(&r);
    /* All right, in another order, unanswered nothing: 10 of 10. */
    snprintf(body, sizeof body,
             "{\"answers\":[{\"question_id\":\"%s\",\"answer\":\"Rome\"},{\"question_id\":\"%s\","
             "\"answer\":[2,0]},"
             "{\"question_id\":\"%s\",\"answer\":true},{\"question_id\":\"%s\",\"answer\":1}]}",
             q4, q2, q3, q1);
    cr_assert_eq(api_call(&S, &r, "POST", apath, t.id, taker, body, NULL), 201, "%s", r.body);
    j = http_json(&r);
    cr_expect_eq(json_integer_value(json_object_get(j, "score")), 10);
    json_decref(j);
    http_resp_clear(&r);
    /* No answers at all: 0 of 10. */
    cr_assert_eq(api_call(&S, &r, "POST", apath, t.id, author, "{\"answers\":[]}", NULL), 201);
    j = http_json(&r);
    cr_expect_eq(json_integer_value(json_object_get(j, "score")), 0);
    json_decref(j);
    http_resp_clear(&r);

    /* Stats over the three attempts: mean 16/3, best 10. */
    snprintf(path, sizeof path, "/api/quizzes/%s/stats", quiz);
    cr_assert_eq(api_call(&S, &r, "GET", path, t.id, taker, NULL, NULL), 200);
    j = http_json(&r);
    cr_expect_eq(json_integer_value(json_object_get(j, "attempts_count")), 3);
    cr_expect_eq(json_integer_value(json_object_get(j, "best_score")), 10);
    cr_expect_float_eq(json_number_value(json_object_get(j, "mean_score")), 5.33, 0.01);
    json_decref(j);
    http_resp_clear(&r);

    /* Members list their own attempts, admins all; another member's attempt is 404. */
    cr_assert_eq(api_call(&S, &r, "GET", apath, t.id, taker, NULL, NULL), 200);
    j = http_json(&r);
    cr_expect_eq(json_array_size(json_object_get(j, "items")), 2);
    json_decref(j);
    http_resp_clear(&r);
    cr_assert_eq(api_call(&S, &r, "GET", apath, t.id, t.token, NULL, NULL), 200);
    j = http_json(&r);
    cr_expect_eq(json_array_size(json_object_get(j, "items")), 3);
    json_decref(j);
    http_resp_clear(&r);
    snprintf(path, sizeof path, "/api/attempts/%s", attempt);
    cr_expect_eq(api_status(&S, "GET", path, t.id, taker, NULL), 200);
    cr_expect_eq(api_status(&S, "GET", path, t.id, author, NULL), 404);
    cr_expect_eq(api_status(&S, "GET", path, t.id, t.token, NULL), 200);

    /* Optimistic concurrency: a stale If-Match is 412, the current one works. */
    snprintf(path, sizeof path, "/api/quizzes/%s", quiz);
    cr_expect_eq(api_call(&S, &r, "PATCH", path, t.id, author, "{\"title\":\"Old view\"}",
                          "If-Match: \"1\""),
                 412);
    http_resp_clear(&r);
    cr_expect_eq(api_call(&S, &r, "PATCH", path, t.id, taker, "{\"title\":\"Not mine\"}", NULL),
                 403);
    http_resp_clear(&r);
    cr_assert_eq(api_call(&S, &r, "PATCH", path, t.id, author, "{\"title\":\"European capitals\"}",
                          "If-Match: \"5\""),
                 200, "%s", r.body);
    cr_expect_eq(http_header(&r, "ETag", etag, sizeof etag), 0);
    cr_expect_str_eq(etag, "\"6\"");
    http_resp_clear(&r);
    cr_expect_eq(api_call(&S, &r, "DELETE", path, t.id, author, NULL, "If-Match: \"5\""), 412);
    http_resp_clear(&r);

    /* Reorder, then delete one question: positions stay 0..n-1. */
    snprintf(body, sizeof body, "{\"question_ids\":[\"%s\",\"%s\",\"%s\",\"%s\"]}", q4, q3, q2, q1);
    snprintf(apath, sizeof apath, "/api/quizzes/%s/questions/order", quiz);
    cr_assert_eq(api_call(&S, &r, "POST", apath, t.id, author, body, NULL), 200, "%s", r.body);
    j = http_json(&r);
    cr_expect_str_eq(json_string_value(
                         json_object_get(json_array_get(json_object_get(j, "questions"), 0), "id")),
                     q4);
    json_decref(j);
    http_resp_clear(&r);
    snprintf(body, sizeof body, "{\"question_ids\":[\"%s\",\"%s\"]}", q4, q3);
    cr_expect_eq(api_status(&S, "POST", apath, t.id, author, body), 400, "partial order accepted");
    snprintf(apath, sizeof apath, "/api/quizzes/%s/questions/%s", quiz, q3);
    cr_expect_eq(api_status(&S, "DELETE", apath, t.id, author, NULL), 204);
    cr_expect_eq(api_status(&S, "DELETE", apath, t.id, author, NULL), 404);
    cr_expect_eq(api_status(&S, "PATCH", apath, t.id, author, "{\"points\":5}"), 404);
    snprintf(apath, sizeof apath, "/api/quizzes/%s/questions/%s", quiz, q1);
    cr_assert_eq(
        api_call(&S, &r, "PATCH", apath, t.id, author, "{\"points\":5,\"correct\":2}", NULL), 200,
        "%s", r.body);
    cr_expect(strstr(r.body, "\"position\": 2") != NULL, "%s", r.body);
    http_resp_clear(&r);

    /* Delete: questions go, attempts keep their scores. */
    cr_assert_eq(api_call(&S, &r, "GET", path, t.id, author, NULL, NULL), 200);
    cr_expect_eq(http_header(&r, "ETag", etag, sizeof etag), 0);
    http_resp_clear(&r);
    char ifm[64];
    snprintf(ifm, sizeof ifm, "If-Match: %s", etag);
    cr_expect_eq(api_call(&S, &r, "DELETE", path, t.id, author, NULL, ifm), 204);
    http_resp_clear(&r);
    cr_expect_eq(api_status(&S, "GET", path, t.id, author, NULL), 404);
    snprintf(path, sizeof path, "/api/attempts/%s", attempt);
    cr_assert_eq(api_call(&S, &r, "GET", path, t.id, taker, NULL, NULL), 200);
    j = http_json(&r);
    cr_expect_eq(json_integer_value(json_object_get(j, "score")), 6);
    json_decref(j);
    http_resp_clear(&r);
    char schema[IDENT_SCHEMA_LEN + 1], sql[200];
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(t.id, 36, u), 0);
    ident_schema_name(u, schema);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.questions WHERE quiz_id = $1", schema);
    char *v = db_value(sql, quiz, NULL);
    cr_expect_str_eq(v, "0");
    free(v);
}

Test(quiz, listing_pages_to_the_end_and_filters)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char m1[37], tok1[1024], m2[37], tok2[1024], id[37];
    api_user(&S, &t, "m1@q.example", "member", m1, tok1);
    api_user(&S, &t, "m2@q.example", "member", m2, tok2);
    json_t *made = json_object();
    for (int i = 0; i < 23; i++) {
        char title[64];
        snprintf(title, sizeof title, "%s quiz number %d", i % 3 ? "Algebra" : "Biology", i);
        s_quiz(&t, i % 2 ? tok1 : tok2, title, id, NULL);
        json_object_set_new(made, id, json_true());
    }
    /* Walk with limit 5: every quiz once, newest first, no gaps. */
    json_t *seen = json_object();
    char path[512] = "/api/quizzes?limit=5";
    int pages = 0;
    char last_created[64] = "";
    for (;;) {
        http_resp_t r;
        cr_assert_eq(api_call(&S, &r, "GET", path, t.id, tok1, NULL, NULL), 200, "%s", r.body);
        json_t *j = http_json(&r);
        size_t i;
        json_t *it;
        json_array_foreach (json_object_get(j, "items"), i, it) {
            const char *qid = json_string_value(json_object_get(it, "id"));
            const char *created = json_string_value(json_object_get(it, "created_at"));
            cr_expect_null(json_object_get(seen, qid), "quiz listed twice");
            if (last_created[0])
                cr_expect(strcmp(created, last_created) <= 0, "not newest first");
            snprintf(last_created, sizeof last_created, "%s", created);
            json_object_set_new(seen, qid, json_true());
            cr_expect(json_is_integer(json_object_get(it, "question_count")));
        }
        json_t *next = json_object_get(j, "next_cursor");
        pages++;
        if (!json_is_string(next)) {
            json_decref(j);
            http_resp_clear(&r);
            break;
        }
        snprintf(path, sizeof path, "/api/quizzes?limit=5&cursor=%s", json_string_value(next));
        json_decref(j);
        http_resp_clear(&r);
    }
    cr_expect_eq(json_object_size(seen), 23);
    cr_expect_eq(pages, 5);
    json_decref(seen);
    json_decref(made);

    /* Filters: by author, by title words. */
    http_resp_t r;
    snprintf(path, sizeof path, "/api/quizzes?limit=100&author=%s", m1);
    cr_assert_eq(api_call(&S, &r, "GET", path, t.id, tok2, NULL, NULL), 200);
    json_t *j = http_json(&r);
    cr_expect_eq(json_array_size(json_object_get(j, "items")), 11);
    json_decref(j);
    http_resp_clear(&r);
    cr_assert_eq(
        api_call(&S, &r, "GET", "/api/quizzes?limit=100&q=biology", t.id, tok2, NULL, NULL), 200);
    j = http_json(&r);
    cr_expect_eq(json_array_size(json_object_get(j, "items")), 8);
    json_decref(j);
    http_resp_clear(&r);
    cr_expect_eq(api_status(&S, "GET", "/api/quizzes?author=nobody", t.id, tok2, NULL), 400);
    cr_expect_eq(api_status(&S, "GET", "/api/quizzes?limit=500", t.id, tok2, NULL), 400);
}

Test(quiz, validation_names_the_field)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char quiz[37], path[128];
    s_quiz(&t, t.token, "Validated", quiz, NULL);
    snprintf(path, sizeof path, "/api/quizzes/%s/questions", quiz);
    struct {
        const char *body, *field;
    } cases[] = {
        {"{\"kind\":\"single_choice\",\"prompt\":\"p\",\"choices\":[\"a\"],\"correct\":0}",
         "choices"},
        {"{\"kind\":\"single_choice\",\"prompt\":\"p\",\"choices\":[\"a\",\"b\"],\"correct\":2}",
         "correct"},
        {"{\"kind\":\"single_choice\",\"prompt\":\"p\",\"choices\":[\"a\",\"b\"],\"correct\":[0]}",
         "correct"},
        {"{\"kind\":\"single_choice\",\"prompt\":\"p\",\"choices\":[\"a\",\"b\"]}", "correct"},
        {"{\"kind\":\"multiple_choice\",\"prompt\":\"p\",\"choices\":[\"a\",\"b\"],\"correct\":[0,"
         "0]}",
         "correct"},
        {"{\"kind\":\"multiple_choice\",\"prompt\":\"p\",\"choices\":[\"a\",\"b\"],\"correct\":[]}",
         "correct"},
        {"{\"kind\":\"true_false\",\"prompt\":\"p\",\"correct\":\"yes\"}", "correct"},
        {"{\"kind\":\"true_false\",\"prompt\":\"p\",\"choices\":[\"x\",\"y\"],\"correct\":true}",
         "choices"},
        {"{\"kind\":\"short_answer\",\"prompt\":\"p\",\"correct\":\"Rome\"}", "correct"},
        {"{\"kind\":\"essay\",\"prompt\":\"p\",\"correct\":true}", "kind"},
        {"{\"kind\":\"true_false\",\"prompt\":\"\",\"correct\":true}", "prompt"},
        {"{\"kind\":\"true_false\",\"prompt\":\"p\",\"correct\":true,\"points\":-1}", "points"},
        {"{\"kind\":\"true_false\",\"prompt\":\"p\",\"correct\":true,\"points\":1001}", "points"},
        {"{\"kind\":\"true_false\",\"prompt\":\"p\",\"correct\":true,\"hint\":\"x\"}", "hint"},
        {"{\"kind\":\"true_false\",\"correct\":true}", "prompt"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_resp_t r;
        cr_expect_eq(api_call(&S, &r, "POST", path, t.id, t.token, cases[i].body, NULL), 400,
                     "%s -> %s", cases[i].body, r.body);
        char detail[300];
        api_field(&r, "detail", detail, sizeof detail);
        cr_expect(strstr(detail, cases[i].field) != NULL, "detail \"%s\" does not name %s", detail,
                  cases[i].field);
        http_resp_clear(&r);
    }
    char big[2300] = "{\"kind\":\"true_false\",\"correct\":true,\"prompt\":\"";
    memset(big + strlen(big), 'x', 2001);
    strcat(big, "\"}");
    cr_expect_eq(api_status(&S, "POST", path, t.id, t.token, big), 400);
    cr_expect_eq(api_status(&S, "POST", "/api/quizzes", t.id, t.token, "{\"title\":\"\"}"), 400);
    cr_expect_eq(api_status(&S, "POST", "/api/quizzes", t.id, t.token, "{\"name\":\"x\"}"), 400);
    cr_expect_eq(api_status(&S, "POST", "/api/quizzes", t.id, t.token, "[]"), 400);
    /* Attempts: wrong shapes and foreign questions. */
    char q[37], apath[128], body[400];
    s_question(&t, t.token, quiz, "{\"kind\":\"true_false\",\"prompt\":\"p\",\"correct\":true}", q);
    snprintf(apath, sizeof apath, "/api/quizzes/%s/attempts", quiz);
    snprintf(body, sizeof body, "{\"answers\":[{\"question_id\":\"%s\",\"answer\":\"true\"}]}", q);
    cr_expect_eq(api_status(&S, "POST", apath, t.id, t.token, body), 400);
    snprintf(body, sizeof body,
             "{\"answers\":[{\"question_id\":\"%s\",\"answer\":true},{\"question_id\":\"%s\","
             "\"answer\":true}]}",
             q, q);
    cr_expect_eq(api_status(&S, "POST", apath, t.id, t.token, body), 400);
    cr_expect_eq(api_status(&S, "POST", apath, t.id, t.token,
                            "{\"answers\":[{\"question_id\":\"00000000-0000-4000-8000-"
                            "000000000000\",\"answer\":true}]}"),
                 400);
    cr_expect_eq(api_status(&S, "POST", apath, t.id, t.token, "{\"answers\":{}}"), 400);
    cr_expect_eq(api_status(&S, "POST",
                            "/api/quizzes/00000000-0000-4000-8000-000000000000/attempts", t.id,
                            t.token, "{\"answers\":[]}"),
                 404);
}

typedef struct {
    const api_tenant_t *t;
    const char *key;
    long status;
    char id[37];
} dup_t;

static void *s_dup(void *arg)
{
    dup_t *d = arg;
    char hdr[300];
    snprintf(hdr, sizeof hdr, "Idempotency-Key: %s", d->key);
    http_resp_t r;
    d->status = api_call(&S, &r, "POST", "/api/quizzes", d->t->id, d->t->token,
                         "{\"title\":\"Exactly once\"}", hdr);
    api_field(&r, "id", d->id, sizeof d->id);
    http_resp_clear(&r);
    return NULL;
}

Test(quiz, idempotent_post_is_applied_once_under_concurrency)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char key[64];
    snprintf(key, sizeof key, "create-%u", randombytes_random());
    dup_t d[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        d[i] = (dup_t){.t = &t, .key = key};
        pthread_create(&th[i], NULL, s_dup, &d[i]);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 8; i++) {
        cr_expect_eq(d[i].status, 201, "duplicate %d: %ld", i, d[i].status);
        cr_expect_str_eq(d[i].id, d[0].id, "duplicate %d created another quiz", i);
    }
    char schema[IDENT_SCHEMA_LEN + 1], sql[200];
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(t.id, 36, u), 0);
    ident_schema_name(u, schema);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.quizzes WHERE title = 'Exactly once'",
             schema);
    char *v = db_value(sql, NULL, NULL);
    cr_expect_str_eq(v, "1");
    free(v);
    /* The same key with another body is a client error. */
    char hdr[300];
    snprintf(hdr, sizeof hdr, "Idempotency-Key: %s", key);
    http_resp_t r;
    cr_expect_eq(api_call(&S, &r, "POST", "/api/quizzes", t.id, t.token,
                          "{\"title\":\"Something else\"}", hdr),
                 422);
    http_resp_clear(&r);
    /* The same key on an attempt replays the first score. */
    char quiz[37], q[37], path[128], body[200], a1[37], a2[37];
    s_quiz(&t, t.token, "Retry me", quiz, NULL);
    s_question(&t, t.token, quiz, "{\"kind\":\"true_false\",\"prompt\":\"p\",\"correct\":true}", q);
    snprintf(path, sizeof path, "/api/quizzes/%s/attempts", quiz);
    snprintf(body, sizeof body, "{\"answers\":[{\"question_id\":\"%s\",\"answer\":true}]}", q);
    cr_assert_eq(api_call(&S, &r, "POST", path, t.id, t.token, body, "Idempotency-Key: attempt-1"),
                 201);
    api_field(&r, "id", a1, sizeof a1);
    http_resp_clear(&r);
    cr_assert_eq(api_call(&S, &r, "POST", path, t.id, t.token, body, "Idempotency-Key: attempt-1"),
                 201);
    api_field(&r, "id", a2, sizeof a2);
    http_resp_clear(&r);
    cr_expect_str_eq(a1, a2);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.attempts WHERE quiz_id = $1", schema);
    v = db_value(sql, quiz, NULL);
    cr_expect_str_eq(v, "1");
    free(v);
}

Test(quiz, other_tenants_quizzes_do_not_exist)
{
    api_tenant_t a, b;
    api_tenant(&S, &a);
    api_tenant(&S, &b);
    char ma[37], ta[1024], quiz[37], q[37], path[128], body[200];
    api_user(&S, &a, "m@a.example", "member", ma, ta);
    s_quiz(&b, b.token, "B's secret quiz", quiz, NULL);
    s_question(&b, b.token, quiz, "{\"kind\":\"true_false\",\"prompt\":\"p\",\"correct\":true}", q);
    snprintf(path, sizeof path, "/api/quizzes/%s", quiz);
    cr_expect_eq(api_status(&S, "GET", path, a.id, ta, NULL), 404);
    cr_expect_eq(api_status(&S, "GET", path, a.id, a.token, NULL), 404, "even for A's admin");
    cr_expect_eq(api_status(&S, "PATCH", path, a.id, a.token, "{\"title\":\"mine\"}"), 404);
    cr_expect_eq(api_status(&S, "DELETE", path, a.id, a.token, NULL), 404);
    cr_expect_eq(api_status(&S, "GET", path, b.id, ta, NULL), 403, "A's token for tenant B");
    snprintf(path, sizeof path, "/api/quizzes/%s/attempts", quiz);
    snprintf(body, sizeof body, "{\"answers\":[{\"question_id\":\"%s\",\"answer\":true}]}", q);
    cr_expect_eq(api_status(&S, "POST", path, a.id, ta, body), 404);
    cr_expect_eq(api_status(&S, "POST", path, b.id, ta, body), 403);
    http_resp_t r;
    cr_assert_eq(api_call(&S, &r, "GET", "/api/quizzes?limit=100", a.id, ta, NULL, NULL), 200);
    cr_expect(strstr(r.body, quiz) == NULL);
    http_resp_clear(&r);
    /* The tenant's own stats count what it has. */
    cr_expect_eq(api_tenant_stat(&S, b.id, "quizzes_count"), 1);
    cr_expect_eq(api_tenant_stat(&S, b.id, "questions_count"), 1);
}

Test(quiz, openapi_document_is_served)
{
    char url[256];
    http_url(url, sizeof url, S.url, "/api/openapi.json");
    http_resp_t r;
    cr_assert_eq(http_do(&r, "GET", url, NULL, NULL), 200);
    json_t *j = http_json(&r);
    cr_expect_str_eq(json_string_value(json_object_get(j, "openapi")), "3.1.0");
    cr_expect_not_null(json_object_get(json_object_get(j, "paths"), "/api/quizzes/{quiz_id}"));
    json_decref(j);
    http_resp_clear(&r);
}
