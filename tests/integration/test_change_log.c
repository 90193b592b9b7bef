/* The quiz change log the workers' caches follow (sql/shared/014_quiz_changes.sql): pruned once
 * every worker has had time to read it, and a cache left unchecked for longer is not trusted.
 * A suite of its own: it runs its workers with a short retention (2 s), which other tests'
 * workers, keeping the default, must not meet in the same database. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "tests/helpers/api.h"
#include "tests/helpers/db.h"
#include "tests/helpers/http.h"
#include "tests/helpers/reads.h"
#include "tests/helpers/stack.h"

static qstack_t S;
static const char *const s_worker_args[] = {"--cache-log-retain-s", "2", NULL};

static void setup(void)
{
    cr_assert_eq(stack_start_opts(&S, 2, NULL, s_worker_args), 0, "stack did not start");
}
static void teardown(void)
{
    cr_expect_eq(stack_stop(&S), 0, "a process did not exit cleanly");
}

TestSuite(change_log, .init = setup, .fini = teardown, .timeout = 120);

/* quiz.quiz_changes rows about tenant t. */
static long s_log_rows(const api_tenant_t *t)
{
    char *v = db_value("SELECT count(*) FROM quiz.quiz_changes WHERE tenant = $1", t->id, NULL);
    cr_assert(v);
    long n = atol(v);
    free(v);
    return n;
}

/* A new quiz of tenant t titled "Q"; its id into id. */
static void s_quiz(const api_tenant_t *t, char id[37])
{
    http_resp_t r;
    cr_assert_eq(
        api_call(&S, &r, "POST", "/api/quizzes", t->id, t->token, "{\"title\":\"Q\"}", NULL), 201);
    api_field(&r, "id", id, 37);
    http_resp_clear(&r);
}

Test(change_log, is_pruned_and_a_cache_left_unchecked_longer_starts_afresh)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char member_id[37], member_token[1024], quiz[37], sql[400], table[IDENT_SCHEMA_LEN + 16],
        path[128];
    api_user(&S, &t, "pruned@org.example", "member", member_id, member_token);
    s_quiz(&t, quiz);
    snprintf(path, sizeof path, "/api/quizzes/%s", quiz);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(api_status(&S, "PATCH", path, t.id, t.token, "{\"title\":\"changed\"}"), 200);
    cr_assert_geq(s_log_rows(&t), 3, "the changes were not logged");

    void *ctx = zmq_ctx_new();
    void *w = reads_worker(&S, ctx, t.shard);
    reads_caller_t member = reads_caller(&t, member_id, PROTO_ROLE_MEMBER, member_token);
    /* Read on: the rounds prune what every worker has had time to read. */
    uint64_t until = clock_now_ms() + 6000;
    while (s_log_rows(&t) > 0 && clock_now_ms() < until) {
        reads_expect_title(w, &member, quiz, "changed", "while pruning");
        usleep(100 * 1000);
    }
    cr_expect_eq(s_log_rows(&t), 0, "the log was not pruned");

    /* A change whose row is gone before this worker looked (another worker pruned it while this
       one served nothing): the cache, unchecked for longer than the log keeps rows, is not
       trusted. */
    reads_expect_title(w, &member, quiz, "changed", "held in memory");
    reads_table(&t, table);
    snprintf(sql, sizeof sql,
             "UPDATE %s SET title = 'unseen', version = version + 1 WHERE id = '%s'", table, quiz);
    cr_assert_eq(db_exec(sql), 0);
    snprintf(sql, sizeof sql, "DELETE FROM quiz.quiz_changes WHERE tenant = '%s'", t.id);
    cr_assert_eq(db_exec(sql), 0);
    usleep(2100 * 1000);
    reads_expect_title(w, &member, quiz, "unseen", "after a pause longer than the log keeps rows");
    zmq_close(w);
    zmq_ctx_term(ctx);
}

Test(change_log, a_round_that_cannot_read_the_log_leaves_reads_to_the_database)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char member_id[37], member_token[1024], quiz[37];
    api_user(&S, &t, "locked@org.example", "member", member_id, member_token);
    s_quiz(&t, quiz);
    void *ctx = zmq_ctx_new();
    void *w = reads_worker(&S, ctx, t.shard);
    reads_caller_t member = reads_caller(&t, member_id, PROTO_ROLE_MEMBER, member_token);
    reads_expect_title(w, &member, quiz, "Q", "cached");
    /* No round can read the log while this lock is held: each gives up after a second and the
       reads go to the database, answered all the same. */
    PGconn *lock = db_begin("LOCK TABLE quiz.quiz_changes IN ACCESS EXCLUSIVE MODE");
    uint64_t start = clock_now_ms();
    reads_expect_title(w, &member, quiz, "Q", "while the log is locked");
    uint64_t took = clock_now_ms() - start;
    cr_expect_geq(took, 900, "answered in %llu ms: the round did not wait for the log",
                  (unsigned long long)took);
    cr_expect_lt(took, 4000, "answered in %llu ms", (unsigned long long)took);
    db_unlock(lock);
    /* The round's connection was closed: the cache starts afresh, and still never stale. */
    char path[128];
    snprintf(path, sizeof path, "/api/quizzes/%s", quiz);
    cr_assert_eq(api_status(&S, "PATCH", path, t.id, t.token, "{\"title\":\"after\"}"), 200);
    reads_expect_title(w, &member, quiz, "after", "after the lock");
    reads_expect_title(w, &member, quiz, "after", "from memory again");
    zmq_close(w);
    zmq_ctx_term(ctx);
}
