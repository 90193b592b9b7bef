/* Broker between the gateways and the database threads.
 *
 *   gateways --tcp--> ROUTER "frontend" --(main thread)--> ROUTER "backend" --inproc--> DEALER xN
 *
 * Each database thread announces itself with an empty message and then alternates: receive
 * [gateway id][request], run it, send [gateway id][reply]. The main thread always reads the
 * frontend and hands a request to an idle thread of its lane (the most recently idle first: its
 * connection and caches are warm); while every thread of the lane is busy, requests wait in
 * that lane's queue (up to QUEUE_MAX, then "unavailable") rather than behind a slow query, and
 * the other lane keeps serving. Password requests have their own lane and, while ordinary
 * requests are in flight, a paced share of the CPU (wk_pace.h). On SIGTERM it tells systemd it
 * is stopping, answers new requests "unavailable", waits for busy threads (up to drain_ms),
 * stays a moment for the last replies to leave (s_settle) and exits. */
#include "worker/wk_server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/lifecycle.h"
#include "common/log.h"
#include "common/mem.h"
#include "worker/wk_handle.h"
#include "worker/wk_pace.h"
#include "worker/wk_zap.h"

#define BACKEND "inproc://wk-backend"
#define ID_MAX  256

typedef struct {
    void *zctx; /* shared ZeroMQ context */
    const wk_server_config_t *cfg;
    wk_spares_t *spares;
    wk_mover_t *mover;
    pthread_t tid;
    bool slow; /* serves the password-hashing lane, at low CPU priority */
    int index; /* for its routing id: "f<index>" or "s<index>" */
} wk_thread_t;

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

static void *s_thread_main(void *arg)
{
    wk_thread_t *self = arg;
    void *sock = zmq_socket(self->zctx, ZMQ_DEALER);
    int linger = 0;
    char rid[16];
    snprintf(rid, sizeof rid, "%c%d", self->slow ? 's' : 'f', self->index);
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_ROUTING_ID, rid, strlen(rid));
    /* Password hashing yields the CPU to ordinary requests: Linux takes a nice value per
       thread, and raising it needs no privilege. */
    if (self->slow && setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) < 0)
        log_warning("could not lower the priority of a password thread: %s", strerror(errno));
    if (zmq_connect(sock, BACKEND) < 0) {
        log_error("could not connect to broker: %s", zmq_strerror(errno));
        zmq_close(sock);
        return NULL;
    }
    const wk_server_config_t *cfg = self->cfg;
    wk_ctx_t ctx = {
        .db = wk_db_new(cfg->dsn, cfg->dsn_user, cfg->set_role, true),
        /* Connected on first use: most threads never provision a tenant. */
        .admin = wk_db_new(cfg->provision_dsn, cfg->provision_user, false, false),
        .spares = self->spares,
        .mover = self->mover,
        .ring = cfg->ring,
        .platform = cfg->platform,
        .shard = cfg->shard,
        .shards = cfg->shards,
        .dedicated = cfg->dedicated,
    };
    bool remote = cfg->cluster != 0; /* the registry is on another cluster */
    ctx.registry = remote ? wk_db_new(cfg->clusters->dsn[0], cfg->dsn_user, false, true) : ctx.db;
    ctx.registry_admin =
        remote ? wk_db_new(cfg->clusters->dsn[0], cfg->provision_user, false, false) : ctx.admin;
    wk_db_set_tenant_budget(ctx.db, cfg->tenant_budget);
    wk_db_conn(ctx.db);       /* connect now so the first request does not pay for it */
    zmq_send(sock, "", 0, 0); /* idle */
    for (;;) {
        zmq_msg_t id, body;
        if (s_recv(sock, &id, 0) < 0) {
            if (errno == EINTR)
                continue;
            break; /* ETERM: the context is shutting down */
        }
        if (!s_more(sock) || s_recv(sock, &body, 0) < 0) {
            zmq_msg_close(&id);
            zmq_send(sock, "", 0, 0);
            continue;
        }
        s_drain_frames(sock);
        size_t len = 0;
        void *reply = s_serve(&ctx, zmq_msg_data(&body), zmq_msg_size(&body), &len);
        zmq_msg_close(&body);
        if (reply) {
            zmq_msg_t out;
            zmq_msg_init_data(&out, reply, len, s_free_buf, NULL);
            zmq_msg_send(&id, sock, ZMQ_SNDMORE);
            zmq_msg_send(&out, sock, 0);
        } else {
            zmq_msg_close(&id);
            zmq_send(sock, "", 0, 0); /* dropped: just idle again */
        }
    }
    if (remote) {
        wk_db_destroy(&ctx.registry);
        wk_db_destroy(&ctx.registry_admin);
    }
    wk_db_destroy(&ctx.db);
    wk_db_destroy(&ctx.admin);
    zmq_close(sock);
    return NULL;
}

/* Answers a request from the broker itself, without a thread: "unavailable" while draining or
 * when overloaded, and pings, which need no database. */
static void s_answer(void *frontend, zmq_msg_t *id, const uint8_t request_id[16], int status,
                     const char *why, char *reply_body)
{
    proto_reply_t rep = {.status = status,
                         .detail = (char *)why,
                         .body = reply_body,
                         .body_len = reply_body ? strlen(reply_body) : 0};
    memcpy(rep.request_id, request_id, 16);
    size_t len;
    void *out = proto_reply_encode(&rep, &len);
    zmq_msg_send(id, frontend, ZMQ_SNDMORE);
    zmq_send(frontend, out, len, 0);
    free(out);
}

/* A request waiting for a thread of its lane. */
typedef struct {
    zmq_msg_t id;   /* gateway routing id */
    zmq_msg_t body; /* encoded request */
} queued_t;

#define LANE_FAST 0
#define LANE_SLOW 1
#define QUEUE_MAX 1024 /* per lane; beyond it the worker answers "busy" */
#define SETTLE_MS 250  /* after draining, how long the frontend stays open */
#define BATCH_MAX 64   /* messages taken from one socket per poll */

typedef struct {
    zmq_msg_t idle[64]; /* routing ids of idle threads (a stack) */
    int nidle;
    int nthreads;
    queued_t *queue; /* FIFO ring of QUEUE_MAX */
    int head, count;
} lane_t;

#define THREADS_MAX 128 /* ordinary (up to 64) and password threads (up to 16) */

typedef struct {
    void *frontend, *backend;
    lane_t lanes[2];
    wk_pace_t pace; /* the password lane's share while others are busy */
    /* Password threads' CPU clocks, and their reading when each took its current request: the
       share is of CPU time, which a niced thread on a busy machine spends over a longer wall
       time. */
    clockid_t cpu_clock[THREADS_MAX];
    uint64_t started_cpu_us[THREADS_MAX];
    bool draining;
    char pong[48]; /* the body of a ping's reply */
} broker_t;

/* The thread index in a routing id "f<index>" / "s<index>" (see s_thread_main), or -1. */
static int s_thread_index(zmq_msg_t *tid)
{
    char digits[8] = {0};
    size_t n = zmq_msg_size(tid);
    if (n < 2 || n >= sizeof digits)
        return -1;
    memcpy(digits, (const char *)zmq_msg_data(tid) + 1, n - 1);
    int index = atoi(digits);
    return index >= 0 && index < THREADS_MAX ? index : -1;
}

static void s_dispatch(broker_t *b, lane_t *lane, zmq_msg_t *id, zmq_msg_t *body)
{
    zmq_msg_t *tid = &lane->idle[--lane->nidle];
    if (lane == &b->lanes[LANE_SLOW]) {
        int index = s_thread_index(tid);
        if (index >= 0)
            b->started_cpu_us[index] = clock_us(b->cpu_clock[index]);
    }
    zmq_msg_send(tid, b->backend, ZMQ_SNDMORE);
    zmq_msg_send(id, b->backend, ZMQ_SNDMORE);
    zmq_msg_send(body, b->backend, 0);
}

/* Whether ordinary requests are running or waiting, for pacing (never while draining). */
static bool s_fast_busy(const broker_t *b)
{
    const lane_t *fast = &b->lanes[LANE_FAST];
    return !b->draining && (fast->nidle < fast->nthreads || fast->count > 0);
}

/* Microseconds before the password lane may start a request (see wk_pace.h). */
static uint64_t s_slow_wait_us(const broker_t *b)
{
    return wk_pace_wait_us(&b->pace, clock_mono_us(), s_fast_busy(b));
}

/* Gives queued requests of a lane to its idle threads, as far as the lane may start them. */
static void s_pump(broker_t *b, lane_t *lane)
{
    while (lane->count > 0 && lane->nidle > 0 &&
           (lane != &b->lanes[LANE_SLOW] || s_slow_wait_us(b) == 0)) {
        queued_t *q = &lane->queue[lane->head];
        lane->head = (lane->head + 1) % QUEUE_MAX;
        lane->count--;
        s_dispatch(b, lane, &q->id, &q->body);
    }
}

/* Moves one message backend -> frontend (a reply), marks its thread idle and gives it the
 * oldest queued request of its lane. Thread routing ids start with 'f' or 's' (their lane).
 * Returns whether there was a message. */
static bool s_on_backend(broker_t *b)
{
    zmq_msg_t tid, first;
    bool replied = false;
    if (s_recv(b->backend, &tid, ZMQ_DONTWAIT) < 0)
        return false;
    if (s_recv(b->backend, &first, 0) < 0) {
        zmq_msg_close(&tid);
        return true;
    }
    if (s_more(b->backend)) { /* [gateway id][reply] */
        zmq_msg_t reply;
        if (s_recv(b->backend, &reply, 0) == 0) {
            zmq_msg_send(&first, b->frontend, ZMQ_SNDMORE);
            zmq_msg_send(&reply, b->frontend, 0);
            replied = true;
        } else {
            zmq_msg_close(&first);
        }
        s_drain_frames(b->backend);
    } else {
        zmq_msg_close(&first); /* empty frame: the thread just became idle */
    }
    lane_t *lane = &b->lanes[((const char *)zmq_msg_data(&tid))[0] == 's' ? LANE_SLOW : LANE_FAST];
    int index = replied && lane == &b->lanes[LANE_SLOW] ? s_thread_index(&tid) : -1;
    if (index >= 0) {
        uint64_t used = clock_us(b->cpu_clock[index]) - b->started_cpu_us[index];
        wk_pace_ran(&b->pace, clock_mono_us(), used, s_fast_busy(b));
    }
    lane->idle[lane->nidle++] = tid;
    s_pump(b, lane);
    return true;
}

/* Moves one request frontend -> an idle thread of its lane, or its lane's queue, or refuses
 * it (draining, or the queue is full). Returns whether there was a message. */
static bool s_on_frontend(broker_t *b)
{
    bool draining = b->draining;
    zmq_msg_t id, body;
    if (s_recv(b->frontend, &id, ZMQ_DONTWAIT) < 0)
        return false;
    if (!s_more(b->frontend) || s_recv(b->frontend, &body, 0) < 0) {
        zmq_msg_close(&id);
        return true;
    }
    s_drain_frames(b->frontend);
    uint8_t request_id[16];
    int op = proto_request_peek(zmq_msg_data(&body), zmq_msg_size(&body), request_id);
    if (op < 0) { /* without a request id there is no one to answer */
        log_warning("dropped malformed request frame (%zu bytes)", zmq_msg_size(&body));
        zmq_msg_close(&id);
        zmq_msg_close(&body);
        return true;
    }
    if (op == PROTO_OP_PING && !draining) {
        /* A ping asks whether this worker is up: the broker knows, no thread needs to wake. */
        s_answer(b->frontend, &id, request_id, PROTO_STATUS_OK, NULL, b->pong);
        zmq_msg_close(&body);
        return true;
    }
    bool slow = proto_op_hashes_password((proto_op_t)op) && b->lanes[LANE_SLOW].nthreads > 0;
    lane_t *lane = &b->lanes[slow ? LANE_SLOW : LANE_FAST];
    if (draining || lane->count == QUEUE_MAX) {
        s_answer(b->frontend, &id, request_id, PROTO_STATUS_UNAVAILABLE,
                 draining ? "worker is shutting down" : "worker is busy", NULL);
        zmq_msg_close(&body);
        return true;
    }
    if (lane->nidle > 0 && lane->count == 0 && (!slow || s_slow_wait_us(b) == 0)) {
        s_dispatch(b, lane, &id, &body);
        return true;
    }
    queued_t *q = &lane->queue[(lane->head + lane->count) % QUEUE_MAX];
    q->id = id;
    q->body = body;
    lane->count++;
    return true;
}

static bool s_all_idle(const broker_t *b)
{
    for (int l = 0; l < 2; l++)
        if (b->lanes[l].nidle < b->lanes[l].nthreads || b->lanes[l].count > 0)
            return false;
    return true;
}

static int s_busy(const broker_t *b)
{
    return b->lanes[0].nthreads - b->lanes[0].nidle + b->lanes[1].nthreads - b->lanes[1].nidle;
}

/* Makes the frontend a CurveZMQ server whose door is the ZAP handler: encrypted, and only the
 * allowed gateways' keys get in. The handler must exist before the socket binds. */
static int s_curve_server(broker_t *b, void *zctx, const wk_server_config_t *cfg, wk_zap_t **zap)
{
    *zap = wk_zap_start(zctx, b->frontend, cfg->allowed_dir);
    if (!*zap || curve_socket_server(b->frontend, cfg->curve) < 0)
        return -1;
    return zmq_setsockopt(b->frontend, ZMQ_ZAP_DOMAIN, "quiz", 4);
}

/* The broker's lanes and sockets, bound: 0, or -1 (logged, all freed). */
static int s_broker_open(broker_t *b, void *zctx, const wk_server_config_t *cfg, wk_zap_t **zap)
{
    b->lanes[LANE_FAST].nthreads = cfg->threads;
    b->lanes[LANE_SLOW].nthreads = cfg->slow_threads;
    wk_pace_init(&b->pace, cfg->password_share);
    snprintf(b->pong, sizeof b->pong, "{\"pong\":true,\"shard\":%d}", cfg->shard);
    for (int l = 0; l < 2; l++)
        b->lanes[l].queue = mem_zalloc(sizeof(queued_t) * QUEUE_MAX);
    b->frontend = zmq_socket(zctx, ZMQ_ROUTER);
    b->backend = zmq_socket(zctx, ZMQ_ROUTER);
    int linger = 1000;
    zmq_setsockopt(b->frontend, ZMQ_LINGER, &linger, sizeof linger);
    if ((cfg->curve && s_curve_server(b, zctx, cfg, zap) < 0) ||
        zmq_bind(b->backend, BACKEND) < 0 || zmq_bind(b->frontend, cfg->endpoint) < 0) {
        log_error("could not bind \"%s\": %s", cfg->endpoint, zmq_strerror(errno));
        zmq_close(b->frontend);
        zmq_close(b->backend);
        for (int l = 0; l < 2; l++)
            free(b->lanes[l].queue);
        return -1;
    }
    return 0;
}

/* Closes what the lanes still hold (idle threads' ids, queued requests) and the sockets. */
static void s_broker_close(broker_t *b)
{
    for (int l = 0; l < 2; l++) {
        lane_t *lane = &b->lanes[l];
        for (int i = 0; i < lane->nidle; i++)
            zmq_msg_close(&lane->idle[i]);
        for (; lane->count > 0; lane->count--, lane->head = (lane->head + 1) % QUEUE_MAX) {
            zmq_msg_close(&lane->queue[lane->head].id);
            zmq_msg_close(&lane->queue[lane->head].body);
        }
        free(lane->queue);
    }
    zmq_close(b->frontend);
    zmq_close(b->backend);
}

/* Starts the database threads (ordinary ones first, then the password lane's). */
static wk_thread_t *s_threads_start(broker_t *b, void *zctx, const wk_server_config_t *cfg,
                                    wk_spares_t *spares, wk_mover_t *mover)
{
    int total = cfg->threads + cfg->slow_threads;
    wk_thread_t *threads = mem_zalloc(sizeof *threads * (size_t)total);
    /* Stop signals belong to this thread, which drains; a database thread interrupted in
       zmq_recv would take EINTR for shutdown and leave its lane. Threads inherit the mask. */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    for (int i = 0; i < total; i++) {
        threads[i] = (wk_thread_t){zctx, cfg, spares, mover, 0, i >= cfg->threads, i};
        if (pthread_create(&threads[i].tid, NULL, s_thread_main, &threads[i]) != 0) {
            log_error("could not start database thread %d", i);
            abort(); /* out of threads at start-up: systemd restarts us */
        }
        if (pthread_getcpuclockid(threads[i].tid, &b->cpu_clock[i]) != 0)
            b->cpu_clock[i] = CLOCK_MONOTONIC; /* then the share is of wall time */
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return threads;
}

/* Stays connected a moment after the last reply: a gateway drops what it has not yet read from
 * a connection that closes (its sockets use ZMQ_IMMEDIATE), so an instant exit could lose the
 * very replies the drain waited for. Requests arriving meanwhile are answered "unavailable". */
static void s_settle(broker_t *b)
{
    uint64_t settle_until = clock_now_ms() + SETTLE_MS;
    for (uint64_t now = clock_now_ms(); now < settle_until; now = clock_now_ms()) {
        zmq_pollitem_t it = {b->frontend, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, (long)(settle_until - now)) > 0 && (it.revents & ZMQ_POLLIN))
            s_on_frontend(b);
    }
}

/* One turn of the loop: start paced password requests that may go, wait for either socket (at
 * most timeout ms) and take what is ready. */
static void s_turn(broker_t *b, long timeout, bool watchdog)
{
    /* Password requests held back by pacing start when their rest is over, or as soon as
       ordinary requests stop (checked after every event). */
    lane_t *slow = &b->lanes[LANE_SLOW];
    s_pump(b, slow);
    long wait = timeout;
    if (slow->count > 0 && slow->nidle > 0)
        wait = (long)(s_slow_wait_us(b) / 1000) + 1;
    if (wait > timeout)
        wait = timeout;
    /* The frontend is always read: a request for a busy lane waits in that lane's queue while
       the other lane keeps serving. */
    zmq_pollitem_t items[2] = {{b->backend, 0, ZMQ_POLLIN, 0}, {b->frontend, 0, ZMQ_POLLIN, 0}};
    int ready = zmq_poll(items, 2, wait);
    if (watchdog)
        lifecycle_watchdog();
    if (ready < 0)
        return; /* EINTR: the caller looks at the stop flag */
    /* Take what is ready in batches, as each zmq_poll costs syscalls of its own; bounded, so
       that neither socket holds up the other. */
    for (int n = 0; n < BATCH_MAX && (items[0].revents & ZMQ_POLLIN) && s_on_backend(b); n++)
        ;
    for (int n = 0; n < BATCH_MAX && (items[1].revents & ZMQ_POLLIN) && s_on_frontend(b); n++)
        ;
}

/* Serves until SIGTERM, then drains: busy threads finish (up to drain_ms), then s_settle. */
static void s_serve_until_drained(broker_t *b, const wk_server_config_t *cfg)
{
    uint64_t wd_usec = lifecycle_watchdog_usec();
    long timeout = wd_usec ? (long)(wd_usec / 2000) : 1000;
    uint64_t drain_until = 0;
    for (;;) {
        if (!b->draining && lifecycle_is_stopping()) {
            b->draining = true;
            drain_until = clock_now_ms() + (uint64_t)cfg->drain_ms;
            lifecycle_stopping();
            log_info("stopping: draining %d busy threads", s_busy(b));
        }
        if (b->draining && (s_all_idle(b) || clock_now_ms() >= drain_until)) {
            s_settle(b);
            break;
        }
        s_turn(b, timeout, wd_usec != 0);
    }
    if (!s_all_idle(b))
        log_warning("drain timed out with %d requests in flight", s_busy(b));
}

int wk_server_run(const wk_server_config_t *cfg)
{
    void *zctx = zmq_ctx_new();
    broker_t b = {0};
    wk_zap_t *zap = NULL;
    if (s_broker_open(&b, zctx, cfg, &zap) < 0) {
        zmq_ctx_shutdown(zctx);
        wk_zap_destroy(&zap);
        zmq_ctx_term(zctx);
        return -1;
    }
    /* A dedicated shard takes no new tenants, so it keeps no spares for them. */
    bool dedicated = cfg->dedicated && cfg->dedicated[cfg->shard];
    wk_spares_t *spares =
        wk_spares_start(cfg->provision_dsn, cfg->provision_user, cfg->shard, cfg->shards,
                        cfg->dedicated, dedicated ? 0 : cfg->spare_schemas);
    wk_mover_t *mover =
        wk_mover_start(cfg->clusters, cfg->cluster, cfg->shard, cfg->provision_user);
    wk_thread_t *threads = s_threads_start(&b, zctx, cfg, spares, mover);
    /* Ready once every thread has connected (and tried the database) and said it is idle. */
    while (!s_all_idle(&b) && !lifecycle_is_stopping()) {
        zmq_pollitem_t it = {b.backend, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 1000) > 0)
            s_on_backend(&b);
    }
    char status[300];
    snprintf(status, sizeof status,
             "shard %d/%d%s serving on %s with %d threads (+%d for passwords)", cfg->shard,
             cfg->shards, dedicated ? " (dedicated)" : "", cfg->endpoint, cfg->threads,
             cfg->slow_threads);
    lifecycle_ready(status);
    log_info("%s", status);
    s_serve_until_drained(&b, cfg);
    s_broker_close(&b);
    zmq_ctx_shutdown(zctx); /* wakes the threads with ETERM */
    for (int i = 0; i < cfg->threads + cfg->slow_threads; i++)
        pthread_join(threads[i].tid, NULL);
    free(threads);
    wk_zap_destroy(&zap);
    wk_mover_stop(&mover);
    wk_spares_stop(&spares);
    zmq_ctx_term(zctx);
    log_info("stopped");
    return 0;
}
