/* A worker's cache of quiz documents: each quiz's stored views (the member's, the author's) as
 * its last read found them, with the version, the author and the tenant role's oid they were
 * read under; and pages of tenants' quiz lists. Bounded in bytes (the oldest go first). It knows
 * nothing of coherence: the validation rounds (wk_coherence.h) drop what changed, and a read is
 * answered from here only after a round that began after it arrived (wk_server.c).
 *
 * A fill races with the rounds: it read the database before a round that may have dropped the
 * quiz meanwhile. So a fill names the epoch it began in (wk_cache_epoch, taken before its query)
 * and is kept only if no drop happened since. Thread-safe. */
#ifndef WORKER_WK_CACHE_H
#define WORKER_WK_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wk_cache wk_cache_t;

/* A cache holding at most budget bytes of documents (0: caches nothing). Caller owns. */
wk_cache_t *wk_cache_new(size_t budget);
void wk_cache_destroy(wk_cache_t **cache_p);

/* The current epoch: take it before the query whose result may be put. */
uint64_t wk_cache_epoch(wk_cache_t *cache);

/* What a fill read: one view of the quiz. */
typedef struct {
    const uint8_t *tenant;
    const uint8_t *quiz;
    const uint8_t *author; /* NULL: none (deleted) */
    uint32_t role_oid;     /* the tenant role's oid on this cluster */
    long long version;
    bool full; /* the author's view (else the member's) */
    const char *doc;
    size_t len;
} wk_cache_fill_t;

/* Keeps f's view unless the cache dropped anything since epoch (then the fill may be older than
 * a change already accounted). A view of another version replaces the quiz's entry. */
void wk_cache_put(wk_cache_t *cache, uint64_t epoch, const wk_cache_fill_t *f);

/* A view found: the document (caller frees) and the version it is of. */
typedef struct {
    char *doc;
    size_t len;
    long long version;
    bool full;
} wk_cache_hit_t;

/* The view of the quiz this caller gets (the author's for its author or an admin, else the
 * member's), if held and read under role_oid. */
bool wk_cache_get(wk_cache_t *cache, const uint8_t tenant[16], const uint8_t quiz[16],
                  const uint8_t user[16], bool admin, uint32_t role_oid, wk_cache_hit_t *hit);

/* Other documents: a page of a tenant's quiz list (id: a key of its parameters), void once any
 * row of its tenant is dropped; a user (id: the user's), dropped with its id. */
typedef enum { WK_CACHE_LIST = 1, WK_CACHE_USER = 2 } wk_cache_kind_t;
/* Keeps one, read in epoch under role_oid (unless a drop happened since). */
void wk_cache_put_doc(wk_cache_t *cache, uint64_t epoch, wk_cache_kind_t kind,
                      const uint8_t tenant[16], const uint8_t id[16], uint32_t role_oid,
                      const char *doc, size_t len);
/* That document (caller frees), if held, read under role_oid and not void; else NULL. */
char *wk_cache_get_doc(wk_cache_t *cache, wk_cache_kind_t kind, const uint8_t tenant[16],
                       const uint8_t id[16], uint32_t role_oid);

/* Whether the tenant's tables were seen logging their changes (the triggers of
 * sql/tenant/006_quiz_changes.sql and 007_user_changes.sql, which no migration takes away): a
 * fill then need not look. */
#define WK_LOGS_QUIZZES 1u
#define WK_LOGS_USERS   2u
bool wk_cache_tenant_logs(wk_cache_t *cache, const uint8_t tenant[16], unsigned tables);
void wk_cache_note_logs(wk_cache_t *cache, const uint8_t tenant[16], unsigned tables);

/* Drops the quiz or user of that id (and voids its tenant's lists), a whole tenant (quiz NULL),
 * or everything (tenant NULL). */
void wk_cache_drop(wk_cache_t *cache, const uint8_t *tenant, const uint8_t *quiz);

/* Entries and bytes held, for /metrics. */
void wk_cache_size(wk_cache_t *cache, size_t *entries, size_t *bytes);

#endif
