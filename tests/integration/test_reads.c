/* Quiz reads come from documents stored with the quiz and rendered in the transaction of every
 * change, and from the workers' memory after a validation round: never stale, whichever worker
 * of the shard serves the read, however the change was made (the API, SQL, a transaction that
 * commits late, a move away and back); a member never sees the answers of another author's
 * quiz; a GET naming the current ETag is 304 until the quiz changes. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/ident.h"
#include "proto/proto.h"
#include "tests/helpers/api.h"
#include "tests/helpers/db.h"
#include "tests/helpers/http.h"
#include "tests/helpers/ops.h"
#include "tests/helpers/reads.h"
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

TestSuite(reads, .init = setup, .fini = teardown, .timeout = 180);

#define QUESTION                                                                               \
    "{\"kind\":\"single_choice\",\"prompt\":\"Pick\",\"choices\":[\"a\",\"b\"],\"correct\":1," \
    "\"explanation\":\"because\"}"

/* Whether any question of the document carries key. */
static bool s_any_question_has(const json_t *doc, const char *key)
{
    size_t i;
    json_t *q;
    json_array_foreach (json_object_get(doc, "questions"), i, q) {
        if (json_object_get(q, key))
            return true;
    }
    return false;
}

/* PATCHes the quiz's title as its author; the new version from the answer's body. */
static long s_retitle(const api_tenant_t *t, const char *quiz, const char *title)
{
    char path[128], body[128];
    snprintf(path, sizeof path, "/api/quizzes/%s", quiz);
    snprintf(body, sizeof body, "{\"title\":\"%s\"}", title);
    http_resp_t r;
    cr_assert_eq(api_call(&S, &r, "PATCH", path, t->id, t->token, body, NULL), 200, "%s", r.body);
    json_t *j = http_json(&r);
    long version = (long)json_integer_value(json_object_get(j, "version"));
    json_decref(j);
    http_resp_clear(&r);
    return version;
}

static void s_admin_id(const api_tenant_t *t, char id[37])
{
    http_resp_t r;
    cr_assert_eq(api_call(&S, &r, "GET", "/api/users/me", t->id, t->token, NULL, NULL), 200);
    api_field(&r, "id", id, 37);
    http_resp_clear(&r);
}

static void s_new_quiz(const api_tenant_t *t, const char *token, char id[37])
{
    http_resp_t r;
    cr_assert_eq(api_call(&S, &r, "POST", "/api/quizzes", t->id, token, "{\"title\":\"Q\"}", NULL),
                 201, "%s", r.body);
    api_field(&r, "id", id, 37);
    http_resp_clear(&r);
}

static void s_add_question(const api_tenant_t *t, const char *quiz, char id[37])
{
    char path[128];
    snprintf(path, sizeof path, "/api/quizzes/%s/questions", quiz);
    http_resp_t r;
    cr_assert_eq(api_call(&S, &r, "POST", path, t->id, t->token, QUESTION, NULL), 201, "%s",
                 r.body);
    if (id)
        api_field(&r, "id", id, 37);
    http_resp_clear(&r);
}

Test(reads, a_change_through_either_worker_is_read_back_by_both_every_time)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char admin_id[37], member_id[37], member_token[1024], quiz[37], question[37];
    s_admin_id(&t, admin_id);
    api_user(&S, &t, "reader@org.example", "member", member_id, member_token);
    s_new_quiz(&t, t.token, quiz);
    s_add_question(&t, quiz, question);
    /* Two worker processes serve the shard; the gateway spreads the writes over both. */
    cr_assert_eq(stack_start_replica(&S, t.shard), 0);
    char key[300];
    snprintf(key, sizeof key, "%s/gateway.secret", S.curve);
    void *ctx = zmq_ctx_new();
    void *workers[2] = {stack_dealer(&S, ctx, t.shard, key),
                        stack_dealer_replica(&S, ctx, t.shard, key)};
    reads_caller_t member = reads_caller(&t, member_id, PROTO_ROLE_MEMBER, member_token);
    reads_caller_t admin = reads_caller(&t, admin_id, PROTO_ROLE_ADMIN, t.token);
    for (int i = 0; i < 40; i++) {
        char title[32];
        snprintf(title, sizeof title, "title %d", i);
        long version = s_retitle(&t, quiz, title);
        if (i % 10 == 9)
            s_add_question(&t, quiz, NULL);
        long questions = 1 + (i + 1) / 10;
        for (int w = 0; w < 2; w++) {
            proto_status_t st;
            json_t *doc = reads_get(workers[w], &member, quiz, &st);
            cr_assert_eq(st, PROTO_STATUS_OK, "worker %d: status %d", w, st);
            cr_expect_str_eq(json_string_value(json_object_get(doc, "title")), title,
                             "worker %d served a stale title after change %d", w, i);
            cr_expect_geq(json_integer_value(json_object_get(doc, "version")), version);
            cr_expect_eq((long)json_array_size(json_object_get(doc, "questions")), questions,
                         "worker %d: questions after change %d", w, i);
            cr_expect_not(s_any_question_has(doc, "correct"), "a member read an answer");
            cr_expect_not(s_any_question_has(doc, "explanation"), "a member read an explanation");
            json_decref(doc);
            doc = reads_get(workers[w], &admin, quiz, &st);
            cr_assert_eq(st, PROTO_STATUS_OK);
            cr_expect_str_eq(json_string_value(json_object_get(doc, "title")), title);
            cr_expect(s_any_question_has(doc, "correct"), "the admin's view lacks the answers");
            json_decref(doc);
        }
        /* The quiz's entry in lists follows too. */
        http_resp_t r;
        cr_assert_eq(
            api_call(&S, &r, "GET", "/api/quizzes?limit=5", t.id, member_token, NULL, NULL), 200);
        json_t *list = http_json(&r), *entry = json_array_get(json_object_get(list, "items"), 0);
        cr_expect_str_eq(json_string_value(json_object_get(entry, "title")), title);
        cr_expect_eq(json_integer_value(json_object_get(entry, "question_count")), questions);
        cr_expect_null(json_object_get(entry, "questions"));
        json_decref(list);
        http_resp_clear(&r);
    }
    zmq_close(workers[0]);
    zmq_close(workers[1]);
    zmq_ctx_term(ctx);
    stack_kill_replica(&S, t.shard);
}

/* The ETag and Cache-Control of a GET of the quiz, with an If-None-Match line (or NULL). */
static long s_conditional(const api_tenant_t *t, const char *token, const char *quiz,
                          const char *if_none_match, char etag[32], http_resp_t *r)
{
    char path[128], line[80];
    snprintf(path, sizeof path, "/api/quizzes/%s", quiz);
    if (if_none_match)
        snprintf(line, sizeof line, "If-None-Match: %s", if_none_match);
    long st = api_call(&S, r, "GET", path, t->id, token, NULL, if_none_match ? line : NULL);
    etag[0] = '\0';
    http_header(r, "ETag", etag, 32);
    return st;
}

Test(reads, a_get_naming_the_current_etag_is_304_until_the_quiz_changes)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char member_id[37], member_token[1024], quiz[37], etag[32], again[32], cache[64];
    api_user(&S, &t, "cond@org.example", "member", member_id, member_token);
    s_new_quiz(&t, t.token, quiz);
    s_add_question(&t, quiz, NULL);
    http_resp_t r;
    cr_assert_eq(s_conditional(&t, t.token, quiz, NULL, etag, &r), 200);
    cr_expect_str_eq(etag, "\"2\"");
    cr_assert_eq(http_header(&r, "Cache-Control", cache, sizeof cache), 0);
    cr_expect_str_eq(cache, "private, no-cache", "a client could show it without asking");
    http_resp_clear(&r);

    const char *same[] = {"\"2\"", "W/\"2\"", "*", "\"1\", \"2\""};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        cr_expect_eq(s_conditional(&t, t.token, quiz, same[i], again, &r), 304, "%s", same[i]);
        cr_expect_eq(r.len, 0, "a 304 with a body");
        cr_expect_str_eq(again, "\"2\"");
        cr_expect_null(strstr(r.headers, "Content-Length"), "%s", r.headers);
        http_resp_clear(&r);
    }
    cr_expect_eq(s_conditional(&t, t.token, quiz, "\"1\"", again, &r), 200);
    http_resp_clear(&r);
    /* The member's view is another representation, with a tag of its own. */
    cr_expect_eq(s_conditional(&t, member_token, quiz, NULL, again, &r), 200);
    cr_expect_str_eq(again, "\"2-m\"");
    cr_expect_null(strstr(r.body, "\"correct\""), "%s", r.body);
    http_resp_clear(&r);
    cr_expect_eq(s_conditional(&t, member_token, quiz, "\"2\"", again, &r), 200);
    http_resp_clear(&r);
    cr_expect_eq(s_conditional(&t, member_token, quiz, "\"2-m\"", again, &r), 304);
    http_resp_clear(&r);
    /* Changed: the old tag gets the new document. */
    s_add_question(&t, quiz, NULL);
    cr_expect_eq(s_conditional(&t, t.token, quiz, "\"2\"", again, &r), 200);
    cr_expect_str_eq(again, "\"3\"");
    json_t *doc = http_json(&r);
    cr_expect_eq(json_array_size(json_object_get(doc, "questions")), 2);
    json_decref(doc);
    http_resp_clear(&r);
    /* A PATCH answers one ETag, the new one. */
    char path[128];
    snprintf(path, sizeof path, "/api/quizzes/%s", quiz);
    cr_assert_eq(api_call(&S, &r, "PATCH", path, t.id, t.token, "{\"title\":\"R\"}", NULL), 200);
    const char *first = strstr(r.headers, "ETag:");
    cr_expect(first && !strstr(first + 1, "ETag:"), "%s", r.headers);
    cr_expect(first && strncmp(first, "ETag: \"4\"", 9) == 0, "%s", r.headers);
    http_resp_clear(&r);
}

Test(reads, the_document_follows_its_author_and_its_questions_order)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char author_id[37], author_token[1024], quiz[37], q[3][37], path[160], body[200];
    api_user(&S, &t, "author@org.example", "member", author_id, author_token);
    s_new_quiz(&t, author_token, quiz);
    for (int i = 0; i < 3; i++)
        s_add_question(&t, quiz, q[i]);
    /* Reordered: the stored document lists the new order. */
    snprintf(path, sizeof path, "/api/quizzes/%s/questions/order", quiz);
    snprintf(body, sizeof body, "{\"question_ids\":[\"%s\",\"%s\",\"%s\"]}", q[2], q[0], q[1]);
    http_resp_t r;
    cr_assert_eq(api_call(&S, &r, "POST", path, t.id, t.token, body, NULL), 200, "%s", r.body);
    http_resp_clear(&r);
    snprintf(path, sizeof path, "/api/quizzes/%s", quiz);
    cr_assert_eq(api_call(&S, &r, "GET", path, t.id, t.token, NULL, NULL), 200);
    json_t *doc = http_json(&r);
    json_t *qs = json_object_get(doc, "questions");
    for (int i = 0; i < 3; i++)
        cr_expect_str_eq(json_string_value(json_object_get(json_array_get(qs, (size_t)i), "id")),
                         q[(i + 2) % 3]);
    cr_expect_str_eq(json_string_value(json_object_get(doc, "author_id")), author_id);
    json_decref(doc);
    http_resp_clear(&r);
    /* Its author deleted, the quiz stays, authorless, in what readers get too. */
    snprintf(path, sizeof path, "/api/users/%s", author_id);
    cr_assert_eq(api_status(&S, "DELETE", path, t.id, t.token, NULL), 204);
    snprintf(path, sizeof path, "/api/quizzes/%s", quiz);
    cr_assert_eq(api_call(&S, &r, "GET", path, t.id, t.token, NULL, NULL), 200);
    doc = http_json(&r);
    cr_expect(json_is_null(json_object_get(doc, "author_id")), "%s", r.body);
    json_decref(doc);
    http_resp_clear(&r);
}

/* Expects the first page of the tenant's quiz list from worker w to hold n quizzes, the newest
 * titled first and the next second (NULL: any). */
static void s_expect_list(void *w, const reads_caller_t *c, size_t n, const char *first,
                          const char *second, const char *when)
{
    proto_status_t st;
    json_t *list = reads_list(w, c, &st);
    cr_assert_eq(st, PROTO_STATUS_OK, "%s: status %d", when, st);
    json_t *items = json_object_get(list, "items");
    cr_expect_eq(json_array_size(items), n, "%s: %zu quizzes", when, json_array_size(items));
    reads_expect_string(json_array_get(items, 0), "title", first, when);
    if (second)
        reads_expect_string(json_array_get(items, 1), "title", second, when);
    json_decref(list);
}

Test(reads, memory_answers_a_read_but_never_outlives_a_change_however_it_was_made)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char member_id[37], member_token[1024], a[37], b[37], sql[400], table[IDENT_SCHEMA_LEN + 16];
    api_user(&S, &t, "cached@org.example", "member", member_id, member_token);
    s_new_quiz(&t, t.token, a);
    s_new_quiz(&t, t.token, b);
    s_add_question(&t, a, NULL);
    void *ctx = zmq_ctx_new();
    void *w = reads_worker(&S, ctx, t.shard);
    reads_caller_t member = reads_caller(&t, member_id, PROTO_ROLE_MEMBER, member_token);
    reads_expect_title(w, &member, a, "Q", "first read");
    reads_table(&t, table);

    s_expect_list(w, &member, 2, "Q", "Q", "first list");

    /* Held in memory: answered while the quizzes table is locked against every reader. */
    snprintf(sql, sizeof sql, "LOCK TABLE %s IN ACCESS EXCLUSIVE MODE", table);
    PGconn *lock = db_begin(sql);
    reads_expect_title(w, &member, a, "Q", "read from memory");
    s_expect_list(w, &member, 2, "Q", "Q", "list from memory");
    db_unlock(lock);

    /* Changed behind the service's back, in SQL: the next read has it. */
    snprintf(sql, sizeof sql,
             "UPDATE %s SET title = 'direct', version = version + 1 WHERE id = '%s'", table, a);
    cr_assert_eq(db_exec(sql), 0);
    reads_expect_title(w, &member, a, "direct", "after a change made in SQL");
    /* The list is newest first: b, then a. */
    s_expect_list(w, &member, 2, "Q", "direct", "list after a change made in SQL");
    snprintf(sql, sizeof sql, "INSERT INTO %s (title, description) VALUES ('%s', '')", table,
             "inserted");
    cr_assert_eq(db_exec(sql), 0);
    s_expect_list(w, &member, 3, "inserted", "Q", "list after a quiz inserted in SQL");

    /* A change whose transaction began first but commits last: its row in the change log is
       older than one already read, and still counts once it commits. */
    snprintf(sql, sizeof sql, "UPDATE %s SET title = 'late', version = version + 1 WHERE id = '%s'",
             table, a);
    PGconn *late = db_begin(sql);
    snprintf(sql, sizeof sql,
             "UPDATE %s SET title = 'early', version = version + 1 WHERE id = '%s'", table, b);
    cr_assert_eq(db_exec(sql), 0);
    for (int i = 0; i < 5; i++) {
        reads_expect_title(w, &member, b, "early", "after the early commit");
        reads_expect_title(w, &member, a, "direct", "before the late commit");
    }
    db_unlock(late);
    reads_expect_title(w, &member, a, "late", "after the late commit");

    /* Deleted in SQL: gone from memory too. */
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE id = '%s'", table, b);
    cr_assert_eq(db_exec(sql), 0);
    proto_status_t st;
    json_t *doc = reads_get(w, &member, b, &st);
    cr_expect_eq(st, PROTO_STATUS_NOT_FOUND, "a deleted quiz read back (status %d)", st);
    json_decref(doc);
    s_expect_list(w, &member, 2, "inserted", "late", "list after a delete in SQL");
    zmq_close(w);
    zmq_ctx_term(ctx);
}

/* Moves the tenant to shard `to` and waits until it is done. */
static void s_move(const api_tenant_t *t, int to)
{
    char path[128], body[32], op[37];
    snprintf(path, sizeof path, "/api/tenants/%s/move", t->id);
    snprintf(body, sizeof body, "{\"shard\":%d}", to);
    cr_assert_eq(ops_start(&S, path, body, op), 202);
    char *state = ops_wait(&S, op);
    cr_assert_str_eq(state, "done");
    free(state);
}

Test(reads, a_tenant_moved_away_is_not_served_by_the_old_shards_memory)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char member_id[37], member_token[1024], quiz[37];
    api_user(&S, &t, "mover@org.example", "member", member_id, member_token);
    s_new_quiz(&t, t.token, quiz);
    void *ctx = zmq_ctx_new();
    void *old = reads_worker(&S, ctx, t.shard);
    reads_caller_t member = reads_caller(&t, member_id, PROTO_ROLE_MEMBER, member_token);
    reads_expect_title(old, &member, quiz, "Q", "before the move");
    reads_expect_title(old, &member, quiz, "Q", "from memory");

    s_move(&t, 1 - t.shard);
    /* A gateway that still routes to the old shard is sent on, not answered from memory. */
    proto_status_t st;
    json_t *doc = reads_get(old, &member, quiz, &st);
    cr_expect_neq(st, PROTO_STATUS_OK, "the old shard served a tenant it no longer holds");
    json_decref(doc);

    /* Changed on the new shard, moved back: the old shard's memory has the change. */
    s_retitle(&t, quiz, "while away");
    s_move(&t, t.shard);
    reads_expect_title(old, &member, quiz, "while away", "back on the old shard");
    zmq_close(old);
    zmq_ctx_term(ctx);
}

/* The caller's username as GET /api/users/me from worker w gives it (asserts a 200). */
static void s_expect_username(void *w, const reads_caller_t *c, const char *want, const char *when)
{
    proto_status_t st;
    json_t *me = reads_me(w, c, &st);
    cr_assert_eq(st, PROTO_STATUS_OK, "%s: status %d", when, st);
    reads_expect_string(me, "username", want, when);
    json_decref(me);
}

Test(reads, the_callers_own_user_comes_from_memory_until_it_changes)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char member_id[37], member_token[1024], sql[300];
    api_user(&S, &t, "me@org.example", "member", member_id, member_token);
    void *ctx = zmq_ctx_new();
    void *w = reads_worker(&S, ctx, t.shard);
    reads_caller_t member = reads_caller(&t, member_id, PROTO_ROLE_MEMBER, member_token);
    proto_status_t st;
    json_t *me = reads_me(w, &member, &st);
    cr_assert_eq(st, PROTO_STATUS_OK);
    char name[64];
    snprintf(name, sizeof name, "%s", json_string_value(json_object_get(me, "username")));
    cr_expect_str_eq(json_string_value(json_object_get(me, "id")), member_id);
    json_decref(me);

    PGconn *lock = db_lock_users(t.id); /* no reader of users gets past this */
    s_expect_username(w, &member, name, "from memory");
    db_unlock(lock);

    uint8_t u[16];
    char schema[IDENT_SCHEMA_LEN + 1];
    cr_assert_eq(ident_uuid_parse(t.id, strlen(t.id), u), 0);
    ident_schema_name(u, schema);
    snprintf(sql, sizeof sql, "UPDATE %s.users SET username = 'renamed' WHERE id = '%s'", schema,
             member_id);
    cr_assert_eq(db_exec(sql), 0);
    s_expect_username(w, &member, "renamed", "after a change made in SQL");
    /* Through the API, on either worker's side of it: the same. */
    char path[128];
    snprintf(path, sizeof path, "/api/users/%s", member_id);
    cr_assert_eq(api_status(&S, "PATCH", path, t.id, t.token, "{\"username\":\"again\"}"), 200);
    s_expect_username(w, &member, "again", "after a change through the API");
    zmq_close(w);
    zmq_ctx_term(ctx);
}
