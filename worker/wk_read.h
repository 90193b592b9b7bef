/* The shape most read handlers share: one statement in a tenant-bound (or shared-schema)
 * transaction that commits in the same round trip, answered as one JSON row or as a page. */
#ifndef WORKER_WK_READ_H
#define WORKER_WK_READ_H

#include "worker/wk_handle.h"
#include "worker/wk_page.h"

/* What a read the cache may keep (wk_cache.h) selects after its own columns: the tenant role's
 * oid, and whether its table logs its changes (sql/tenant/006_quiz_changes.sql,
 * 007_user_changes.sql: a tenant not yet migrated to them is never cached). `logs` is
 * WK_CACHE_LOOK(table), a catalog query, or "true" for a tenant already seen logging
 * (wk_read_must_look false), or with no cache to keep the row in. */
#define WK_CACHE_COLUMNS(logs) " to_regrole(current_schema())::oid, " logs
#define WK_CACHE_LOOK(table)                                                                    \
    "EXISTS (SELECT FROM pg_trigger WHERE tgrelid = '" table "'::regclass AND tgname = '" table \
    "_changed_truncate')"

/* Whether a read for the cache must look for the trigger of `tables` (WK_LOGS_*). */
bool wk_read_must_look(const wk_ctx_t *ctx, const proto_request_t *req, unsigned tables);
/* The role oid to keep row 0 of res under, if its WK_CACHE_COLUMNS (at col and col + 1) say the
 * tables log their changes (noted for the tenant); 0: not to be kept. */
uint32_t wk_read_keepable(const wk_ctx_t *ctx, const proto_request_t *req, const PGresult *res,
                          int col, unsigned tables);
/* The cache thread's answer (ctx->cache_only): the document of that kind and id from the cache
 * as a 200, or ctx->missed set for a database thread to read it. */
void wk_read_cached(wk_ctx_t *ctx, proto_reply_t *rep, wk_cache_kind_t kind, const uint8_t *tenant,
                    const uint8_t id[16]);
/* Keeps rep's body as that document (read in epoch) if res's row 0 may be kept (above). */
void wk_read_keep(wk_ctx_t *ctx, const proto_request_t *req, const PGresult *res, int col,
                  unsigned tables, uint64_t epoch, wk_cache_kind_t kind, const uint8_t id[16],
                  const proto_reply_t *rep);

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
