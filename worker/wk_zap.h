/* The worker's door (ZeroMQ's ZAP, RFC 27): the frontend is a CurveZMQ server, and this thread
 * admits a connecting gateway only if its public key is a *.pub file of the allowed directory,
 * read again at every handshake, so adding a gateway is adding its key file and a removed one
 * cannot connect again. A socket monitor of the frontend catches the peers refused before ZAP
 * is asked (no CURVE at all). Each refusal is logged once per address, not once per retry. */
#ifndef WORKER_WK_ZAP_H
#define WORKER_WK_ZAP_H

typedef struct wk_zap wk_zap_t;

/* Binds the ZAP handler in zctx and watches frontend (not yet bound). Call before binding the
 * frontend: a CURVE socket without a ZAP handler would admit every key. Caller owns the result;
 * NULL if the handler could not be bound. */
wk_zap_t *wk_zap_start(void *zctx, void *frontend, const char *allowed_dir);
/* Joins the thread; call after zmq_ctx_shutdown (which ends it). Accepts NULL. */
void wk_zap_destroy(wk_zap_t **zap_p);

#endif
