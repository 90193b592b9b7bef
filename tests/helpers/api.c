/* Tenant-scope helpers for integration tests (see api.h). */
#include "tests/helpers/api.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

long api_call(const qstack_t *s, http_resp_t *r, const char *method, const char *path,
              const char *tenant, const char *token, const char *body, const char *extra)
{
    char url[512], th[80], ah[1100];
    http_url(url, sizeof url, s->url, "%s", path);
    snprintf(th, sizeof th, "X-Tenant-ID: %s", tenant);
    snprintf(ah, sizeof ah, "Authorization: Bearer %s", token ? token : "");
    const char *h[4] = {th, NULL, NULL, NULL};
    int n = 1;
    if (token)
        h[n++] = ah;
    if (extra)
        h[n++] = extra;
    return http_do(r, method, url, body, h);
}

long api_status(const qstack_t *s, const char *method, const char *path, const char *tenant,
                const char *token, const char *body)
{
    http_resp_t r;
    long st = api_call(s, &r, method, path, tenant, token, body, NULL);
    http_resp_clear(&r);
    return st;
}

void api_field(const http_resp_t *r, const char *name, char *out, size_t len)
{
    json_t *j = http_json(r);
    const char *v = json_string_value(json_object_get(j, name));
    snprintf(out, len, "%s", v ? v : "");
    json_decref(j);
}

json_int_t api_tenant_stat(const qstack_t *s, const char *tenant, const char *key)
{
    char url[256];
    const char *headers[] = {s->auth, NULL};
    http_url(url, sizeof url, s->url, "/api/tenants/%s/stats", tenant);
    http_resp_t r;
    cr_assert_eq(http_do(&r, "GET", url, NULL, headers), 200, "stats: %s", r.body);
    json_t *j = http_json(&r);
    json_int_t v = json_integer_value(json_object_get(j, key));
    json_decref(j);
    http_resp_clear(&r);
    return v;
}

long api_login(const qstack_t *s, const char *tenant, const char *email, const char *password,
               char *token, char *refresh, int *pcr)
{
    char body[300];
    snprintf(body, sizeof body, "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
    http_resp_t r;
    long st = api_call(s, &r, "POST", "/api/auth/login", tenant, NULL, body, NULL);
    if (st == 200) {
        json_t *j = http_json(&r);
        cr_assert_not_null(j);
        cr_expect_str_eq(json_string_value(json_object_get(j, "token_type")), "Bearer");
        cr_expect_eq(json_integer_value(json_object_get(j, "expires_in")), 900);
        if (token)
            snprintf(token, 1024, "%s", json_string_value(json_object_get(j, "access_token")));
        if (refresh)
            snprintf(refresh, 128, "%s", json_string_value(json_object_get(j, "refresh_token")));
        if (pcr)
            *pcr = json_is_true(json_object_get(j, "password_change_required"));
        json_decref(j);
    }
    http_resp_clear(&r);
    return st;
}

void api_tenant(const qstack_t *s, api_tenant_t *t)
{
    memset(t, 0, sizeof *t);
    char url[256], body[256], temp[64], tmp_token[1024];
    http_url(url, sizeof url, s->url, "/api/tenants/");
    snprintf(t->email, sizeof t->email, "admin%u@org.example", randombytes_random());
    snprintf(body, sizeof body, "{\"tenant_name\":\"Org\",\"owner_email\":\"%s\"}", t->email);
    const char *h[] = {s->auth, NULL};
    http_resp_t r;
    cr_assert_eq(http_do(&r, "POST", url, body, h), 201, "%s", r.body);
    json_t *j = http_json(&r);
    snprintf(t->id, sizeof t->id, "%s", json_string_value(json_object_get(j, "tenant_id")));
    snprintf(temp, sizeof temp, "%s", json_string_value(json_object_get(j, "temp_password")));
    t->shard = (int)json_integer_value(json_object_get(j, "shard"));
    json_decref(j);
    http_resp_clear(&r);
    int pcr = 0;
    cr_assert_eq(api_login(s, t->id, t->email, temp, tmp_token, NULL, &pcr), 200);
    cr_expect(pcr, "a temporary password must be changed");
    snprintf(t->password, sizeof t->password, "pw-%u-long-enough", randombytes_random());
    snprintf(body, sizeof body, "{\"current_password\":\"%s\",\"new_password\":\"%s\"}", temp,
             t->password);
    cr_assert_eq(api_status(s, "POST", "/api/users/me/password", t->id, tmp_token, body), 204);
    cr_assert_eq(api_login(s, t->id, t->email, t->password, t->token, t->refresh, &pcr), 200);
    cr_expect_not(pcr);
}

void api_user(const qstack_t *s, const api_tenant_t *t, const char *email, const char *role,
              char *id, char *token)
{
    char body[256];
    snprintf(
        body, sizeof body,
        "{\"email\":\"%s\",\"username\":\"u\",\"password\":\"member-password\",\"role\":\"%s\"}",
        email, role);
    http_resp_t r;
    cr_assert_eq(api_call(s, &r, "POST", "/api/users", t->id, t->token, body, NULL), 201, "%s",
                 r.body);
    api_field(&r, "id", id, 37);
    http_resp_clear(&r);
    if (token)
        cr_assert_eq(api_login(s, t->id, email, "member-password", token, NULL, NULL), 200);
}
