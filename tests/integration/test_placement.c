/* Placement is data: tenants stay on the shard the registry names when shards are added, new
 * tenants never land on a dedicated shard, and a gateway whose guess is stale is redirected to
 * the owner by the worker it asked, never served by it. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"
#include "common/shard.h"
#include "tests/helpers/api.h"
#include "tests/helpers/db.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

static qstack_t S;

static void setup(void)
{
    /* Each tenant made costs two logins, and a test here may make 28 of them: beyond the
       gateway's default 30 logins per address and minute. */
    static const char *const args[] = {"--login-rate", "0", NULL};
    cr_assert_geq(sodium_init(), 0);
    cr_assert_eq(stack_start_with(&S, 2, args), 0, "stack did not start");
}
static void teardown(void)
{
    stack_suite_fini(&S);
}

TestSuite(placement, .init = setup, .fini = teardown, .timeout = 180);

/* The shard the registry holds for tenant id. */
static int s_registry_shard(const char *id)
{
    char *v = db_value("SELECT shard FROM quiz.tenants WHERE id = $1", id, NULL);
    cr_assert(v && *v, "no registry row for %s", id);
    int shard = atoi(v);
    free(v);
    return shard;
}

/* The hash placement of a tenant id among n shards. */
static int s_hash(const char *id, int n)
{
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(id, strlen(id), u), 0);
    return shard_of(u, n);
}

/* The gateway's count of redirects followed. */
static long s_redirects(void)
{
    char url[128];
    http_resp_t r;
    http_url(url, sizeof url, S.url, "/metrics");
    cr_assert_eq(http_do(&r, "GET", url, NULL, NULL), 200);
    const char *at = strstr(r.body, "\nquiz_shard_redirects_total ");
    long n = at ? atol(at + strlen("\nquiz_shard_redirects_total ")) : -1;
    http_resp_clear(&r);
    return n;
}

/* The admin of t reads itself: the tenant is served, wherever it lives. */
static void s_expect_served(const api_tenant_t *t)
{
    http_resp_t r;
    cr_expect_eq(api_call(&S, &r, "GET", "/api/users/me", t->id, t->token, NULL, NULL), 200,
                 "tenant %s: %s", t->id, r.body);
    cr_expect(strstr(r.body, t->email) != NULL, "%s", r.body);
    http_resp_clear(&r);
}

Test(placement, adding_a_shard_moves_no_tenant)
{
    /* Tenants until at least two would hash elsewhere once there are three shards. */
    api_tenant_t t[24];
    int n = 0, remapped = 0;
    while (n < 24 && remapped < 2) {
        api_tenant(&S, &t[n]);
        remapped += s_hash(t[n].id, 3) != t[n].shard;
        n++;
    }
    cr_assert_geq(remapped, 2);
    cr_assert_eq(stack_restart(&S, 3, NULL), 0);
    for (int i = 0; i < n; i++) {
        s_expect_served(&t[i]);
        cr_expect_eq(s_registry_shard(t[i].id), t[i].shard, "the registry moved a tenant");
    }
    cr_expect_geq(s_redirects(), remapped, "the gateway asked the hash's shard first");
    /* Asked again, the gateway goes straight to the owner it learned. */
    long before = s_redirects();
    for (int i = 0; i < n; i++)
        s_expect_served(&t[i]);
    cr_expect_eq(s_redirects(), before, "a learned placement was not used");
    /* New tenants are placed by the hash over the three. */
    for (int i = 0; i < 4; i++) {
        api_tenant_t fresh;
        api_tenant(&S, &fresh);
        cr_expect_eq(fresh.shard, s_hash(fresh.id, 3));
        cr_expect_eq(s_registry_shard(fresh.id), fresh.shard);
    }
}

Test(placement, a_dedicated_shard_receives_no_new_tenants)
{
    bool dedicated[3] = {false, false, true};
    cr_assert_eq(stack_restart(&S, 3, dedicated), 0);
    char *flag = db_value("SELECT dedicated FROM quiz.shards WHERE shard = 2", NULL, NULL);
    cr_expect_str_eq(flag, "t");
    free(flag);
    for (int i = 0; i < 10; i++) {
        api_tenant_t t;
        api_tenant(&S, &t);
        cr_expect_neq(t.shard, 2, "a new tenant was placed on the dedicated shard");
        cr_expect_eq(t.shard, s_hash(t.id, 2), "hashed over the two shards that take tenants");
    }
    /* Undo for the suites after this one, which share the database. */
    cr_assert_eq(stack_restart(&S, 3, NULL), 0);
}

/* Moves tenant id to shard `to` behind every process's back, as a same-cluster move does: the
 * tenant's role granted to the new shard's login, revoked from the old one's, registry flipped. */
static void s_move_by_hand(const char *id, int from, int to)
{
    char hex[33], sql[512];
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(id, strlen(id), u), 0);
    ident_hex(u, 16, hex);
    snprintf(sql, sizeof sql,
             "BEGIN; GRANT tenant_%s TO quiz_shard_%d; REVOKE tenant_%s FROM quiz_shard_%d;"
             " UPDATE quiz.tenants SET shard = %d WHERE id = '%s'; COMMIT",
             hex, to, hex, from, to, id);
    cr_assert_eq(db_exec(sql), 0);
}

Test(placement, a_stale_gateway_is_redirected_never_served_by_the_old_shard)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char *before = db_value("SELECT epoch FROM quiz.placement", NULL, NULL);
    int other = 1 - t.shard;
    s_move_by_hand(t.id, t.shard, other);
    char *after = db_value("SELECT epoch FROM quiz.placement", NULL, NULL);
    cr_expect_gt(atol(after), atol(before), "a move did not bump the placement epoch");
    long r0 = s_redirects();
    s_expect_served(&t); /* the gateway still guesses the old shard */
    cr_expect_eq(s_redirects(), r0 + 1);
    /* A write lands on the owner. */
    http_resp_t r;
    cr_expect_eq(
        api_call(&S, &r, "POST", "/api/quizzes", t.id, t.token, "{\"title\":\"Moved\"}", NULL), 201,
        "%s", r.body);
    http_resp_clear(&r);
    /* Moved back: the remembered owner is now the stale one, and redirects again. */
    s_move_by_hand(t.id, other, t.shard);
    s_expect_served(&t);
    cr_expect_eq(s_redirects(), r0 + 2);
    cr_expect_eq(api_call(&S, &r, "GET", "/api/quizzes", t.id, t.token, NULL, NULL), 200);
    cr_expect(strstr(r.body, "\"Moved\"") != NULL, "%s", r.body);
    http_resp_clear(&r);
    free(before);
    free(after);
}
