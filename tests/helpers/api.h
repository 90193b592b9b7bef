/* Tenant-scope API calls for integration tests: one request with X-Tenant-ID and a token, and
 * the set-up every test needs (a tenant whose admin has logged in and changed the temporary
 * password; users with their own tokens). Assertions inside fail the calling test. */
#ifndef TESTS_HELPERS_API_H
#define TESTS_HELPERS_API_H

#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

typedef struct {
    char id[37];       /* tenant id */
    char email[80];    /* admin email */
    char password[80]; /* admin password after the change */
    int shard;
    char token[1024];  /* admin access token */
    char refresh[128]; /* admin refresh token */
} api_tenant_t;

/* METHOD path in tenant scope; token and extra header line ("Name: value") may be NULL.
 * Returns the status; *r is the caller's to clear. */
long api_call(const qstack_t *s, http_resp_t *r, const char *method, const char *path,
              const char *tenant, const char *token, const char *body, const char *extra);
/* The same, keeping only the status. */
long api_status(const qstack_t *s, const char *method, const char *path, const char *tenant,
                const char *token, const char *body);
/* POST /api/auth/login; on 200 copies the access token (1024 bytes), refresh token (128) and
 * password_change_required flag to the non-NULL outputs. Returns the status. */
long api_login(const qstack_t *s, const char *tenant, const char *email, const char *password,
               char *token, char *refresh, int *pcr);
/* Creates a tenant and makes its admin usable (first login, password change, login). */
void api_tenant(const qstack_t *s, api_tenant_t *t);
/* The admin creates a user (password "member-password"); writes its id (37 bytes) and, if
 * token is not NULL, logs it in (1024 bytes). */
void api_user(const qstack_t *s, const api_tenant_t *t, const char *email, const char *role,
              char *id, char *token);
/* GET /api/tenants/{tenant}/stats with the platform token, asserting 200: the body's integer
 * member key. */
json_int_t api_tenant_stat(const qstack_t *s, const char *tenant, const char *key);
/* A string member of the JSON body copied into out, or "" if absent. */
void api_field(const http_resp_t *r, const char *name, char *out, size_t len);

#endif
