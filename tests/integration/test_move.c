/* Online tenant moves within one cluster: the API queues a move, a worker's mover flips the
 * tenant's role grant and registry row in one transaction, and the tenant keeps serving through
 * it, every acknowledged write present exactly once. Bad requests change nothing. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ident.h"
#include "tests/helpers/api.h"
#include "tests/helpers/db.h"
#include "tests/helpers/http.h"
#include "tests/helpers/ops.h"
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

TestSuite(move, .init = setup, .fini = teardown, .timeout = 120);

static long s_move(const char *tenant, const char *body, char *op_id)
{
    char path[128];
    snprintf(path, sizeof path, "/api/tenants/%s/move", tenant);
    return ops_start(&S, path, body, op_id);
}

/* Moves tenant t to shard `to` and waits until the move is done; its operation id into op. */
static void s_move_done(const api_tenant_t *t, int to, char op[37])
{
    char body[32];
    snprintf(body, sizeof body, "{\"shard\":%d}", to);
    cr_assert_eq(s_move(t->id, body, op), 202);
    char *state = ops_wait(&S, op);
    cr_expect_str_eq(state, "done");
    free(state);
}

/* Whether shard k's login holds tenant id's role. */
static bool s_granted(const char *id, int k)
{
    char role[64], login[32], hex[33];
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(id, strlen(id), u), 0);
    ident_hex(u, 16, hex);
    snprintf(role, sizeof role, "tenant_%s", hex);
    snprintf(login, sizeof login, "quiz_shard_%d", k);
    char *v = db_value("SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
                       " JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = $1 AND"
                       " u.rolname = $2",
                       role, login);
    bool granted = v && strcmp(v, "1") == 0;
    free(v);
    return granted;
}

Test(move, a_move_within_the_cluster_flips_placement_and_keeps_serving)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    http_resp_t r;
    cr_assert_eq(
        api_call(&S, &r, "POST", "/api/quizzes", t.id, t.token, "{\"title\":\"Before\"}", NULL),
        201);
    http_resp_clear(&r);
    int to = 1 - t.shard;
    char op[37];
    s_move_done(&t, to, op);

    char url[256];
    const char *headers[] = {S.auth, NULL};
    http_url(url, sizeof url, S.url, "/api/operations/%s", op);
    cr_assert_eq(http_do(&r, "GET", url, NULL, headers), 200);
    json_t *j = http_json(&r);
    cr_expect_str_eq(json_string_value(json_object_get(j, "kind")), "move");
    cr_expect_str_eq(json_string_value(json_object_get(j, "tenant_id")), t.id);
    cr_expect_eq(json_integer_value(json_object_get(j, "from_shard")), t.shard);
    cr_expect_eq(json_integer_value(json_object_get(j, "to_shard")), to);
    cr_expect_eq(json_integer_value(json_object_get(j, "freeze_ms")), 0);
    cr_expect_not_null(json_string_value(json_object_get(j, "finished_at")));
    json_decref(j);
    http_resp_clear(&r);

    /* The registry, PostgreSQL's grants and the API agree. */
    char *shard = db_value("SELECT shard FROM quiz.tenants WHERE id = $1", t.id, NULL);
    cr_expect_eq(atoi(shard), to);
    free(shard);
    cr_expect(s_granted(t.id, to), "the new shard's login lacks the tenant's role");
    cr_expect(!s_granted(t.id, t.shard), "the old shard's login still holds the tenant's role");
    http_url(url, sizeof url, S.url, "/api/tenants/%s", t.id);
    cr_assert_eq(http_do(&r, "GET", url, NULL, headers), 200);
    j = http_json(&r);
    cr_expect_eq(json_integer_value(json_object_get(j, "shard")), to);
    cr_expect_eq(json_integer_value(json_object_get(j, "cluster")), 0);
    json_decref(j);
    http_resp_clear(&r);
    cr_expect_eq(api_call(&S, &r, "GET", "/api/quizzes", t.id, t.token, NULL, NULL), 200);
    cr_expect(strstr(r.body, "\"Before\"") != NULL, "%s", r.body);
    http_resp_clear(&r);
    char *audit = db_value("SELECT count(*) FROM quiz.platform_audit WHERE action = 'tenant.move'"
                           " AND tenant_id = $1",
                           t.id, NULL);
    cr_expect_str_eq(audit, "1");
    free(audit);
}

Test(move, bad_moves_are_refused_and_queue_nothing)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char own[32], op[37];
    snprintf(own, sizeof own, "{\"shard\":%d}", t.shard);
    cr_expect_eq(s_move(t.id, "{\"shard\":999}", op), 400, "unknown shard");
    cr_expect_eq(s_move(t.id, own, op), 400, "the tenant's own shard");
    cr_expect_eq(s_move(t.id, "{\"shard\":\"1\"}", op), 400, "not a number");
    cr_expect_eq(s_move(t.id, "{\"shard\":-1}", op), 400, "negative");
    cr_expect_eq(s_move(t.id, "{}", op), 400, "no shard");
    cr_expect_eq(s_move(t.id, "{\"shard\":1,\"x\":1}", op), 400, "unknown member");
    cr_expect_eq(s_move(t.id, "[1]", op), 400, "not an object");
    uint8_t u[16];
    char missing[37];
    ident_uuid_random(u);
    ident_uuid_format(u, missing);
    cr_expect_eq(s_move(missing, "{\"shard\":1}", op), 404, "unknown tenant");
    char *n = db_value("SELECT count(*) FROM quiz.operations WHERE tenant_id = $1", t.id, NULL);
    cr_expect_str_eq(n, "0", "a refused move was queued");
    free(n);
    /* Without the platform token: 401. */
    char url[256];
    http_resp_t r;
    http_url(url, sizeof url, S.url, "/api/tenants/%s/move", t.id);
    cr_expect_eq(http_do(&r, "POST", url, "{\"shard\":0}", NULL), 401);
    http_resp_clear(&r);
}

Test(move, a_second_move_of_a_tenant_is_a_409)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    /* A move held by a mover that is still at it (its lease far ahead). */
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO quiz.operations (id, kind, tenant_id, to_shard, state, lease_until)"
             " VALUES (gen_random_uuid(), 'move', '%s', %d, 'copying', now() + interval '1 hour')",
             t.id, 1 - t.shard);
    cr_assert_eq(db_exec(sql), 0);
    char body[32], op[37];
    snprintf(body, sizeof body, "{\"shard\":%d}", 1 - t.shard);
    cr_expect_eq(s_move(t.id, body, op), 409);
    snprintf(
        sql, sizeof sql,
        "UPDATE quiz.operations SET state = 'failed', lease_until = NULL WHERE tenant_id = '%s'",
        t.id);
    cr_assert_eq(db_exec(sql), 0);
    cr_expect_eq(s_move(t.id, body, op), 202, "once the other ended, a move is accepted");
    char *state = ops_wait(&S, op);
    cr_expect_str_eq(state, "done");
    free(state);
}

/* Writers during a move: each POSTs quizzes until told to stop, counting what got a 201. */
typedef struct {
    const api_tenant_t *t;
    atomic_bool *stop;
    int acked, failed, index;
} writer_t;

static void *s_writer(void *arg)
{
    writer_t *w = arg;
    for (int i = 0; !atomic_load(w->stop) && i < 2000; i++) {
        char body[64], key[80];
        snprintf(body, sizeof body, "{\"title\":\"w%d-%d\"}", w->index, i);
        snprintf(key, sizeof key, "Idempotency-Key: w%d-%d", w->index, i);
        http_resp_t r;
        long st = api_call(&S, &r, "POST", "/api/quizzes", w->t->id, w->t->token, body, key);
        http_resp_clear(&r);
        if (st == 201)
            w->acked++;
        else
            w->failed++;
    }
    return NULL;
}

Test(move, writes_during_a_move_are_all_kept_exactly_once)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    atomic_bool stop = false;
    writer_t w[3];
    pthread_t tid[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (writer_t){&t, &stop, 0, 0, i};
        pthread_create(&tid[i], NULL, s_writer, &w[i]);
    }
    usleep(300 * 1000);
    char op[37];
    s_move_done(&t, 1 - t.shard, op);
    usleep(300 * 1000);
    atomic_store(&stop, true);
    int acked = 0, failed = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(tid[i], NULL);
        acked += w[i].acked;
        failed += w[i].failed;
    }
    cr_expect_eq(failed, 0, "%d writes failed during the move", failed);
    cr_expect_gt(acked, 10);
    char hex[33], sql[128];
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(t.id, 36, u), 0);
    ident_hex(u, 16, hex);
    snprintf(sql, sizeof sql, "SELECT count(*), count(DISTINCT title) FROM tenant_%s.quizzes", hex);
    char *n = db_value(sql, NULL, NULL);
    char expect[16];
    snprintf(expect, sizeof expect, "%d", acked);
    cr_expect_str_eq(n, expect, "acknowledged %d quizzes", acked);
    free(n);
}

/* One request through the gateway at base: the status. */
static long s_get_me(const char *base, const api_tenant_t *t)
{
    char url[256], h1[80], h2[1100];
    http_resp_t r;
    http_url(url, sizeof url, base, "/api/users/me");
    snprintf(h1, sizeof h1, "X-Tenant-ID: %s", t->id);
    snprintf(h2, sizeof h2, "Authorization: Bearer %s", t->token);
    const char *headers[] = {h1, h2, NULL};
    long st = http_do(&r, "GET", url, NULL, headers);
    http_resp_clear(&r);
    return st;
}

Test(move, two_gateways_each_follow_a_move_on_their_own)
{
    cr_assert_eq(stack_start_second_gateway(&S), 0);
    api_tenant_t t;
    api_tenant(&S, &t);
    cr_expect_eq(s_get_me(S.url, &t), 200);
    cr_expect_eq(s_get_me(S.url2, &t), 200);
    char op[37];
    s_move_done(&t, 1 - t.shard, op);
    /* Neither gateway was told: each finds the owner by redirect, then goes there directly. */
    for (int i = 0; i < 5; i++) {
        cr_expect_eq(s_get_me(S.url, &t), 200);
        cr_expect_eq(s_get_me(S.url2, &t), 200);
    }
    for (int g = 0; g < 2; g++) {
        char url[128];
        http_resp_t r;
        http_url(url, sizeof url, g ? S.url2 : S.url, "/metrics");
        cr_assert_eq(http_do(&r, "GET", url, NULL, NULL), 200);
        const char *at = strstr(r.body, "\nquiz_shard_redirects_total ");
        cr_expect(at && atol(at + 28) == 1, "gateway %d: %s", g, at ? at : "no counter");
        http_resp_clear(&r);
    }
}

/* The comma-separated pids of shard k's serving backends. */
static char *s_backends(int k)
{
    char login[32];
    snprintf(login, sizeof login, "quiz_shard_%d", k);
    return db_value("SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity"
                    " WHERE usename = $1",
                    login, NULL);
}

Test(move, a_frozen_write_is_a_503_with_retry_after_and_keeps_the_connection)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char path[128], hex[33], sql[512];
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(t.id, 36, u), 0);
    ident_hex(u, 16, hex);
    for (int i = 0; i < 20; i++) /* both database threads connected */
        cr_assert_eq(api_status(&S, "GET", "/api/users/me", t.id, t.token, NULL), 200);
    char *before = s_backends(t.shard);
    cr_assert(before && *before, "shard %d has no serving backend", t.shard);
    /* What a move's freeze does to the tenant's quizzes. */
    snprintf(sql, sizeof sql,
             "CREATE TRIGGER quizmove_freeze BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON"
             " tenant_%s.quizzes FOR EACH STATEMENT EXECUTE FUNCTION"
             " quiz.refuse_write_while_moving()",
             hex);
    cr_assert_eq(db_exec(sql), 0);
    snprintf(path, sizeof path, "/api/quizzes/");
    for (int i = 0; i < 5; i++) {
        http_resp_t r;
        long st = api_call(&S, &r, "POST", path, t.id, t.token, "{\"title\":\"frozen\"}", NULL);
        char retry[16] = "";
        http_header(&r, "Retry-After", retry, sizeof retry);
        http_resp_clear(&r);
        cr_expect_eq(st, 503, "a frozen write answered %ld", st);
        cr_expect_str_eq(retry, "1", "no Retry-After on a frozen write");
        cr_expect_eq(api_status(&S, "GET", "/api/users/me", t.id, t.token, NULL), 200,
                     "reads go on during the freeze");
    }
    char *after = s_backends(t.shard);
    cr_expect_str_eq(after, before, "frozen writes reconnected the shard's database threads");
    free(before);
    free(after);
    snprintf(sql, sizeof sql, "DROP TRIGGER quizmove_freeze ON tenant_%s.quizzes", hex);
    cr_assert_eq(db_exec(sql), 0);
    cr_expect_eq(api_status(&S, "POST", path, t.id, t.token, "{\"title\":\"thawed\"}"), 201);
}
