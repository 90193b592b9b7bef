/* User handlers. Every query runs in the caller's tenant schema under the tenant's role; a user
 * id of another tenant simply does not exist there, so it is a 404 like any unknown id. */
#include "worker/wk_user.h"

#include <stdio.h>
#include <string.h>

#include "common/ident.h"
#include "common/mem.h"
#include "worker/wk_audit.h"
#include "worker/wk_auth.h"
#include "worker/wk_idem.h"
#include "worker/wk_json.h"
#include "worker/wk_page.h"
#include "worker/wk_password.h"
#include "worker/wk_read.h"
#include "worker/wk_reply.h"

#define USER_JSON                                                                     \
    "json_build_object('id', id, 'email', email, 'username', username, 'role', role," \
    " 'disabled', disabled, 'created_at', created_at)"

/* Runs one statement returning a user JSON in column 0 and answers with it (404 if no row). */
static void s_one_user(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep,
                       const char *sql, const char *id)
{
    const char *v[1] = {id};
    wk_read_row(ctx, req, rep, req->tenant, sql, 1, v, "user not found");
}

/* The caller's own user, with the tenant role's oid and whether its users log their changes
 * (sql/tenant/007_user_changes.sql): what the cache needs to keep it. */
#define USER_ME_SQL(logs) "SELECT " USER_JSON "," WK_CACHE_COLUMNS(logs) " FROM users WHERE id = $1"

void wk_user_me(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    if (ctx->cache_only) { /* the server's cache thread (wk_handle.h) */
        wk_read_cached(ctx, rep, WK_CACHE_USER, req->tenant, req->user_id);
        return;
    }
    char id[IDENT_UUID_STR_LEN + 1];
    ident_uuid_format(req->user_id, id);
    const char *v[1] = {id};
    uint64_t epoch = ctx->cache ? wk_cache_epoch(ctx->cache) : 0;
    bool look = wk_read_must_look(ctx, req, WK_LOGS_USERS);
    wk_tx_t tx;
    PGresult *res =
        wk_read_run(ctx, req, rep, req->tenant,
                    look ? USER_ME_SQL(WK_CACHE_LOOK("users")) : USER_ME_SQL("true"), 1, v, &tx);
    if (res) {
        wk_reply_row(rep, PROTO_STATUS_OK, res, "user not found");
        wk_read_keep(ctx, req, res, 1, WK_LOGS_USERS, epoch, WK_CACHE_USER, req->user_id, rep);
    }
    PQclear(res);
    wk_tx_end(&tx);
}

void wk_user_get(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    char id[IDENT_UUID_STR_LEN + 1];
    ident_uuid_format(req->params[0], id);
    s_one_user(ctx, req, rep, "SELECT " USER_JSON " FROM users WHERE id = $1", id);
}

void wk_user_list(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    wk_page_t page;
    if (wk_page_parse(req, &page, rep) < 0)
        return;
    const char *v[3];
    wk_page_params(&page, v);
    /* clang-format off */
    wk_read_page(ctx, req, rep, req->tenant,
                 "SELECT " USER_JSON "," WK_PAGE_KEYS("created_at", "id")
                 " FROM users WHERE" WK_PAGE_AFTER("created_at", "id", "uuid")
                 WK_PAGE_ORDER("created_at", "id"),
                 3, v, &page);
    /* clang-format on */
}

/* Validates a role member: NULL stays NULL (absent), else "admin" or "member". */
static int s_role(json_t *body, const char **role, proto_reply_t *rep)
{
    if (wk_json_string(body, "role", false, 1, 20, role, rep) < 0)
        return -1;
    if (*role && strcmp(*role, "member") != 0 && strcmp(*role, "admin") != 0) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "\"role\" must be \"admin\" or \"member\"");
        return -1;
    }
    return 0;
}

void wk_user_create(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    static const char *const allowed[] = {"email", "username", "password", "role", NULL};
    const char *email, *username, *password, *role;
    json_t *body = wk_json_object(req, allowed, rep);
    if (!body)
        return;
    if (wk_json_email(body, "email", &email, rep) < 0 ||
        wk_json_string(body, "username", true, 1, 100, &username, rep) < 0 ||
        wk_json_string(body, "password", true, WK_PASSWORD_MIN, WK_PASSWORD_MAX, &password, rep) <
            0 ||
        s_role(body, &role, rep) < 0)
        goto out;
    char hash[WK_PASSWORD_HASH_LEN];
    if (wk_password_hash(password, hash) < 0) {
        wk_reply_error(rep, PROTO_STATUS_INTERNAL, "could not hash password");
        goto out;
    }
    wk_tx_t tx;
    PGresult *user = NULL;
    bool replayed = false;
    if (wk_tx_begin(&tx, ctx->db, req->tenant, req->deadline_ms) < 0 ||
        wk_idem_claim(&tx, req, rep, &replayed) < 0)
        goto fail;
    if (replayed)
        goto done;
    const char *v[4] = {email, username, role ? role : "member", hash};
    user = wk_tx_exec(
        &tx,
        "INSERT INTO users (email, username, role, password_hash) VALUES ($1, $2, $3, $4)"
        " RETURNING id::text, " USER_JSON,
        4, v);
    bool platform = req->role == PROTO_ROLE_PLATFORM;
    if (!user || wk_audit_tenant(&tx, req, "user.create", PQgetvalue(user, 0, 0), NULL) < 0 ||
        (platform && wk_audit_platform(&tx, req, "tenant.user_create") < 0))
        goto fail;
    wk_reply_body(rep, PROTO_STATUS_CREATED, mem_strdup(PQgetvalue(user, 0, 1)));
    if (wk_idem_store(&tx, req, rep) < 0 || wk_tx_commit(&tx) < 0)
        goto fail;
    goto done;
fail:
    wk_reply_tx_error(rep, &tx);
done:
    PQclear(user);
    wk_tx_end(&tx);
out:
    json_decref(body);
}

void wk_user_update(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    static const char *const allowed[] = {"email", "username", "role", "disabled", NULL};
    const char *email = NULL, *username, *role;
    json_t *body = wk_json_object(req, allowed, rep);
    if (!body)
        return;
    json_t *disabled = json_object_get(body, "disabled");
    if ((json_object_get(body, "email") && wk_json_email(body, "email", &email, rep) < 0) ||
        wk_json_string(body, "username", false, 1, 100, &username, rep) < 0 ||
        s_role(body, &role, rep) < 0)
        goto out;
    if (disabled && !json_is_boolean(disabled)) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "\"disabled\" must be a boolean");
        goto out;
    }
    if (json_object_size(body) == 0) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "nothing to update");
        goto out;
    }
    /* An admin cannot lock themselves out: the last admin would leave the tenant unmanaged. */
    if (memcmp(req->params[0], req->user_id, 16) == 0 &&
        ((role && strcmp(role, "admin") != 0) || json_is_true(disabled))) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "you cannot demote or disable yourself");
        goto out;
    }
    char id[IDENT_UUID_STR_LEN + 1];
    ident_uuid_format(req->params[0], id);
    const char *dis = disabled ? (json_is_true(disabled) ? "true" : "false") : NULL;
    const char *v[5] = {id, email, username, role, dis};
    wk_tx_t tx;
    PGresult *res = NULL;
    if (wk_tx_begin(&tx, ctx->db, req->tenant, req->deadline_ms) < 0)
        goto fail;
    res = wk_tx_exec(
        &tx,
        "UPDATE users SET email = coalesce($2, email), username = coalesce($3, username),"
        " role = coalesce($4, role), disabled = coalesce($5::boolean, disabled),"
        " updated_at = now() WHERE id = $1 RETURNING " USER_JSON,
        5, v);
    if (!res)
        goto fail;
    if (PQntuples(res) == 0) {
        wk_reply_error(rep, PROTO_STATUS_NOT_FOUND, "user not found");
        goto done;
    }
    char *detail = json_dumps(body, JSON_COMPACT);
    int audited = wk_audit_tenant(&tx, req, "user.update", id, detail);
    free(detail);
    if (audited < 0 || (json_is_true(disabled) && wk_auth_revoke_user(&tx, id) < 0) ||
        wk_tx_commit(&tx) < 0)
        goto fail;
    wk_reply_row(rep, PROTO_STATUS_OK, res, "user not found");
    goto done;
fail:
    wk_reply_tx_error(rep, &tx);
done:
    PQclear(res);
    wk_tx_end(&tx);
out:
    json_decref(body);
}

void wk_user_delete(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    if (memcmp(req->params[0], req->user_id, 16) == 0) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "you cannot delete yourself");
        return;
    }
    char id[IDENT_UUID_STR_LEN + 1];
    ident_uuid_format(req->params[0], id);
    wk_tx_t tx;
    if (wk_tx_begin(&tx, ctx->db, req->tenant, req->deadline_ms) < 0) {
        wk_reply_tx_error(rep, &tx);
        return;
    }
    const char *v[1] = {id};
    /* Refresh tokens go with the user (ON DELETE CASCADE). */
    PGresult *res = wk_tx_exec(&tx, "DELETE FROM users WHERE id = $1 RETURNING id", 1, v);
    if (res && PQntuples(res) == 0)
        wk_reply_error(rep, PROTO_STATUS_NOT_FOUND, "user not found");
    else if (res && wk_audit_tenant(&tx, req, "user.delete", id, NULL) == 0 &&
             wk_tx_commit(&tx) == 0)
        wk_reply_body(rep, PROTO_STATUS_NO_CONTENT, NULL);
    else
        wk_reply_tx_error(rep, &tx);
    PQclear(res);
    wk_tx_end(&tx);
}

void wk_user_password(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    static const char *const allowed[] = {"current_password", "new_password", NULL};
    const char *current, *next;
    json_t *body = wk_json_object(req, allowed, rep);
    if (!body)
        return;
    if (wk_json_string(body, "current_password", true, 1, WK_PASSWORD_MAX, &current, rep) < 0 ||
        wk_json_string(body, "new_password", true, WK_PASSWORD_MIN, WK_PASSWORD_MAX, &next, rep) <
            0)
        goto out;
    if (strcmp(current, next) == 0) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST,
                       "the new password must differ from the current one");
        goto out;
    }
    char id[IDENT_UUID_STR_LEN + 1];
    ident_uuid_format(req->user_id, id);
    const char *v[2] = {id, NULL};
    wk_tx_t tx;
    if (wk_tx_begin(&tx, ctx->db, req->tenant, req->deadline_ms) < 0) {
        wk_reply_tx_error(rep, &tx);
        goto out;
    }
    PGresult *res = wk_tx_exec_last(
        &tx, "SELECT password_hash FROM users WHERE id = $1 AND NOT disabled", 1, v);
    if (!res) {
        wk_reply_tx_error(rep, &tx);
        PQclear(res);
        wk_tx_end(&tx);
        goto out;
    }
    wk_tx_end(&tx);
    bool ok = PQntuples(res) == 1 && wk_password_verify(PQgetvalue(res, 0, 0), current);
    PQclear(res);
    if (!ok) {
        wk_reply_error(rep, PROTO_STATUS_FORBIDDEN, "the current password is incorrect");
        goto out;
    }
    char hash[WK_PASSWORD_HASH_LEN];
    if (wk_password_hash(next, hash) < 0) {
        wk_reply_error(rep, PROTO_STATUS_INTERNAL, "could not hash password");
        goto out;
    }
    v[1] = hash;
    if (wk_tx_begin(&tx, ctx->db, req->tenant, req->deadline_ms) < 0) {
        wk_reply_tx_error(rep, &tx);
        goto out;
    }
    /* Every session of the user ends with the old password. */
    res = wk_tx_exec(&tx,
                     "UPDATE users SET password_hash = $2, must_change_password = false,"
                     " updated_at = now() WHERE id = $1",
                     2, v);
    if (res && wk_auth_revoke_user(&tx, id) == 0 &&
        wk_audit_tenant(&tx, req, "user.password_change", id, NULL) == 0 && wk_tx_commit(&tx) == 0)
        wk_reply_body(rep, PROTO_STATUS_NO_CONTENT, NULL);
    else
        wk_reply_tx_error(rep, &tx);
    PQclear(res);
    wk_tx_end(&tx);
out:
    json_decref(body);
}
