/* Routing and failure behaviour of the gateway <-> worker hop: tenant header validation, shard
 * choice, a worker's refusal of tenants that are not its own, and what clients see while a
 * shard's worker is dead and after it comes back. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/ident.h"
#include "common/shard.h"
#include "proto/proto.h"
#include "tests/helpers/api.h"
#include "tests/helpers/http.h"
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

TestSuite(shards, .init = setup, .fini = teardown, .timeout = 120);

/* A random tenant id that lives on `shard`. */
static void s_tenant_on(int shard, uint8_t u[16], char text[37])
{
    do
        ident_uuid_random(u);
    while (shard_of(u, 2) != shard);
    ident_uuid_format(u, text);
}

static long s_ping(const char *tenant_header, http_resp_t *r)
{
    char url[128], h[128];
    http_url(url, sizeof url, S.url, "/api/ping");
    snprintf(h, sizeof h, "X-Tenant-ID: %s", tenant_header);
    const char *headers[] = {h, NULL};
    return http_do(r, "GET", url, NULL, tenant_header ? headers : NULL);
}

Test(shards, ping_reaches_the_tenants_shard)
{
    for (int shard = 0; shard < 2; shard++) {
        uint8_t u[16];
        char id[37];
        s_tenant_on(shard, u, id);
        http_resp_t r;
        cr_expect_eq(s_ping(id, &r), 200, "%s", r.body);
        json_t *j = http_json(&r);
        cr_expect_eq(json_integer_value(json_object_get(j, "shard")), shard);
        char rid[64];
        cr_expect_eq(http_header(&r, "X-Request-ID", rid, sizeof rid), 0);
        cr_expect_eq(strlen(rid), 32);
        json_decref(j);
        http_resp_clear(&r);
    }
}

Test(shards, bad_tenant_header_is_400)
{
    const char *bad[] = {"",
                         "nope",
                         "123e4567-e89b-12d3-a456-42661417400",
                         "123e4567e89b12d3a456426614174000",
                         "123e4567-e89b-12d3-a456-4266141740001",
                         "' OR 1=1 --"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_resp_t r;
        cr_expect_eq(s_ping(bad[i], &r), 400, "\"%s\" -> %s", bad[i], r.body);
        cr_expect(strstr(r.body, "X-Tenant-ID") != NULL);
        http_resp_clear(&r);
    }
    http_resp_t r;
    cr_expect_eq(s_ping(NULL, &r), 400, "missing header");
    http_resp_clear(&r);
}

Test(shards, worker_refuses_a_tenant_of_another_shard)
{
    /* Speak the wire protocol straight to the other shard's worker about a real tenant: it
       answers with where the tenant lives, and runs nothing. */
    api_tenant_t t;
    api_tenant(&S, &t);
    int other = 1 - t.shard;
    char key[256];
    snprintf(key, sizeof key, "%s/gateway.secret", S.curve);
    void *ctx = zmq_ctx_new(), *sock = stack_dealer(&S, ctx, other, key);
    proto_request_t req = {.op = PROTO_OP_TENANT_STATS,
                           .role = PROTO_ROLE_PLATFORM,
                           .has_tenant = true,
                           .deadline_ms = 0,
                           .credential = S.token};
    cr_assert_eq(ident_uuid_parse(t.id, 36, req.tenant), 0);
    randombytes_buf(req.request_id, 16);
    size_t len;
    void *frame = proto_request_encode(&req, &len);
    cr_assert_eq(zmq_send(sock, frame, len, 0), (int)len);
    free(frame);
    /* Garbage on the same connection is dropped with a log line; the worker keeps serving. */
    cr_assert_eq(zmq_send(sock, "\xc1garbage", 8, 0), 8);
    char buf[4096];
    int timeout = 5000;
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    int n = zmq_recv(sock, buf, sizeof buf, 0);
    cr_assert_gt(n, 0);
    proto_reply_t rep;
    const char *why;
    cr_assert_eq(proto_reply_decode(buf, (size_t)n, &rep, &why), 0);
    cr_expect_eq(rep.status, PROTO_STATUS_MISROUTED);
    cr_expect_arr_eq(rep.request_id, req.request_id, 16);
    cr_expect(!rep.body || !strstr(rep.body, "users_count"), "the wrong shard served it");
    char owner[12];
    snprintf(owner, sizeof owner, "%d", t.shard);
    bool named = false;
    for (int i = 0; i < rep.nheaders; i++)
        named |= strcmp(rep.headers[i].key, "Quiz-Shard") == 0 &&
                 strcmp(rep.headers[i].value, owner) == 0;
    cr_expect(named, "the redirect does not name shard %s", owner);
    proto_reply_clear(&rep);
    zmq_close(sock);
    zmq_ctx_term(ctx);

    http_resp_t r;
    char id[37];
    uint8_t u[16];
    s_tenant_on(other, u, id);
    cr_expect_eq(s_ping(id, &r), 200, "worker stopped serving after a bad frame");
    http_resp_clear(&r);
}

Test(shards, dead_worker_gives_503_fast_and_service_returns)
{
    uint8_t u0[16], u1[16];
    char a[37], b[37];
    s_tenant_on(0, u0, a);
    s_tenant_on(1, u1, b);
    stack_kill_worker(&S, 0);

    /* ZeroMQ notices the closed connection asynchronously; a request sent in that instant goes
       to the dead peer and can only time out (504). /readyz shows when the gateway knows. */
    http_resp_t r;
    char url[128];
    http_url(url, sizeof url, S.url, "/readyz");
    long st = 0;
    for (int i = 0; i < 20 && st != 503; i++) {
        st = http_do(&r, "GET", url, NULL, NULL);
        http_resp_clear(&r);
    }
    cr_assert_eq(st, 503, "readyz never noticed the dead worker");
    st = s_ping(a, &r);
    /* Well within the deadline: the gateway knows no worker is connected. */
    cr_expect_eq(st, 503, "%s", r.body);
    cr_expect_lt(r.seconds * 1000, S.deadline_ms, "took %.3f s", r.seconds);
    char ra[16];
    cr_expect_eq(http_header(&r, "Retry-After", ra, sizeof ra), 0);
    http_resp_clear(&r);
    /* The other shard is unaffected. */
    cr_expect_eq(s_ping(b, &r), 200);
    http_resp_clear(&r);
    http_url(url, sizeof url, S.url, "/healthz");
    cr_expect_eq(http_do(&r, "GET", url, NULL, NULL), 200);
    http_resp_clear(&r);

    cr_assert_eq(stack_start_worker(&S, 0), 0);
    /* The gateway's sockets reconnect within their 100 ms reconnect interval. */
    st = 0;
    for (int i = 0; i < 100 && st != 200; i++) {
        st = s_ping(a, &r);
        http_resp_clear(&r);
    }
    cr_expect_eq(st, 200, "shard did not come back");
    /* /readyz gives each shard one second; a restarted ASan worker on a loaded machine may miss
       one, so it gets a few tries, like the pings above. */
    http_url(url, sizeof url, S.url, "/readyz");
    char body[256] = "";
    st = 0;
    for (int i = 0; i < 5 && st != 200; i++) {
        st = http_do(&r, "GET", url, NULL, NULL);
        snprintf(body, sizeof body, "%s", r.body ? r.body : "");
        http_resp_clear(&r);
    }
    cr_expect_eq(st, 200, "%s", body);
}

Test(shards, metrics_count_requests)
{
    uint8_t u[16];
    char id[37];
    s_tenant_on(1, u, id);
    http_resp_t r;
    cr_expect_eq(s_ping(id, &r), 200);
    http_resp_clear(&r);
    char url[128];
    http_url(url, sizeof url, S.url, "/metrics");
    cr_expect_eq(http_do(&r, "GET", url, NULL, NULL), 200);
    cr_expect(strstr(r.body, "quiz_http_requests_total{route=\"ping\",method=\"GET\","
                             "code_class=\"2xx\"} 1\n") != NULL,
              "%s", r.body);
    cr_expect(strstr(r.body, "quiz_shard_calls_total{shard=\"1\",outcome=\"ok\"} 1") != NULL, "%s",
              r.body);
    http_resp_clear(&r);
}

/* One user calling GET /api/users/me again and again from its own thread. */
typedef struct {
    const api_tenant_t *tenant;
    char email[80];
    char token[1024];
    int ok, wrong; /* replies that were its own, and anything else */
} caller_t;

#define CALLS 40

static void *s_call_me(void *arg)
{
    caller_t *c = arg;
    for (int i = 0; i < CALLS; i++) {
        http_resp_t r;
        long st = api_call(&S, &r, "GET", "/api/users/me", c->tenant->id, c->token, NULL, NULL);
        char email[80];
        api_field(&r, "email", email, sizeof email);
        if (st == 200 && strcmp(email, c->email) == 0)
            c->ok++;
        else
            c->wrong++;
        http_resp_clear(&r);
    }
    return NULL;
}

/* The gateway's threads share one socket per shard and match replies to callers by request
 * id: under concurrency every caller must get its own reply, never another user's. */
Test(shards, concurrent_callers_each_get_their_own_reply)
{
    api_tenant_t t[2];
    caller_t c[8];
    for (int k = 0; k < 2; k++)
        api_tenant(&S, &t[k]);
    for (int i = 0; i < 8; i++) {
        c[i] = (caller_t){.tenant = &t[i % 2]};
        snprintf(c[i].email, sizeof c[i].email, "caller%d-%u@mux.example", i, randombytes_random());
        char id[37];
        api_user(&S, c[i].tenant, c[i].email, "member", id, c[i].token);
    }
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, s_call_me, &c[i]);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 8; i++) {
        cr_expect_eq(c[i].ok, CALLS, "caller %d got %d own replies", i, c[i].ok);
        cr_expect_eq(c[i].wrong, 0, "caller %d got %d other replies or errors", i, c[i].wrong);
    }
}

/* CPU ticks (user + system) a process has used, from /proc. */
static long s_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* fields after the command name */
    long utime = 0, stime = 0;
    cr_assert_eq(
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime), 2);
    return utime + stime;
}

/* n authenticated reads of tenant t; how many got a 200. */
static int s_reads(const api_tenant_t *t, int n)
{
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += api_status(&S, "GET", "/api/users/me", t->id, t->token, NULL) == 200;
    return ok;
}

Test(shards, two_workers_of_a_shard_share_it_and_one_dying_leaves_it_serving)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    cr_assert_eq(stack_start_replica(&S, t.shard), 0);
    long a0 = s_ticks(S.workers[t.shard]), b0 = s_ticks(S.replicas[t.shard]);
    cr_expect_eq(s_reads(&t, 600), 600);
    long a = s_ticks(S.workers[t.shard]) - a0, b = s_ticks(S.replicas[t.shard]) - b0;
    cr_expect(a >= 2 && b >= 2, "both workers should serve: %ld and %ld ticks", a, b);
    /* One dies: ZeroMQ drops its connection and the other carries the shard. Requests sent in
       the instant before the gateway notices go to the dead one and time out, so wait for
       /readyz as an operator's probe would. */
    stack_kill_worker(&S, t.shard);
    usleep(200 * 1000); /* the kernel closes its sockets at once; ZeroMQ sees that in ms */
    char url[128];
    http_url(url, sizeof url, S.url, "/readyz");
    long ready = 0;
    for (int i = 0; i < 50 && ready != 200; i++) {
        http_resp_t r;
        ready = http_do(&r, "GET", url, NULL, NULL);
        http_resp_clear(&r);
    }
    cr_expect_eq(ready, 200, "the shard did not stay ready on its second worker");
    cr_expect_eq(s_reads(&t, 50), 50, "the surviving worker did not serve every request");
    /* Back, the first worker takes its share again; the second may go. */
    cr_assert_eq(stack_start_worker(&S, t.shard), 0);
    stack_kill_replica(&S, t.shard);
    usleep(200 * 1000);
    for (int i = 0, got = 0; i < 50 && got != 200; i++) {
        http_resp_t r;
        got = (int)http_do(&r, "GET", url, NULL, NULL);
        http_resp_clear(&r);
    }
    cr_expect_eq(s_reads(&t, 50), 50);
}

Test(shards, a_request_the_server_library_refuses_is_answered_as_ours_are)
{
    /* Past civetweb's own 64 KiB buffer (ours, 16 KiB, is 431: test_hostile). */
    static char big[70100];
    memcpy(big, "X-Big: ", 7);
    memset(big + 7, 'a', 70000);
    char url[128];
    /* Refused before any route is looked at (a path outside the API document: no operation's
       answers to hold it against). */
    http_url(url, sizeof url, S.url, "/not-an-operation");
    const char *headers[] = {big, NULL};
    http_resp_t r;
    cr_expect_eq(http_do(&r, "GET", url, NULL, headers), 400, "headers over 64 KiB");
    char type[64] = "", rid[40] = "";
    http_header(&r, "Content-Type", type, sizeof type);
    cr_expect_str_eq(type, "application/problem+json");
    cr_expect_eq(http_header(&r, "X-Request-ID", rid, sizeof rid), 0);
    cr_expect_eq(strlen(rid), 32);
    cr_expect(strstr(r.body, rid) != NULL, "the body names the same request id: %s", r.body);
    http_resp_clear(&r);
}
