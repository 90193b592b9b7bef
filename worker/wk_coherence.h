/* What makes the quiz cache (wk_cache.h) never stale: validation rounds. A round is one
 * statement on a connection of its own, in one snapshot: the xmin of that snapshot, the rows of
 * the cluster's change log (sql/shared/014_quiz_changes.sql) that the previous round's snapshot
 * may not have seen (xid at or past its xmin), and for each tenant asked about its role's oid and
 * whether this shard's login is still a member (a move, a suspension or a deletion revokes it).
 * What changed is dropped from the cache before the round returns. So a read that arrived before
 * a round began, answered from the cache after it, sees every change acknowledged before it
 * arrived, whichever worker or process made it.
 *
 * Whatever could break the chain of rounds empties the cache: a new connection (a failover, a
 * restore), an xmin that went back, or no round for four fifths of the time the log is kept.
 * One thread calls these (the server's cache thread). */
#ifndef WORKER_WK_COHERENCE_H
#define WORKER_WK_COHERENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "worker/wk_cache.h"

typedef struct wk_coherence wk_coherence_t;

/* Rounds on a connection to dsn as user (NULL: the DSN's), dropping from cache; the log's rows
 * are kept retain_s after their transaction ended, which must be the same for every worker of
 * the cluster (one that forgets later than another prunes would miss rows). Caller owns. */
wk_coherence_t *wk_coherence_new(const char *dsn, const char *user, wk_cache_t *cache,
                                 int retain_s);
void wk_coherence_destroy(wk_coherence_t **co_p);

/* A tenant asked about in a round, and what the round found. */
typedef struct wk_coherence_tenant {
    uint8_t tenant[16];
    uint32_t role_oid; /* 0: no such role here */
    bool member;       /* this shard's login may enter the role */
} wk_coherence_tenant_t;

/* The role oid a cached document of this tenant must have been read under, if the round found
 * this shard's login still a member; 0: nothing of the tenant may come from the cache. */
static inline uint32_t wk_coherence_oid(const wk_coherence_tenant_t *t)
{
    return t && t->member ? t->role_oid : 0;
}

/* Runs one round for these tenants. 0, or -1 when it failed: nothing may be answered from the
 * cache on the strength of it. */
int wk_coherence_round(wk_coherence_t *co, wk_coherence_tenant_t *tenants, int n);

/* Every tenth of retain_s, deletes the log rows every worker has had time to read (those of
 * transactions that ended retain_s ago or more). Cheap otherwise: call it often. */
void wk_coherence_prune(wk_coherence_t *co);

#endif
