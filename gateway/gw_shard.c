/* Shard calls. Each DEALER sets ZMQ_IMMEDIATE, so a message is queued only to a connected
 * worker: with none connected the non-blocking send fails at once and the caller answers 503
 * instead of waiting out the deadline. With several workers per shard, ZeroMQ round-robins among
 * those connected. */
#include "gateway/gw_shard.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/shard.h"

/* How long a fresh socket may take to connect before its shard counts as unavailable. */
#define FIRST_CONNECT_MS 1000

struct gw_shards {
    void *zctx;       /* ZeroMQ context, shared by all threads (thread-safe) */
    int count;        /* number of shards */
    char **endpoints; /* per shard: comma-separated endpoints, owned */
};

struct gw_shard_link {
    gw_shards_t *shards; /* borrowed */
    void **socks;        /* one DEALER per shard */
    bool *used;          /* per shard: a send has succeeded on this socket */
};

gw_shards_t *gw_shards_new(int nshards, char *const *endpoints)
{
    if (nshards < 1 || nshards > SHARD_MAX)
        return NULL;
    gw_shards_t *s = mem_zalloc(sizeof *s);
    s->zctx = zmq_ctx_new();
    s->count = nshards;
    s->endpoints = mem_zalloc(sizeof(char *) * (size_t)nshards);
    for (int i = 0; i < nshards; i++)
        s->endpoints[i] = mem_strdup(endpoints[i]);
    return s;
}

void gw_shards_destroy(gw_shards_t **shards_p)
{
    if (!shards_p || !*shards_p)
        return;
    gw_shards_t *s = *shards_p;
    zmq_ctx_term(s->zctx);
    for (int i = 0; i < s->count; i++)
        free(s->endpoints[i]);
    free(s->endpoints);
    free(s);
    *shards_p = NULL;
}

int gw_shards_count(const gw_shards_t *shards)
{
    return shards->count;
}

gw_shard_link_t *gw_shard_link_new(gw_shards_t *shards)
{
    gw_shard_link_t *link = mem_zalloc(sizeof *link);
    link->shards = shards;
    link->socks = mem_zalloc(sizeof(void *) * (size_t)shards->count);
    link->used = mem_zalloc(sizeof(bool) * (size_t)shards->count);
    for (int i = 0; i < shards->count; i++) {
        void *sock = zmq_socket(shards->zctx, ZMQ_DEALER);
        int one = 1, zero = 0, ivl = 100;
        zmq_setsockopt(sock, ZMQ_IMMEDIATE, &one, sizeof one);
        zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
        char *list = mem_strdup(shards->endpoints[i]), *save = NULL;
        for (char *ep = strtok_r(list, ",", &save); ep; ep = strtok_r(NULL, ",", &save))
            if (zmq_connect(sock, ep) < 0)
                log_error("could not connect to shard %d at \"%s\": %s", i, ep,
                          zmq_strerror(errno));
        free(list);
        link->socks[i] = sock;
    }
    return link;
}

void gw_shard_link_destroy(gw_shard_link_t **link_p)
{
    if (!link_p || !*link_p)
        return;
    gw_shard_link_t *link = *link_p;
    for (int i = 0; i < link->shards->count; i++)
        zmq_close(link->socks[i]);
    free(link->socks);
    free(link->used);
    free(link);
    *link_p = NULL;
}

gw_call_t gw_shard_call(gw_shard_link_t *link, int shard, const proto_request_t *req,
                        proto_reply_t *rep)
{
    void *sock = link->socks[shard];
    size_t len;
    void *frame = proto_request_encode(req, &len);
    int sent = zmq_send(sock, frame, len, ZMQ_DONTWAIT);
    if (sent < 0 && !link->used[shard]) {
        /* A socket that never sent yet may still be connecting: give it a moment once. */
        uint64_t now = clock_now_ms();
        long grace = req->deadline_ms > now ? (long)(req->deadline_ms - now) : 0;
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLOUT, 0};
        if (zmq_poll(&it, 1, grace < FIRST_CONNECT_MS ? grace : FIRST_CONNECT_MS) > 0)
            sent = zmq_send(sock, frame, len, ZMQ_DONTWAIT);
    }
    free(frame);
    if (sent < 0)
        return GW_CALL_UNAVAILABLE; /* EAGAIN: no connected worker (or its queue is full) */
    link->used[shard] = true;
    for (;;) {
        uint64_t now = clock_now_ms();
        if (now >= req->deadline_ms)
            return GW_CALL_TIMEOUT;
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        int ready = zmq_poll(&it, 1, (long)(req->deadline_ms - now));
        if (ready < 0 && errno != EINTR)
            return GW_CALL_UNAVAILABLE;
        if (ready <= 0)
            continue;
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            continue;
        }
        const char *why;
        int rc = proto_reply_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), rep, &why);
        zmq_msg_close(&msg);
        if (rc < 0) {
            log_warning("dropped malformed reply from shard %d: %s", shard, why);
            continue;
        }
        if (memcmp(rep->request_id, req->request_id, 16) == 0)
            return GW_CALL_OK;
        proto_reply_clear(rep); /* a late answer to a request this thread gave up on */
    }
}
