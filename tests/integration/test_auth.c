/* Authentication, users and isolation over real HTTP against the real processes: tokens, roles,
 * the temporary-password flow, refresh rotation, rate limits, audit, and PostgreSQL itself
 * refusing a cross-tenant query under a worker's role. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ident.h"
#include "common/jwt.h"
#include "common/mem.h"
#include "tests/helpers/api.h"
#include "tests/helpers/db.h"
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

TestSuite(auth, .init = setup, .fini = teardown, .timeout = 120);

/* Shorthands over tests/helpers/api.h for this suite's stack. */
#define s_call(r, m, p, t, tok, b)      api_call(&S, r, m, p, t, tok, b, NULL)
#define s_status(m, p, t, tok, b)       api_status(&S, m, p, t, tok, b)
#define s_login(t, e, p, tok, ref, pcr) api_login(&S, t, e, p, tok, ref, pcr)
#define s_tenant(t)                     api_tenant(&S, t)
#define s_user(t, e, role, out)         api_user(&S, t, e, role, out, NULL)
typedef api_tenant_t tenant_t;

Test(auth, tenants_cannot_reach_each_others_users)
{
    tenant_t a, b;
    s_tenant(&a);
    s_tenant(&b);
    char ua[37], ub[37], path[128];
    s_user(&a, "alice@a.example", "member", ua);
    s_user(&b, "bob@b.example", "member", ub);

    /* B's user through A's header and token: it does not exist for A. */
    snprintf(path, sizeof path, "/api/users/%s", ub);
    cr_expect_eq(s_status("GET", path, a.id, a.token, NULL), 404);
    cr_expect_eq(s_status("PATCH", path, a.id, a.token, "{\"username\":\"pwned\"}"), 404);
    cr_expect_eq(s_status("DELETE", path, a.id, a.token, NULL), 404);
    /* A's token presented for tenant B. */
    cr_expect_eq(s_status("GET", path, b.id, a.token, NULL), 403);
    cr_expect_eq(s_status("GET", "/api/users", b.id, a.token, NULL), 403);
    cr_expect_eq(s_status("DELETE", path, b.id, a.token, NULL), 403);
    /* A's list holds A's users only. */
    http_resp_t r;
    cr_assert_eq(s_call(&r, "GET", "/api/users?limit=100", a.id, a.token, NULL), 200);
    cr_expect(strstr(r.body, ua) != NULL);
    cr_expect(strstr(r.body, ub) == NULL, "tenant B's user listed in A");
    cr_expect(strstr(r.body, "bob@b.example") == NULL);
    cr_expect(strstr(r.body, "password_hash") == NULL);
    http_resp_clear(&r);
    /* B's user is untouched. */
    snprintf(path, sizeof path, "/api/users/%s", ub);
    cr_assert_eq(s_call(&r, "GET", path, b.id, b.token, NULL), 200);
    cr_expect(strstr(r.body, "\"username\" : \"u\"") != NULL ||
                  strstr(r.body, "\"username\":\"u\"") != NULL,
              "%s", r.body);
    http_resp_clear(&r);
}

Test(auth, bad_tokens_are_401)
{
    tenant_t a;
    s_tenant(&a);
    jwt_keyring_t *ring = jwt_keyring_from_hex("test", S.key_hex);
    cr_assert_not_null(ring);
    jwt_claims_t c = {.admin = true};
    cr_assert_eq(ident_uuid_parse(a.id, 36, c.tenant), 0);
    ident_uuid_random(c.user);
    c.iat = time(NULL) - 2000;
    c.exp = time(NULL) - 1000;
    char *expired = jwt_sign(ring, &c);
    jwt_keyring_t *other = jwt_keyring_from_hex(
        "test", "0000000000000000000000000000000000000000000000000000000000000000");
    c.exp = time(NULL) + 1000;
    char *wrong_key = jwt_sign(other, &c);
    char *tampered = mem_strdup(a.token);
    char *mid = strchr(tampered, '.') + 3;
    *mid = *mid == 'A' ? 'B' : 'A';
    /* alg:none with the same claims as a real token. */
    char *dot = strchr(a.token, '.');
    char *none = mem_printf("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0%.*s.",
                            (int)(strrchr(a.token, '.') - dot), dot);

    const char *bad[] = {expired, wrong_key, tampered, none, "garbage", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_resp_t r;
        cr_expect_eq(s_call(&r, "GET", "/api/users/me", a.id, bad[i], NULL), 401, "token %zu", i);
        char www[80];
        cr_expect_eq(http_header(&r, "WWW-Authenticate", www, sizeof www), 0);
        cr_expect(strncmp(www, "Bearer", 6) == 0);
        http_resp_clear(&r);
    }
    cr_expect_eq(s_status("GET", "/api/users/me", a.id, NULL, NULL), 401, "no token");
    cr_expect_eq(s_status("GET", "/api/users/me", a.id, a.token, NULL), 200, "the real token");
    free(expired);
    free(wrong_key);
    free(tampered);
    free(none);
    jwt_keyring_destroy(&ring);
    jwt_keyring_destroy(&other);
}

Test(auth, temporary_password_must_be_changed_first)
{
    char url[256], body[256];
    http_url(url, sizeof url, S.url, "/api/tenants/");
    const char *h[] = {S.auth, NULL};
    http_resp_t r;
    cr_assert_eq(
        http_do(&r, "POST", url, "{\"tenant_name\":\"T\",\"owner_email\":\"o@t.example\"}", h),
        201);
    json_t *j = http_json(&r);
    char id[37], temp[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(j, "tenant_id")));
    snprintf(temp, sizeof temp, "%s", json_string_value(json_object_get(j, "temp_password")));
    json_decref(j);
    http_resp_clear(&r);

    char token[1024];
    int pcr = 0;
    cr_assert_eq(s_login(id, "O@T.example", temp, token, NULL, &pcr), 200,
                 "email is case-insensitive");
    cr_expect(pcr);
    cr_expect_eq(s_call(&r, "GET", "/api/users", id, token, NULL), 403);
    cr_expect(strstr(r.body, "password_change_required") != NULL, "%s", r.body);
    http_resp_clear(&r);
    cr_expect_eq(s_status("GET", "/api/users/me", id, token, NULL), 200);
    snprintf(body, sizeof body,
             "{\"current_password\":\"wrong-password\",\"new_password\":\"a-new-password\"}");
    cr_expect_eq(s_status("POST", "/api/users/me/password", id, token, body), 403);
    snprintf(body, sizeof body, "{\"current_password\":\"%s\",\"new_password\":\"short\"}", temp);
    cr_expect_eq(s_status("POST", "/api/users/me/password", id, token, body), 400);
    snprintf(body, sizeof body, "{\"current_password\":\"%s\",\"new_password\":\"a-new-password\"}",
             temp);
    cr_expect_eq(s_status("POST", "/api/users/me/password", id, token, body), 204);
    cr_expect_eq(s_login(id, "o@t.example", temp, NULL, NULL, NULL), 401,
                 "temp password still works");
    cr_assert_eq(s_login(id, "o@t.example", "a-new-password", token, NULL, &pcr), 200);
    cr_expect_not(pcr);
    cr_expect_eq(s_status("GET", "/api/users", id, token, NULL), 200);
}

Test(auth, refresh_rotates_and_reuse_revokes_the_family)
{
    tenant_t a;
    s_tenant(&a);
    char body[256], first[128];
    snprintf(first, sizeof first, "%s", a.refresh);
    snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}", first);
    http_resp_t r;
    cr_assert_eq(s_call(&r, "POST", "/api/auth/refresh", a.id, NULL, body), 200, "%s", r.body);
    json_t *j = http_json(&r);
    char second[128], access[1024];
    snprintf(second, sizeof second, "%s", json_string_value(json_object_get(j, "refresh_token")));
    snprintf(access, sizeof access, "%s", json_string_value(json_object_get(j, "access_token")));
    json_decref(j);
    http_resp_clear(&r);
    cr_expect_str_neq(second, first);
    cr_expect_eq(s_status("GET", "/api/users/me", a.id, access, NULL), 200);

    /* The first token again: reuse. Both it and its successor are now dead. */
    cr_expect_eq(s_status("POST", "/api/auth/refresh", a.id, NULL, body), 401);
    snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}", second);
    cr_expect_eq(s_status("POST", "/api/auth/refresh", a.id, NULL, body), 401,
                 "family not revoked");
    char schema[IDENT_SCHEMA_LEN + 1], sql[200];
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(a.id, 36, u), 0);
    ident_schema_name(u, schema);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.refresh_tokens WHERE revoked_at IS NULL",
             schema);
    char *v = db_value(sql, NULL, NULL);
    cr_expect_str_eq(v, "0");
    free(v);

    /* Logout revokes the session's refresh token. */
    char refresh[128];
    cr_assert_eq(s_login(a.id, a.email, a.password, a.token, refresh, NULL), 200);
    snprintf(body, sizeof body, "{\"refresh_token\":\"%s\"}", refresh);
    cr_expect_eq(s_status("POST", "/api/auth/logout", a.id, a.token, body), 204);
    cr_expect_eq(s_status("POST", "/api/auth/refresh", a.id, NULL, body), 401);
    cr_expect_eq(
        s_status("POST", "/api/auth/refresh", a.id, NULL, "{\"refresh_token\":\"made-up\"}"), 401);
    cr_expect_eq(s_status("POST", "/api/auth/refresh", a.id, NULL, "{}"), 400);
}

Test(auth, roles_decide_who_manages_users)
{
    tenant_t a;
    s_tenant(&a);
    char member_id[37], token[1024], path[128];
    s_user(&a, "mem@a.example", "member", member_id);
    cr_assert_eq(s_login(a.id, "mem@a.example", "member-password", token, NULL, NULL), 200);
    const char *create =
        "{\"email\":\"x@a.example\",\"username\":\"x\",\"password\":\"long enough\"}";
    cr_expect_eq(s_status("POST", "/api/users", a.id, token, create), 403, "member created a user");
    snprintf(path, sizeof path, "/api/users/%s", member_id);
    cr_expect_eq(s_status("PATCH", path, a.id, token, "{\"role\":\"admin\"}"), 403,
                 "member promoted self");
    cr_expect_eq(s_status("DELETE", path, a.id, token, NULL), 403);
    cr_expect_eq(s_status("GET", "/api/audit", a.id, token, NULL), 403);
    cr_expect_eq(s_status("GET", "/api/users", a.id, token, NULL), 200, "members may list");
    cr_expect_eq(s_status("GET", path, a.id, token, NULL), 200);

    /* Admin rules: no duplicate email, no self-demotion, disabling ends sessions. */
    cr_expect_eq(
        s_status("POST", "/api/users", a.id, a.token,
                 "{\"email\":\"MEM@a.example\",\"username\":\"m\",\"password\":\"long enough\"}"),
        409);
    cr_expect_eq(s_status("POST", "/api/users", a.id, a.token,
                          "{\"email\":\"y@a.example\",\"username\":\"y\",\"password\":\"long "
                          "enough\",\"role\":\"owner\"}"),
                 400);
    cr_expect_eq(s_status("PATCH", path, a.id, a.token, "{\"shoe_size\":44}"), 400);
    cr_expect_eq(s_status("PATCH", path, a.id, a.token, "{}"), 400);
    http_resp_t r;
    cr_expect_eq(s_call(&r, "GET", "/api/users/me", a.id, a.token, NULL), 200);
    json_t *me = http_json(&r);
    char self[128];
    snprintf(self, sizeof self, "/api/users/%s", json_string_value(json_object_get(me, "id")));
    json_decref(me);
    http_resp_clear(&r);
    cr_expect_eq(s_status("PATCH", self, a.id, a.token, "{\"role\":\"member\"}"), 400);
    cr_expect_eq(s_status("DELETE", self, a.id, a.token, NULL), 400);
    cr_expect_eq(
        s_call(&r, "PATCH", path, a.id, a.token, "{\"disabled\":true,\"username\":\"Mem\"}"), 200);
    cr_expect(strstr(r.body, "\"disabled\" : true") || strstr(r.body, "\"disabled\":true"), "%s",
              r.body);
    http_resp_clear(&r);
    cr_expect_eq(s_login(a.id, "mem@a.example", "member-password", NULL, NULL, NULL), 401,
                 "a disabled user logged in");
    cr_expect_eq(s_status("DELETE", path, a.id, a.token, NULL), 204);
    cr_expect_eq(s_status("GET", path, a.id, a.token, NULL), 404);
    cr_expect_eq(s_status("DELETE", path, a.id, a.token, NULL), 404);
}

Test(auth, logging_in_to_a_tenant_that_does_not_exist_is_404)
{
    char id[IDENT_UUID_STR_LEN + 1];
    uint8_t u[16];
    ident_uuid_random(u);
    ident_uuid_format(u, id);
    http_resp_t r;
    cr_expect_eq(s_call(&r, "POST", "/api/auth/login", id, NULL,
                        "{\"email\":\"someone@org.example\",\"password\":\"whatever\"}"),
                 404);
    json_t *j = http_json(&r);
    cr_expect_str_eq(json_string_value(json_object_get(j, "detail")), "tenant not found");
    json_decref(j);
    http_resp_clear(&r);
    cr_expect_eq(s_status("POST", "/api/auth/refresh", id, NULL, "{\"refresh_token\":\"x\"}"), 404);
}

Test(auth, login_failures_look_alike_and_are_rate_limited)
{
    tenant_t a;
    s_tenant(&a);
    char body[256];
    http_resp_t r1, r2;
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"wrong\"}", a.email);
    cr_expect_eq(s_call(&r1, "POST", "/api/auth/login", a.id, NULL, body), 401);
    cr_expect_eq(s_call(&r2, "POST", "/api/auth/login", a.id, NULL,
                        "{\"email\":\"nobody@org.example\",\"password\":\"wrong\"}"),
                 401);
    json_t *j1 = http_json(&r1), *j2 = http_json(&r2);
    cr_expect_str_eq(json_string_value(json_object_get(j1, "detail")),
                     json_string_value(json_object_get(j2, "detail")));
    cr_expect_str_eq(json_string_value(json_object_get(j1, "type")),
                     json_string_value(json_object_get(j2, "type")));
    json_decref(j1);
    json_decref(j2);
    http_resp_clear(&r1);
    http_resp_clear(&r2);

    /* Per tenant+email: after 5 failures even the right password waits. */
    for (int i = 0; i < 4; i++)
        cr_expect_eq(s_status("POST", "/api/auth/login", a.id, NULL, body), 401);
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", a.email, a.password);
    cr_expect_eq(s_call(&r1, "POST", "/api/auth/login", a.id, NULL, body), 429);
    char ra[16];
    cr_expect_eq(http_header(&r1, "Retry-After", ra, sizeof ra), 0);
    cr_expect(atoi(ra) > 0 && atoi(ra) <= 900, "Retry-After: %s", ra);
    http_resp_clear(&r1);

    /* Per client address (30 a minute in the gateway): spread over many emails. */
    long st = 0;
    for (int i = 0; i < 40 && st != 429; i++) {
        snprintf(body, sizeof body, "{\"email\":\"spray%d@org.example\",\"password\":\"x\"}", i);
        st = s_status("POST", "/api/auth/login", a.id, NULL, body);
    }
    cr_expect_eq(st, 429, "no per-address limit");
}

Test(auth, audit_records_logins_and_user_changes)
{
    tenant_t a;
    s_tenant(&a);
    char uid[37];
    s_user(&a, "audited@a.example", "member", uid);
    cr_expect_eq(s_login(a.id, "audited@a.example", "nope", NULL, NULL, NULL), 401);
    http_resp_t r;
    cr_assert_eq(s_call(&r, "GET", "/api/audit?limit=100", a.id, a.token, NULL), 200, "%s", r.body);
    json_t *j = http_json(&r);
    json_t *items = json_object_get(j, "items");
    int login = 0, failed = 0, created = 0, pwchange = 0;
    size_t i;
    json_t *it;
    json_array_foreach (items, i, it) {
        const char *action = json_string_value(json_object_get(it, "action"));
        cr_expect(json_is_string(json_object_get(it, "request_id")));
        cr_expect(json_is_string(json_object_get(it, "client")));
        cr_expect(json_is_string(json_object_get(it, "at")));
        login += strcmp(action, "auth.login") == 0;
        failed += strcmp(action, "auth.login_failed") == 0;
        pwchange += strcmp(action, "user.password_change") == 0;
        if (strcmp(action, "user.create") == 0 &&
            json_string_value(json_object_get(it, "target")) &&
            strcmp(json_string_value(json_object_get(it, "target")), uid) == 0) {
            created++;
            cr_expect(json_is_string(json_object_get(it, "actor_id")), "actor missing");
        }
    }
    cr_expect_geq(login, 2);
    cr_expect_eq(failed, 1);
    cr_expect_eq(created, 1);
    cr_expect_eq(pwchange, 1);
    json_decref(j);
    http_resp_clear(&r);
    /* Pages of one walk the same log. */
    cr_assert_eq(s_call(&r, "GET", "/api/audit?limit=1", a.id, a.token, NULL), 200);
    j = http_json(&r);
    cr_expect(json_is_string(json_object_get(j, "next_cursor")));
    char path[256];
    snprintf(path, sizeof path, "/api/audit?limit=1&cursor=%s",
             json_string_value(json_object_get(j, "next_cursor")));
    json_decref(j);
    http_resp_clear(&r);
    cr_expect_eq(s_status("GET", path, a.id, a.token, NULL), 200);
}

/* Opens a connection as the worker's serving login for `shard`. */
static PGconn *s_connect_as(const char *user)
{
    const char *keys[] = {"dbname", "user", NULL};
    const char *vals[] = {getenv("QUIZ_TEST_DATABASE_URL"), user, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    return c;
}

static const char *s_state(PGconn *c, const char *sql)
{
    static char state[8];
    PGresult *r = PQexec(c, sql);
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(state, sizeof state, "%s", PQresultStatus(r) == PGRES_TUPLES_OK ? "ok" : s ? s : "?");
    PQclear(r);
    return state;
}

Test(auth, postgres_refuses_cross_tenant_queries_under_the_worker_role)
{
    /* Two tenants on shard 0 and one on shard 1. */
    tenant_t t[3];
    int n0 = 0, have1 = 0;
    for (int i = 0; i < 30 && (n0 < 2 || !have1); i++) {
        tenant_t x;
        s_tenant(&x);
        if (x.shard == 0 && n0 < 2)
            t[n0++] = x;
        else if (x.shard == 1 && !have1) {
            t[2] = x;
            have1 = 1;
        }
    }
    cr_assert(n0 == 2 && have1);
    char s0a[IDENT_SCHEMA_LEN + 1], s0b[IDENT_SCHEMA_LEN + 1], s1[IDENT_SCHEMA_LEN + 1], sql[300];
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(t[0].id, 36, u), 0);
    ident_schema_name(u, s0a);
    cr_assert_eq(ident_uuid_parse(t[1].id, 36, u), 0);
    ident_schema_name(u, s0b);
    cr_assert_eq(ident_uuid_parse(t[2].id, 36, u), 0);
    ident_schema_name(u, s1);

    PGconn *c = s_connect_as("quiz_shard_0");
    /* Exactly the worker's transaction for tenant 0a, then a query naming another schema. */
    snprintf(sql, sizeof sql, "BEGIN; SET LOCAL ROLE %s; SET LOCAL search_path TO %s", s0a, s0a);
    PQclear(PQexec(c, sql));
    cr_expect_str_eq(s_state(c, "SELECT count(*) FROM users"), "ok", "own tenant readable");
    snprintf(sql, sizeof sql, "SELECT email FROM %s.users", s0b);
    cr_expect_str_eq(s_state(c, sql), "42501", "same-shard tenant readable under the tenant role");
    PQclear(PQexec(c, "ROLLBACK"));
    snprintf(sql, sizeof sql, "BEGIN; SET LOCAL ROLE %s", s0a);
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof sql, "SELECT email FROM %s.users", s1);
    cr_expect_str_eq(s_state(c, sql), "42501", "other shard's tenant readable");
    PQclear(PQexec(c, "ROLLBACK"));
    /* The shard login cannot even take another shard's tenant role, nor read its schema. */
    snprintf(sql, sizeof sql, "SET ROLE %s", s1);
    PGresult *r = PQexec(c, sql);
    cr_expect_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
    PQclear(r);
    snprintf(sql, sizeof sql, "SELECT email FROM %s.users", s1);
    cr_expect_str_eq(s_state(c, sql), "42501");
    /* Nor create schemas or roles: that is the provisioner's job. */
    r = PQexec(c, "CREATE ROLE sneaky");
    cr_expect_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
    PQclear(r);
    r = PQexec(c, "CREATE SCHEMA sneaky");
    cr_expect_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
    PQclear(r);
    PQfinish(c);
}

/* The gateway bounds the requests that hash a password in flight at once (--password-inflight):
 * one beyond it gets 503 with Retry-After at once instead of holding a thread, other requests
 * pass, and the slot is free again when the first is answered. The first login is held in
 * flight by a lock on its tenant's users table. */
static qstack_t L;

static void *s_login_thread(void *arg)
{
    const api_tenant_t *t = arg;
    return (void *)(intptr_t)api_login(&L, t->id, t->email, t->password, NULL, NULL, NULL);
}

static void s_limited_setup(void)
{
    static const char *const gateway_args[] = {"--password-inflight", "1", NULL};
    cr_assert_geq(sodium_init(), 0);
    cr_assert_eq(stack_start_with(&L, 1, gateway_args), 0, "stack did not start");
}

static void s_limited_teardown(void)
{
    cr_expect_eq(stack_stop(&L), 0, "a process did not exit cleanly");
}

Test(password_limit, a_password_request_beyond_the_gateways_limit_gets_503_at_once,
     .init = s_limited_setup, .fini = s_limited_teardown, .timeout = 120)
{
    api_tenant_t t;
    api_tenant(&L, &t);
    PGconn *lock = db_lock_users(t.id);
    pthread_t th;
    pthread_create(&th, NULL, s_login_thread, &t);
    db_wait_blocked(L.app);

    char body[256];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", t.email, t.password);
    http_resp_t r;
    cr_expect_eq(api_call(&L, &r, "POST", "/api/auth/login", t.id, NULL, body, NULL), 503);
    char retry[16] = "";
    cr_expect_eq(http_header(&r, "Retry-After", retry, sizeof retry), 0);
    cr_expect_str_eq(retry, "1");
    cr_expect(strstr(r.body, "/problems/busy") != NULL, "%s", r.body);
    http_resp_clear(&r);
    cr_expect_eq(api_status(&L, "GET", "/api/ping", t.id, NULL, NULL), 200,
                 "a request that hashes no password was refused");

    db_unlock(lock);
    void *first;
    pthread_join(th, &first);
    cr_expect_eq((long)(intptr_t)first, 200, "the login in flight failed");
    cr_expect_eq(api_login(&L, t.id, t.email, t.password, NULL, NULL, NULL), 200,
                 "the slot was not given back");
}
