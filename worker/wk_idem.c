/* Idempotency keys in the tenant's idempotency_keys table (sql/tenant/003_quiz.sql). */
#include "worker/wk_idem.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"
#include "common/mem.h"
#include "worker/wk_reply.h"

#define KEY_HEADER "Idempotency-Key"

/* SHA-256 of what makes a request the same request: operation, path ids and body. */
static void s_request_hash(const proto_request_t *req, char out[2 + 64 + 1])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    uint32_t op = (uint32_t)req->op;
    crypto_hash_sha256_update(&st, (const unsigned char *)&op, sizeof op);
    for (int i = 0; i < req->nparams; i++)
        crypto_hash_sha256_update(&st, req->params[i], 16);
    crypto_hash_sha256_update(&st, (const unsigned char *)(req->body ? req->body : ""),
                              req->body_len);
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, h);
    out[0] = '\\';
    out[1] = 'x';
    ident_hex(h, sizeof h, out + 2);
}

int wk_idem_claim(wk_tx_t *tx, const proto_request_t *req, proto_reply_t *rep, bool *replayed)
{
    *replayed = false;
    const char *key = proto_request_get_header(req, KEY_HEADER);
    if (!key)
        return 0;
    char user[IDENT_UUID_STR_LEN + 1], hash[2 + 64 + 1];
    ident_uuid_format(req->user_id, user);
    s_request_hash(req, hash);
    const char *v[3] = {user, key, hash};
    /* A key older than 24 hours is forgotten: the claim takes it over. A concurrent claim of the
       same key waits here until the first transaction ends, then sees its stored response. */
    PGresult *res =
        wk_tx_exec(tx,
                   "INSERT INTO idempotency_keys AS k (user_id, key, request_hash)"
                   " VALUES ($1, $2, $3) ON CONFLICT (user_id, key) DO UPDATE"
                   " SET request_hash = EXCLUDED.request_hash, status = NULL, body = NULL,"
                   " created_at = now() WHERE k.created_at < now() - interval '24 hours'"
                   " RETURNING true",
                   3, v);
    if (!res)
        return -1;
    bool claimed = PQntuples(res) == 1;
    PQclear(res);
    if (claimed)
        return 0;
    res = wk_tx_exec(tx,
                     "SELECT request_hash = $3, status, body FROM idempotency_keys"
                     " WHERE user_id = $1 AND key = $2",
                     3, v);
    if (!res)
        return -1;
    *replayed = true;
    if (PQntuples(res) != 1 || PQgetvalue(res, 0, 0)[0] != 't')
        wk_reply_error(rep, PROTO_STATUS_UNPROCESSABLE,
                       "Idempotency-Key was already used with a different request");
    else if (PQgetisnull(res, 0, 1))
        wk_reply_error(rep, PROTO_STATUS_CONFLICT,
                       "a request with this Idempotency-Key is in progress");
    else
        wk_reply_body(rep, (proto_status_t)atoi(PQgetvalue(res, 0, 1)),
                      PQgetisnull(res, 0, 2) ? NULL : mem_strdup(PQgetvalue(res, 0, 2)));
    PQclear(res);
    return 0;
}

int wk_idem_store(wk_tx_t *tx, const proto_request_t *req, const proto_reply_t *rep)
{
    const char *key = proto_request_get_header(req, KEY_HEADER);
    if (!key)
        return 0;
    char user[IDENT_UUID_STR_LEN + 1], status[12];
    ident_uuid_format(req->user_id, user);
    snprintf(status, sizeof status, "%d", (int)rep->status);
    const char *v[4] = {user, key, status, rep->body};
    PGresult *res = wk_tx_exec(tx,
                               "UPDATE idempotency_keys SET status = $3, body = $4"
                               " WHERE user_id = $1 AND key = $2",
                               4, v);
    PQclear(res);
    /* Forget expired keys while we are here (an index range, usually empty). */
    PGresult *gc = res ? wk_tx_exec(tx,
                                    "DELETE FROM idempotency_keys"
                                    " WHERE created_at < now() - interval '24 hours'",
                                    0, NULL)
                       : NULL;
    PQclear(gc);
    return res && gc ? 0 : -1;
}
