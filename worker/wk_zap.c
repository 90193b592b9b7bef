/* ZAP handler and frontend monitor (see wk_zap.h). */
#include "worker/wk_zap.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "common/curve.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/monitor.h"

#define ZAP_ENDPOINT  "inproc://zeromq.zap.01"
#define MON_ENDPOINT  "inproc://wk-frontend-monitor"
#define ZAP_FRAMES    7   /* version, request id, domain, address, identity, mechanism, key */
#define LOGGED_MAX    256 /* addresses whose refusal was logged, oldest forgotten first */
#define ACCEPTED_MAX  64  /* accepted connections whose peer address we remember */
#define ADDR_LEN      64
#define KEYS_NAME_MAX 64

typedef struct {
    int fd;
    char addr[ADDR_LEN];
} conn_t;

struct wk_zap {
    pthread_t tid;
    void *zap; /* REP at ZAP_ENDPOINT */
    void *mon; /* PAIR reading the frontend's monitor events */
    char *dir; /* allowed gateway keys */
    char logged[LOGGED_MAX][ADDR_LEN + 8];
    int nlogged, next_logged;
    conn_t conns[ACCEPTED_MAX]; /* by fd, for the address of a handshake that fails */
    bool failed;                /* a handshake failed; its DISCONNECTED event names the fd */
};

/* Logs a refusal once per (address, reason): a peer retrying every 100 ms must not flood the
 * journal. */
static void s_log_refusal(wk_zap_t *z, const char *addr, char reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void s_log_refusal(wk_zap_t *z, const char *addr, char reason, const char *fmt, ...)
{
    char seen[ADDR_LEN + 8];
    snprintf(seen, sizeof seen, "%c %s", reason, addr);
    for (int i = 0; i < z->nlogged; i++)
        if (strcmp(z->logged[i], seen) == 0)
            return;
    memcpy(z->logged[z->next_logged], seen, sizeof seen);
    z->next_logged = (z->next_logged + 1) % LOGGED_MAX;
    if (z->nlogged < LOGGED_MAX)
        z->nlogged++;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    log_warning("refused a connection from %s: %s (logged once per address)", addr, text);
}

/* The name of the allowed key file holding z85 (its stem), or false. Reads the directory each
 * time: a handshake is rare, and so a key added or removed counts at once. */
static bool s_allowed(const wk_zap_t *z, const char *z85, char name[KEYS_NAME_MAX + 1])
{
    DIR *d = opendir(z->dir);
    if (!d) {
        log_error("cannot read the allowed gateway keys in %s: %s", z->dir, strerror(errno));
        return false;
    }
    bool found = false;
    for (struct dirent *e; !found && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 5 || n - 4 > KEYS_NAME_MAX || strcmp(e->d_name + n - 4, ".pub") != 0)
            continue;
        char path[4096], key[CURVE_KEY_LEN + 1], err[4200];
        snprintf(path, sizeof path, "%s/%s", z->dir, e->d_name);
        if (curve_public_load(path, key, err, sizeof err) < 0) {
            log_warning("%s", err);
            continue;
        }
        if (strcmp(key, z85) == 0) {
            snprintf(name, KEYS_NAME_MAX + 1, "%.*s", (int)(n - 4), e->d_name);
            found = true;
        }
    }
    closedir(d);
    return found;
}

/* Answers one ZAP request (RFC 27): 200 with the key's file name as user id, or 400. */
static void s_on_zap(wk_zap_t *z)
{
    zmq_msg_t f[ZAP_FRAMES];
    int n = 0, more = 1;
    size_t more_len = sizeof more;
    while (more && n < ZAP_FRAMES) {
        zmq_msg_init(&f[n]);
        if (zmq_msg_recv(&f[n], z->zap, 0) < 0) {
            zmq_msg_close(&f[n]);
            break;
        }
        n++;
        zmq_getsockopt(z->zap, ZMQ_RCVMORE, &more, &more_len);
    }
    while (more) { /* more frames than a CURVE request has: drop them */
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        if (zmq_msg_recv(&extra, z->zap, 0) < 0)
            more = 0;
        else
            zmq_getsockopt(z->zap, ZMQ_RCVMORE, &more, &more_len);
        zmq_msg_close(&extra);
    }
    char addr[ADDR_LEN] = "an unknown address", name[KEYS_NAME_MAX + 1] = "";
    const char *status = "400", *text = "not allowed";
    if (n >= 4 && zmq_msg_size(&f[3]) > 0)
        snprintf(addr, sizeof addr, "%.*s", (int)zmq_msg_size(&f[3]),
                 (const char *)zmq_msg_data(&f[3]));
    bool curve = n == ZAP_FRAMES && zmq_msg_size(&f[5]) == 5 &&
                 memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 && zmq_msg_size(&f[6]) == 32;
    char z85[CURVE_KEY_LEN + 1] = "";
    if (curve && zmq_z85_encode(z85, zmq_msg_data(&f[6]), 32) && s_allowed(z, z85, name)) {
        status = "200";
        text = "OK";
    } else if (curve) {
        s_log_refusal(z, addr, 'k', "its CURVE key %.8s... is not in %s", z85, z->dir);
    } else {
        s_log_refusal(z, addr, 'm', "it did not authenticate with CURVE");
    }
    /* Reply: version, request id, status code, status text, user id, metadata. */
    zmq_send(z->zap, "1.0", 3, ZMQ_SNDMORE);
    if (n >= 2)
        zmq_send(z->zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
    else
        zmq_send(z->zap, "", 0, ZMQ_SNDMORE);
    zmq_send(z->zap, status, 3, ZMQ_SNDMORE);
    zmq_send(z->zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(z->zap, name, strlen(name), ZMQ_SNDMORE);
    zmq_send(z->zap, "", 0, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

/* The peer of an accepted connection: "ip" for TCP, "pid N uid U" for ipc. */
static void s_peer(int fd, char out[ADDR_LEN])
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    snprintf(out, ADDR_LEN, "an unknown address");
    if (getpeername(fd, (struct sockaddr *)&sa, &len) < 0)
        return;
    if (sa.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, out, ADDR_LEN);
    else if (sa.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, out, ADDR_LEN);
    else if (sa.ss_family == AF_UNIX) {
        struct ucred cred;
        socklen_t clen = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
            snprintf(out, ADDR_LEN, "local pid %d uid %u", (int)cred.pid, (unsigned)cred.uid);
    }
}

/* One monitor event. A peer that speaks no CURVE fails the handshake before ZAP is asked; the
 * event says nothing of who it was, so the address comes from the accepted fd, which the
 * DISCONNECTED event that follows the failure names. */
static void s_on_monitor(wk_zap_t *z)
{
    uint16_t event;
    uint32_t value;
    if (monitor_recv(z->mon, 0, &event, &value) < 0)
        return;
    int fd = (int)value;
    if (event == ZMQ_EVENT_ACCEPTED) {
        conn_t *slot = &z->conns[fd % ACCEPTED_MAX];
        slot->fd = fd;
        s_peer(fd, slot->addr);
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
               event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        z->failed = true;
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        z->failed = false; /* ZAP refused it, and logged it */
    } else if (event == ZMQ_EVENT_DISCONNECTED) {
        conn_t *slot = &z->conns[fd % ACCEPTED_MAX];
        if (z->failed)
            s_log_refusal(z, slot->fd == fd ? slot->addr : "an unknown address", 'm',
                          "it did not complete a CURVE handshake (no key, or not CurveZMQ)");
        z->failed = false;
        slot->fd = -1;
    }
}

static void *s_thread(void *arg)
{
    wk_zap_t *z = arg;
    for (;;) {
        zmq_pollitem_t items[2] = {{z->zap, 0, ZMQ_POLLIN, 0}, {z->mon, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break; /* ETERM: the worker is stopping */
        }
        if (items[0].revents & ZMQ_POLLIN)
            s_on_zap(z);
        if (items[1].revents & ZMQ_POLLIN)
            s_on_monitor(z);
    }
    zmq_close(z->zap);
    zmq_close(z->mon);
    return NULL;
}

wk_zap_t *wk_zap_start(void *zctx, void *frontend, const char *allowed_dir)
{
    wk_zap_t *z = mem_zalloc(sizeof *z);
    z->dir = mem_strdup(allowed_dir);
    for (int i = 0; i < ACCEPTED_MAX; i++)
        z->conns[i].fd = -1;
    int linger = 0;
    z->zap = zmq_socket(zctx, ZMQ_REP);
    z->mon = zmq_socket(zctx, ZMQ_PAIR);
    zmq_setsockopt(z->zap, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(z->mon, ZMQ_LINGER, &linger, sizeof linger);
    int events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    if (zmq_bind(z->zap, ZAP_ENDPOINT) < 0 ||
        zmq_socket_monitor(frontend, MON_ENDPOINT, events) < 0 ||
        zmq_connect(z->mon, MON_ENDPOINT) < 0 || pthread_create(&z->tid, NULL, s_thread, z) != 0) {
        log_error("could not start the ZAP handler: %s", zmq_strerror(errno));
        zmq_close(z->zap);
        zmq_close(z->mon);
        free(z->dir);
        free(z);
        return NULL;
    }
    return z;
}

void wk_zap_destroy(wk_zap_t **zap_p)
{
    if (!zap_p || !*zap_p)
        return;
    wk_zap_t *z = *zap_p;
    pthread_join(z->tid, NULL);
    free(z->dir);
    free(z);
    *zap_p = NULL;
}
