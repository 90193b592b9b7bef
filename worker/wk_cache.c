/* The quiz document cache: a chained hash table of quizzes keyed by tenant and quiz id, and a
 * list in order of filling from which the oldest are evicted past the byte budget. One mutex:
 * every operation is a lookup and a copy of a few kilobytes at most. */
#include "worker/wk_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/shard.h"

#define KEY_LEN      33 /* tenant, quiz id or list key, kind */
#define KIND_QUIZ    0  /* the others are wk_cache_kind_t */
#define MARK_BUCKETS 4096

typedef struct entry {
    uint8_t key[KEY_LEN];
    uint8_t author[16];
    bool has_author;
    uint32_t role_oid;
    long long version;
    char *doc[2]; /* [0] the member's view, [1] the author's; NULL: not held */
    size_t len[2];
    struct entry *chain;         /* next in the bucket */
    struct entry *older, *newer; /* the filling order */
} entry_t;

/* A tenant's last drop of a quiz: its lists read before are void. */
typedef struct mark {
    uint8_t tenant[16];
    uint64_t epoch; /* of its last drop (0: none) */
    unsigned logs;  /* the tables seen logging their changes (WK_LOGS_*) */
    struct mark *chain;
} mark_t;

struct wk_cache {
    pthread_mutex_t lock;
    mark_t *marks[MARK_BUCKETS]; /* one per tenant that had a quiz dropped */
    size_t budget, bytes, entries;
    uint64_t epoch; /* drops so far */
    entry_t **buckets;
    size_t nbuckets; /* a power of two */
    entry_t *oldest, *newest;
};

/* The placement hash of the tenant and of the item id, and the kind. */
static size_t s_hash(const uint8_t key[KEY_LEN])
{
    return (size_t)(shard_hash(key) ^ (shard_hash(key + 16) + key[32]));
}

static size_t s_hash_tenant(const uint8_t tenant[16])
{
    return (size_t)shard_hash(tenant) & (MARK_BUCKETS - 1);
}

static size_t s_entry_bytes(const entry_t *e)
{
    return sizeof *e + e->len[0] + e->len[1];
}

wk_cache_t *wk_cache_new(size_t budget)
{
    wk_cache_t *c = mem_zalloc(sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    c->budget = budget;
    c->nbuckets = 1024;
    c->buckets = mem_zalloc(c->nbuckets * sizeof *c->buckets);
    return c;
}

static entry_t **s_slot(wk_cache_t *c, const uint8_t key[KEY_LEN])
{
    entry_t **p = &c->buckets[s_hash(key) & (c->nbuckets - 1)];
    while (*p && memcmp((*p)->key, key, KEY_LEN) != 0)
        p = &(*p)->chain;
    return p;
}

static void s_unlink_age(wk_cache_t *c, entry_t *e)
{
    *(e->older ? &e->older->newer : &c->oldest) = e->newer;
    *(e->newer ? &e->newer->older : &c->newest) = e->older;
    e->older = e->newer = NULL;
}

static void s_link_newest(wk_cache_t *c, entry_t *e)
{
    e->older = c->newest;
    *(c->newest ? &c->newest->newer : &c->oldest) = e;
    c->newest = e;
}

static void s_remove(wk_cache_t *c, entry_t *e)
{
    entry_t **p = s_slot(c, e->key);
    *p = e->chain;
    s_unlink_age(c, e);
    c->bytes -= s_entry_bytes(e);
    c->entries--;
    free(e->doc[0]);
    free(e->doc[1]);
    free(e);
}

/* Twice the buckets once there are more entries than buckets: chains stay short. */
static void s_grow(wk_cache_t *c)
{
    size_t n = c->nbuckets * 2;
    entry_t **b = mem_zalloc(n * sizeof *b);
    for (size_t i = 0; i < c->nbuckets; i++)
        for (entry_t *e = c->buckets[i], *next; e; e = next) {
            next = e->chain;
            size_t h = s_hash(e->key) & (n - 1);
            e->chain = b[h];
            b[h] = e;
        }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
}

static void s_clear_marks(wk_cache_t *c)
{
    for (size_t i = 0; i < MARK_BUCKETS; i++)
        for (mark_t *m = c->marks[i], *next; m; m = next) {
            next = m->chain;
            free(m);
        }
    memset(c->marks, 0, sizeof c->marks);
}

void wk_cache_destroy(wk_cache_t **cache_p)
{
    wk_cache_t *c = *cache_p;
    if (!c)
        return;
    while (c->oldest)
        s_remove(c, c->oldest);
    s_clear_marks(c);
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
    *cache_p = NULL;
}

uint64_t wk_cache_epoch(wk_cache_t *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t e = c->epoch;
    pthread_mutex_unlock(&c->lock);
    return e;
}

/* The key of a quiz or a list of a tenant. */
static void s_key(uint8_t key[KEY_LEN], const uint8_t tenant[16], const uint8_t item[16], int kind)
{
    memcpy(key, tenant, 16);
    memcpy(key + 16, item, 16);
    key[32] = (uint8_t)kind;
}

static mark_t *s_find_mark(const wk_cache_t *c, const uint8_t tenant[16])
{
    for (mark_t *m = c->marks[s_hash_tenant(tenant)]; m; m = m->chain)
        if (memcmp(m->tenant, tenant, 16) == 0)
            return m;
    return NULL;
}

/* The epoch of the tenant's last drop (0: none since everything was). */
static uint64_t s_mark(const wk_cache_t *c, const uint8_t tenant[16])
{
    const mark_t *m = s_find_mark(c, tenant);
    return m ? m->epoch : 0;
}

static mark_t *s_mark_of(wk_cache_t *c, const uint8_t tenant[16])
{
    mark_t *m = s_find_mark(c, tenant);
    if (m)
        return m;
    mark_t **p = &c->marks[s_hash_tenant(tenant)];
    m = mem_zalloc(sizeof *m);
    memcpy(m->tenant, tenant, 16);
    m->chain = *p;
    *p = m;
    return m;
}

static void s_set_mark(wk_cache_t *c, const uint8_t tenant[16])
{
    s_mark_of(c, tenant)->epoch = c->epoch;
}

bool wk_cache_tenant_logs(wk_cache_t *c, const uint8_t tenant[16], unsigned tables)
{
    pthread_mutex_lock(&c->lock);
    const mark_t *m = s_find_mark(c, tenant);
    bool logs = m && (m->logs & tables) == tables;
    pthread_mutex_unlock(&c->lock);
    return logs;
}

void wk_cache_note_logs(wk_cache_t *c, const uint8_t tenant[16], unsigned tables)
{
    pthread_mutex_lock(&c->lock);
    s_mark_of(c, tenant)->logs |= tables;
    pthread_mutex_unlock(&c->lock);
}

/* Keeps a document under key (view 0 or 1 of it) unless a drop happened since epoch; an entry of
 * another version or role goes first. Takes doc. */
static void s_store(wk_cache_t *c, uint64_t epoch, const uint8_t key[KEY_LEN], int view,
                    const wk_cache_fill_t *f, char *doc)
{
    pthread_mutex_lock(&c->lock);
    if (c->epoch != epoch) {
        pthread_mutex_unlock(&c->lock);
        free(doc);
        return;
    }
    entry_t **p = s_slot(c, key), *e = *p;
    if (e && (e->version != f->version || e->role_oid != f->role_oid)) {
        s_remove(c, e); /* another version: its other view is of no use */
        e = NULL;
    }
    if (!e) {
        if (c->entries >= c->nbuckets)
            s_grow(c);
        e = mem_zalloc(sizeof *e);
        memcpy(e->key, key, KEY_LEN);
        e->version = f->version;
        e->role_oid = f->role_oid;
        e->has_author = f->author != NULL;
        if (f->author)
            memcpy(e->author, f->author, 16);
        p = &c->buckets[s_hash(key) & (c->nbuckets - 1)];
        e->chain = *p;
        *p = e;
        c->entries++;
        c->bytes += sizeof *e;
    } else {
        s_unlink_age(c, e);
    }
    c->bytes -= e->len[view];
    free(e->doc[view]);
    e->doc[view] = doc;
    e->len[view] = f->len;
    c->bytes += f->len;
    s_link_newest(c, e);
    while (c->bytes > c->budget && c->oldest)
        s_remove(c, c->oldest);
    pthread_mutex_unlock(&c->lock);
}

void wk_cache_put(wk_cache_t *c, uint64_t epoch, const wk_cache_fill_t *f)
{
    if (sizeof(entry_t) + f->len > c->budget)
        return;
    uint8_t key[KEY_LEN];
    s_key(key, f->tenant, f->quiz, KIND_QUIZ);
    s_store(c, epoch, key, f->full ? 1 : 0, f, mem_strndup(f->doc, f->len));
}

void wk_cache_put_doc(wk_cache_t *c, uint64_t epoch, wk_cache_kind_t kind, const uint8_t tenant[16],
                      const uint8_t id[16], uint32_t role_oid, const char *doc, size_t len)
{
    if (sizeof(entry_t) + len > c->budget)
        return;
    uint8_t key[KEY_LEN];
    s_key(key, tenant, id, kind);
    /* Its version is the epoch it was read in: a list holds until the tenant's next drop. */
    wk_cache_fill_t f = {.role_oid = role_oid, .version = (long long)epoch, .len = len};
    s_store(c, epoch, key, 0, &f, mem_strndup(doc, len));
}

bool wk_cache_get(wk_cache_t *c, const uint8_t tenant[16], const uint8_t quiz[16],
                  const uint8_t user[16], bool admin, uint32_t role_oid, wk_cache_hit_t *hit)
{
    uint8_t key[KEY_LEN];
    s_key(key, tenant, quiz, KIND_QUIZ);
    bool found = false;
    pthread_mutex_lock(&c->lock);
    entry_t *e = *s_slot(c, key);
    if (e && e->role_oid == role_oid) {
        int view = admin || (e->has_author && memcmp(e->author, user, 16) == 0) ? 1 : 0;
        if (e->doc[view]) {
            hit->doc = mem_strndup(e->doc[view], e->len[view]);
            hit->len = e->len[view];
            hit->version = e->version;
            hit->full = view == 1;
            found = true;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return found;
}

char *wk_cache_get_doc(wk_cache_t *c, wk_cache_kind_t kind, const uint8_t tenant[16],
                       const uint8_t id[16], uint32_t role_oid)
{
    uint8_t key[KEY_LEN];
    s_key(key, tenant, id, kind);
    char *doc = NULL;
    pthread_mutex_lock(&c->lock);
    entry_t *e = *s_slot(c, key);
    if (e && e->role_oid == role_oid && e->doc[0] &&
        (kind != WK_CACHE_LIST || (uint64_t)e->version >= s_mark(c, tenant)))
        doc = mem_strndup(e->doc[0], e->len[0]);
    pthread_mutex_unlock(&c->lock);
    return doc;
}

void wk_cache_drop(wk_cache_t *c, const uint8_t *tenant, const uint8_t *quiz)
{
    pthread_mutex_lock(&c->lock);
    c->epoch++;
    if (tenant && quiz) {
        static const int kinds[] = {KIND_QUIZ, WK_CACHE_USER}; /* the log's row ids */
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
            uint8_t key[KEY_LEN];
            s_key(key, tenant, quiz, kinds[i]);
            entry_t *e = *s_slot(c, key);
            if (e)
                s_remove(c, e);
        }
        s_set_mark(c, tenant); /* its lists may name the quiz: none read before holds */
    } else {
        for (entry_t *e = c->oldest, *next; e; e = next) {
            next = e->newer;
            if (!tenant || memcmp(e->key, tenant, 16) == 0)
                s_remove(c, e);
        }
        if (!tenant)
            s_clear_marks(c); /* nothing older is left */
    }
    pthread_mutex_unlock(&c->lock);
}

void wk_cache_size(wk_cache_t *c, size_t *entries, size_t *bytes)
{
    pthread_mutex_lock(&c->lock);
    *entries = c->entries;
    *bytes = c->bytes;
    pthread_mutex_unlock(&c->lock);
}
