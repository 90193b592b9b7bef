/* Tenant management handlers (platform scope). Creation and deletion change the registry, the
 * tenant's role and schema and the audit logs in one transaction on the provisioning login: all
 * of it commits or none. JSON for replies is built by PostgreSQL where the data lives, by
 * jansson where it does not. */
#include "worker/wk_tenant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"
#include "common/log.h"
#include "common/mem.h"
#include "worker/wk_audit.h"
#include "worker/wk_json.h"
#include "worker/wk_migrate.h"
#include "worker/wk_page.h"
#include "worker/wk_password.h"
#include "worker/wk_read.h"
#include "worker/wk_reply.h"
#include "worker/wk_sample.h"
#include "worker/wk_spare.h"

#define TENANT_SEARCH_MAX 100 /* characters of ?q= */
/* The tenant's status is parameter p; NULL: any but deleted (the listing index's predicate). */
#define TENANT_STATUS(p) "(" p "::text IS NULL AND status <> 'deleted' OR status = " p ")"
/* The tenant's name or id contains parameter p (NULL: any), any case: a substring, not a
 * pattern, so no character of it is special. */
#define TENANT_MATCH(p)                                                                          \
    "(" p "::text IS NULL OR strpos(lower(name), lower(" p ")) > 0 OR strpos(id::text, lower(" p \
    ")) > 0)"

/* The tenant id as text, for query parameters. */
static void s_tenant_text(const proto_request_t *req, char out[IDENT_UUID_STR_LEN + 1])
{
    ident_uuid_format(req->tenant, out);
}

/* The tenant's registry row, with the schema version it is built at (at least). 0 or -1
 * (tx->status). */
static int s_register(wk_tx_t *tx, const char *tenant, const char *name, const char *shard,
                      const char *version)
{
    const char *reg[4] = {tenant, name, shard, version};
    PGresult *res = wk_tx_exec(tx,
                               "INSERT INTO quiz.tenants (id, name, shard, schema_version)"
                               " VALUES ($1, $2, $3, $4)",
                               4, reg);
    PQclear(res);
    return res ? 0 : -1;
}

/* Drops a committed schema and role that no registry row names (a registration that failed on
 * the control cluster), so nothing is left behind. Logged if that fails too. */
static void s_drop_unregistered(wk_ctx_t *ctx, const proto_request_t *req, const uint8_t id[16])
{
    char why[256];
    if (wk_db_drop_schema(ctx->admin, id, why, sizeof why) < 0) {
        char text[IDENT_UUID_STR_LEN + 1];
        ident_uuid_format(id, text);
        log_req_t lr = {req->request_id, id, ctx->shard};
        log_req_error(&lr,
                      "no registry row names tenant %s, and its schema could not be dropped:"
                      " %s",
                      text, why);
    }
}

/* Continues the transaction in the new tenant's schema: a spare's exists, else it is built
 * (with the migrations registered by then: the version registered, or newer). */
static int s_enter_new_schema(wk_tx_t *tx, const uint8_t id[16], bool spare)
{
    char built[WK_MIGRATE_VERSION_LEN];
    if (spare)
        return wk_tx_schema(tx, id, WK_SCHEMA_ENTER, -1);
    return wk_tx_schema(tx, id, WK_SCHEMA_CREATE, -1) < 0
               ? -1
               : wk_migrate_tenant(tx, NULL, NULL, built);
}

void wk_tenant_create(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    static const char *const allowed[] = {"tenant_name", "owner_email", NULL};
    const char *name, *email;
    json_t *body = wk_json_object(req, allowed, rep);
    if (!body)
        return;
    if (wk_json_string(body, "tenant_name", true, 1, 200, &name, rep) < 0 ||
        wk_json_email(body, "owner_email", &email, rep) < 0)
        goto out;

    /* Hash before the transaction opens: ~30 ms of CPU that must not hold locks. */
    char temp[WK_PASSWORD_TEMP_LEN + 1], hash[WK_PASSWORD_HASH_LEN];
    wk_password_temp(temp);
    if (wk_password_hash(temp, hash) < 0) {
        wk_reply_error(rep, PROTO_STATUS_INTERNAL, "could not hash password");
        goto out;
    }
    char tenant[IDENT_UUID_STR_LEN + 1], shard[12], username[101];
    snprintf(shard, sizeof shard, "%d", ctx->shard);
    size_t local = (size_t)(strchr(email, '@') - email);
    snprintf(username, sizeof username, "%.*s", (int)(local > 100 ? 100 : local), email);

    /* Provisioning login: the serving login can neither create roles nor schemas. With the
       registry on this shard's cluster, all of it is one transaction. With the registry on
       another cluster, the schema commits first and the registry row second: a failure between
       leaves a schema no registry row names (invisible, dropped below if we can), never a
       registry row without its schema. */
    bool split = ctx->registry_admin != ctx->admin;
    wk_tx_t tx, reg_tx = {0};
    PGresult *user = NULL;
    if (wk_tx_begin(&tx, ctx->admin, NULL, req->deadline_ms) < 0)
        goto fail;
    /* A ready spare schema makes the new tenant: its id (on this shard too) replaces the one
       the gateway drew, and its DDL is already done. Without one, the DDL runs here. */
    proto_request_t created = *req;       /* shallow: only the tenant id differs */
    char version[WK_MIGRATE_VERSION_LEN]; /* what a new schema is built at; a spare taken too */
    if (wk_migrate_target(&tx, version) < 0)
        goto fail;
    int spare =
        ctx->spares ? wk_spares_take(&tx, ctx->shard, ctx->shards, version, created.tenant) : 0;
    if (spare < 0)
        goto fail;
    s_tenant_text(&created, tenant);
    if (!split && s_register(&tx, tenant, name, shard, version) < 0)
        goto fail;
    /* From here on, the transaction runs as the new tenant's role in its schema. */
    if (s_enter_new_schema(&tx, created.tenant, spare) < 0)
        goto fail;
    const char *admin[3] = {email, username, hash};
    user =
        wk_tx_exec(&tx,
                   "INSERT INTO users (email, username, role, password_hash, must_change_password)"
                   " VALUES ($1, $2, 'admin', $3, true) RETURNING id::text",
                   3, admin);
    if (!user || wk_audit_tenant(&tx, &created, "user.create", PQgetvalue(user, 0, 0), NULL) < 0 ||
        wk_tx_schema(&tx, created.tenant, WK_SCHEMA_LEAVE, ctx->shard) < 0 ||
        (!split && wk_audit_platform(&tx, &created, "tenant.create") < 0) || wk_tx_commit(&tx) < 0)
        goto fail;
    if (split &&
        (wk_tx_begin(&reg_tx, ctx->registry_admin, NULL, req->deadline_ms) < 0 ||
         s_register(&reg_tx, tenant, name, shard, version) < 0 ||
         wk_audit_platform(&reg_tx, &created, "tenant.create") < 0 || wk_tx_commit(&reg_tx) < 0)) {
        wk_reply_tx_error(rep, &reg_tx);
        wk_tx_end(&reg_tx);
        s_drop_unregistered(ctx, req, created.tenant);
        if (rep->status == PROTO_STATUS_NOT_FOUND || rep->status == PROTO_STATUS_CONFLICT)
            rep->status = PROTO_STATUS_INTERNAL;
        goto done;
    }
    wk_tx_end(&reg_tx);
    wk_spares_nudge(ctx->spares); /* replace the spare taken, or build one if none was ready */

    json_t *out = json_pack("{s:s, s:s, s:b, s:b, s:s, s:s, s:i}", "tenant_id", tenant,
                            "tenant_name", name, "schema_created", 1, "admin_user_created", 1,
                            "admin_email", email, "temp_password", temp, "shard", ctx->shard);
    wk_reply_json(rep, PROTO_STATUS_CREATED, out);
    goto done;
fail:
    wk_reply_tx_error(rep, &tx);
    if (rep->status == PROTO_STATUS_NOT_FOUND || rep->status == PROTO_STATUS_CONFLICT)
        rep->status = PROTO_STATUS_INTERNAL; /* not the client's doing: the id was fresh */
done:
    PQclear(user);
    wk_tx_end(&tx);
    sodium_memzero(temp, sizeof temp);
out:
    json_decref(body);
}

void wk_tenant_list(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    wk_page_t page;
    if (wk_page_parse(req, &page, rep) < 0)
        return;
    const char *v[5];
    wk_page_params(&page, v);
    /* ?q=: tenants whose name or id contains it, any case (a plain substring, never a pattern). */
    v[3] = proto_request_query(req, "q");
    if (v[3] && strlen(v[3]) > TENANT_SEARCH_MAX) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "q: at most %d characters",
                       TENANT_SEARCH_MAX);
        return;
    }
    /* ?status=: tenants in that status; without it, all but the deleted. */
    v[4] = proto_request_query(req, "status");
    if (v[4] && strcmp(v[4], "active") != 0 && strcmp(v[4], "suspended") != 0 &&
        strcmp(v[4], "deleted") != 0) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST,
                       "status: \"active\", \"suspended\" or \"deleted\"");
        return;
    }
    /* ?order=storage: the largest tenants (as last sampled), one page only. */
    const char *order = proto_request_query(req, "order");
    bool by_storage = order && strcmp(order, "storage") == 0;
    if ((order && !by_storage && strcmp(order, "created") != 0) ||
        (by_storage && page.has_cursor)) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST,
                       "order: \"created\" (pages by cursor) or \"storage\" (one page)");
        return;
    }
    /* clang-format off */
    if (by_storage) {
        const char *w[3] = {v[2], v[3], v[4]};
        wk_read_row(ctx, req, rep, NULL,
                    "SELECT json_build_object('items', coalesce(json_agg(j ORDER BY n), '[]'),"
                    " 'next_cursor', NULL) FROM (SELECT " TENANT_JSON " j, row_number() OVER"
                    " (ORDER BY storage_bytes DESC NULLS LAST, id) n" TENANT_FROM
                    " WHERE " TENANT_STATUS("$3") " AND " TENANT_MATCH("$2")
                    " ORDER BY storage_bytes DESC NULLS LAST, id LIMIT $1 - 1) t",
                    3, w, "no tenants");
        return;
    }
    wk_read_page(ctx, req, rep, NULL,
                 "SELECT " TENANT_JSON "," WK_PAGE_KEYS("created_at", "id")
                 TENANT_FROM " WHERE " TENANT_STATUS("$5") " AND " TENANT_MATCH("$4") " AND"
                 WK_PAGE_AFTER("created_at", "id", "uuid") WK_PAGE_ORDER("created_at", "id"),
                 5, v, &page);
    /* clang-format on */
}

void wk_tenant_get(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    char tenant[IDENT_UUID_STR_LEN + 1];
    s_tenant_text(req, tenant);
    const char *v[1] = {tenant};
    wk_read_row(ctx, req, rep, NULL, "SELECT " TENANT_JSON TENANT_FROM " WHERE id = $1", 1, v,
                "tenant not found");
}

void wk_tenant_stats(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    wk_tx_t tx;
    if (wk_tx_begin(&tx, ctx->db, req->tenant, req->deadline_ms) < 0) {
        wk_reply_tx_error(rep, &tx);
        return;
    }
    /* Counts are the tenant's row_counts (sql/tenant/008_row_counts.sql): exact, kept by the
       writes, a few rows to read; a deleted tenant has none, which reads as 404. The storage is
       sampled (wk_sample.h): measured when this worker has no figure of the last few seconds
       (COALESCE evaluates the sizes only then). */
    int64_t sampled;
    char storage[24];
    const char *v[1] = {NULL};
    if (wk_sample_get(req->tenant, &sampled)) {
        snprintf(storage, sizeof storage, "%lld", (long long)sampled);
        v[0] = storage;
    }
    PGresult *res = wk_tx_exec_last(
        &tx,
        "SELECT json_build_object("
        " 'users_count', c.users, 'quizzes_count', c.quizzes,"
        " 'questions_count', c.questions, 'attempts_count', c.attempts,"
        " 'storage_bytes', s.bytes), s.bytes FROM quiz.tenant_counts() c,"
        /* Named tables resolve through search_path by index; scanning pg_class for the
           schema would grow with the number of tenants. Tables with indexes and TOAST. */
        " (SELECT coalesce($1::bigint,"
        "   pg_total_relation_size('users') + pg_total_relation_size('quizzes')"
        "   + pg_total_relation_size('questions') + pg_total_relation_size('attempts')"
        "   + pg_total_relation_size('refresh_tokens') + pg_total_relation_size('audit_log')"
        "   + pg_total_relation_size('schema_migrations')"
        "   + coalesce(pg_total_relation_size(to_regclass('row_counts')), 0)) AS bytes) s",
        1, v);
    if (res) {
        wk_reply_row(rep, PROTO_STATUS_OK, res, "tenant not found");
        if (!v[0] && PQntuples(res) == 1)
            wk_sample_put(req->tenant, strtoll(PQgetvalue(res, 0, 1), NULL, 10));
    } else {
        wk_reply_tx_error(rep, &tx);
    }
    PQclear(res);
    wk_tx_end(&tx);
}
