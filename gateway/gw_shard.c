/* Shard calls, multiplexed: each shard has one DEALER socket shared by every civetweb thread of
 * the gateway, so requests and replies of many threads travel batched in the same TCP writes
 * instead of one connection per thread and shard, which cost every message its own syscalls on
 * both sides of the hop.
 *
 * ZeroMQ sockets are not thread-safe, so the socket is used only under the shard's mutex. Replies
 * are matched to their callers by request id. Leader/follower: at most one waiting thread (the
 * reader) sleeps in poll(2) on the socket's ZMQ_FD, without the mutex; the others sleep on their
 * own semaphore. Whoever touches the socket then reads every reply that is ready and hands each
 * to its caller, waking the reader through an eventfd if the reply is its own. A reader whose
 * reply came passes the role to another waiting thread.
 *
 * A delivered call is unlinked by whoever delivers it, and the wake-ups are posted only after the
 * mutex is released, so a woken caller does not find it still held by its waker. (Waking them
 * under the mutex, as a condition variable does, sent half of them straight back to sleep on it.)
 *
 * The socket sets ZMQ_IMMEDIATE, so a message is queued only to a connected worker: with none
 * connected the non-blocking send fails at once and the caller answers 503 instead of waiting
 * out the deadline. With several workers per shard, ZeroMQ round-robins among those connected.
 *
 * A monitor counts the socket's connections to workers: when the last one drops (its worker died
 * or was stopped), the calls in flight on the shard can no longer be answered, and are failed at
 * once as unavailable (503, Retry-After) instead of waiting out their deadline. Lost are the
 * calls that worker had; with another still connected, the shard's calls wait as before (which
 * worker has a call, ZeroMQ does not say). The monitor's pipe holds 1000 events: a gateway with no
 * calls for long beside a worker that flaps that often would lose count (a fast-fail missed, or
 * one call failed that might have been answered).
 *
 * Every socket is a CurveZMQ client (unless the operator turned it off): traffic is encrypted and
 * workers admit only gateway keys they know. */
#include "gateway/gw_shard.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/curve.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/monitor.h"
#include "common/shard.h"

/* How long a fresh socket may take to connect before its shard counts as unavailable. */
#define FIRST_CONNECT_MS 1000

/* One call in flight: its request id, where its reply goes and how its thread is woken. */
typedef struct waiter {
    uint8_t request_id[16];
    proto_reply_t *rep;
    bool done;
    bool lost; /* done without a reply: every worker of the shard went away */
    sem_t wake;
    int owed;                   /* posts to wake promised under the mutex, not yet taken */
    struct waiter *prev, *next; /* in the shard's calls in flight, while not done */
} waiter_t;

/* Wake-ups one thread collects under the mutex. Past this many, they are posted at once. */
#define POSTS_MAX 32

/* What one thread must do once it releases a shard's mutex. */
typedef struct {
    waiter_t *self;             /* the calling thread's waiter: delivered to it needs no wake-up */
    waiter_t *posts[POSTS_MAX]; /* waiters to post */
    int nposts;
    bool reader; /* write the eventfd that wakes the reader */
} wakes_t;

typedef struct {
    pthread_mutex_t lock; /* guards everything below, and every use of sock */
    void *sock;           /* DEALER to the shard's workers */
    int sock_fd;          /* its ZMQ_FD: readable when its state may have changed */
    int wake_fd;          /* eventfd: wakes the reader from poll */
    void *monitor;        /* PAIR: sock's connection events */
    int monitor_fd;       /* its ZMQ_FD */
    int connected;        /* sessions with workers open, by those events */
    waiter_t *reader;     /* the thread sleeping in poll, or NULL */
    waiter_t *waiting;    /* calls in flight (doubly linked) */
    bool used;            /* a send has succeeded */
    int shard;
    char *endpoints; /* comma-separated, as connected */
} mux_t;

struct gw_shards {
    void *zctx; /* ZeroMQ context */
    int count;  /* number of shards */
    mux_t *muxes;
};

struct gw_shard_link {
    gw_shards_t *shards; /* borrowed */
    waiter_t waiter;     /* this thread's, reused by each of its calls */
};

/* Whether the comma-separated list holds ep. */
static bool s_listed(const char *list, const char *ep)
{
    size_t n = strlen(ep);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, ep, n) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

/* Connects the socket to each endpoint of `now` not in `before`, and disconnects it from each
 * of `before` not in `now`. Under the mutex (or before anyone else has the socket). */
static void s_connect_new(mux_t *m, const char *before, const char *now)
{
    char *list = mem_strdup(before), *save = NULL;
    for (char *ep = strtok_r(list, ",", &save); ep; ep = strtok_r(NULL, ",", &save))
        if (!s_listed(now, ep)) {
            zmq_disconnect(m->sock, ep);
            log_info("shard %d: disconnected from %s", m->shard, ep);
        }
    free(list);
    list = mem_strdup(now);
    for (char *ep = strtok_r(list, ",", &save); ep; ep = strtok_r(NULL, ",", &save)) {
        if (s_listed(before, ep))
            continue;
        if (zmq_connect(m->sock, ep) < 0)
            log_error("could not connect to shard %d at \"%s\": %s", m->shard, ep,
                      zmq_strerror(errno));
        else if (*before)
            log_info("shard %d: connected to %s", m->shard, ep);
    }
    free(list);
}

static void s_watch(mux_t *m, wakes_t *wk);

static int s_mux_init(mux_t *m, void *zctx, int shard, const char *endpoints,
                      const curve_keypair_t *self, const char *server_key)
{
    pthread_mutex_init(&m->lock, NULL);
    m->shard = shard;
    m->wake_fd = -1;
    m->sock = zmq_socket(zctx, ZMQ_DEALER);
    int one = 1, zero = 0, ivl = 100;
    zmq_setsockopt(m->sock, ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_setsockopt(m->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(m->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    /* CURVE: encrypted, and the worker knows which gateway key is speaking */
    if (self && curve_socket_client(m->sock, self, server_key) < 0) {
        log_error("could not set the CURVE keys of shard %d: %s", shard, zmq_strerror(errno));
        return -1;
    }
    /* Watched before it connects, so no connection is missed. */
    char mon[48];
    snprintf(mon, sizeof mon, "inproc://gw-shard-%d-monitor", shard);
    m->monitor = zmq_socket(zctx, ZMQ_PAIR);
    zmq_setsockopt(m->monitor, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_socket_monitor(m->sock, mon, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) < 0 ||
        zmq_connect(m->monitor, mon) < 0) {
        log_error("could not watch shard %d's connections: %s", shard, zmq_strerror(errno));
        return -1;
    }
    /* A first read, which finds nothing yet, arms its fd: ZeroMQ signals a reader only once it
       has found its pipe empty. */
    s_watch(m, &(wakes_t){.nposts = 0});
    s_connect_new(m, "", endpoints);
    m->endpoints = mem_strdup(endpoints);
    size_t len = sizeof m->sock_fd, mlen = sizeof m->monitor_fd;
    m->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return zmq_getsockopt(m->sock, ZMQ_FD, &m->sock_fd, &len) == 0 &&
                   zmq_getsockopt(m->monitor, ZMQ_FD, &m->monitor_fd, &mlen) == 0 && m->wake_fd >= 0
               ? 0
               : -1;
}

gw_shards_t *gw_shards_new(int nshards, const char *const *endpoints, const curve_keypair_t *self,
                           const char *server_key)
{
    if (nshards < 1 || nshards > SHARD_MAX)
        return NULL;
    gw_shards_t *s = mem_zalloc(sizeof *s);
    s->zctx = zmq_ctx_new();
    s->count = nshards;
    s->muxes = mem_zalloc(sizeof(mux_t) * (size_t)nshards);
    for (int i = 0; i < nshards; i++)
        if (s_mux_init(&s->muxes[i], s->zctx, i, endpoints[i], self, server_key) < 0) {
            s->count = i + 1;
            gw_shards_destroy(&s);
            return NULL;
        }
    return s;
}

void gw_shards_destroy(gw_shards_t **shards_p)
{
    if (!shards_p || !*shards_p)
        return;
    gw_shards_t *s = *shards_p;
    for (int i = 0; i < s->count; i++) {
        mux_t *m = &s->muxes[i];
        zmq_socket_monitor(m->sock, NULL, 0);
        zmq_close(m->monitor);
        zmq_close(m->sock);
        if (m->wake_fd >= 0)
            close(m->wake_fd);
        pthread_mutex_destroy(&m->lock);
        free(m->endpoints);
    }
    zmq_ctx_term(s->zctx);
    free(s->muxes);
    free(s);
    *shards_p = NULL;
}

void gw_shards_set_endpoints(gw_shards_t *shards, int shard, const char *endpoints)
{
    if (shard < 0 || shard >= shards->count)
        return;
    mux_t *m = &shards->muxes[shard];
    pthread_mutex_lock(&m->lock);
    if (strcmp(m->endpoints, endpoints) != 0) {
        s_connect_new(m, m->endpoints, endpoints);
        free(m->endpoints);
        m->endpoints = mem_strdup(endpoints);
    }
    pthread_mutex_unlock(&m->lock);
}

int gw_shards_count(const gw_shards_t *shards)
{
    return shards->count;
}

gw_shard_link_t *gw_shard_link_new(gw_shards_t *shards)
{
    gw_shard_link_t *link = mem_zalloc(sizeof *link);
    link->shards = shards;
    sem_init(&link->waiter.wake, 0, 0);
    return link;
}

void gw_shard_link_destroy(gw_shard_link_t **link_p)
{
    if (!link_p || !*link_p)
        return;
    sem_destroy(&(*link_p)->waiter.wake);
    free(*link_p);
    *link_p = NULL;
}

static void s_unlink(mux_t *m, waiter_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        m->waiting = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

/* Under the lock: promises w a post, made once the lock is released (or now, if wk is full). */
static void s_promise_post(wakes_t *wk, waiter_t *w)
{
    w->owed++;
    if (wk->nposts < POSTS_MAX)
        wk->posts[wk->nposts++] = w;
    else
        sem_post(&w->wake);
}

/* Under the lock: marks w done and out of the calls in flight, and notes how its thread is to
 * be woken. */
static void s_deliver(mux_t *m, waiter_t *w, wakes_t *wk)
{
    w->done = true;
    s_unlink(m, w);
    if (w == wk->self)
        return;
    if (w == m->reader) {
        wk->reader = true;
    } else {
        s_promise_post(wk, w);
    }
}

/* Releases the lock, then wakes the threads noted in wk. */
static void s_unlock(mux_t *m, wakes_t *wk)
{
    pthread_mutex_unlock(&m->lock);
    for (int i = 0; i < wk->nposts; i++)
        sem_post(&wk->posts[i]->wake); /* the last touch: its thread may return at once */
    wk->nposts = 0;
    if (wk->reader) {
        wk->reader = false;
        uint64_t one = 1;
        if (write(m->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
            log_warning("could not wake the reader of shard %d", m->shard);
    }
}

/* Under the lock (or before anyone else has the socket): counts the connections opened and
 * closed since last time; when none is left, fails every call in flight. */
static void s_watch(mux_t *m, wakes_t *wk)
{
    uint16_t event;
    uint32_t value;
    bool dropped = false;
    while (monitor_recv(m->monitor, ZMQ_DONTWAIT, &event, &value) == 0) {
        if (event == ZMQ_EVENT_CONNECTED) {
            m->connected++;
        } else if (event == ZMQ_EVENT_DISCONNECTED && m->connected > 0) {
            m->connected--;
            dropped = true;
        }
    }
    if (!dropped || m->connected > 0 || !m->waiting)
        return;
    log_warning("shard %d: its last worker went away; failing its calls in flight", m->shard);
    while (m->waiting) {
        m->waiting->lost = true;
        s_deliver(m, m->waiting, wk);
    }
}

/* Under the lock: reads every reply that is ready and gives each to its caller. Run after any
 * use of the socket, which may consume the edge of ZMQ_FD that announced those replies. A
 * receive that finds nothing has processed the socket's pending commands, as ZMQ_EVENTS would,
 * so the loop needs no ZMQ_EVENTS check (each of which costs a poll(2) of its own). */
static void s_drain(mux_t *m, wakes_t *wk)
{
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, m->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        proto_reply_t rep = {0};
        const char *why;
        int rc = proto_reply_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &rep, &why);
        zmq_msg_close(&msg);
        if (rc < 0) {
            log_warning("dropped malformed reply from shard %d: %s", m->shard, why);
            continue;
        }
        waiter_t *w = m->waiting;
        while (w && memcmp(w->request_id, rep.request_id, 16) != 0)
            w = w->next;
        if (!w) {
            proto_reply_clear(&rep); /* a late answer to a request its caller gave up on */
            continue;
        }
        *w->rep = rep;
        s_deliver(m, w, wk);
    }
}

static void s_free_frame(void *data, void *hint)
{
    (void)hint;
    free(data);
}

/* Sends frame (malloc'd; taken over, so ZeroMQ need not copy it), locking the shard. A socket
 * that never sent yet may still be connecting: it gets up to FIRST_CONNECT_MS (and the
 * deadline), retried without the lock so other callers are not held up. Returns with the lock
 * held: 0, or -1 when no worker is connected. */
static int s_send(mux_t *m, void *frame, size_t len, uint64_t deadline_ms, wakes_t *wk)
{
    zmq_msg_t msg;
    zmq_msg_init_data(&msg, frame, len, s_free_frame, NULL);
    uint64_t start = clock_now_ms();
    uint64_t until =
        start + FIRST_CONNECT_MS < deadline_ms ? start + FIRST_CONNECT_MS : deadline_ms;
    for (;;) {
        pthread_mutex_lock(&m->lock);
        if (zmq_msg_send(&msg, m->sock, ZMQ_DONTWAIT) >= 0) {
            m->used = true;
            return 0;
        }
        s_drain(m, wk); /* the send may have taken the edge of replies that arrived */
        if (m->used || clock_now_ms() >= until) {
            zmq_msg_close(&msg);
            return -1;
        }
        s_unlock(m, wk);
        struct timespec pause = {0, 10 * 1000000L};
        nanosleep(&pause, NULL);
    }
}

/* Sleeps as the reader until the socket may have news, the reader is woken, or the deadline.
 * Called and returns with the lock held; releases it while asleep. */
static void s_read_wait(mux_t *m, uint64_t deadline_ms, wakes_t *wk)
{
    m->reader = wk->self;
    s_unlock(m, wk);
    uint64_t now = clock_now_ms();
    struct pollfd fds[3] = {
        {m->sock_fd, POLLIN, 0}, {m->wake_fd, POLLIN, 0}, {m->monitor_fd, POLLIN, 0}};
    int ready = poll(fds, 3, now < deadline_ms ? (int)(deadline_ms - now) : 0);
    if (ready > 0 && (fds[1].revents & POLLIN)) {
        uint64_t count;
        if (read(m->wake_fd, &count, sizeof count) < 0 && errno != EAGAIN)
            log_warning("could not read the wake-up of shard %d", m->shard);
    }
    pthread_mutex_lock(&m->lock);
    m->reader = NULL;
    /* Only the reader reads the monitor, and only when told: its fd stays readable until then
       (no one else touches that socket), so a call in flight always has a reader to see it. */
    if (ready > 0 && (fds[2].revents & POLLIN))
        s_watch(m, wk);
}

/* Sleeps on the caller's semaphore until posted or the deadline. Lock held, as above. */
static void s_follow_wait(mux_t *m, uint64_t deadline_ms, wakes_t *wk)
{
    waiter_t *w = wk->self;
    s_unlock(m, wk);
    struct timespec until = {(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000L};
    int rc = sem_timedwait(&w->wake, &until); /* the deadline is CLOCK_REALTIME, as is this */
    pthread_mutex_lock(&m->lock);
    if (rc == 0)
        w->owed--;
}

gw_call_t gw_shard_call(gw_shard_link_t *link, int shard, const proto_request_t *req,
                        proto_reply_t *rep)
{
    mux_t *m = &link->shards->muxes[shard];
    waiter_t *w = &link->waiter;
    wakes_t wk = {.self = w};
    size_t len;
    void *frame = proto_request_encode(req, &len);
    if (s_send(m, frame, len, req->deadline_ms, &wk) < 0) {
        s_unlock(m, &wk);
        return GW_CALL_UNAVAILABLE; /* EAGAIN: no connected worker (or its queue is full) */
    }
    memcpy(w->request_id, req->request_id, 16);
    w->rep = rep;
    w->done = false;
    w->lost = false;
    w->prev = NULL;
    w->next = m->waiting;
    if (m->waiting)
        m->waiting->prev = w;
    m->waiting = w;
    s_drain(m, &wk);
    while (!w->done && clock_now_ms() < req->deadline_ms) {
        if (!m->reader) {
            s_read_wait(m, req->deadline_ms, &wk);
            s_drain(m, &wk);
        } else {
            s_follow_wait(m, req->deadline_ms, &wk);
        }
    }
    bool done = w->done, lost = w->lost;
    if (!done)
        s_unlink(m, w);
    /* Leaving with nobody reading while others wait would leave their replies unread: pass the
       role on to one of them. */
    if (!m->reader && m->waiting)
        s_promise_post(&wk, m->waiting);
    /* Posts promised to this waiter come right after their makers release the lock; take them
       now, so none is left to wake a later call early (or to touch the waiter once freed). */
    int owed = w->owed;
    w->owed = 0;
    s_unlock(m, &wk);
    while (owed > 0)
        if (sem_wait(&w->wake) == 0)
            owed--;
    return lost ? GW_CALL_UNAVAILABLE : done ? GW_CALL_OK : GW_CALL_TIMEOUT;
}
