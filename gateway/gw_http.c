/* HTTP request driver. A request in a few steps, all on the civetweb thread that accepted it:
 *   route (gw_route) -> authenticate (gw_auth) -> read body and query -> envelope (proto)
 *   -> gw_shard_call over the shard's shared socket -> status table -> JSON or problem+json.
 * Nothing here knows SQL or business rules; it only knows HTTP, limits and routing. */
#include "gateway/gw_http.h"

#include <civetweb.h>
#include <jansson.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/ident.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/shard.h"
#include "gateway/gw_assets.h"
#include "gateway/gw_metrics.h"
#include "gateway/gw_samples.h"
#include "gateway/gw_openapi.h"
#include "gateway/gw_route.h"

struct gw_http {
    gw_http_config_t cfg;   /* copy of the configuration */
    struct mg_context *ctx; /* civetweb server */
    atomic_uint rr;         /* round-robin counter for platform-wide calls */
    atomic_int hashing;     /* requests that hash a password, in flight */
    /* The limits a reload may change (cfg holds their first values). */
    atomic_int password_inflight;
    atomic_size_t max_body;
    /* When each civetweb thread took its current request (clock_mono_us()/1000; 0: idle),
       for the watchdog (gw_http_oldest_ms); a thread takes its slot at its first request. */
    struct busy {
        atomic_ullong since_ms;
        char pad[56]; /* a cache line each: threads do not share one to write */
    } * busy;
    int nslots;
    atomic_int next_slot;
};

/* One proto status -> one HTTP status: the gateway's only translation point. */
static const int s_http_status[PROTO_STATUS__COUNT] = {
    [PROTO_STATUS_OK] = 200,
    [PROTO_STATUS_CREATED] = 201,
    [PROTO_STATUS_NO_CONTENT] = 204,
    [PROTO_STATUS_BAD_REQUEST] = 400,
    [PROTO_STATUS_UNAUTHORIZED] = 401,
    [PROTO_STATUS_FORBIDDEN] = 403,
    [PROTO_STATUS_NOT_FOUND] = 404,
    [PROTO_STATUS_CONFLICT] = 409,
    [PROTO_STATUS_TOO_LARGE] = 413,
    [PROTO_STATUS_RATE_LIMITED] = 429,
    [PROTO_STATUS_UNAVAILABLE] = 503,
    [PROTO_STATUS_TIMEOUT] = 504,
    [PROTO_STATUS_MISROUTED] = 503,
    [PROTO_STATUS_INTERNAL] = 500,
    [PROTO_STATUS_PRECONDITION_FAILED] = 412,
    [PROTO_STATUS_UNPROCESSABLE] = 422,
    [PROTO_STATUS_ACCEPTED] = 202,
    [PROTO_STATUS_NOT_MODIFIED] = 304,
    [PROTO_STATUS_TENANT_SUSPENDED] = 403,
};

/* Writes a complete response in one write: one syscall and one TCP segment for the common small
 * reply, instead of headers and body apart. extra_headers is "" or lines ending in \r\n. A
 * reply with an ETag may be kept by the client but is revalidated on every use (If-None-Match,
 * 304), so it is never shown stale; anything else is not to be stored. A 304 has no content. */
/* The request this thread is answering, counted in /metrics and its busy slot released just
 * before its answer is written: a client that has the answer finds it counted. */
static _Thread_local struct {
    gw_http_t *http; /* NULL outside a request */
    int slot;        /* its metrics labels (gw_metrics.h) */
    const char *method;
    uint64_t start_us, took_us;
    bool answered;
    int shard;        /* the shard that answered it (-1: none), for its log line */
    size_t rate_slot; /* its tenant's in the tenant limiter, SIZE_MAX: not counted */
} s_current;

static _Thread_local int s_thread_slot = -1;

static void s_answered(int status)
{
    if (!s_current.http || s_current.answered)
        return;
    s_current.answered = true;
    s_current.took_us = clock_now_us() - s_current.start_us;
    gw_metrics_request(s_current.slot, s_current.method, status, s_current.took_us);
    gw_http_t *http = s_current.http;
    if (s_thread_slot < http->nslots)
        atomic_store_explicit(&http->busy[s_thread_slot].since_ms, 0, memory_order_relaxed);
}

static int s_send(struct mg_connection *conn, int status, const char *type, const char *body,
                  size_t len, const char *rid, const char *extra_headers)
{
    s_answered(status);
    static const char fmt[] = "HTTP/1.1 %d %s\r\n%sX-Request-ID: %s\r\nCache-Control: %s\r\n%s\r\n";
    const char *text = mg_get_response_code_text(conn, status);
    char content[160] = "";
    if (status != 304)
        snprintf(content, sizeof content, "Content-Type: %s\r\nContent-Length: %zu\r\n", type, len);
    const char *cache = strstr(extra_headers, "ETag: ") ? "private, no-cache" : "no-store";
    int hlen = snprintf(NULL, 0, fmt, status, text, content, rid, cache, extra_headers);
    char *out = mem_alloc((size_t)hlen + 1 + len);
    snprintf(out, (size_t)hlen + 1, fmt, status, text, content, rid, cache, extra_headers);
    if (len)
        memcpy(out + hlen, body, len);
    mg_write(conn, out, (size_t)hlen + len);
    free(out);
    return status;
}

static int s_send_json(struct mg_connection *conn, int status, const char *body, size_t len,
                       const char *rid)
{
    return s_send(conn, status, "application/json", body, len, rid, "");
}

/* application/problem+json (RFC 9457) with the request id, so a client can quote it. */
static int s_problem(struct mg_connection *conn, int status, const char *type, const char *detail,
                     const char *rid, const char *extra_headers)
{
    /* Every 503 and 504 says when to try again, whoever refused: a client that retries at
       once only adds to what made the shard slow or absent. */
    char with_retry[640];
    if ((status == 503 || status == 504) && !strstr(extra_headers, "Retry-After:")) {
        snprintf(with_retry, sizeof with_retry, "%sRetry-After: 1\r\n", extra_headers);
        extra_headers = with_retry;
    }
    json_t *doc = json_pack("{s:s+, s:s, s:i, s:s, s:s}", "type", "/problems/", type, "title",
                            mg_get_response_code_text(conn, status), "status", status, "detail",
                            detail ? detail : "", "request_id", rid);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    s_send(conn, status, "application/problem+json", text ? text : "{}", text ? strlen(text) : 2,
           rid, extra_headers);
    free(text);
    return status;
}

/* Reads the body (at most max bytes). 0, or the HTTP status to answer (413/400). */
static int s_read_body(struct mg_connection *conn, size_t max, proto_request_t *req)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (ri->content_length > (long long)max)
        return 413;
    size_t cap = ri->content_length >= 0 ? (size_t)ri->content_length : 4096, len = 0;
    char *buf = mem_alloc(cap + 1);
    for (;;) {
        if (len == cap) {
            if (ri->content_length >= 0 || cap > max)
                break;
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2; /* chunked: grow to max + 1 at most */
            buf = mem_realloc(buf, cap + 1);
        }
        int n = mg_read(conn, buf + len, cap - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (len > max) {
        free(buf);
        return 413;
    }
    buf[len] = '\0';
    req->body = buf;
    req->body_len = len;
    return 0;
}

/* Splits the query string into decoded pairs. 0, or -1 if there are too many or too long. */
static int s_read_query(const char *qs, proto_request_t *req)
{
    if (!qs || !*qs)
        return 0;
    char *copy = mem_strdup(qs), *save = NULL;
    int rc = 0;
    for (char *pair = strtok_r(copy, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        if (req->nquery == PROTO_MAX_QUERY || strlen(pair) > 2 * PROTO_MAX_QUERY_LEN) {
            rc = -1;
            break;
        }
        char *eq = strchr(pair, '=');
        const char *raw_val = eq ? eq + 1 : "";
        if (eq)
            *eq = '\0';
        char key[PROTO_MAX_QUERY_LEN + 1], val[PROTO_MAX_QUERY_LEN + 1];
        int kl = mg_url_decode(pair, (int)strlen(pair), key, sizeof key, 1);
        int vl = mg_url_decode(raw_val, (int)strlen(raw_val), val, sizeof val, 1);
        if (kl < 0 || vl < 0 || strlen(key) != (size_t)kl || strlen(val) != (size_t)vl) {
            rc = -1; /* too long, or a decoded NUL */
            break;
        }
        req->query[req->nquery].key = mem_strdup(key);
        req->query[req->nquery].value = mem_strdup(val);
        req->nquery++;
    }
    free(copy);
    return rc;
}

/* Header lines from the worker's reply, limited to the few the gateway passes on: a worker
 * never sets arbitrary response headers. */
static void s_reply_headers(const proto_reply_t *rep, char *out, size_t len)
{
    static const char *const allowed[] = {"Retry-After", "ETag", "Location"};
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < rep->nheaders; i++)
        for (size_t a = 0; a < sizeof allowed / sizeof allowed[0]; a++)
            if (strcmp(rep->headers[i].key, allowed[a]) == 0 &&
                !strpbrk(rep->headers[i].value, "\r\n") && n < len)
                n += (size_t)snprintf(out + n, len - n, "%s: %s\r\n", allowed[a],
                                      rep->headers[i].value);
    if (n >= len)
        out[0] = '\0';
}

/* Whether a shard answers a ping within a second. */
static bool s_shard_up(struct mg_connection *conn, int shard)
{
    proto_request_t req = {.op = PROTO_OP_PING, .deadline_ms = clock_now_ms() + 1000};
    randombytes_buf(req.request_id, 16);
    proto_reply_t rep;
    gw_call_t outcome = gw_shard_call(mg_get_thread_pointer(conn), shard, &req, &rep);
    bool up = outcome == GW_CALL_OK && rep.status == PROTO_STATUS_OK;
    if (outcome == GW_CALL_OK)
        proto_reply_clear(&rep);
    return up;
}

/* GET /api/shards: the worker knows the registry, the gateway who answers; adds "up" to each
 * item of the reply's body. */
static void s_add_shard_health(struct mg_connection *conn, gw_http_t *http, proto_reply_t *rep)
{
    json_t *doc = rep->body ? json_loadb(rep->body, rep->body_len, 0, NULL) : NULL;
    size_t i;
    json_t *item;
    json_array_foreach (json_object_get(doc, "items"), i, item) {
        json_int_t shard = json_integer_value(json_object_get(item, "shard"));
        bool up =
            shard >= 0 && shard < gw_shards_count(http->cfg.shards) && s_shard_up(conn, (int)shard);
        json_object_set_new(item, "up", json_boolean(up));
    }
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return;
    free(rep->body);
    rep->body = text;
    rep->body_len = strlen(text);
}

/* Redirects followed for one request: a tenant moved twice while we asked. */
#define REDIRECTS_MAX 3

/* The owner a MISROUTED reply names (see worker/wk_placement.h), learned. -1 without one. */
static int s_redirect(gw_http_t *http, const proto_request_t *req, const proto_reply_t *rep)
{
    long shard = -1;
    unsigned long long epoch = 0;
    for (int i = 0; i < rep->nheaders; i++) {
        char *end;
        if (strcmp(rep->headers[i].key, "Quiz-Shard") == 0)
            shard = strtol(rep->headers[i].value, &end, 10);
        else if (strcmp(rep->headers[i].key, "Quiz-Epoch") == 0)
            epoch = strtoull(rep->headers[i].value, &end, 10);
    }
    if (!req->has_tenant || shard < 0 || shard >= gw_shards_count(http->cfg.shards) || !epoch)
        return -1;
    gw_placement_learn(http->cfg.placement, req->tenant, (int)shard, epoch);
    return (int)shard;
}

/* A tenant's own rate, as its worker names it in answers to the tenant's callers (worker/
 * wk_rate.h): the limiter holds the tenant to it from the next request; without it, to the
 * default. */
static void s_learn_rate(gw_http_t *http, const proto_request_t *req, const proto_reply_t *rep)
{
    if (s_current.rate_slot == SIZE_MAX || req->op == PROTO_OP_TENANT_CREATE)
        return;
    long rate = -1;
    for (int i = 0; i < rep->nheaders; i++)
        if (strcmp(rep->headers[i].key, PROTO_TENANT_RATE_HEADER) == 0) {
            char *end;
            rate = strtol(rep->headers[i].value, &end, 10);
            if (*end || rate < 0 || rate > PROTO_TENANT_RATE_MAX)
                rate = -1;
        }
    gw_limit_set_slot_rate(http->cfg.tenant_limit, s_current.rate_slot, rate);
}

/* Sends one request to a shard, following redirects to the tenant's owner, and answers the
 * client with the worker's reply. `slot` (or NULL), a count of requests in flight, is given back
 * as soon as the worker has answered: before the client reads the answer, so its next request
 * never finds the slot still taken. */
static int s_forward(struct mg_connection *conn, gw_http_t *http, proto_request_t *req, int shard,
                     unsigned flags, const char *rid, atomic_int *slot)
{
    gw_shard_link_t *link = mg_get_thread_pointer(conn);
    proto_reply_t rep;
    gw_call_t outcome;
    for (int hops = 0;; hops++) {
        uint64_t sent = clock_now_us();
        outcome = gw_shard_call(link, shard, req, &rep);
        gw_metrics_call(shard, outcome, clock_now_us() - sent);
        int owner =
            outcome == GW_CALL_OK && rep.status == PROTO_STATUS_MISROUTED && hops < REDIRECTS_MAX
                ? s_redirect(http, req, &rep)
                : -1;
        if (owner < 0)
            break;
        gw_metrics_redirect();
        proto_reply_clear(&rep);
        shard = owner;
    }
    if (slot)
        atomic_fetch_sub(slot, 1);
    s_current.shard = shard;
    if (req->has_tenant && req->op != PROTO_OP_TENANT_CREATE) /* that id is only a proposal */
        gw_samples_tenant(req->tenant);
    log_req_t lr = {req->request_id, req->has_tenant ? req->tenant : NULL, shard};
    if (outcome == GW_CALL_UNAVAILABLE) {
        log_req_warning(&lr, "%s: no worker connected", proto_op_str(req->op));
        return s_problem(conn, 503, "shard_unavailable", "no worker of this shard is reachable",
                         rid, "Retry-After: 1\r\n");
    }
    if (outcome == GW_CALL_TIMEOUT) {
        log_req_warning(&lr, "%s: deadline passed", proto_op_str(req->op));
        return s_problem(conn, 504, "deadline_exceeded", "the shard did not answer in time", rid,
                         "");
    }
    int status = s_http_status[rep.status];
    if (status < 400)
        s_learn_rate(http, req, &rep);
    if (status == 200 && (flags & GW_ROUTE_SHARD_HEALTH))
        s_add_shard_health(conn, http, &rep);
    char extra[512];
    s_reply_headers(&rep, extra, sizeof extra);
    if (status >= 400)
        s_problem(conn, status, proto_status_str(rep.status), rep.detail, rid, extra);
    else if (status == 204 || status == 304)
        s_send(conn, status, "application/json", NULL, 0, rid, extra);
    else
        s_send(conn, status, "application/json", rep.body ? rep.body : "{}",
               rep.body ? rep.body_len : 2, rid, extra);
    if (status >= 500)
        log_req_warning(&lr, "%s: %s", proto_op_str(req->op), rep.detail ? rep.detail : "");
    proto_reply_clear(&rep);
    return status;
}

/* Readiness: every shard must answer a ping within a second. */
static int s_readyz(struct mg_connection *conn, gw_http_t *http, const char *rid)
{
    int n = gw_shards_count(http->cfg.shards);
    json_t *shards = json_array();
    bool all = true;
    for (int s = 0; s < n; s++) {
        bool up = s_shard_up(conn, s);
        all = all && up;
        json_array_append_new(shards, json_pack("{s:i, s:b}", "shard", s, "ready", up));
    }
    json_t *doc = json_pack("{s:b, s:o}", "ready", all, "shards", shards);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    int status = s_send_json(conn, all ? 200 : 503, text, strlen(text), rid);
    free(text);
    return status;
}

/* Checks a user's access token for a USER/ADMIN route and puts the caller into the envelope.
 * 0 when the request may go on, else the HTTP status already answered. */
static int s_authenticate(struct mg_connection *conn, gw_http_t *http, const gw_route_t *route,
                          proto_request_t *req, const char *rid)
{
    jwt_claims_t claims;
    const char *authorization = mg_get_header(conn, "Authorization");
    switch (gw_auth_user(http->cfg.auth, authorization, req->tenant, &claims)) {
    case GW_AUTH_MISSING:
        return s_problem(conn, 401, "unauthorized", "an access token is required", rid,
                         "WWW-Authenticate: Bearer\r\n");
    case GW_AUTH_INVALID:
        return s_problem(conn, 401, "invalid_token", "the access token is invalid or expired", rid,
                         "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n");
    case GW_AUTH_WRONG_TENANT:
        return s_problem(conn, 403, "wrong_tenant", "the access token belongs to another tenant",
                         rid, "");
    case GW_AUTH_OK: break;
    }
    if (claims.pwd_change && !(route->flags & GW_ROUTE_PCR_OK))
        return s_problem(conn, 403, "password_change_required",
                         "change the temporary password (POST /api/users/me/password) first", rid,
                         "");
    if (route->scope == GW_SCOPE_ADMIN && !claims.admin)
        return s_problem(conn, 403, "forbidden", "this operation needs the admin role", rid, "");
    req->role = claims.admin ? PROTO_ROLE_ADMIN : PROTO_ROLE_MEMBER;
    req->has_user = true;
    memcpy(req->user_id, claims.user, 16);
    req->credential = mem_strdup(gw_auth_bearer(authorization)); /* the worker checks it too */
    return 0;
}

static int s_healthz(struct mg_connection *conn, gw_http_t *http, const char *rid)
{
    return s_send_json(conn, 200, "{\"status\":\"ok\"}", 15, rid);
}

static int s_openapi(struct mg_connection *conn, gw_http_t *http, const char *rid)
{
    return s_send(conn, 200, "application/json", gw_openapi_json, strlen(gw_openapi_json), rid, "");
}

/* The dashboard's charts (gw_samples.h); the platform's, like the API it sits beside. */
static int s_samples(struct mg_connection *conn, gw_http_t *http, const char *rid)
{
    if (!gw_auth_is_platform(http->cfg.auth, mg_get_header(conn, "Authorization")))
        return s_problem(conn, 401, "unauthorized", "a valid platform token is required", rid,
                         "WWW-Authenticate: Bearer\r\n");
    char *text = gw_samples_json();
    int status = s_send_json(conn, 200, text, strlen(text), rid);
    free(text);
    return status;
}

static int s_metrics(struct mg_connection *conn, gw_http_t *http, const char *rid)
{
    char *text = gw_metrics_render(gw_shards_count(http->cfg.shards));
    s_send(conn, 200, "text/plain; version=0.0.4", text, strlen(text), rid, "");
    free(text);
    return 200;
}

/* A file of the dashboard or the API reference (gw_assets.h). Their pages may only load what
 * this gateway serves and talk to it alone; an unchanged file is a 304. */
static int s_asset(struct mg_connection *conn, const gw_asset_t *a, const char *rid)
{
    const char *etag = gw_asset_etag(a);
    const char *match = mg_get_header(conn, "If-None-Match");
    char extra[600];
    snprintf(extra, sizeof extra,
             "ETag: %s\r\nContent-Security-Policy: default-src 'self'; img-src 'self' data:;"
             " style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self';"
             " frame-ancestors 'none'; base-uri 'none'; form-action 'self'\r\n"
             "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n",
             etag);
    if (match && strcmp(match, etag) == 0)
        return s_send(conn, 304, a->type, NULL, 0, rid, extra);
    return s_send(conn, 200, a->type, a->start, (size_t)(a->end - a->start), rid, extra);
}

/* What the gateway answers itself (GET only, no authentication), before the route table. */
static const struct {
    const char *path;
    const char *name; /* its route label in /metrics */
    int (*fn)(struct mg_connection *conn, gw_http_t *http, const char *rid);
} s_local[] = {
    {"/healthz", "healthz", s_healthz},
    {"/readyz", "readyz", s_readyz},
    {"/api/openapi.json", "openapi", s_openapi},
    {"/metrics", "metrics", s_metrics},
    {"/api/gateway/samples", "gateway_samples", s_samples},
};
#define LOCAL_COUNT (int)(sizeof s_local / sizeof s_local[0])

/* The route of the request, or the 404/405/400 already answered (then 0 < return). */
static int s_route(struct mg_connection *conn, const char *method, const char *path, gw_match_t *m,
                   const char *rid)
{
    switch (gw_route_match(method, path, m)) {
    case GW_ROUTE_NOT_FOUND: return s_problem(conn, 404, "not_found", "no such endpoint", rid, "");
    case GW_ROUTE_BAD_METHOD:
        return s_problem(conn, 405, "method_not_allowed", "method not allowed here", rid, "");
    case GW_ROUTE_BAD_ID:
        return s_problem(conn, 400, "bad_request", "path id is not a UUID", rid, "");
    case GW_ROUTE_OK: break;
    }
    return 0;
}

/* Who may make this call for which tenant: the platform token, the tenant (new, from the path
 * or from X-Tenant-ID) and the user's token. 0 to go on, else the status answered. */
static int s_admit(struct mg_connection *conn, gw_http_t *http, const gw_match_t *m,
                   proto_request_t *req, const char *rid)
{
    const gw_route_t *route = m->route;
    if (route->scope == GW_SCOPE_PLATFORM) {
        const char *authorization = mg_get_header(conn, "Authorization");
        if (!gw_auth_is_platform(http->cfg.auth, authorization))
            return s_problem(conn, 401, "unauthorized", "a valid platform token is required", rid,
                             "WWW-Authenticate: Bearer\r\n");
        req->role = PROTO_ROLE_PLATFORM;
        req->credential = mem_strdup(gw_auth_bearer(authorization)); /* the worker checks it too */
    }
    switch (route->tenant) {
    case GW_TENANT_NONE: break;
    case GW_TENANT_NEW:
        ident_uuid_random(req->tenant);
        req->has_tenant = true;
        break;
    case GW_TENANT_PARAM:
        memcpy(req->tenant, m->params[0], 16);
        req->has_tenant = true;
        break;
    case GW_TENANT_HEADER: {
        const char *h = mg_get_header(conn, "X-Tenant-ID");
        if (!h)
            return s_problem(conn, 400, "bad_request", "X-Tenant-ID header is required", rid, "");
        if (ident_uuid_parse(h, strlen(h), req->tenant) < 0)
            return s_problem(conn, 400, "bad_request", "X-Tenant-ID is not a UUID", rid, "");
        req->has_tenant = true;
        break;
    }
    }
    if (route->scope == GW_SCOPE_USER || route->scope == GW_SCOPE_ADMIN)
        return s_authenticate(conn, http, route, req, rid);
    return 0;
}

#define TARPIT_MS   250     /* how long a tenant past its rate waits for its 429 */
#define HEAD_MAX    16384   /* request line and headers; past it 431 */
#define HEAD_BUFFER "65536" /* civetweb's buffer for them (max_request_size) */

/* The rest of the envelope: client address (and its login budget), the forwarded headers,
 * body, query and path ids. 0 to go on, else the status answered. */
static int s_fill(struct mg_connection *conn, gw_http_t *http, const gw_match_t *m,
                  proto_request_t *req, const char *rid)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    /* The client as the load balancer saw it (audit, per-address limits). */
    gw_proxy_client(http->cfg.proxies, ri->remote_addr, mg_get_header(conn, "X-Forwarded-For"),
                    req->client, sizeof req->client);
    if (m->route->flags & GW_ROUTE_LOGIN) {
        int64_t wait = gw_limit_hit(http->cfg.login_limit, req->client, (int64_t)clock_mono_us());
        if (wait > 0) {
            char hdr[40];
            snprintf(hdr, sizeof hdr, "Retry-After: %d\r\n", gw_limit_retry_after(wait));
            return s_problem(conn, 429, "rate_limited", "too many login attempts from this address",
                             rid, hdr);
        }
    }
    /* One tenant may not take its shard from the others: past its rate at this gateway, 429.
       Operators (platform scope) are not counted. */
    if (req->has_tenant && req->role != PROTO_ROLE_PLATFORM) {
        char key[IDENT_UUID_STR_LEN + 1];
        ident_uuid_format(req->tenant, key);
        s_current.rate_slot = gw_limit_slot(http->cfg.tenant_limit, key);
        int64_t wait = gw_limit_hit_slot(http->cfg.tenant_limit, s_current.rate_slot,
                                         (int64_t)clock_mono_us());
        if (wait > 0) {
            /* The 429 itself is held TARPIT_MS: a client that retries at once then spends its
               connections' time asleep, not the CPU its neighbours share (measured: 64
               connections answered at once took a neighbour on the same gateway to 5% of its
               throughput). */
            nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = TARPIT_MS * 1000000L}, NULL);
            char hdr[40];
            snprintf(hdr, sizeof hdr, "Retry-After: %d\r\n", gw_limit_retry_after(wait));
            return s_problem(conn, 429, "rate_limited",
                             "this tenant's request rate is exceeded; retry after", rid, hdr);
        }
    }
    /* The only request headers that travel to the worker. */
    static const char *const forwarded[] = {"Idempotency-Key", "If-Match", "If-None-Match"};
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) {
        const char *v = mg_get_header(conn, forwarded[i]);
        if (!v)
            continue;
        if (strlen(v) > PROTO_MAX_HEADER_LEN || !*v)
            return s_problem(conn, 400, "bad_request",
                             "Idempotency-Key, If-Match or If-None-Match is empty or too long", rid,
                             "");
        proto_request_header(req, forwarded[i], v);
    }
    if (s_read_body(conn, atomic_load(&http->max_body), req) == 413)
        return s_problem(conn, 413, "too_large", "request body exceeds the limit", rid,
                         "Connection: close\r\n");
    if (s_read_query(ri->query_string, req) < 0)
        return s_problem(conn, 400, "bad_request", "query string has too many or too long parts",
                         rid, "");
    req->op = m->route->op;
    req->nparams = m->nparams;
    memcpy(req->params, m->params, sizeof m->params);
    return 0;
}

/* The shard to call: the tenant's placement (a new tenant's by the hash over the shards that
 * take new tenants), or round robin for platform-wide calls. -1 if no shard takes new tenants. */
static int s_pick_shard(gw_http_t *http, const gw_route_t *route, const proto_request_t *req)
{
    if (route->tenant == GW_TENANT_NEW)
        return gw_placement_new_tenant(http->cfg.placement, req->tenant);
    if (req->has_tenant)
        return gw_placement_shard(http->cfg.placement, req->tenant);
    unsigned n = (unsigned)gw_shards_count(http->cfg.shards);
    return (int)(atomic_fetch_add_explicit(&http->rr, 1, memory_order_relaxed) % n);
}

/* Sends the envelope to the shard; password-hashing calls only while the gate has room. */
static int s_call(struct mg_connection *conn, gw_http_t *http, proto_request_t *req, int shard,
                  unsigned flags, const char *rid)
{
    /* Workers pace password hashing while they serve reads (worker/wk_pace.h), so a login storm
       would otherwise wait there holding a thread each until none is left for anything else. */
    if (!proto_op_hashes_password(req->op))
        return s_forward(conn, http, req, shard, flags, rid, NULL);
    if (atomic_fetch_add(&http->hashing, 1) >= atomic_load(&http->password_inflight)) {
        atomic_fetch_sub(&http->hashing, 1);
        return s_problem(conn, 503, "busy", "too many password checks in progress; retry shortly",
                         rid, "Retry-After: 1\r\n");
    }
    return s_forward(conn, http, req, shard, flags, rid, &http->hashing);
}

/* One request, stage by stage; each stage answers the request itself when it stops it.
 * *slot: what /metrics counts it as (gw_metrics.h). */
/* About the bytes of the request line and headers as sent (civetweb keeps them parsed). */
static size_t s_head_size(const struct mg_request_info *ri)
{
    size_t n = strlen(ri->request_method) + strlen(ri->request_uri ? ri->request_uri : "") +
               (ri->query_string ? strlen(ri->query_string) + 1 : 0) + 12;
    for (int i = 0; i < ri->num_headers; i++)
        n += strlen(ri->http_headers[i].name) + strlen(ri->http_headers[i].value) + 4;
    return n;
}

static int s_dispatch(struct mg_connection *conn, gw_http_t *http, const char *rid,
                      proto_request_t *req, int *slot)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    /* civetweb reads up to HEAD_BUFFER and calls anything past it malformed (400), and keeps
       only the first MG_MAX_HEADERS fields (dropping the rest unseen): the limits are ours,
       below those, so a client is told what it did (431). */
    if (s_head_size(ri) > HEAD_MAX || ri->num_headers >= MG_MAX_HEADERS)
        return s_problem(conn, 431, "headers_too_large",
                         "the request line and headers are over 16 KiB, or over 63 fields", rid,
                         "Connection: close\r\n");
    const char *path = ri->local_uri ? ri->local_uri : "/";
    bool get = strcmp(ri->request_method, "GET") == 0;
    for (int i = 0; i < LOCAL_COUNT && get; i++)
        if (strcmp(path, s_local[i].path) == 0) {
            *slot = gw_metrics_local_slot(i);
            return s_local[i].fn(conn, http, rid);
        }
    const gw_asset_t *asset = get ? gw_asset_find(path) : NULL;
    if (asset) {
        *slot = gw_metrics_local_slot(LOCAL_COUNT);
        return s_asset(conn, asset, rid);
    }
    gw_match_t m;
    int status;
    if ((status = s_route(conn, ri->request_method, path, &m, rid)))
        return status;
    *slot = gw_metrics_route_slot(m.route);
    if ((status = s_admit(conn, http, &m, req, rid)) || (status = s_fill(conn, http, &m, req, rid)))
        return status;
    int shard = s_pick_shard(http, m.route, req);
    if (shard < 0)
        return s_problem(conn, 503, "no_shard", "every shard is dedicated: none takes new tenants",
                         rid, "");
    return s_call(conn, http, req, shard, m.route->flags, rid);
}

static int s_on_request(struct mg_connection *conn, void *cbdata)
{
    gw_http_t *http = cbdata;
    uint64_t start = clock_now_us();
    if (s_thread_slot < 0)
        s_thread_slot = atomic_fetch_add(&http->next_slot, 1);
    if (s_thread_slot < http->nslots)
        atomic_store_explicit(&http->busy[s_thread_slot].since_ms, clock_mono_us() / 1000,
                              memory_order_relaxed);
    proto_request_t req = {0};
    /* A request id from the load balancer is kept, so one id follows the request end to end;
       from anyone else it could be forged to pollute another request's trail. */
    const struct mg_request_info *ri = mg_get_request_info(conn);
    const char *given = mg_get_header(conn, "X-Request-ID");
    if (!given || !http->cfg.proxies || !gw_proxy_trusted(http->cfg.proxies, ri->remote_addr) ||
        ident_id_parse(given, strlen(given), req.request_id) < 0)
        randombytes_buf(req.request_id, sizeof req.request_id);
    req.deadline_ms = start / 1000 + (uint64_t)http->cfg.deadline_ms;
    char rid[33];
    ident_hex(req.request_id, 16, rid);
    s_current.http = http;
    s_current.slot = GW_METRICS_UNMATCHED;
    s_current.method = ri->request_method;
    s_current.start_us = start;
    s_current.answered = false;
    s_current.shard = -1;
    s_current.rate_slot = SIZE_MAX;
    int status = s_dispatch(conn, http, rid, &req, &s_current.slot);
    s_answered(status); /* if nothing was sent */
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    log_req_t lr = {req.request_id, req.has_tenant ? req.tenant : NULL, s_current.shard};
    log_access(&lr, &(log_access_t){gw_metrics_route_name(s_current.slot), ri->request_method, code,
                                    s_current.took_us, -1, req.has_user ? req.user_id : NULL});
    proto_request_clear(&req);
    s_current.http = NULL;
    return status; /* non-zero: the request was handled */
}

static void *s_init_thread(const struct mg_context *ctx, int thread_type)
{
    if (thread_type != 1)
        return NULL; /* only connection threads call shards */
    gw_http_t *http = mg_get_user_data(ctx);
    return gw_shard_link_new(http->cfg.shards);
}

static void s_exit_thread(const struct mg_context *ctx, int thread_type, void *ptr)
{
    gw_shard_link_t *link = ptr;
    gw_shard_link_destroy(&link);
}

/* An error civetweb answers itself (a request it cannot parse: bad syntax, or headers over
 * max_request_size, 64 KiB, which it reports alike): answered as ours are, a problem with a request
 * id, and counted. */
static int s_http_error(struct mg_connection *conn, int status, const char *errmsg)
{
    uint8_t id[16];
    char rid[33];
    randombytes_buf(id, sizeof id);
    ident_hex(id, sizeof id, rid);
    log_req_t lr = {id, NULL, -1};
    log_req_warning(&lr, "HTTP %d from the server library: %s", status, errmsg ? errmsg : "");
    uint64_t start = clock_now_us();
    s_problem(conn, status, status == 400 ? "bad_request" : "http_error",
              status == 400 ? "malformed request, or its line and headers are over 64 KiB"
                            : (errmsg ? errmsg : ""),
              rid, "Connection: close\r\n");
    gw_metrics_request(GW_METRICS_UNMATCHED, "other", status, clock_now_us() - start);
    return 0;
}

static int s_log_message(const struct mg_connection *conn, const char *message)
{
    log_warning("civetweb: %s", message);
    return 1;
}

/* Requests in progress: the threads busy with one. */
static long long s_in_flight(void *arg)
{
    gw_http_t *http = arg;
    long long n = 0;
    for (int i = 0; i < http->nslots; i++)
        n += atomic_load_explicit(&http->busy[i].since_ms, memory_order_relaxed) != 0;
    return n;
}

gw_http_t *gw_http_start(const gw_http_config_t *cfg)
{
    const char *local[LOCAL_COUNT + 1];
    for (int i = 0; i < LOCAL_COUNT; i++)
        local[i] = s_local[i].name;
    local[LOCAL_COUNT] = "static"; /* the dashboard's and the reference's files */
    gw_metrics_init(local, LOCAL_COUNT + 1);
    gw_assets_init();
    gw_http_t *http = mem_zalloc(sizeof *http);
    http->cfg = *cfg;
    http->nslots = cfg->threads + 16; /* civetweb's workers, and room for any it adds */
    http->busy = mem_zalloc((size_t)http->nslots * sizeof *http->busy);
    gw_metrics_in_flight_from(s_in_flight, http);
    gw_http_set_limits(http, cfg->password_inflight, cfg->max_body);
    char threads[16], keep_alive[16], timeout[16];
    snprintf(threads, sizeof threads, "%d", cfg->threads);
    snprintf(keep_alive, sizeof keep_alive, "%d", cfg->keep_alive_ms);
    snprintf(timeout, sizeof timeout, "%d", cfg->deadline_ms + 5000);
    const char *options[] = {"listening_ports",
                             cfg->listen,
                             "num_threads",
                             threads,
                             "enable_keep_alive",
                             "yes",
                             "keep_alive_timeout_ms",
                             keep_alive,
                             "request_timeout_ms",
                             timeout,
                             "tcp_nodelay",
                             "1",
                             "listen_backlog",
                             "1024",
                             "max_request_size",
                             HEAD_BUFFER,
                             NULL};
    struct mg_callbacks cb = {0};
    cb.init_thread = s_init_thread;
    cb.exit_thread = s_exit_thread;
    cb.log_message = s_log_message;
    cb.http_error = s_http_error;
    http->ctx = mg_start(&cb, http, options);
    if (!http->ctx) {
        log_error("could not listen on \"%s\"", cfg->listen);
        free(http->busy);
        free(http);
        return NULL;
    }
    mg_set_request_handler(http->ctx, "/", s_on_request, http);
    return http;
}

void gw_http_set_limits(gw_http_t *http, int password_inflight, size_t max_body)
{
    if (password_inflight < 1) /* the default: a quarter of the threads */
        password_inflight = http->cfg.threads >= 64  ? 16
                            : http->cfg.threads >= 8 ? http->cfg.threads / 4
                                                     : 1;
    atomic_store(&http->password_inflight, password_inflight);
    atomic_store(&http->max_body, max_body);
}

uint64_t gw_http_oldest_ms(gw_http_t *http)
{
    uint64_t now = clock_mono_us() / 1000, oldest = 0;
    for (int i = 0; i < http->nslots; i++) {
        uint64_t since = atomic_load_explicit(&http->busy[i].since_ms, memory_order_relaxed);
        if (since && now - since > oldest)
            oldest = now - since;
    }
    return oldest;
}

int gw_http_port(const gw_http_t *http)
{
    struct mg_server_port ports[4];
    int n = mg_get_server_ports(http->ctx, 4, ports);
    return n > 0 ? ports[0].port : -1;
}

void gw_http_stop(gw_http_t **http_p)
{
    if (!http_p || !*http_p)
        return;
    mg_stop((*http_p)->ctx);
    gw_metrics_in_flight_from(NULL, NULL);
    free((*http_p)->busy);
    free(*http_p);
    *http_p = NULL;
}
