/* The serving loop: gateways' requests go straight from the frontend ROUTER to the database
 * threads, and their replies straight back, without a broker thread in between.
 *
 *   gateways --tcp--> ROUTER "frontend" <--(under one mutex)--> database threads xN
 *
 * ZeroMQ sockets are not thread-safe, so the frontend is used only under the server's mutex,
 * which also guards the lanes. Whoever holds it reads every request that is ready and gives
 * each to an idle thread of its lane (the most recently idle first: its connection and caches
 * are warm) by a slot and a semaphore; while every thread of a lane is busy, requests wait in
 * that lane's queue (up to --queue-max, then "unavailable") rather than behind a slow query, and
 * the other lane keeps serving. A thread sends its reply itself, takes the oldest request
 * queued for its lane, and reads what has arrived meanwhile. The main thread sleeps in poll(2)
 * on the frontend's ZMQ_FD (edge-triggered: whoever touches the socket drains what is ready
 * before letting go of the mutex, so no arrival goes unseen) and an eventfd; under load the
 * threads find their next request themselves and it hardly wakes. Measured: a database request
 * cost the worker 5.2 context switches through the broker hand-off, and the reply a broker
 * wake-up of its own.
 *
 * Password requests have their own lane and, while ordinary requests are in flight, a paced
 * share of the CPU (wk_pace.h); the main thread starts those held back when their rest is over.
 * Pings are answered by whoever reads them. On SIGTERM it tells systemd it is stopping, answers
 * new requests "unavailable", waits for busy threads (up to drain_ms), stays a moment for the
 * last replies to leave (s_settle) and exits. */
#include "worker/wk_server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/lifecycle.h"
#include "common/log.h"
#include "common/mem.h"
#include "worker/wk_cache.h"
#include "worker/wk_canary.h"
#include "worker/wk_coherence.h"
#include "worker/wk_handle.h"
#include "worker/wk_metrics.h"
#include "worker/wk_pace.h"
#include "worker/wk_rate.h"
#include "worker/wk_zap.h"

#define LANE_FAST   0
#define LANE_SLOW   1
#define SETTLE_MS   250 /* after draining, how long the frontend stays open */
#define BATCH_MAX   64  /* requests read at one hold of the mutex; then the main thread goes on */
#define THREADS_MAX 128 /* ordinary (up to 64) and password threads (up to 16) */
#define SHARE_SCAN  64  /* queued requests looked at for one whose tenant is under its share */
#define ACTIVE_MS   20  /* a tenant that asked this recently is active: the others leave it room */
/* A tenant's reads in one validation round, and as many waiting start one at once. */
#define CACHE_TENANT_MAX 16

typedef struct server server_t;

/* A database thread, and the request it was given. */
typedef struct {
    server_t *srv;
    pthread_t tid;
    bool slow;       /* serves the password-hashing lane, at low CPU priority */
    sem_t wake;      /* posted when work (or the stop) is given */
    bool has_work;   /* id and body hold its request (written under the mutex, before the post) */
    zmq_msg_t id;    /* gateway routing id */
    zmq_msg_t body;  /* encoded request */
    clockid_t clock; /* its CPU clock (password threads' share is of CPU time) */
    uint64_t started_cpu_us; /* its CPU clock when it took its current request */
    uint64_t busy_since_ms;  /* clock_mono_us()/1000 when it took its request; 0 while idle */
    uint8_t tenant[16];      /* the tenant of its request (all zero: none, or idle) */
} wk_thread_t;

/* A request waiting for a thread of its lane, or parked for the cache. */
typedef struct {
    zmq_msg_t id;
    zmq_msg_t body;
    uint64_t at_us; /* when it arrived (clock_mono_us) */
    uint8_t tenant[16];
    uint8_t request_id[16]; /* parked only: what a miss is admitted with (s_admit) */
    int op;
} queued_t;

typedef struct {
    wk_thread_t *idle[THREADS_MAX]; /* a stack */
    int nidle;
    int nthreads;
    bool slow;
    int share;             /* threads one tenant may hold while another tenant is active */
    uint8_t recent[2][16]; /* the two tenants that asked last, most recent first */
    uint64_t recent_us[2]; /* when they did (clock_mono_us; 0: no one yet) */
    queued_t *queue;       /* FIFO ring of cap (--queue-max); beyond it the worker answers "busy" */
    int cap;
    int head, count;
} lane_t;

struct server {
    pthread_mutex_t lock; /* guards everything below but the constants, and every use of frontend */
    void *frontend;
    int frontend_fd; /* its ZMQ_FD */
    int wake_fd;     /* eventfd: wakes the main thread */
    lane_t lanes[2];
    wk_pace_t pace; /* the password lane's share while others are busy */
    bool draining;
    bool stop;        /* threads exit instead of going idle */
    bool stalled;     /* a thread has been on one request longer than cfg->stall_ms */
    char pong[48];    /* the body of a ping's reply */
    char status[300]; /* what READY=1 said */
    const wk_server_config_t *cfg;
    wk_spares_t *spares;
    wk_mover_t *mover;
    wk_thread_t threads[THREADS_MAX];
    int nthreads;
    /* Quiz reads for the cache (NULL: none), parked until a validation round that begins after
       they arrived; the cache thread takes them all at the start of each round. */
    wk_cache_t *cache;
    queued_t *parked; /* up to cfg->queue_max */
    int nparked;
    bool cache_asleep;       /* the cache thread waits on cache_wake */
    uint64_t cache_since_ms; /* clock_mono_us()/1000 when it took its batch; 0: it holds none */
    sem_t cache_wake;
    pthread_t cache_tid;
};

/* Threads to post, and whether to wake the main thread, once the mutex is released: a woken
 * thread then does not find the mutex still held by its waker. */
typedef struct {
    wk_thread_t *posts[THREADS_MAX];
    int nposts;
    bool main;
    bool cache;
} wakes_t;

static void s_post_all(server_t *s, wakes_t *w)
{
    for (int i = 0; i < w->nposts; i++)
        sem_post(&w->posts[i]->wake);
    if (w->cache)
        sem_post(&s->cache_wake);
    if (w->main) {
        uint64_t one = 1;
        if (write(s->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
            log_warning("could not wake the main thread: %s", strerror(errno));
    }
}

/* Receives one frame into a fresh zmq_msg_t; 0, or -1 on error (errno from zmq). */
static int s_recv(void *sock, zmq_msg_t *msg, int flags)
{
    zmq_msg_init(msg);
    if (zmq_msg_recv(msg, sock, flags) < 0) {
        zmq_msg_close(msg);
        return -1;
    }
    return 0;
}

static bool s_more(void *sock)
{
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len);
    return more != 0;
}

/* Whether a message waits on the frontend. Also what resets its ZMQ_FD: call it until false
 * after every use of the socket. */
static bool s_readable(server_t *s)
{
    int events = 0;
    size_t len = sizeof events;
    return zmq_getsockopt(s->frontend, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN);
}

/* Discards the remaining frames of a message. */
static void s_drain_frames(void *sock)
{
    while (s_more(sock)) {
        zmq_msg_t m;
        if (s_recv(sock, &m, 0) < 0)
            return;
        zmq_msg_close(&m);
    }
}

/* Decodes, handles and encodes one request. Returns the reply frame (caller frees) or NULL if
 * the frame was malformed, which is logged and dropped: without a request id there is no one to
 * answer. */
static void *s_serve(wk_ctx_t *ctx, const void *data, size_t len, size_t *out_len)
{
    proto_request_t req;
    const char *why = NULL;
    if (proto_request_decode(data, len, &req, &why) < 0) {
        log_warning("dropped malformed request frame (%zu bytes): %s", len, why);
        return NULL;
    }
    proto_reply_t rep = {0};
    wk_handle_request(ctx, &req, &rep);
    void *out = proto_reply_encode(&rep, out_len);
    proto_reply_clear(&rep);
    proto_request_clear(&req);
    return out;
}

static void s_free_buf(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* Answers a request without a thread: "unavailable" while draining or when overloaded, and
 * pings, which need no database. Under the mutex. */
static void s_answer(server_t *s, zmq_msg_t *id, const uint8_t request_id[16], int status,
                     const char *why, char *reply_body)
{
    proto_reply_t rep = {.status = status,
                         .detail = (char *)why,
                         .body = reply_body,
                         .body_len = reply_body ? strlen(reply_body) : 0};
    memcpy(rep.request_id, request_id, 16);
    size_t len;
    void *out = proto_reply_encode(&rep, &len);
    zmq_msg_send(id, s->frontend, ZMQ_SNDMORE);
    zmq_send(s->frontend, out, len, 0);
    free(out);
}

/* Gives a request to the lane's most recently idle thread. Under the mutex. */
static void s_dispatch(lane_t *lane, zmq_msg_t *id, zmq_msg_t *body, uint64_t at_us,
                       const uint8_t tenant[16], wakes_t *w)
{
    wk_thread_t *t = lane->idle[--lane->nidle];
    memcpy(t->tenant, tenant, 16);
    t->busy_since_ms = clock_mono_us() / 1000;
    if (t->slow) {
        t->started_cpu_us = clock_us(t->clock);
        wk_metrics_password_wait(clock_mono_us() - at_us);
    }
    t->id = *id; /* the thread owns the frames now */
    t->body = *body;
    t->has_work = true;
    w->posts[w->nposts++] = t;
}

/* Whether ordinary requests are running or waiting, for pacing (never while draining). */
static bool s_fast_busy(const server_t *s)
{
    const lane_t *fast = &s->lanes[LANE_FAST];
    return !s->draining && (fast->nidle < fast->nthreads || fast->count > 0);
}

/* Microseconds before the password lane may start a request (see wk_pace.h). */
static uint64_t s_slow_wait_us(const server_t *s)
{
    return wk_pace_wait_us(&s->pace, clock_mono_us(), s_fast_busy(s));
}

/* A request about no tenant (all zero): never held to a share, never a neighbour. */
static bool s_no_tenant(const uint8_t tenant[16])
{
    static const uint8_t none[16];
    return memcmp(tenant, none, 16) == 0;
}

/* Whether a request of this tenant may start while others wait: it holds fewer of the lane's
 * threads than its share (a request about no tenant always may). */
static bool s_under_share(const server_t *s, const lane_t *lane, const uint8_t tenant[16])
{
    if (s_no_tenant(tenant))
        return true;
    int held = 0;
    for (int i = 0; i < s->nthreads; i++) {
        const wk_thread_t *t = &s->threads[i];
        if (t->slow == lane->slow && t->busy_since_ms && memcmp(t->tenant, tenant, 16) == 0 &&
            ++held >= lane->share)
            return false;
    }
    return true;
}

/* Keeps the two tenants that asked last: enough to know, for any tenant, when another one last
 * did (the first of them that is not it). */
static void s_note_tenant(lane_t *lane, const uint8_t tenant[16], uint64_t now_us)
{
    if (memcmp(lane->recent[0], tenant, 16) != 0) {
        memcpy(lane->recent[1], lane->recent[0], 16);
        lane->recent_us[1] = lane->recent_us[0];
        memcpy(lane->recent[0], tenant, 16);
    }
    lane->recent_us[0] = now_us;
}

/* Whether a tenant other than this one asked within ACTIVE_MS. Short, so that a neighbour's
 * trickle (a request every 100 ms, say) costs a busy tenant a fifth of its extra threads at most,
 * not all of them; a busy neighbour, the one whose latency a flood hurts, is always active. */
static bool s_other_active(const lane_t *lane, const uint8_t tenant[16], uint64_t now_us)
{
    int other = memcmp(lane->recent[0], tenant, 16) == 0 ? 1 : 0;
    return lane->recent_us[other] && now_us - lane->recent_us[other] <= ACTIVE_MS * 1000;
}

/* Whether a request of this tenant may start now: under its share, or no one else is active
 * (alone, a busy tenant may use every thread). Otherwise it waits, though a thread be idle: that
 * thread is the room an active neighbour finds at once, instead of behind the flood's queries. */
static bool s_may_start(const server_t *s, const lane_t *lane, const uint8_t tenant[16],
                        uint64_t now_us)
{
    return s_under_share(s, lane, tenant) || !s_other_active(lane, tenant, now_us);
}

/* The queue position of the next request to start: the oldest that may (above), or -1. One of a
 * tenant held back starts when one of its running requests ends, or once it is alone. */
static int s_next_queued(const server_t *s, const lane_t *lane)
{
    uint64_t now = clock_mono_us();
    for (int i = 0; i < lane->count && i < SHARE_SCAN; i++)
        if (s_may_start(s, lane, lane->queue[(lane->head + i) % lane->cap].tenant, now)) {
            if (i > 0)
                wk_metrics_share_deferred();
            return i;
        }
    return -1;
}

/* Gives queued requests of a lane to its idle threads, as far as the lane may start them. */
static void s_pump(server_t *s, lane_t *lane, wakes_t *w)
{
    while (lane->count > 0 && lane->nidle > 0 &&
           (lane != &s->lanes[LANE_SLOW] || s_slow_wait_us(s) == 0)) {
        int pick = s_next_queued(s, lane);
        if (pick < 0)
            break;
        queued_t q = lane->queue[(lane->head + pick) % lane->cap];
        for (int i = pick; i > 0; i--) /* the older ones passed over keep their order */
            lane->queue[(lane->head + i) % lane->cap] =
                lane->queue[(lane->head + i - 1) % lane->cap];
        lane->head = (lane->head + 1) % lane->cap;
        lane->count--;
        s_dispatch(lane, &q.id, &q.body, q.at_us, q.tenant, w);
    }
}

/* A request to an idle thread of its lane, or its lane's queue, or refused (draining, unless
 * it was accepted before, or the queue is full). Under the mutex. */
static void s_admit(server_t *s, int op, zmq_msg_t *idp, zmq_msg_t *bodyp,
                    const uint8_t request_id[16], const uint8_t tenant[16], bool accepted,
                    wakes_t *w)
{
    zmq_msg_t id = *idp, body = *bodyp;
    bool slow = proto_op_hashes_password((proto_op_t)op) && s->lanes[LANE_SLOW].nthreads > 0;
    lane_t *lane = &s->lanes[slow ? LANE_SLOW : LANE_FAST];
    if ((s->draining && !accepted) || lane->count == lane->cap) {
        s_answer(s, &id, request_id, PROTO_STATUS_UNAVAILABLE,
                 s->draining ? "worker is shutting down" : "worker is busy", NULL);
        zmq_msg_close(&body);
        return;
    }
    uint64_t now = clock_mono_us();
    if (!s_no_tenant(tenant))
        s_note_tenant(lane, tenant, now);
    if (lane->nidle > 0 && lane->count == 0 && (!slow || s_slow_wait_us(s) == 0) &&
        s_may_start(s, lane, tenant, now)) {
        s_dispatch(lane, &id, &body, now, tenant, w);
        return;
    }
    queued_t *q = &lane->queue[(lane->head + lane->count) % lane->cap];
    q->id = id;
    q->body = body;
    q->at_us = now;
    memcpy(q->tenant, tenant, 16);
    lane->count++;
    if (lane->nidle > 0) /* idle threads beside a held-back tenant: this one may go first */
        s_pump(s, lane, w);
}

/* Takes one request from the frontend: a ping answered, a quiz read parked for the cache, any
 * other admitted to its lane (s_admit). Under the mutex; false if there was none. */
static bool s_take_request(server_t *s, wakes_t *w)
{
    zmq_msg_t id, body;
    if (s_recv(s->frontend, &id, ZMQ_DONTWAIT) < 0)
        return false;
    if (!s_more(s->frontend) || s_recv(s->frontend, &body, 0) < 0) {
        zmq_msg_close(&id);
        return true;
    }
    s_drain_frames(s->frontend);
    uint8_t request_id[16], tenant[16];
    int op = proto_request_peek(zmq_msg_data(&body), zmq_msg_size(&body), request_id, tenant);
    if (op < 0) { /* without a request id there is no one to answer */
        log_warning("dropped malformed request frame (%zu bytes)", zmq_msg_size(&body));
        zmq_msg_close(&id);
        zmq_msg_close(&body);
        return true;
    }
    if (op == PROTO_OP_PING && !s->draining) {
        /* A ping asks whether this worker is up: no thread needs to wake for it. */
        s_answer(s, &id, request_id, PROTO_STATUS_OK, NULL, s->pong);
        zmq_msg_close(&body);
        return true;
    }
    if ((op == PROTO_OP_QUIZ_GET || op == PROTO_OP_QUIZ_LIST || op == PROTO_OP_USER_ME) &&
        s->cache && !s->draining && s->nparked < s->cfg->queue_max) {
        queued_t *q = &s->parked[s->nparked++];
        *q = (queued_t){.id = id, .body = body, .at_us = clock_mono_us(), .op = op};
        memcpy(q->tenant, tenant, 16);
        memcpy(q->request_id, request_id, 16);
        w->cache = w->cache || s->cache_asleep;
        s->cache_asleep = false;
        return true;
    }
    s_admit(s, op, &id, &body, request_id, tenant, false, w);
    return true;
}

/* The lanes' queue depth and busy threads for /metrics. Under the mutex. */
static void s_publish(const server_t *s)
{
    const lane_t *fast = &s->lanes[LANE_FAST], *slow = &s->lanes[LANE_SLOW];
    wk_metrics_lanes(fast->count, fast->nthreads - fast->nidle, slow->count,
                     slow->nthreads - slow->nidle);
}

/* Reads what is ready on the frontend, at most BATCH_MAX requests. Under the mutex, before every
 * release of it that followed a use of the socket. Returns whether requests are left: then the
 * ZMQ_FD may not wake anyone again, and the main thread must come back for them. */
static bool s_take_ready(server_t *s, wakes_t *w)
{
    bool left = false;
    for (int n = 0; s_readable(s); n++)
        if (n == BATCH_MAX || !s_take_request(s, w)) {
            left = true;
            break;
        }
    s_publish(s);
    return left;
}

/* The same for a database thread, which wakes the main thread for what is left and to time the
 * start of password requests held back by pacing. */
static void s_thread_take_ready(server_t *s, wakes_t *w)
{
    const lane_t *slow = &s->lanes[LANE_SLOW];
    if (s_take_ready(s, w) || (slow->count > 0 && slow->nidle > 0))
        w->main = true;
}

/* A thread is done with its request: accounts the password lane's CPU, makes the thread idle
 * and gives it the oldest request queued for its lane. Under the mutex. */
static void s_thread_done(server_t *s, wk_thread_t *t, bool replied, wakes_t *w)
{
    lane_t *lane = &s->lanes[t->slow ? LANE_SLOW : LANE_FAST];
    if (replied && t->slow)
        wk_pace_ran(&s->pace, clock_mono_us(), clock_us(t->clock) - t->started_cpu_us,
                    s_fast_busy(s));
    t->busy_since_ms = 0;
    lane->idle[lane->nidle++] = t;
    s_pump(s, lane, w);
    s_publish(s);
}

static bool s_all_idle(const server_t *s)
{
    if (s->nparked > 0 || s->cache_since_ms)
        return false;
    for (int l = 0; l < 2; l++)
        if (s->lanes[l].nidle < s->lanes[l].nthreads || s->lanes[l].count > 0)
            return false;
    return true;
}

static int s_busy(const server_t *s)
{
    return s->lanes[0].nthreads - s->lanes[0].nidle + s->lanes[1].nthreads - s->lanes[1].nidle;
}

/* The thread's connections, opened as the handlers expect them. */
static void s_ctx_open(wk_ctx_t *ctx, const server_t *s)
{
    const wk_server_config_t *cfg = s->cfg;
    *ctx = (wk_ctx_t){
        .db = wk_db_new(cfg->dsn, cfg->dsn_user, cfg->set_role, true),
        /* Connected on first use: most threads never provision a tenant. */
        .admin = wk_db_new(cfg->provision_dsn, cfg->provision_user, false, false),
        .spares = s->spares,
        .mover = s->mover,
        .ring = cfg->ring,
        .platform = cfg->platform,
        .shard = cfg->shard,
        .shards = cfg->shards,
        .dedicated = cfg->dedicated,
        .delete_grace_s = cfg->delete_grace_s,
        .cache = s->cache,
    };
    bool remote = cfg->cluster != 0; /* the registry is on another cluster */
    ctx->registry = remote ? wk_db_new(cfg->clusters->dsn[0], cfg->dsn_user, false, true) : ctx->db;
    ctx->registry_admin =
        remote ? wk_db_new(cfg->clusters->dsn[0], cfg->provision_user, false, false) : ctx->admin;
    wk_db_set_tenant_budget(ctx->db, cfg->tenant_budget);
    wk_db_conn(ctx->db); /* connect now so the first request does not pay for it */
}

static void s_ctx_close(wk_ctx_t *ctx)
{
    if (ctx->registry != ctx->db) {
        wk_db_destroy(&ctx->registry);
        wk_db_destroy(&ctx->registry_admin);
    }
    wk_db_destroy(&ctx->db);
    wk_db_destroy(&ctx->admin);
}

/* Sends a thread's reply (or drops its request) and takes what comes next. False: stop. */
static bool s_thread_reply(server_t *s, wk_thread_t *t, void *reply, size_t len)
{
    wakes_t w = {.nposts = 0};
    pthread_mutex_lock(&s->lock);
    if (reply) {
        zmq_msg_t out;
        zmq_msg_init_data(&out, reply, len, s_free_buf, NULL);
        zmq_msg_send(&t->id, s->frontend, ZMQ_SNDMORE);
        zmq_msg_send(&out, s->frontend, 0);
    } else {
        zmq_msg_close(&t->id);
    }
    t->has_work = false;
    bool go_on = !s->stop;
    if (go_on) {
        s_thread_done(s, t, reply != NULL, &w);
        s_thread_take_ready(s, &w);
    }
    pthread_mutex_unlock(&s->lock);
    s_post_all(s, &w);
    return go_on;
}

static void *s_thread_main(void *arg)
{
    wk_thread_t *t = arg;
    server_t *s = t->srv;
    /* Password hashing yields the CPU to ordinary requests: Linux takes a nice value per
       thread, and raising it needs no privilege. */
    if (t->slow && setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) < 0)
        log_warning("could not lower the priority of a password thread: %s", strerror(errno));
    if (pthread_getcpuclockid(pthread_self(), &t->clock) != 0)
        t->clock = CLOCK_MONOTONIC; /* then the share is of wall time */
    wk_ctx_t ctx;
    s_ctx_open(&ctx, s);
    /* Idle, and the main thread told once all are (it waits for that before READY=1). */
    wakes_t w = {.nposts = 0};
    pthread_mutex_lock(&s->lock);
    s_thread_done(s, t, false, &w);
    s_thread_take_ready(s, &w);
    w.main = w.main || s_all_idle(s);
    pthread_mutex_unlock(&s->lock);
    s_post_all(s, &w);
    for (;;) {
        while (sem_wait(&t->wake) < 0 && errno == EINTR)
            ;
        if (!t->has_work)
            break; /* the stop */
        size_t len = 0;
        void *reply = s_serve(&ctx, zmq_msg_data(&t->body), zmq_msg_size(&t->body), &len);
        zmq_msg_close(&t->body);
        if (!s_thread_reply(s, t, reply, len))
            break;
    }
    s_ctx_close(&ctx);
    return NULL;
}

/* One parked read, answered from the cache or, missed, a database thread's. */
typedef struct {
    void *reply; /* NULL: missed (or dropped, with dropped) */
    size_t len;
    bool dropped; /* malformed: no one to answer */
} cached_t;

/* Takes the parked reads for a round, at most CACHE_TENANT_MAX of each tenant: the rest wait
 * for the next, so a tenant's flood of reads makes a neighbour's wait one short round, not a
 * batch of the flood. The round's tenants, each once, into tenants (taken: as many counts, the
 * caller's scratch); how many into *nt. Under the mutex; how many reads into batch. */
static int s_take_parked(server_t *s, queued_t *batch, wk_coherence_tenant_t *tenants, int *taken,
                         int *nt)
{
    int nseen = 0, n = 0, kept = 0;
    for (int i = 0; i < s->nparked; i++) {
        queued_t *q = &s->parked[i];
        int j = 0;
        while (j < nseen && memcmp(tenants[j].tenant, q->tenant, 16) != 0)
            j++;
        if (j == nseen) { /* a tenant's first read is always taken: each one is in the round */
            memcpy(tenants[nseen].tenant, q->tenant, 16);
            taken[nseen++] = 0;
        }
        if (taken[j] < CACHE_TENANT_MAX) {
            taken[j]++;
            if (kept > 0)
                wk_metrics_share_deferred(); /* ahead of a flood's older reads */
            batch[n++] = *q;
        } else {
            s->parked[kept++] = *q;
        }
    }
    s->nparked = kept;
    *nt = nseen;
    return n;
}

/* Answers a batch after its round (validated: the round succeeded) outside the mutex. */
static void s_answer_batch(wk_ctx_t *ctx, const queued_t *batch, int n,
                           const wk_coherence_tenant_t *tenants, int nt, bool validated,
                           cached_t *out)
{
    for (int i = 0; i < n; i++) {
        out[i] = (cached_t){0};
        if (!validated)
            continue;
        ctx->checked = NULL;
        for (int j = 0; j < nt && !ctx->checked; j++)
            if (memcmp(tenants[j].tenant, batch[i].tenant, 16) == 0)
                ctx->checked = &tenants[j];
        ctx->missed = false;
        out[i].reply = s_serve(ctx, zmq_msg_data((zmq_msg_t *)&batch[i].body),
                               zmq_msg_size((zmq_msg_t *)&batch[i].body), &out[i].len);
        if (ctx->missed) {
            free(out[i].reply);
            out[i].reply = NULL;
        } else if (!out[i].reply) {
            out[i].dropped = true;
        }
    }
}

/* The cache thread: takes every parked read, runs a validation round (wk_coherence.h), answers
 * from the cache what it holds and gives the rest to the database threads. Reads that arrive
 * meanwhile wait for the next round, which begins as soon as this one is answered. */
static void *s_cache_main(void *arg)
{
    server_t *s = arg;
    const wk_server_config_t *cfg = s->cfg;
    wk_ctx_t ctx = {.ring = cfg->ring,
                    .platform = cfg->platform,
                    .shard = cfg->shard,
                    .shards = cfg->shards,
                    .dedicated = cfg->dedicated,
                    .cache = s->cache,
                    .cache_only = true};
    wk_coherence_t *co = wk_coherence_new(cfg->dsn, cfg->dsn_user, s->cache, cfg->cache_retain_s);
    queued_t *batch = mem_alloc(sizeof *batch * (size_t)cfg->queue_max);
    cached_t *out = mem_alloc(sizeof *out * (size_t)cfg->queue_max);
    wk_coherence_tenant_t *tenants = mem_alloc(sizeof *tenants * (size_t)cfg->queue_max);
    int *taken = mem_alloc(sizeof *taken * (size_t)cfg->queue_max);
    unsigned long long rounds = 0, reads = 0, hit_total = 0;
    uint64_t last_round_us = 0;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (s->nparked == 0 && !s->stop) {
            s->cache_asleep = true;
            pthread_mutex_unlock(&s->lock);
            wk_coherence_prune(co);
            while (sem_wait(&s->cache_wake) < 0 && errno == EINTR)
                ;
            pthread_mutex_lock(&s->lock);
        }
        if (s->stop && s->nparked == 0)
            break;
        /* Rounds at most every cache_round_us unless a batch is already large: under load a
           round then answers many reads, and costs the database little per read. */
        uint64_t since = clock_mono_us() - last_round_us;
        if (s->nparked < CACHE_TENANT_MAX && since < (uint64_t)cfg->cache_round_us && !s->stop) {
            pthread_mutex_unlock(&s->lock);
            usleep((useconds_t)((uint64_t)cfg->cache_round_us - since));
            pthread_mutex_lock(&s->lock);
        }
        last_round_us = clock_mono_us();
        int nt;
        int n = s_take_parked(s, batch, tenants, taken, &nt);
        s->cache_since_ms = clock_mono_us() / 1000;
        pthread_mutex_unlock(&s->lock);

        bool validated = wk_coherence_round(co, tenants, nt) == 0;
        s_answer_batch(&ctx, batch, n, tenants, nt, validated, out);

        wakes_t w = {.nposts = 0};
        int hits = 0;
        pthread_mutex_lock(&s->lock);
        for (int i = 0; i < n; i++) {
            if (out[i].reply) {
                hits++;
                zmq_msg_t msg;
                zmq_msg_init_data(&msg, out[i].reply, out[i].len, s_free_buf, NULL);
                zmq_msg_send(&batch[i].id, s->frontend, ZMQ_SNDMORE);
                zmq_msg_send(&msg, s->frontend, 0);
                zmq_msg_close(&batch[i].body);
            } else if (out[i].dropped) {
                zmq_msg_close(&batch[i].id);
                zmq_msg_close(&batch[i].body);
            } else {
                queued_t *q = &batch[i];
                s_admit(s, q->op, &q->id, &q->body, q->request_id, q->tenant, true, &w);
            }
        }
        s->cache_since_ms = 0;
        s_thread_take_ready(s, &w);
        pthread_mutex_unlock(&s->lock);
        size_t entries, bytes;
        wk_cache_size(s->cache, &entries, &bytes);
        wk_metrics_cache_round(validated, n, hits, entries, bytes);
        rounds++;
        reads += (unsigned long long)n;
        hit_total += (unsigned long long)hits;
        s_post_all(s, &w);
        wk_coherence_prune(co);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    log_info("quiz cache: %llu reads in %llu validation rounds, %llu answered from memory", reads,
             rounds, hit_total);
    free(batch);
    free(out);
    free(tenants);
    free(taken);
    wk_coherence_destroy(&co);
    return NULL;
}

/* Makes the frontend a CurveZMQ server whose door is the ZAP handler: encrypted, and only the
 * allowed gateways' keys get in. The handler must exist before the socket binds. */
static int s_curve_server(server_t *s, void *zctx, const wk_server_config_t *cfg, wk_zap_t **zap)
{
    *zap = wk_zap_start(zctx, s->frontend, cfg->allowed_dir);
    if (!*zap || curve_socket_server(s->frontend, cfg->curve) < 0)
        return -1;
    return zmq_setsockopt(s->frontend, ZMQ_ZAP_DOMAIN, "quiz", 4);
}

/* The cache and the reads still parked for it (none once drained); its thread is gone. */
static void s_cache_free(server_t *s)
{
    if (!s->cache)
        return;
    for (int i = 0; i < s->nparked; i++) {
        zmq_msg_close(&s->parked[i].id);
        zmq_msg_close(&s->parked[i].body);
    }
    free(s->parked);
    sem_destroy(&s->cache_wake);
    wk_cache_destroy(&s->cache);
}

/* The lanes and the frontend, bound: 0, or -1 (logged, all freed). */
static int s_open(server_t *s, void *zctx, const wk_server_config_t *cfg, wk_zap_t **zap)
{
    s->cfg = cfg;
    s->lanes[LANE_FAST].nthreads = cfg->threads;
    s->lanes[LANE_SLOW].nthreads = cfg->slow_threads;
    wk_pace_init(&s->pace, cfg->password_share);
    snprintf(s->pong, sizeof s->pong, "{\"pong\":true,\"shard\":%d}", cfg->shard);
    pthread_mutex_init(&s->lock, NULL);
    for (int l = 0; l < 2; l++) {
        lane_t *lane = &s->lanes[l];
        lane->cap = cfg->queue_max;
        lane->queue = mem_zalloc(sizeof(queued_t) * (size_t)lane->cap);
        lane->slow = l == LANE_SLOW;
        lane->share = lane->nthreads * cfg->tenant_share / 100;
        if (lane->share < 1)
            lane->share = 1;
    }
    if (cfg->cache_mb > 0) {
        s->cache = wk_cache_new((size_t)cfg->cache_mb << 20);
        s->parked = mem_zalloc(sizeof(queued_t) * (size_t)cfg->queue_max);
        sem_init(&s->cache_wake, 0, 0);
    }
    s->frontend = zmq_socket(zctx, ZMQ_ROUTER);
    s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int linger = 1000;
    size_t len = sizeof s->frontend_fd;
    zmq_setsockopt(s->frontend, ZMQ_LINGER, &linger, sizeof linger);
    if (s->wake_fd < 0 || zmq_getsockopt(s->frontend, ZMQ_FD, &s->frontend_fd, &len) < 0 ||
        (cfg->curve && s_curve_server(s, zctx, cfg, zap) < 0) ||
        zmq_bind(s->frontend, cfg->endpoint) < 0) {
        log_error("could not bind \"%s\": %s", cfg->endpoint, zmq_strerror(errno));
        zmq_close(s->frontend);
        if (s->wake_fd >= 0)
            close(s->wake_fd);
        for (int l = 0; l < 2; l++)
            free(s->lanes[l].queue);
        s_cache_free(s);
        pthread_mutex_destroy(&s->lock);
        return -1;
    }
    return 0;
}

/* Closes what the lanes still hold (queued requests) and the sockets; the threads are gone. */
static void s_close(server_t *s)
{
    for (int l = 0; l < 2; l++) {
        lane_t *lane = &s->lanes[l];
        for (; lane->count > 0; lane->count--, lane->head = (lane->head + 1) % lane->cap) {
            zmq_msg_close(&lane->queue[lane->head].id);
            zmq_msg_close(&lane->queue[lane->head].body);
        }
        free(lane->queue);
    }
    s_cache_free(s);
    zmq_close(s->frontend);
    close(s->wake_fd);
    pthread_mutex_destroy(&s->lock);
}

/* Starts the database threads (ordinary ones first, then the password lane's). */
static void s_threads_start(server_t *s)
{
    const wk_server_config_t *cfg = s->cfg;
    s->nthreads = cfg->threads + cfg->slow_threads;
    if (s->nthreads > THREADS_MAX)
        s->nthreads = THREADS_MAX; /* the options allow fewer */
    /* Stop signals belong to the main thread, which drains; threads inherit the mask. */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    for (int i = 0; i < s->nthreads; i++) {
        wk_thread_t *t = &s->threads[i];
        *t = (wk_thread_t){.srv = s, .slow = i >= cfg->threads};
        sem_init(&t->wake, 0, 0);
        if (pthread_create(&t->tid, NULL, s_thread_main, t) != 0) {
            log_error("could not start database thread %d", i);
            abort(); /* out of threads at start-up: systemd restarts us */
        }
    }
    if (s->cache && pthread_create(&s->cache_tid, NULL, s_cache_main, s) != 0) {
        log_error("could not start the cache thread");
        abort();
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Tells every thread to stop once its request (if any) is answered, and waits for them. */
static void s_threads_stop(server_t *s)
{
    wakes_t w = {.nposts = 0};
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    for (int l = 0; l < 2; l++) {
        lane_t *lane = &s->lanes[l];
        while (lane->nidle > 0)
            w.posts[w.nposts++] = lane->idle[--lane->nidle];
    }
    w.cache = s->cache != NULL;
    pthread_mutex_unlock(&s->lock);
    s_post_all(s, &w); /* has_work is false: each idle thread exits */
    for (int i = 0; i < s->nthreads; i++) {
        pthread_join(s->threads[i].tid, NULL);
        sem_destroy(&s->threads[i].wake);
    }
    if (s->cache)
        pthread_join(s->cache_tid, NULL);
}

/* Sleeps until the frontend or the eventfd is readable (at most timeout ms). */
static int s_sleep(server_t *s, long timeout)
{
    struct pollfd fds[2] = {{s->frontend_fd, POLLIN, 0}, {s->wake_fd, POLLIN, 0}};
    int ready = poll(fds, 2, (int)timeout);
    if (ready > 0 && (fds[1].revents & POLLIN)) {
        uint64_t n;
        if (read(s->wake_fd, &n, sizeof n) < 0 && errno != EAGAIN)
            log_warning("could not read the wake-up: %s", strerror(errno));
    }
    return ready;
}

/* Whether a database thread has been on one request, or the cache thread on one round, for
 * longer than stall_ms: a query can take no longer than its deadline (statement_timeout; a
 * round, 1 s), so such a thread waits on something that will not answer (a hung connection, a
 * wedged lock, a connect to a host that never answers). Logged once per episode. Under the
 * mutex. */
static bool s_check_stalled(server_t *s)
{
    uint64_t now = clock_mono_us() / 1000, oldest = 0;
    int which = -1;
    for (int i = 0; i < s->nthreads; i++) {
        uint64_t since = s->threads[i].busy_since_ms;
        if (since && now - since > oldest) {
            oldest = now - since;
            which = i;
        }
    }
    bool cache_stalled = s->cache_since_ms && now - s->cache_since_ms > (uint64_t)s->cfg->stall_ms;
    bool stalled = cache_stalled || (which >= 0 && oldest > (uint64_t)s->cfg->stall_ms);
    if (stalled && !s->stalled && cache_stalled)
        log_error("the cache thread has been on one validation round for %llu ms: stalled; the"
                  " watchdog is no longer fed and /healthz answers 503",
                  (unsigned long long)(now - s->cache_since_ms));
    else if (stalled && !s->stalled)
        log_error("database thread %d has been on one request for %llu ms: stalled; the watchdog"
                  " is no longer fed and /healthz answers 503",
                  which, (unsigned long long)oldest);
    else if (!stalled && s->stalled)
        log_info("no database thread is stalled any more");
    s->stalled = stalled;
    return stalled;
}

/* One turn of the main thread: start paced password requests that may go, take what is ready
 * and sleep (at most timeout ms, less while password requests rest). The watchdog is fed, and
 * the liveness heartbeat given, only while no database thread is stalled. */
static void s_turn(server_t *s, long timeout, bool watchdog)
{
    wakes_t w = {.nposts = 0};
    pthread_mutex_lock(&s->lock);
    bool stalled = s_check_stalled(s);
    lane_t *slow = &s->lanes[LANE_SLOW];
    s_pump(s, slow, &w);
    bool left = s_take_ready(s, &w);
    long wait = timeout;
    if (slow->count > 0 && slow->nidle > 0)
        wait = (long)(s_slow_wait_us(s) / 1000) + 1;
    if (wait > timeout || left)
        wait = left ? 0 : timeout;
    pthread_mutex_unlock(&s->lock);
    s_post_all(s, &w);
    s_sleep(s, wait);
    wk_metrics_heartbeat(stalled);
    if (watchdog && !stalled)
        lifecycle_watchdog();
}

/* Stays a moment after the last reply: a gateway drops what it has not yet read from a
 * connection that closes (its sockets use ZMQ_IMMEDIATE), so an instant exit could lose the
 * very replies the drain waited for. Requests arriving meanwhile are answered "unavailable". */
static void s_settle(server_t *s)
{
    uint64_t settle_until = clock_now_ms() + SETTLE_MS;
    for (uint64_t now = clock_now_ms(); now < settle_until; now = clock_now_ms())
        s_turn(s, (long)(settle_until - now), false);
}

/* SIGHUP: the configuration's reloadable part, with no request refused meanwhile. */
static void s_reload(server_t *s, const wk_server_config_t *cfg)
{
    lifecycle_reloading();
    int share = cfg->password_share;
    cfg->reload(cfg->reload_arg, &share);
    pthread_mutex_lock(&s->lock);
    s->pace.share = share;
    pthread_mutex_unlock(&s->lock);
    lifecycle_ready(s->status);
}

/* Serves until SIGTERM, then drains: busy threads finish (up to drain_ms), then s_settle. */
static void s_serve_until_drained(server_t *s, const wk_server_config_t *cfg)
{
    uint64_t wd_usec = lifecycle_watchdog_usec();
    long timeout = wd_usec && wd_usec < 2000000 ? (long)(wd_usec / 2000) : 1000;
    uint64_t drain_until = 0;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        bool start_drain = !s->draining && lifecycle_is_stopping();
        if (start_drain) {
            s->draining = true;
            drain_until = clock_now_ms() + (uint64_t)cfg->drain_ms;
            log_info("stopping: draining %d busy threads", s_busy(s));
        }
        bool drained = s->draining && (s_all_idle(s) || clock_now_ms() >= drain_until);
        pthread_mutex_unlock(&s->lock);
        if (start_drain)
            lifecycle_stopping();
        if (drained) {
            s_settle(s);
            break;
        }
        /* Draining: look at the threads again soon, they do not wake this thread. */
        s_turn(s, s->draining ? 20 : timeout, wd_usec != 0);
        if (lifecycle_take_reload() && cfg->reload && !s->draining)
            s_reload(s, cfg);
    }
    pthread_mutex_lock(&s->lock);
    int busy = s_busy(s);
    pthread_mutex_unlock(&s->lock);
    if (busy > 0)
        log_warning("drain timed out with %d requests in flight", busy);
}

/* Waits until every thread has connected (and tried the database) and said it is idle. */
static void s_wait_threads_idle(server_t *s)
{
    for (;;) {
        pthread_mutex_lock(&s->lock);
        bool idle = s_all_idle(s);
        pthread_mutex_unlock(&s->lock);
        if (idle || lifecycle_is_stopping())
            return;
        s_sleep(s, 1000);
    }
}

int wk_server_run(const wk_server_config_t *cfg)
{
    void *zctx = zmq_ctx_new();
    server_t *s = mem_zalloc(sizeof *s);
    wk_zap_t *zap = NULL;
    if (s_open(s, zctx, cfg, &zap) < 0) {
        zmq_ctx_shutdown(zctx);
        wk_zap_destroy(&zap);
        zmq_ctx_term(zctx);
        free(s);
        return -1;
    }
    /* A dedicated shard takes no new tenants, so it keeps no spares for them. */
    bool dedicated = cfg->dedicated && cfg->dedicated[cfg->shard];
    s->spares = wk_spares_start(cfg->provision_dsn, cfg->provision_user, cfg->shard, cfg->shards,
                                cfg->dedicated, dedicated ? 0 : cfg->spare_schemas);
    s->mover = wk_mover_start(cfg->clusters, cfg->cluster, cfg->shard, cfg->provision_user);
    wk_metrics_init(cfg->shard, cfg->metrics_top);
    wk_canary_t *canary = wk_canary_start(cfg->dsn, cfg->dsn_user, cfg->canary_ms);
    /* The registry is on the control cluster, read as this shard's login. */
    const char *registry = cfg->cluster != 0 ? cfg->clusters->dsn[0] : cfg->dsn;
    wk_rates_start(registry, cfg->dsn_user, cfg->rates_ms);
    wk_metrics_threads(cfg->threads, cfg->slow_threads);
    wk_metrics_server_t *metrics = NULL;
    if (cfg->metrics_listen) {
        metrics = wk_metrics_serve(cfg->metrics_listen, registry, cfg->dsn_user);
    }
    s_threads_start(s);
    s_wait_threads_idle(s);
    char where[64] = "", *status = s->status;
    if (metrics)
        snprintf(where, sizeof where, ", metrics on port %d", wk_metrics_port(metrics));
    snprintf(status, sizeof s->status,
             "shard %d/%d%s serving on %s with %d threads (+%d for passwords)%s", cfg->shard,
             cfg->shards, dedicated ? " (dedicated)" : "", cfg->endpoint, cfg->threads,
             cfg->slow_threads, where);
    lifecycle_ready(status);
    log_info("%s", status);
    s_serve_until_drained(s, cfg);
    s_threads_stop(s);
    wk_canary_stop(&canary);
    wk_rates_stop();
    wk_metrics_stop(&metrics);
    s_close(s);
    zmq_ctx_shutdown(zctx);
    wk_zap_destroy(&zap);
    wk_mover_stop(&s->mover);
    wk_spares_stop(&s->spares);
    zmq_ctx_term(zctx);
    wk_metrics_fini();
    free(s);
    log_info("stopped");
    return 0;
}
