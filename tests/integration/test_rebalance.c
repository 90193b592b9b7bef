/* Rebalancing: a lopsided placement is evened out by moves, one at a time, whose progress is an
 * operation. Its own binary: a rebalance moves every tenant of the shared test database, which
 * the parallel tests of another suite would feel. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

TestSuite(rebalance, .init = setup, .fini = teardown, .timeout = 180);

/* Active tenants on the fullest and the emptiest non-dedicated shard. */
static void s_spread(int *most, int *least)
{
    char *hi = db_value("SELECT max(n) FROM (SELECT count(t.id) n FROM quiz.shards s LEFT JOIN"
                        " quiz.tenants t ON t.shard = s.shard AND t.status = 'active'"
                        " WHERE NOT s.dedicated GROUP BY s.shard) c",
                        NULL, NULL);
    char *lo = db_value("SELECT min(n) FROM (SELECT count(t.id) n FROM quiz.shards s LEFT JOIN"
                        " quiz.tenants t ON t.shard = s.shard AND t.status = 'active'"
                        " WHERE NOT s.dedicated GROUP BY s.shard) c",
                        NULL, NULL);
    *most = atoi(hi);
    *least = atoi(lo);
    free(hi);
    free(lo);
}

Test(rebalance, evens_a_lopsided_placement)
{
    /* Every shard the registry knows gets a worker: a rebalance may move tenants to any. */
    char *n = db_value("SELECT count(*) FROM quiz.shards", NULL, NULL);
    int shards = atoi(n);
    free(n);
    cr_assert_leq(shards, STACK_MAX_SHARDS);
    if (shards != S.nshards)
        cr_assert_eq(stack_restart(&S, shards, NULL), 0);
    api_tenant_t t[8];
    for (int i = 0; i < 8; i++)
        api_tenant(&S, &t[i]);
    /* Lopsided: all of them onto shard 0, as an operator adding shards would find. */
    for (int i = 0; i < 8; i++) {
        if (t[i].shard == 0)
            continue;
        char hex[33], sql[512];
        uint8_t u[16];
        cr_assert_eq(ident_uuid_parse(t[i].id, 36, u), 0);
        ident_hex(u, 16, hex);
        snprintf(sql, sizeof sql,
                 "BEGIN; GRANT tenant_%s TO quiz_shard_0; REVOKE tenant_%s FROM quiz_shard_%d;"
                 " UPDATE quiz.tenants SET shard = 0 WHERE id = '%s'; COMMIT",
                 hex, hex, t[i].shard, t[i].id);
        cr_assert_eq(db_exec(sql), 0);
    }
    int most, least;
    s_spread(&most, &least);
    cr_assert_gt(most - least, 1, "not lopsided: %d vs %d", most, least);
    char op[37];
    cr_expect_eq(ops_start(&S, "/api/shards/rebalance", "{\"by\":\"nope\"}", op), 400);
    cr_assert_eq(ops_start(&S, "/api/shards/rebalance", "{\"by\":\"tenants\"}", op), 202);
    char *state = ops_wait(&S, op);
    cr_expect_str_eq(state, "done");
    free(state);
    s_spread(&most, &least);
    cr_expect(most - least <= 1 || most - least <= most / 10, "still %d vs %d", most, least);
    char *moves = db_value("SELECT count(*) FROM quiz.operations WHERE parent_id = $1 AND"
                           " state = 'done'",
                           op, NULL);
    cr_expect_gt(atoi(moves), 0, "the rebalance made no moves");
    free(moves);
    /* Every tenant still serves, wherever it went. */
    for (int i = 0; i < 8; i++) {
        http_resp_t r;
        cr_expect_eq(api_call(&S, &r, "GET", "/api/users/me", t[i].id, t[i].token, NULL, NULL), 200,
                     "%s", r.body);
        http_resp_clear(&r);
    }
    /* The shard map shows the result, with each shard up. */
    char url[128];
    http_resp_t r;
    const char *headers[] = {S.auth, NULL};
    http_url(url, sizeof url, S.url, "/api/shards");
    cr_assert_eq(http_do(&r, "GET", url, NULL, headers), 200, "%s", r.body);
    json_t *j = http_json(&r), *item;
    size_t i;
    cr_expect_eq(json_array_size(json_object_get(j, "items")), (size_t)shards);
    json_array_foreach (json_object_get(j, "items"), i, item) {
        cr_expect(json_is_true(json_object_get(item, "up")), "%s", r.body);
        cr_expect(json_is_integer(json_object_get(item, "storage_bytes")));
        cr_expect_geq(json_integer_value(json_object_get(item, "tenants")), 0);
    }
    json_decref(j);
    http_resp_clear(&r);
}
