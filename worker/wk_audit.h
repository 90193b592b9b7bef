/* Audit trail: tenant events go to the tenant's own audit_log (actor, action, target, time,
 * client address, request id), platform events to quiz.platform_audit. Both are appended inside
 * the transaction of the change they record, so the record exists exactly when the change does. */
#ifndef WORKER_WK_AUDIT_H
#define WORKER_WK_AUDIT_H

#include "worker/wk_handle.h"

/* Appends to the tenant's audit_log (tx bound to the tenant); the actor is the calling user, if
 * any. target and detail_json may be NULL. 0 or -1 (tx failure recorded). */
int wk_audit_tenant(wk_tx_t *tx, const proto_request_t *req, const char *action, const char *target,
                    const char *detail_json) __attribute__((warn_unused_result));
/* Appends to quiz.platform_audit about req->tenant. 0 or -1. */
int wk_audit_platform(wk_tx_t *tx, const proto_request_t *req, const char *action)
    __attribute__((warn_unused_result));
/* GET /api/audit: the tenant's audit log, newest first, paginated. */
void wk_audit_list(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep);

#endif
