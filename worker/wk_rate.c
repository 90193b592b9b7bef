/* Per-tenant rates (see wk_rate.h). */
#include "worker/wk_rate.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"
#include "common/log.h"
#include "common/mem.h"
#include "worker/wk_json.h"
#include "worker/wk_periodic.h"
#include "worker/wk_read.h"
#include "worker/wk_reply.h"

void wk_tenant_rate_set(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    static const char *const allowed[] = {"requests_per_second", NULL};
    json_t *body = wk_json_object(req, allowed, rep);
    if (!body)
        return;
    json_t *v = json_object_get(body, "requests_per_second");
    char rate[16] = "";
    if (!v || (!json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 0 ||
                                    json_integer_value(v) > PROTO_TENANT_RATE_MAX))) {
        json_decref(body);
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST,
                       "requests_per_second: an integer 0..1000000 (0: unlimited), or null for "
                       "the gateways' default");
        return;
    }
    if (!json_is_null(v))
        snprintf(rate, sizeof rate, "%lld", (long long)json_integer_value(v));
    json_decref(body);
    char tenant[IDENT_UUID_STR_LEN + 1];
    ident_uuid_format(req->tenant, tenant);
    const char *p[3] = {tenant, *rate ? rate : NULL, req->client};
    wk_tx_t tx;
    PGresult *res = NULL;
    /* A registry write: as the provisioning login, as the lifecycle's are. */
    if (wk_tx_begin(&tx, ctx->registry_admin, NULL, req->deadline_ms) == 0)
        res =
            wk_tx_exec(&tx,
                       "WITH t AS (UPDATE quiz.tenants SET rate_limit = $2::int"
                       "  WHERE id = $1 AND status <> 'deleted' RETURNING id, rate_limit),"
                       " a AS (INSERT INTO quiz.platform_audit (action, tenant_id, client, detail)"
                       "  SELECT 'tenant.rate', id, $3, jsonb_build_object('requests_per_second',"
                       "  rate_limit) FROM t)"
                       " SELECT json_build_object('tenant_id', id, 'requests_per_second',"
                       " rate_limit) FROM t",
                       3, p);
    if (res && wk_tx_commit(&tx) == 0) {
        wk_reply_row(rep, PROTO_STATUS_OK, res, "tenant not found");
        log_req_t lr = {req->request_id, req->tenant, ctx->shard};
        log_req_info(&lr, "tenant rate set to %s", *rate ? rate : "the default");
    } else {
        wk_reply_tx_error(rep, &tx);
    }
    PQclear(res);
    wk_tx_end(&tx);
}

/* The overrides, sorted by tenant id, replaced whole at each refresh. */
typedef struct {
    uint8_t id[16];
    long rate;
} rate_t;

static pthread_rwlock_t s_lock = PTHREAD_RWLOCK_INITIALIZER;
static rate_t *s_rates;
static size_t s_count;
static wk_db_t *s_registry; /* the refresher's connection */
static wk_periodic_t *s_refresher;

static int s_by_id(const void *a, const void *b)
{
    return memcmp(((const rate_t *)a)->id, ((const rate_t *)b)->id, 16);
}

long wk_rates_get(const uint8_t tenant[16])
{
    rate_t key;
    memcpy(key.id, tenant, 16);
    pthread_rwlock_rdlock(&s_lock);
    const rate_t *hit = s_count ? bsearch(&key, s_rates, s_count, sizeof key, s_by_id) : NULL;
    long rate = hit ? hit->rate : -1;
    pthread_rwlock_unlock(&s_lock);
    return rate;
}

/* Reads every override (on failure, logged, the old ones are kept). */
static void s_refresh(void *arg)
{
    (void)arg;
    wk_tx_t tx;
    PGresult *res = NULL;
    if (wk_tx_begin(&tx, s_registry, NULL, 0) == 0)
        res = wk_tx_exec(&tx,
                         "SELECT id::text, rate_limit FROM quiz.tenants"
                         " WHERE rate_limit IS NOT NULL AND status = 'active'",
                         0, NULL);
    if (!res) {
        log_warning("tenant rates: %s", tx.detail);
        wk_tx_end(&tx);
        return;
    }
    size_t n = (size_t)PQntuples(res);
    rate_t *rates = n ? mem_alloc(n * sizeof *rates) : NULL;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = PQgetvalue(res, (int)i, 0);
        if (ident_uuid_parse(id, strlen(id), rates[kept].id) == 0)
            rates[kept++].rate = atol(PQgetvalue(res, (int)i, 1));
    }
    PQclear(res);
    wk_tx_end(&tx);
    if (kept > 1)
        qsort(rates, kept, sizeof *rates, s_by_id);
    pthread_rwlock_wrlock(&s_lock);
    rate_t *old = s_rates;
    s_rates = rates;
    s_count = kept;
    pthread_rwlock_unlock(&s_lock);
    free(old);
}

void wk_rates_start(const char *dsn, const char *user, int interval_ms)
{
    if (interval_ms <= 0 || s_refresher)
        return;
    s_registry = wk_db_new(dsn, user, false, false);
    s_refresher = wk_periodic_start("tenant-rate refresher", s_refresh, NULL, interval_ms);
    if (!s_refresher)
        wk_db_destroy(&s_registry);
}

void wk_rates_stop(void)
{
    if (!s_refresher)
        return;
    wk_periodic_stop(&s_refresher);
    wk_db_destroy(&s_registry);
    pthread_rwlock_wrlock(&s_lock);
    free(s_rates);
    s_rates = NULL;
    s_count = 0;
    pthread_rwlock_unlock(&s_lock);
}
