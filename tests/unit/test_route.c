/* The gateway's route table: every route resolves to its operation, ids are validated, and
 * near-misses are 404 or 405, never a wrong operation. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "gateway/gw_route.h"

#define ID "123e4567-e89b-12d3-a456-426614174000"

/* Parameters hold arrays, not pointers: each case runs in a fresh process. */
struct route_case {
    char method[8];
    char path[128];
    gw_route_result_t result;
    proto_op_t op;
    int nparams;
};

ParameterizedTestParameters(route, match)
{
    static struct route_case cases[] = {
        {"GET", "/api/ping", GW_ROUTE_OK, PROTO_OP_PING, 0},
        {"POST", "/api/tenants/", GW_ROUTE_OK, PROTO_OP_TENANT_CREATE, 0},
        {"POST", "/api/tenants", GW_ROUTE_OK, PROTO_OP_TENANT_CREATE, 0},
        {"GET", "/api/tenants/", GW_ROUTE_OK, PROTO_OP_TENANT_LIST, 0},
        {"GET", "/api/tenants/" ID, GW_ROUTE_OK, PROTO_OP_TENANT_GET, 1},
        {"GET", "/api/tenants/" ID "/", GW_ROUTE_OK, PROTO_OP_TENANT_GET, 1},
        {"DELETE", "/api/tenants/" ID, GW_ROUTE_OK, PROTO_OP_TENANT_DELETE, 1},
        {"GET", "/api/tenants/" ID "/stats", GW_ROUTE_OK, PROTO_OP_TENANT_STATS, 1},
        {"POST", "/api/tenants/" ID "/users", GW_ROUTE_OK, PROTO_OP_TENANT_USER_CREATE, 1},
        {"POST", "/api/auth/login", GW_ROUTE_OK, PROTO_OP_AUTH_LOGIN, 0},
        {"POST", "/api/auth/refresh", GW_ROUTE_OK, PROTO_OP_AUTH_REFRESH, 0},
        {"POST", "/api/auth/logout", GW_ROUTE_OK, PROTO_OP_AUTH_LOGOUT, 0},
        {"GET", "/api/users/me", GW_ROUTE_OK, PROTO_OP_USER_ME, 0},
        {"POST", "/api/users/me/password", GW_ROUTE_OK, PROTO_OP_USER_PASSWORD, 0},
        {"GET", "/api/users", GW_ROUTE_OK, PROTO_OP_USER_LIST, 0},
        {"GET", "/api/users/", GW_ROUTE_OK, PROTO_OP_USER_LIST, 0},
        {"POST", "/api/users", GW_ROUTE_OK, PROTO_OP_USER_CREATE, 0},
        {"GET", "/api/users/" ID, GW_ROUTE_OK, PROTO_OP_USER_GET, 1},
        {"PATCH", "/api/users/" ID, GW_ROUTE_OK, PROTO_OP_USER_UPDATE, 1},
        {"DELETE", "/api/users/" ID, GW_ROUTE_OK, PROTO_OP_USER_DELETE, 1},
        {"GET", "/api/audit", GW_ROUTE_OK, PROTO_OP_AUDIT_LIST, 0},
        {"GET", "/api/quizzes", GW_ROUTE_OK, PROTO_OP_QUIZ_LIST, 0},
        {"POST", "/api/quizzes/", GW_ROUTE_OK, PROTO_OP_QUIZ_CREATE, 0},
        {"GET", "/api/quizzes/" ID, GW_ROUTE_OK, PROTO_OP_QUIZ_GET, 1},
        {"PATCH", "/api/quizzes/" ID, GW_ROUTE_OK, PROTO_OP_QUIZ_UPDATE, 1},
        {"DELETE", "/api/quizzes/" ID, GW_ROUTE_OK, PROTO_OP_QUIZ_DELETE, 1},
        {"GET", "/api/quizzes/" ID "/stats", GW_ROUTE_OK, PROTO_OP_QUIZ_STATS, 1},
        {"POST", "/api/quizzes/" ID "/questions", GW_ROUTE_OK, PROTO_OP_QUESTION_CREATE, 1},
        {"POST", "/api/quizzes/" ID "/questions/order", GW_ROUTE_OK, PROTO_OP_QUESTION_REORDER, 1},
        {"PATCH", "/api/quizzes/" ID "/questions/" ID, GW_ROUTE_OK, PROTO_OP_QUESTION_UPDATE, 2},
        {"DELETE", "/api/quizzes/" ID "/questions/" ID, GW_ROUTE_OK, PROTO_OP_QUESTION_DELETE, 2},
        {"POST", "/api/quizzes/" ID "/attempts", GW_ROUTE_OK, PROTO_OP_ATTEMPT_CREATE, 1},
        {"GET", "/api/quizzes/" ID "/attempts", GW_ROUTE_OK, PROTO_OP_ATTEMPT_LIST, 1},
        {"GET", "/api/attempts/" ID, GW_ROUTE_OK, PROTO_OP_ATTEMPT_GET, 1},
        {"PATCH", "/api/quizzes/" ID "/questions/nope", GW_ROUTE_BAD_ID, 0, 0},
        {"GET", "/api/users/someone", GW_ROUTE_BAD_ID, 0, 0},
        {"GET", "/api/auth/login", GW_ROUTE_BAD_METHOD, 0, 0},
        {"PUT", "/api/tenants/" ID, GW_ROUTE_BAD_METHOD, 0, 0},
        {"GET", "/api/tenants/not-a-uuid", GW_ROUTE_BAD_ID, 0, 0},
        {"GET", "/api/tenants/not-a-uuid/stats", GW_ROUTE_BAD_ID, 0, 0},
        {"GET", "/api/tenants/" ID "/nope", GW_ROUTE_NOT_FOUND, 0, 0},
        {"GET", "/api/tenants//stats", GW_ROUTE_NOT_FOUND, 0, 0},
        {"GET", "/api/tenantsX", GW_ROUTE_NOT_FOUND, 0, 0},
        {"GET", "/api", GW_ROUTE_NOT_FOUND, 0, 0},
        {"GET", "/", GW_ROUTE_NOT_FOUND, 0, 0},
        {"GET", "", GW_ROUTE_NOT_FOUND, 0, 0},
        {"GET", "/api/tenants/" ID "/stats/extra/long/path", GW_ROUTE_NOT_FOUND, 0, 0},
    };
    return cr_make_param_array(struct route_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct route_case *c, route, match)
{
    gw_match_t m;
    gw_route_result_t r = gw_route_match(c->method, c->path, &m);
    cr_assert_eq(r, c->result, "%s %s gave %d", c->method, c->path, r);
    if (r == GW_ROUTE_OK) {
        cr_expect_eq(m.route->op, c->op, "%s %s", c->method, c->path);
        cr_expect_eq(m.nparams, c->nparams);
    }
}

Test(route, user_routes_need_a_token_and_only_login_is_rate_limited)
{
    for (const gw_route_t *r = gw_route_table; r->method; r++) {
        bool tenant_scoped =
            r->scope == GW_SCOPE_TENANT || r->scope == GW_SCOPE_USER || r->scope == GW_SCOPE_ADMIN;
        cr_expect_eq(tenant_scoped, r->tenant == GW_TENANT_HEADER, "%s %s", r->method, r->pattern);
        cr_expect_eq((r->flags & GW_ROUTE_LOGIN) != 0, r->op == PROTO_OP_AUTH_LOGIN);
        if (r->flags & GW_ROUTE_PCR_OK)
            cr_expect(r->scope == GW_SCOPE_USER, "%s %s", r->method, r->pattern);
    }
}

Test(route, every_operation_has_exactly_one_route)
{
    int seen[PROTO_OP__COUNT] = {0};
    for (const gw_route_t *r = gw_route_table; r->method; r++)
        seen[r->op]++;
    for (int op = 0; op < PROTO_OP__COUNT; op++)
        cr_expect_eq(seen[op], 1, "operation %s has %d routes", proto_op_str(op), seen[op]);
}
