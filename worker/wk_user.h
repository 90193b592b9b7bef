/* Tenant users: the caller's own profile and password, and user management (list and get for
 * every member; create, update and delete for admins; create also for the platform). */
#ifndef WORKER_WK_USER_H
#define WORKER_WK_USER_H

#include "worker/wk_handle.h"

void wk_user_me(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_user_password(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_user_list(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_user_get(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
/* POST /api/users (admin) and POST /api/tenants/{id}/users (platform). */
void wk_user_create(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_user_update(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);
void wk_user_delete(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);

#endif
