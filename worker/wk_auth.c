/* Authentication handlers.
 *
 * Login answers the same 401 after the same work whether the email is unknown, the password is
 * wrong or the user is disabled: an unknown email is checked against a dummy hash of the same
 * cost, and every failure writes the same throttle row, so neither the body nor the timing tells
 * whether an email exists. The Argon2id check runs between two short transactions, never inside
 * one, so a pooled server connection is not held for its ~30 ms of CPU. */
#include "worker/wk_auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/ident.h"
#include "common/log.h"
#include "common/mem.h"
#include "worker/wk_audit.h"
#include "worker/wk_json.h"
#include "worker/wk_password.h"
#include "worker/wk_reply.h"

#define ACCESS_TTL_S        900
#define REFRESH_TTL         "30 days"
#define THROTTLE_FAILURES   "5"
#define THROTTLE_WINDOW     "15 minutes"
#define REFRESH_TOKEN_BYTES 32

static char s_dummy_hash[WK_PASSWORD_HASH_LEN];
static pthread_once_t s_dummy_once = PTHREAD_ONCE_INIT;

static void s_make_dummy(void)
{
    char pw[WK_PASSWORD_TEMP_LEN + 1];
    wk_password_temp(pw);
    if (wk_password_hash(pw, s_dummy_hash) < 0)
        log_error("could not hash the dummy password");
}

/* The SHA-256 of a refresh token as a bytea literal parameter ("\x..."). */
static void s_token_hash(const char *token, char out[2 + 2 * crypto_hash_sha256_BYTES + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    out[0] = '\\';
    out[1] = 'x';
    ident_hex(h, sizeof h, out + 2);
}

/* A fresh refresh token (base64url of 32 random bytes) and its stored hash. */
static void s_new_refresh(char token[64], char hash[2 + 2 * crypto_hash_sha256_BYTES + 1])
{
    unsigned char raw[REFRESH_TOKEN_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(token, 64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    s_token_hash(token, hash);
}

/* {access_token, token_type, expires_in, refresh_token, password_change_required}. */
static void s_reply_tokens(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep,
                           const char *user_id, bool admin, bool pwd_change, const char *refresh)
{
    jwt_claims_t c = {.admin = admin, .pwd_change = pwd_change};
    if (ident_uuid_parse(user_id, strlen(user_id), c.user) < 0) {
        wk_reply_error(rep, PROTO_STATUS_INTERNAL, "stored user id is not a UUID");
        return;
    }
    memcpy(c.tenant, req->tenant, 16);
    c.iat = (int64_t)time(NULL);
    c.exp = c.iat + ACCESS_TTL_S;
    char *access = jwt_sign(ctx->ring, &c);
    wk_reply_json(rep, PROTO_STATUS_OK,
                  json_pack("{s:s, s:s, s:i, s:s, s:b}", "access_token", access, "token_type",
                            "Bearer", "expires_in", ACCESS_TTL_S, "refresh_token", refresh,
                            "password_change_required", pwd_change));
    free(access);
}

/* What transaction 1 of a login found. */
typedef struct {
    bool found, admin, pwd_change, disabled;
    char user_id[IDENT_UUID_STR_LEN + 1];
    char hash[WK_PASSWORD_HASH_LEN]; /* the stored hash, or the dummy's */
} login_user_t;

/* Transaction 1: the user and the account's throttle state. 0, or -1 with rep set (the error,
 * or 429 with Retry-After while the account is throttled). */
static int s_login_lookup(wk_ctx_t *ctx, const proto_request_t *req, const char *email,
                          login_user_t *u, proto_reply_t *rep)
{
    wk_tx_t tx;
    const char *v[1] = {email};
    if (wk_tx_begin(&tx, ctx->db, req->tenant, req->deadline_ms) < 0) {
        wk_reply_tx_error(rep, &tx);
        return -1;
    }
    PGresult *res = wk_tx_exec_last(
        &tx,
        "SELECT u.id::text, u.password_hash, u.role, u.must_change_password, u.disabled,"
        " (SELECT ceil(extract(epoch FROM t.window_start + interval '" THROTTLE_WINDOW
        "' - now()))::int"
        "  FROM login_throttle t WHERE t.email_key = lower($1) AND t.failures >= " THROTTLE_FAILURES
        "  AND t.window_start > now() - interval '" THROTTLE_WINDOW "')"
        " FROM (SELECT 1) one LEFT JOIN users u ON lower(u.email) = lower($1)",
        1, v);
    if (!res)
        wk_reply_tx_error(rep, &tx);
    wk_tx_end(&tx);
    if (!res)
        return -1;
    int rc = 0;
    if (!PQgetisnull(res, 0, 5)) {
        wk_reply_error(rep, PROTO_STATUS_RATE_LIMITED, "too many failed logins for this account");
        proto_reply_header(rep, "Retry-After", PQgetvalue(res, 0, 5));
        rc = -1;
    } else {
        u->found = !PQgetisnull(res, 0, 0);
        snprintf(u->user_id, sizeof u->user_id, "%s", u->found ? PQgetvalue(res, 0, 0) : "");
        snprintf(u->hash, sizeof u->hash, "%s", u->found ? PQgetvalue(res, 0, 1) : s_dummy_hash);
        u->admin = u->found && strcmp(PQgetvalue(res, 0, 2), "admin") == 0;
        u->pwd_change = u->found && PQgetvalue(res, 0, 3)[0] == 't';
        u->disabled = u->found && PQgetvalue(res, 0, 4)[0] == 't';
    }
    PQclear(res);
    return rc;
}

/* Transaction 2 after a right password: the throttle row goes, a refresh token family begins
 * (*refresh gets the token), audited as the user. 0, or -1. */
static int s_login_succeeded(wk_tx_t *tx, const proto_request_t *req, const char *email,
                             const login_user_t *u, char refresh[64])
{
    char hash[2 + 2 * crypto_hash_sha256_BYTES + 1];
    s_new_refresh(refresh, hash);
    const char *v[3] = {email, u->user_id, hash};
    PGresult *r1 = wk_tx_exec(tx, "DELETE FROM login_throttle WHERE email_key = lower($1)", 1, v);
    PGresult *r2 =
        wk_tx_exec(tx,
                   "INSERT INTO refresh_tokens (user_id, family, token_hash, expires_at)"
                   " VALUES ($1, gen_random_uuid(), $2, now() + interval '" REFRESH_TTL "')",
                   2, v + 1);
    int rc = r1 && r2 ? 0 : -1;
    PQclear(r1);
    PQclear(r2);
    /* The actor of a login is the user who logged in. */
    proto_request_t as_user = *req;
    as_user.has_user = ident_uuid_parse(u->user_id, strlen(u->user_id), as_user.user_id) == 0;
    return rc == 0 ? wk_audit_tenant(tx, &as_user, "auth.login", u->user_id, NULL) : -1;
}

/* Transaction 2 after any failure (the same writes whatever the reason, so timing tells
 * nothing): one more failure in the account's window, stale windows swept, audited with the
 * reason. 0, or -1. */
static int s_login_failed(wk_tx_t *tx, const proto_request_t *req, const char *email,
                          const login_user_t *u)
{
    const char *v[1] = {email};
    PGresult *r1 = wk_tx_exec(
        tx,
        "INSERT INTO login_throttle AS t VALUES (lower($1), 1, now())"
        " ON CONFLICT (email_key) DO UPDATE SET"
        " failures = CASE WHEN t.window_start < now() - interval '" THROTTLE_WINDOW "'"
        "  THEN 1 ELSE t.failures + 1 END,"
        " window_start = CASE WHEN t.window_start < now() - interval '" THROTTLE_WINDOW "'"
        "  THEN now() ELSE t.window_start END",
        1, v);
    PGresult *r2 = wk_tx_exec(
        tx, "DELETE FROM login_throttle WHERE window_start < now() - interval '1 hour'", 0, NULL);
    int rc = r1 && r2 ? 0 : -1;
    PQclear(r1);
    PQclear(r2);
    char detail[64];
    snprintf(detail, sizeof detail, "{\"reason\":\"%s\"}",
             !u->found     ? "unknown_email"
             : u->disabled ? "disabled"
                           : "bad_password");
    return rc == 0 ? wk_audit_tenant(tx, req, "auth.login_failed", email, detail) : -1;
}

void wk_auth_login(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    static const char *const allowed[] = {"email", "password", NULL};
    const char *email, *password;
    json_t *body = wk_json_object(req, allowed, rep);
    if (!body)
        return;
    login_user_t u = {0};
    if (wk_json_string(body, "email", true, 1, 254, &email, rep) < 0 ||
        wk_json_string(body, "password", true, 1, WK_PASSWORD_MAX, &password, rep) < 0)
        goto out;
    pthread_once(&s_dummy_once, s_make_dummy);
    if (s_login_lookup(ctx, req, email, &u, rep) < 0)
        goto out;
    /* The expensive check, outside any transaction; the same work for unknown emails. */
    bool ok = wk_password_verify(u.hash, password) && u.found && !u.disabled;
    wk_tx_t tx;
    if (wk_tx_begin(&tx, ctx->db, req->tenant, req->deadline_ms) < 0) {
        wk_reply_tx_error(rep, &tx);
        goto out;
    }
    char refresh[64] = "";
    int rc =
        ok ? s_login_succeeded(&tx, req, email, &u, refresh) : s_login_failed(&tx, req, email, &u);
    if (rc < 0 || wk_tx_commit(&tx) < 0)
        wk_reply_tx_error(rep, &tx);
    else if (ok)
        s_reply_tokens(ctx, req, rep, u.user_id, u.admin, u.pwd_change, refresh);
    else
        wk_reply_error(rep, PROTO_STATUS_UNAUTHORIZED, "invalid email or password");
    wk_tx_end(&tx);
    sodium_memzero(refresh, sizeof refresh);
out:
    sodium_memzero(u.hash, sizeof u.hash);
    json_decref(body);
}

/* Reads {"refresh_token": "..."} and writes its stored hash. 0, or -1 with a 400 set. */
static int s_refresh_body(const proto_request_t *req, proto_reply_t *rep,
                          char hash[2 + 2 * crypto_hash_sha256_BYTES + 1])
{
    static const char *const allowed[] = {"refresh_token", NULL};
    const char *token;
    json_t *body = wk_json_object(req, allowed, rep);
    if (!body)
        return -1;
    int rc = wk_json_string(body, "refresh_token", true, 1, 128, &token, rep);
    if (rc == 0)
        s_token_hash(token, hash);
    json_decref(body);
    return rc;
}

void wk_auth_refresh(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    char hash[2 + 2 * crypto_hash_sha256_BYTES + 1];
    if (s_refresh_body(req, rep, hash) < 0)
        return;
    wk_tx_t tx;
    if (wk_tx_begin(&tx, ctx->db, req->tenant, req->deadline_ms) < 0) {
        wk_reply_tx_error(rep, &tx);
        return;
    }
    const char *v[1] = {hash};
    /* FOR UPDATE: two concurrent uses of one token are serialised; the second sees it rotated. */
    PGresult *row = wk_tx_exec(&tx,
                               "SELECT t.id::text, t.family::text, t.user_id::text,"
                               " t.revoked_at IS NOT NULL, t.expires_at < now(), u.role,"
                               " u.must_change_password, u.disabled"
                               " FROM refresh_tokens t JOIN users u ON u.id = t.user_id"
                               " WHERE t.token_hash = $1 FOR UPDATE OF t",
                               1, v);
    char refresh[64] = "", new_hash[2 + 2 * crypto_hash_sha256_BYTES + 1];
    if (!row) {
        wk_reply_tx_error(rep, &tx);
    } else if (PQntuples(row) == 0 || PQgetvalue(row, 0, 4)[0] == 't' ||
               PQgetvalue(row, 0, 7)[0] == 't') {
        wk_reply_error(rep, PROTO_STATUS_UNAUTHORIZED, "refresh token is invalid or expired");
    } else if (PQgetvalue(row, 0, 3)[0] == 't') {
        /* A rotated token came back: someone holds a copy. Revoke the whole family. */
        const char *fam[1] = {PQgetvalue(row, 0, 1)};
        PGresult *r = wk_tx_exec(&tx,
                                 "UPDATE refresh_tokens SET revoked_at = now()"
                                 " WHERE family = $1 AND revoked_at IS NULL",
                                 1, fam);
        proto_request_t as_user = *req;
        as_user.has_user = ident_uuid_parse(PQgetvalue(row, 0, 2), 36, as_user.user_id) == 0;
        if (r &&
            wk_audit_tenant(&tx, &as_user, "auth.refresh_reuse", PQgetvalue(row, 0, 1), NULL) ==
                0 &&
            wk_tx_commit(&tx) == 0)
            wk_reply_error(
                rep, PROTO_STATUS_UNAUTHORIZED,
                "refresh token was already used; every session of this login is revoked");
        else
            wk_reply_tx_error(rep, &tx);
        PQclear(r);
    } else {
        s_new_refresh(refresh, new_hash);
        const char *rot[4] = {PQgetvalue(row, 0, 0), PQgetvalue(row, 0, 1), PQgetvalue(row, 0, 2),
                              new_hash};
        PGresult *r1 =
            wk_tx_exec(&tx, "UPDATE refresh_tokens SET revoked_at = now() WHERE id = $1", 1, rot);
        PGresult *r2 =
            wk_tx_exec(&tx,
                       "INSERT INTO refresh_tokens (family, user_id, token_hash, expires_at)"
                       " VALUES ($1, $2, $3, now() + interval '" REFRESH_TTL "')",
                       3, rot + 1);
        if (r1 && r2 && wk_tx_commit(&tx) == 0)
            s_reply_tokens(ctx, req, rep, PQgetvalue(row, 0, 2),
                           strcmp(PQgetvalue(row, 0, 5), "admin") == 0,
                           PQgetvalue(row, 0, 6)[0] == 't', refresh);
        else
            wk_reply_tx_error(rep, &tx);
        PQclear(r1);
        PQclear(r2);
    }
    PQclear(row);
    wk_tx_end(&tx);
    sodium_memzero(refresh, sizeof refresh);
}

void wk_auth_logout(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep)
{
    char hash[2 + 2 * crypto_hash_sha256_BYTES + 1], user[IDENT_UUID_STR_LEN + 1];
    if (s_refresh_body(req, rep, hash) < 0)
        return;
    ident_uuid_format(req->user_id, user);
    wk_tx_t tx;
    if (wk_tx_begin(&tx, ctx->db, req->tenant, req->deadline_ms) < 0) {
        wk_reply_tx_error(rep, &tx);
        return;
    }
    /* Only the caller's own token; an unknown one is already as good as logged out. */
    const char *v[2] = {hash, user};
    PGresult *r = wk_tx_exec(&tx,
                             "UPDATE refresh_tokens SET revoked_at = now() WHERE revoked_at IS NULL"
                             " AND family = (SELECT family FROM refresh_tokens"
                             "  WHERE token_hash = $1 AND user_id = $2)",
                             2, v);
    if (r && wk_audit_tenant(&tx, req, "auth.logout", user, NULL) == 0 && wk_tx_commit(&tx) == 0)
        wk_reply_body(rep, PROTO_STATUS_NO_CONTENT, NULL);
    else
        wk_reply_tx_error(rep, &tx);
    PQclear(r);
    wk_tx_end(&tx);
}

int wk_auth_revoke_user(wk_tx_t *tx, const char *user_id)
{
    const char *v[1] = {user_id};
    PGresult *r = wk_tx_exec(tx,
                             "UPDATE refresh_tokens SET revoked_at = now()"
                             " WHERE user_id = $1 AND revoked_at IS NULL",
                             1, v);
    PQclear(r);
    return r ? 0 : -1;
}
