/* Keyset pagination shared by every list endpoint: `?limit=` (1..100, default 20) and an
 * opaque `?cursor=` naming the last row of the previous page by (created_at, id). A list query
 * takes $1 cursor microseconds (or NULL), $2 cursor id (or NULL), $3 limit + 1, and returns
 * columns (item JSON, created_at in epoch microseconds, id). */
#ifndef WORKER_WK_PAGE_H
#define WORKER_WK_PAGE_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "proto/proto.h"

/* That contract in SQL, for rows ordered newest first by (TS, ID), where ID has SQL type IDTYPE:
 * the key columns to select after the item JSON, the condition "after the cursor" and the
 * order with its limit. */
#define WK_PAGE_KEYS(ts, id) " (extract(epoch FROM " ts ") * 1000000)::bigint, " id
#define WK_PAGE_AFTER(ts, id, idtype)            \
    " ($1::bigint IS NULL OR (" ts ", " id ") <" \
    " ('epoch'::timestamptz + $1::bigint * interval '1 microsecond', $2::" idtype "))"
#define WK_PAGE_ORDER(ts, id) " ORDER BY " ts " DESC, " id " DESC LIMIT $3"

#define WK_PAGE_DEFAULT 20
#define WK_PAGE_MAX     100

typedef struct {
    int limit;
    bool has_cursor;
    char micros[24]; /* decimal microseconds since the epoch */
    char id[37];     /* UUID text, or decimal digits of a bigserial id */
    char fetch[12];  /* limit + 1, as text: one extra row tells whether a next page exists */
} wk_page_t;

/* Reads limit and cursor from the query. 0, or -1 with a 400 reply set. */
int wk_page_parse(const proto_request_t *req, wk_page_t *page, proto_reply_t *rep)
    __attribute__((warn_unused_result));
/* The three query parameters, pointing into page. */
void wk_page_params(const wk_page_t *page, const char *values[3]);
/* {"items":[...],"next_cursor":...} from a list query's result; the caller frees it. */
char *wk_page_json(const PGresult *res, const wk_page_t *page);

#endif
