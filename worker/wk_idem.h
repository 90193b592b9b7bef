/* Idempotent POSTs. A request carrying an Idempotency-Key claims (user, key) inside the same
 * transaction that applies it, and stores its response there before committing: a retry, even
 * one running concurrently (it waits on the claim's row lock), gets the stored response, and the
 * work is applied exactly once. The same key with a different request is 422. */
#ifndef WORKER_WK_IDEM_H
#define WORKER_WK_IDEM_H

#include <stdbool.h>

#include "worker/wk_handle.h"

/* Claims the request's key, if any, within tx. 0 with *replayed false: go on. 0 with *replayed
 * true: rep holds the stored response (or a 422); the handler ends the transaction and answers.
 * -1: tx failed. */
int wk_idem_claim(wk_tx_t *tx, const proto_request_t *req, proto_reply_t *rep, bool *replayed)
    __attribute__((warn_unused_result));
/* Stores a successful response under the claimed key (no-op without a key). 0 or -1. */
int wk_idem_store(wk_tx_t *tx, const proto_request_t *req, const proto_reply_t *rep)
    __attribute__((warn_unused_result));

#endif
