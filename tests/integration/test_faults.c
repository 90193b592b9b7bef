/* The fault matrix under load: with idempotent writes and reads in flight on both shards (one
 * tenant each), each fault in turn — a worker killed with SIGKILL (and started again, as systemd
 * or `make run` would), a worker stopped for 5 s (SIGSTOP, then SIGCONT), a worker's queue full
 * (--queue-max 4 behind a locked table), PostgreSQL restarted, a gateway killed while a second
 * one serves (its clients fail over, as behind a load balancer). A write that fails is retried
 * once with its Idempotency-Key. After each: every write that got a 2xx is there exactly once,
 * every retried one at most once; every answer was a 2xx, or a 503/504 with Retry-After; none
 * took past the deadline; a read never returned another quiz's data; the shard left alone kept
 * answering 2xx (but for PostgreSQL, which both use). Each fault's recovery time is printed (a
 * mover killed mid-move is test_clusters' a_mover_killed_mid_copy...). QUIZ_FAULT_ROUNDS
 * (default 1) repeats the matrix, for medians. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ident.h"
#include "tests/helpers/api.h"
#include "tests/helpers/db.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

#define WRITES_MAX  4096
#define DEADLINE_MS 3000

static qstack_t S;
static const char *const s_worker_args[] = {"--queue-max", "4", NULL};
static char s_deadline_arg[16];
static const char *s_gateway_args[] = {"--deadline-ms", s_deadline_arg, NULL};

static void setup(void)
{
    snprintf(s_deadline_arg, sizeof s_deadline_arg, "%d", DEADLINE_MS);
    cr_assert_eq(stack_start_opts(&S, 2, s_gateway_args, s_worker_args), 0, "stack did not start");
}
static void teardown(void)
{
    stack_suite_fini(&S);
}

/* One tenant's load: writers create quizzes titled by their Idempotency-Key, then read a known
 * quiz back. */
typedef struct {
    api_tenant_t t;
    char fixed[37];           /* a quiz made at set-up, read throughout */
    const char *volatile url; /* the gateway it talks to (changed between phases) */
    const char *fallback;     /* where it turns when that gateway does not answer, or NULL */
    atomic_bool stop;
    pthread_mutex_t lock;
    char (*keys)[40]; /* every key tried, and whether it was acknowledged */
    bool *acked;
    int nkeys;
    int ok, refused, bad, hung, retried;
    uint64_t slowest_refusal_ms; /* the longest a refused call took */
    char bad_what[200];
    int next; /* key numbers */
} load_t;

static load_t s_load[2];

static long s_call(load_t *l, const char *url, http_resp_t *r, const char *method, const char *path,
                   const char *body, const char *key)
{
    char full[256], th[80], auth[1100], kh[80];
    snprintf(full, sizeof full, "%s%s", url, path);
    snprintf(th, sizeof th, "X-Tenant-ID: %s", l->t.id);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", l->t.token);
    snprintf(kh, sizeof kh, "Idempotency-Key: %s", key ? key : "");
    const char *h[] = {th, auth, "Content-Type: application/json", key ? kh : NULL, NULL};
    uint64_t t0 = clock_mono_us();
    long st = http_do(r, method, full, body, h);
    uint64_t took_ms = (clock_mono_us() - t0) / 1000;
    pthread_mutex_lock(&l->lock);
    if (took_ms > DEADLINE_MS + 2000)
        l->hung++;
    char retry[16] = "";
    if (st >= 200 && st < 300) {
        l->ok++;
    } else if ((st == 0 && l->fallback) ||
               ((st == 503 || st == 504) &&
                http_header(r, "Retry-After", retry, sizeof retry) == 0 && *retry)) {
        l->refused++; /* a refusal that says when to retry, or no answer from a killed gateway */
        if (took_ms > l->slowest_refusal_ms)
            l->slowest_refusal_ms = took_ms;
    } else {
        l->bad++;
        snprintf(l->bad_what, sizeof l->bad_what, "%s %s: %ld %.120s", method, path, st,
                 r->body ? r->body : "");
    }
    pthread_mutex_unlock(&l->lock);
    return st;
}

/* A write and, if it failed, one retry with the same key (through the fallback gateway when
 * the first did not answer at all). */
static void s_write(load_t *l, int n)
{
    char key[40], body[80];
    snprintf(key, sizeof key, "%.8s-%d", l->t.id, n);
    snprintf(body, sizeof body, "{\"title\":\"%s\"}", key);
    pthread_mutex_lock(&l->lock);
    int slot = l->nkeys < WRITES_MAX ? l->nkeys++ : -1;
    if (slot >= 0)
        snprintf(l->keys[slot], sizeof l->keys[slot], "%s", key);
    pthread_mutex_unlock(&l->lock);
    if (slot < 0)
        return;
    http_resp_t r;
    const char *url = l->url;
    long st = s_call(l, url, &r, "POST", "/api/quizzes", body, key);
    http_resp_clear(&r);
    if (st < 200 || st >= 300) {
        usleep(200000);
        if (st == 0 && l->fallback)
            url = l->fallback;
        pthread_mutex_lock(&l->lock);
        l->retried++;
        pthread_mutex_unlock(&l->lock);
        st = s_call(l, url, &r, "POST", "/api/quizzes", body, key);
        http_resp_clear(&r);
    }
    pthread_mutex_lock(&l->lock);
    l->acked[slot] = st >= 200 && st < 300;
    pthread_mutex_unlock(&l->lock);
}

/* The known quiz, which must come back as itself. */
static void s_read(load_t *l)
{
    char path[80];
    snprintf(path, sizeof path, "/api/quizzes/%s", l->fixed);
    http_resp_t r;
    const char *url = l->url;
    long st = s_call(l, url, &r, "GET", path, NULL, NULL);
    if (st == 200) {
        char id[40] = "", title[40] = "";
        api_field(&r, "id", id, sizeof id);
        api_field(&r, "title", title, sizeof title);
        if (strcmp(id, l->fixed) != 0 || strcmp(title, "fixed") != 0) {
            pthread_mutex_lock(&l->lock);
            l->bad++;
            snprintf(l->bad_what, sizeof l->bad_what, "read gave another quiz: %.150s", r.body);
            pthread_mutex_unlock(&l->lock);
        }
    }
    http_resp_clear(&r);
}

static void *s_loader(void *arg)
{
    load_t *l = arg;
    while (!atomic_load(&l->stop)) {
        pthread_mutex_lock(&l->lock);
        int n = l->next++;
        pthread_mutex_unlock(&l->lock);
        s_write(l, n);
        s_read(l);
    }
    return NULL;
}

typedef struct {
    pthread_t th[4];
} running_t;

static void s_load_start(running_t *run)
{
    for (int k = 0; k < 2; k++) {
        load_t *l = &s_load[k];
        atomic_store(&l->stop, false);
        l->ok = l->refused = l->bad = l->hung = l->retried = 0;
        l->slowest_refusal_ms = 0;
        l->bad_what[0] = '\0';
        for (int j = 0; j < 2; j++)
            pthread_create(&run->th[k * 2 + j], NULL, s_loader, l);
    }
}

static void s_load_stop(running_t *run)
{
    for (int k = 0; k < 2; k++)
        atomic_store(&s_load[k].stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(run->th[i], NULL);
}

/* Recovery: from since_us until a new read of the shard's tenant is answered 200, probing every
 * 20 ms (requests in flight at a crash end by the deadline; this is when new ones are served).
 * Milliseconds, or -1 after 30 s. */
static double s_recovery(const load_t *l, uint64_t since_us)
{
    char url[256], th[80], auth[1100];
    snprintf(url, sizeof url, "%s/api/quizzes/%s", l->url, l->fixed);
    snprintf(th, sizeof th, "X-Tenant-ID: %s", l->t.id);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", l->t.token);
    const char *h[] = {th, auth, NULL};
    while (clock_mono_us() - since_us < 30000000) {
        http_resp_t r;
        long st = http_do(&r, "GET", url, NULL, h);
        http_resp_clear(&r);
        if (st == 200)
            return (double)(clock_mono_us() - since_us) / 1000;
        usleep(20000);
    }
    cr_expect_fail("no 200 within 30 s of the fault");
    return -1;
}

/* Every acknowledged key's quiz is there exactly once, every other at most once. */
static void s_verify(load_t *l, const char *fault)
{
    uint8_t u[16];
    char schema[IDENT_SCHEMA_LEN + 1];
    cr_assert_eq(ident_uuid_parse(l->t.id, 36, u), 0);
    ident_schema_name(u, schema);
    int missing = 0, doubled = 0, acked = 0;
    for (int i = 0; i < l->nkeys; i++) {
        char q[200];
        snprintf(q, sizeof q, "SELECT count(*) FROM %s.quizzes WHERE title = $1", schema);
        char *v = db_value(q, l->keys[i], NULL);
        cr_assert(v, "counting %s", l->keys[i]);
        int n = atoi(v);
        free(v);
        acked += l->acked[i];
        if (l->acked[i] && n != 1)
            missing++;
        if (n > 1)
            doubled++;
    }
    cr_expect_eq(missing, 0, "%s: %d acknowledged writes of shard %d not there once", fault,
                 missing, l->t.shard);
    cr_expect_eq(doubled, 0, "%s: %d writes applied twice", fault, doubled);
    cr_expect_eq(l->bad, 0, "%s: shard %d: %d bad answers, e.g. %s", fault, l->t.shard, l->bad,
                 l->bad_what);
    cr_expect_eq(l->hung, 0, "%s: shard %d: %d requests past the deadline", fault, l->t.shard,
                 l->hung);
    cr_expect_gt(acked, 0, "%s: no write acknowledged", fault);
    l->nkeys = 0;
}

static void s_report(const char *fault, double recovery_ms)
{
    fprintf(stderr,
            "faults: %-22s recovery %7.0f ms; shard 0 %d ok %d refused %d retried; shard 1 %d ok "
            "%d refused\n",
            fault, recovery_ms, s_load[0].ok, s_load[0].refused, s_load[0].retried, s_load[1].ok,
            s_load[1].refused);
}

static void s_pg(const char *what)
{
    const char *dir = getenv("QUIZ_TEST_PGDATA"), *url = getenv("QUIZ_TEST_DATABASE_URL");
    const char *port = strrchr(url, ':');
    char cmd[600];
    if (strcmp(what, "stop") == 0)
        snprintf(cmd, sizeof cmd, "sh deploy/dev/pg.sh stop '%s'", dir);
    else
        snprintf(cmd, sizeof cmd, "sh deploy/dev/pg.sh start '%s' %d --nosync >/dev/null", dir,
                 atoi(port + 1));
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 600);

Test(faults, every_acknowledged_write_survives_each_fault)
{
    /* A tenant on each shard. */
    bool have[2] = {false, false};
    for (int i = 0; i < 40 && !(have[0] && have[1]); i++) {
        api_tenant_t t;
        api_tenant(&S, &t);
        if (!have[t.shard]) {
            s_load[t.shard].t = t;
            have[t.shard] = true;
        }
    }
    cr_assert(have[0] && have[1], "no tenant on each shard");
    for (int k = 0; k < 2; k++) {
        load_t *l = &s_load[k];
        pthread_mutex_init(&l->lock, NULL);
        l->keys = calloc(WRITES_MAX, sizeof *l->keys);
        l->acked = calloc(WRITES_MAX, sizeof *l->acked);
        l->url = S.url;
        http_resp_t r;
        cr_assert_eq(api_call(&S, &r, "POST", "/api/quizzes", l->t.id, l->t.token,
                              "{\"title\":\"fixed\"}", NULL),
                     201, "%s", r.body);
        api_field(&r, "id", l->fixed, sizeof l->fixed);
        http_resp_clear(&r);
    }
    const char *rounds_env = getenv("QUIZ_FAULT_ROUNDS");
    int rounds = rounds_env ? atoi(rounds_env) : 1;
    bool pg = getenv("QUIZ_TEST_PGDATA") != NULL;
    if (!pg)
        fprintf(stderr, "faults: QUIZ_TEST_PGDATA not set: PostgreSQL is not restarted\n");
    for (int round = 0; round < rounds; round++) {
        running_t run;
        double ms;

        /* A worker killed, started again at once (systemd's Restart=always). */
        s_load_start(&run);
        usleep(700000);
        uint64_t t0 = clock_mono_us();
        stack_kill_worker(&S, 0);
        cr_assert_eq(stack_start_worker(&S, 0), 0);
        double ready_ms = (double)(clock_mono_us() - t0) / 1000;
        ms = s_recovery(&s_load[0], t0);
        fprintf(stderr, "faults: the new worker was ready %.0f ms after the kill\n", ready_ms);
        usleep(500000);
        s_load_stop(&run);
        s_report("worker SIGKILL", ms);
        /* The calls the dead worker had are failed when its connection drops (gateway/
           gw_shard.c), not at the deadline. */
        fprintf(stderr, "faults: the slowest refusal at the kill took %llu ms\n",
                (unsigned long long)s_load[0].slowest_refusal_ms);
        cr_expect_lt(s_load[0].slowest_refusal_ms, DEADLINE_MS / 2,
                     "a call the dead worker had waited %llu ms",
                     (unsigned long long)s_load[0].slowest_refusal_ms);
        cr_expect_eq(s_load[1].refused + s_load[1].bad, 0, "shard 1 was not left alone");
        s_verify(&s_load[0], "worker SIGKILL");
        s_verify(&s_load[1], "worker SIGKILL");

        /* A worker stopped for 5 s. */
        s_load_start(&run);
        usleep(700000);
        kill(S.workers[0], SIGSTOP);
        sleep(5);
        kill(S.workers[0], SIGCONT);
        t0 = clock_mono_us();
        ms = s_recovery(&s_load[0], t0);
        usleep(500000);
        s_load_stop(&run);
        s_report("worker SIGSTOP 5 s", ms);
        cr_expect_gt(s_load[0].refused, 0, "nothing was refused while the worker was stopped");
        cr_expect_eq(s_load[1].refused + s_load[1].bad, 0, "shard 1 was not left alone");
        s_verify(&s_load[0], "worker SIGSTOP");
        s_verify(&s_load[1], "worker SIGSTOP");

        /* A full queue: the tenant's users table locked, so its requests hold both threads
           and fill the 4 places of the queue; the rest are refused at once. */
        s_load_start(&run);
        usleep(500000);
        PGconn *lock = db_lock_users(s_load[0].t.id);
        load_t burst = {.t = s_load[0].t, .url = S.url};
        memcpy(burst.fixed, s_load[0].fixed, sizeof burst.fixed);
        pthread_mutex_init(&burst.lock, NULL);
        burst.keys = calloc(WRITES_MAX, sizeof *burst.keys);
        burst.acked = calloc(WRITES_MAX, sizeof *burst.acked);
        burst.next = 100000;
        pthread_t b[12];
        for (int i = 0; i < 12; i++)
            pthread_create(&b[i], NULL, s_loader, &burst);
        usleep(1000000);
        atomic_store(&burst.stop, true);
        t0 = clock_mono_us();
        db_unlock(lock);
        ms = s_recovery(&s_load[0], t0);
        for (int i = 0; i < 12; i++)
            pthread_join(b[i], NULL);
        usleep(300000);
        s_load_stop(&run);
        s_report("worker queue full", ms);
        fprintf(stderr, "faults: the burst of 12: %d ok %d refused %d retried\n", burst.ok,
                burst.refused, burst.retried);
        cr_expect_gt(burst.refused, 0, "a full queue refused nothing");
        s_verify(&burst, "queue full");
        s_verify(&s_load[0], "queue full");
        s_verify(&s_load[1], "queue full");
        free(burst.keys);
        free(burst.acked);
        pthread_mutex_destroy(&burst.lock);

        /* PostgreSQL restarted (both shards' database). */
        if (pg) {
            s_load_start(&run);
            usleep(700000);
            s_pg("stop");
            usleep(1000000);
            s_pg("start");
            t0 = clock_mono_us();
            double ms0 = s_recovery(&s_load[0], t0);
            ms = s_recovery(&s_load[1], t0);
            usleep(500000);
            s_load_stop(&run);
            s_report("PostgreSQL restart", ms0 > ms ? ms0 : ms);
            s_verify(&s_load[0], "PostgreSQL restart");
            s_verify(&s_load[1], "PostgreSQL restart");
        }

        /* A gateway killed while a second serves: shard 0's clients use the first and fail
           over to the second; shard 1's use the second throughout. */
        cr_assert_eq(stack_start_second_gateway(&S), 0);
        s_load[0].url = S.url;
        s_load[0].fallback = S.url2;
        s_load[1].url = S.url2;
        s_load_start(&run);
        usleep(700000);
        t0 = clock_mono_us();
        kill(S.gateway, SIGKILL);
        waitpid(S.gateway, NULL, 0);
        S.gateway = 0;
        s_load[0].url = S.url2;
        ms = s_recovery(&s_load[0], t0);
        usleep(500000);
        s_load_stop(&run);
        s_report("gateway SIGKILL", ms);
        cr_expect_eq(s_load[1].refused + s_load[1].bad, 0, "the second gateway did not serve");
        s_verify(&s_load[0], "gateway SIGKILL");
        s_verify(&s_load[1], "gateway SIGKILL");
        /* Back to one gateway for the next round. */
        cr_assert_eq(stack_start_gateway(&S), 0);
        cr_assert_eq(stack_stop_second_gateway(&S), 0);
        for (int k = 0; k < 2; k++) {
            s_load[k].url = S.url;
            s_load[k].fallback = NULL;
        }
    }
    for (int k = 0; k < 2; k++) {
        free(s_load[k].keys);
        free(s_load[k].acked);
        pthread_mutex_destroy(&s_load[k].lock);
    }
}
