/* The shape most read handlers share: one statement in a tenant-bound (or shared-schema)
 * transaction that commits in the same round trip, answered as one JSON row or as a page. */
#ifndef WORKER_WK_READ_H
#define WORKER_WK_READ_H

#include "worker/wk_handle.h"
#include "worker/wk_page.h"

/* Runs the statement as a transaction's last (tenant NULL: the registry's); the result (caller
 * clears, then ends tx), or NULL with rep set. */
PGresult *wk_read_run(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep,
                      const uint8_t *tenant, const char *sql, int n, const char *const *values,
                      wk_tx_t *tx);
/* Runs sql (column 0: a JSON object) and answers 200 with it, or 404 with not_found.
 * tenant NULL: the shared schema, on the registry's connection. */
void wk_read_row(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep,
                 const uint8_t *tenant, const char *sql, int n, const char *const *values,
                 const char *not_found);
/* Runs a list query (see wk_page.h for its columns and first three parameters) and answers 200
 * with the page. */
void wk_read_page(wk_ctx_t *ctx, const proto_request_t *req, proto_reply_t *rep,
                  const uint8_t *tenant, const char *sql, int n, const char *const *values,
                  const wk_page_t *page);

#endif
