/* Login, refresh-token rotation and logout for tenant users. Passwords are checked against their
 * Argon2id hashes; refresh tokens are random, stored only as SHA-256 hashes, rotated on every
 * use, and a reused (already rotated) one revokes its whole family. */
#ifndef WORKER_WK_AUTH_H
#define WORKER_WK_AUTH_H

#include "worker/wk_handle.h"

void wk_auth_login(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_auth_refresh(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_auth_logout(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
/* Revokes every live refresh token of a user within tx (password change, disable). 0 or -1. */
int wk_auth_revoke_user(wk_tx_t *tx, const char *user_id) __attribute__((warn_unused_result));

#endif
