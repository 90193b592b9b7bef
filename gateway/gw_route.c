/* Route table and matcher. Segment-wise comparison; no regex, no allocation. */
#include "gateway/gw_route.h"

#include <string.h>

#include "common/ident.h"

#define T GW_TENANT_HEADER
const gw_route_t gw_route_table[] = {
    {"GET", "/api/ping", PROTO_OP_PING, GW_SCOPE_TENANT, T, 0},
    {"POST", "/api/tenants", PROTO_OP_TENANT_CREATE, GW_SCOPE_PLATFORM, GW_TENANT_NEW, 0},
    {"GET", "/api/tenants", PROTO_OP_TENANT_LIST, GW_SCOPE_PLATFORM, GW_TENANT_NONE, 0},
    {"GET", "/api/tenants/{}", PROTO_OP_TENANT_GET, GW_SCOPE_PLATFORM, GW_TENANT_PARAM, 0},
    {"DELETE", "/api/tenants/{}", PROTO_OP_TENANT_DELETE, GW_SCOPE_PLATFORM, GW_TENANT_PARAM, 0},
    {"GET", "/api/tenants/{}/stats", PROTO_OP_TENANT_STATS, GW_SCOPE_PLATFORM, GW_TENANT_PARAM, 0},
    {"POST", "/api/tenants/{}/users", PROTO_OP_TENANT_USER_CREATE, GW_SCOPE_PLATFORM,
     GW_TENANT_PARAM, 0},
    {"POST", "/api/tenants/{}/move", PROTO_OP_TENANT_MOVE, GW_SCOPE_PLATFORM, GW_TENANT_PARAM, 0},
    {"POST", "/api/tenants/{}/suspend", PROTO_OP_TENANT_SUSPEND, GW_SCOPE_PLATFORM, GW_TENANT_PARAM,
     0},
    {"POST", "/api/tenants/{}/resume", PROTO_OP_TENANT_RESUME, GW_SCOPE_PLATFORM, GW_TENANT_PARAM,
     0},
    {"POST", "/api/tenants/{}/restore", PROTO_OP_TENANT_RESTORE, GW_SCOPE_PLATFORM, GW_TENANT_PARAM,
     0},
    {"PUT", "/api/tenants/{}/rate", PROTO_OP_TENANT_RATE_SET, GW_SCOPE_PLATFORM, GW_TENANT_PARAM,
     0},
    {"GET", "/api/operations", PROTO_OP_OPERATION_LIST, GW_SCOPE_PLATFORM, GW_TENANT_NONE, 0},
    {"GET", "/api/operations/{}", PROTO_OP_OPERATION_GET, GW_SCOPE_PLATFORM, GW_TENANT_NONE, 0},
    {"GET", "/api/shards", PROTO_OP_SHARD_LIST, GW_SCOPE_PLATFORM, GW_TENANT_NONE,
     GW_ROUTE_SHARD_HEALTH},
    {"POST", "/api/shards/rebalance", PROTO_OP_SHARD_REBALANCE, GW_SCOPE_PLATFORM, GW_TENANT_NONE,
     0},
    {"POST", "/api/auth/login", PROTO_OP_AUTH_LOGIN, GW_SCOPE_TENANT, T, GW_ROUTE_LOGIN},
    {"POST", "/api/auth/refresh", PROTO_OP_AUTH_REFRESH, GW_SCOPE_TENANT, T, 0},
    {"POST", "/api/auth/logout", PROTO_OP_AUTH_LOGOUT, GW_SCOPE_USER, T, GW_ROUTE_PCR_OK},
    /* "me" before "{}": the first matching row wins. */
    {"GET", "/api/users/me", PROTO_OP_USER_ME, GW_SCOPE_USER, T, GW_ROUTE_PCR_OK},
    {"POST", "/api/users/me/password", PROTO_OP_USER_PASSWORD, GW_SCOPE_USER, T, GW_ROUTE_PCR_OK},
    {"GET", "/api/users", PROTO_OP_USER_LIST, GW_SCOPE_USER, T, 0},
    {"POST", "/api/users", PROTO_OP_USER_CREATE, GW_SCOPE_ADMIN, T, 0},
    {"GET", "/api/users/{}", PROTO_OP_USER_GET, GW_SCOPE_USER, T, 0},
    {"PATCH", "/api/users/{}", PROTO_OP_USER_UPDATE, GW_SCOPE_ADMIN, T, 0},
    {"DELETE", "/api/users/{}", PROTO_OP_USER_DELETE, GW_SCOPE_ADMIN, T, 0},
    {"GET", "/api/audit", PROTO_OP_AUDIT_LIST, GW_SCOPE_ADMIN, T, 0},
    {"GET", "/api/quizzes", PROTO_OP_QUIZ_LIST, GW_SCOPE_USER, T, 0},
    {"POST", "/api/quizzes", PROTO_OP_QUIZ_CREATE, GW_SCOPE_USER, T, 0},
    {"GET", "/api/quizzes/{}", PROTO_OP_QUIZ_GET, GW_SCOPE_USER, T, 0},
    {"PATCH", "/api/quizzes/{}", PROTO_OP_QUIZ_UPDATE, GW_SCOPE_USER, T, 0},
    {"DELETE", "/api/quizzes/{}", PROTO_OP_QUIZ_DELETE, GW_SCOPE_USER, T, 0},
    {"GET", "/api/quizzes/{}/stats", PROTO_OP_QUIZ_STATS, GW_SCOPE_USER, T, 0},
    /* "order" before "{}", as with "me" above. */
    {"POST", "/api/quizzes/{}/questions/order", PROTO_OP_QUESTION_REORDER, GW_SCOPE_USER, T, 0},
    {"POST", "/api/quizzes/{}/questions", PROTO_OP_QUESTION_CREATE, GW_SCOPE_USER, T, 0},
    {"PATCH", "/api/quizzes/{}/questions/{}", PROTO_OP_QUESTION_UPDATE, GW_SCOPE_USER, T, 0},
    {"DELETE", "/api/quizzes/{}/questions/{}", PROTO_OP_QUESTION_DELETE, GW_SCOPE_USER, T, 0},
    {"POST", "/api/quizzes/{}/attempts", PROTO_OP_ATTEMPT_CREATE, GW_SCOPE_USER, T, 0},
    {"GET", "/api/quizzes/{}/attempts", PROTO_OP_ATTEMPT_LIST, GW_SCOPE_USER, T, 0},
    {"GET", "/api/attempts/{}", PROTO_OP_ATTEMPT_GET, GW_SCOPE_USER, T, 0},
    {NULL, NULL, 0, 0, 0, 0},
};
#undef T

/* Next segment of *p (after a '/'), returned as [start, len); advances *p. */
static const char *s_segment(const char **p, size_t *len)
{
    const char *s = *p;
    if (*s != '/')
        return NULL;
    s++;
    const char *e = strchr(s, '/');
    *len = e ? (size_t)(e - s) : strlen(s);
    *p = s + *len;
    return s;
}

/* 1 = match, 0 = no match, -1 = shape matches but a parameter is not a UUID. */
static int s_match(const char *pattern, const char *path, size_t path_len, gw_match_t *m)
{
    const char *p = pattern, *q = path, *end = path + path_len;
    int bad_id = 0;
    m->nparams = 0;
    while (*p && q < end) {
        size_t plen = 0, qlen = 0;
        const char *ps = s_segment(&p, &plen), *qs = s_segment(&q, &qlen);
        if (!ps || !qs || q > end)
            return 0;
        if (plen == 2 && memcmp(ps, "{}", 2) == 0) {
            if (m->nparams == PROTO_MAX_PARAMS || qlen == 0)
                return 0;
            if (ident_uuid_parse(qs, qlen, m->params[m->nparams++]) < 0)
                bad_id = 1;
        } else if (plen != qlen || memcmp(ps, qs, plen) != 0) {
            return 0;
        }
    }
    if (*p || q != end)
        return 0;
    return bad_id ? -1 : 1;
}

gw_route_result_t gw_route_match(const char *method, const char *path, gw_match_t *m)
{
    size_t len = strlen(path);
    if (len > 1 && path[len - 1] == '/')
        len--; /* "/api/tenants/" and "/api/tenants" are the same resource */
    gw_route_result_t result = GW_ROUTE_NOT_FOUND;
    for (const gw_route_t *r = gw_route_table; r->method; r++) {
        int hit = s_match(r->pattern, path, len, m);
        if (hit == 0)
            continue;
        if (strcmp(r->method, method) != 0) {
            if (result == GW_ROUTE_NOT_FOUND)
                result = GW_ROUTE_BAD_METHOD;
            continue;
        }
        if (hit < 0)
            return GW_ROUTE_BAD_ID;
        m->route = r;
        return GW_ROUTE_OK;
    }
    return result;
}
