/* Hostile HTTP against the real gateway: bodies built to hurt a parser (nesting far past
 * jansson's limit, a huge array, invalid UTF-8, a NUL byte, \u0000, numbers no double or int64
 * holds) are 400 and change nothing; a request whose headers are over 16 KiB is 431; and
 * slowloris (connections sending their headers a byte at a time) beside idle connections do not
 * keep a fresh client from an answer within 2 s. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "tests/helpers/api.h"
#include "tests/helpers/db.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

static qstack_t S;
/* The daemon's default (the test stacks otherwise run 16). */
static const char *const s_gateway_args[] = {"--threads", "512", NULL};

static void setup(void)
{
    cr_assert_eq(stack_start_with(&S, 1, s_gateway_args), 0, "stack did not start");
}
static void teardown(void)
{
    stack_suite_fini(&S);
}

TestSuite(hostile, .init = setup, .fini = teardown, .timeout = 120);

/* A connection to the gateway's port, or -1. */
static int s_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)S.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends len bytes of raw request and reads the answer's status line; the status or -1. */
static int s_raw(const char *req, size_t len)
{
    int fd = s_connect();
    cr_assert_geq(fd, 0);
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may answer and close before reading it all */
        off += (size_t)n;
    }
    char buf[512] = "";
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t got = poll(&p, 1, 5000) == 1 ? recv(fd, buf, sizeof buf - 1, 0) : -1;
    close(fd);
    int status = -1;
    if (got > 0 && sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        status = -1;
    return status;
}

Test(hostile, bodies_that_would_hurt_a_parser_are_400_and_change_nothing)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char *deep = malloc(20000), *wide = malloc(20000);
    /* 7,000 levels (the request limit is 16 KiB here), far past jansson's 2048. */
    int n = 0;
    n += sprintf(deep + n, "{\"title\":");
    for (int i = 0; i < 7000; i++)
        deep[n++] = '[';
    for (int i = 0; i < 7000; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    n = sprintf(wide, "{\"title\":\"wide\",\"description\":\"d\",\"x\":[");
    for (int i = 0; i < 7000; i++)
        n += sprintf(wide + n, "1,");
    sprintf(wide + n - 1, "]}");
    const struct {
        const char *name, *body;
        size_t len;
    } cases[] = {
        {"nested 7,000 deep", deep, strlen(deep)},
        {"an array of 7,000", wide, strlen(wide)},
#define LIT(name, text) {name, text, sizeof text - 1}
        LIT("invalid UTF-8", "{\"title\":\"\xff\xfe\"}"),
        LIT("a truncated UTF-8 sequence", "{\"title\":\"a\xe2\x82\"}"),
        LIT("a NUL byte", "{\"title\":\"a\0b\"}"),
        LIT("an escaped NUL", "{\"title\":\"a\\u0000b\"}"),
        LIT("a number past a double", "{\"title\":\"n\",\"x\":1e400}"),
        LIT("an integer past int64", "{\"title\":\"n\",\"x\":99999999999999999999999}"),
        LIT("not JSON", "{\"title\":"),
        LIT("a top-level array", "[1,2,3]"),
#undef LIT
    };
    char *before = db_value("SELECT count(*) FROM pg_class WHERE relname = 'quizzes'", NULL, NULL);
    free(before);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char url[256], th[80], auth[1100];
        http_url(url, sizeof url, S.url, "/api/quizzes");
        snprintf(th, sizeof th, "X-Tenant-ID: %s", t.id);
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", t.token);
        /* The raw bytes (a NUL inside too), so the client cannot mend them. */
        char head[1400];
        int hl = snprintf(head, sizeof head,
                          "POST /api/quizzes HTTP/1.1\r\nHost: x\r\n%s\r\n%s\r\nContent-Type: "
                          "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                          th, auth, cases[i].len);
        char *req = malloc((size_t)hl + cases[i].len);
        memcpy(req, head, (size_t)hl);
        memcpy(req + hl, cases[i].body, cases[i].len);
        int st = s_raw(req, (size_t)hl + cases[i].len);
        free(req);
        cr_expect_eq(st, 400, "%s: %d", cases[i].name, st);
    }
    /* Nothing was made, and the worker still serves. */
    http_resp_t r;
    cr_assert_eq(api_call(&S, &r, "GET", "/api/quizzes", t.id, t.token, NULL, NULL), 200);
    cr_expect(strstr(r.body, "\"items\":[]"), "a refused body made a quiz: %s", r.body);
    http_resp_clear(&r);
    free(deep);
    free(wide);
}

/* A GET of /healthz with Host and `extra` more small fields, in buf; the answer's status. */
static int s_fields(char *buf, int extra)
{
    int n = sprintf(buf, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < extra; i++)
        n += sprintf(buf + n, "X-H%d: %020d\r\n", i, i);
    n += sprintf(buf + n, "\r\n");
    return s_raw(buf, (size_t)n);
}

Test(hostile, headers_over_16_kib_are_431)
{
    char *req = malloc(40000);
    int n = sprintf(req, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + n, 'a', 20000);
    n += 20000;
    n += sprintf(req + n, "\r\n\r\n");
    int big = s_raw(req, (size_t)n);
    cr_expect_eq(big, 431, "%d", big);
    /* Many fields, each small: past 63 (civetweb would keep the first 64 only), and 63. */
    int st = s_fields(req, 1000 - 1);
    cr_expect_eq(st, 431, "%d", st);
    st = s_fields(req, 63 - 1);
    cr_expect_eq(st, 200, "%d", st);
    free(req);
    http_resp_t r;
    cr_expect_eq(http_get_unrecorded(&r, S.url), 404); /* still serving */
    http_resp_clear(&r);
}

/* Slowloris: SLOW connections each send a request line and then a header byte every 500 ms;
 * IDLE more connect and send nothing. Meanwhile a fresh client's /healthz (a new connection each
 * time) must be answered within 2 s, every time. */
#define SLOW 200
#define IDLE 200

static atomic_bool s_stop;

static void *s_slowloris(void *arg)
{
    int *fds = arg;
    const char *line = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    for (int i = 0; i < SLOW; i++)
        if (fds[i] >= 0)
            send(fds[i], line, strlen(line), MSG_NOSIGNAL);
    while (!atomic_load(&s_stop)) {
        for (int i = 0; i < SLOW; i++)
            if (fds[i] >= 0 && send(fds[i], "a", 1, MSG_NOSIGNAL) < 0) {
                close(fds[i]); /* dropped by the server: come back, as an attacker would */
                fds[i] = s_connect();
                if (fds[i] >= 0)
                    send(fds[i], line, strlen(line), MSG_NOSIGNAL);
            }
        usleep(500000);
    }
    return NULL;
}

Test(hostile, slowloris_and_idle_connections_do_not_starve_a_fresh_client)
{
    int slow[SLOW], idle[IDLE];
    for (int i = 0; i < SLOW; i++)
        slow[i] = s_connect();
    for (int i = 0; i < IDLE; i++)
        idle[i] = s_connect();
    atomic_store(&s_stop, false);
    pthread_t th;
    pthread_create(&th, NULL, s_slowloris, slow);
    sleep(1); /* every slow and idle connection is in by now */
    char url[128];
    snprintf(url, sizeof url, "%s/healthz", S.url);
    double worst = 0;
    int answered = 0;
    for (int i = 0; i < 10; i++) {
        uint64_t t0 = clock_mono_us();
        http_resp_t r;
        long st = http_get_unrecorded(&r, url);
        double ms = (double)(clock_mono_us() - t0) / 1000;
        http_resp_clear(&r);
        answered += st == 200;
        if (ms > worst)
            worst = ms;
        usleep(300000);
    }
    atomic_store(&s_stop, true);
    pthread_join(th, NULL);
    fprintf(stderr,
            "hostile: %d slowloris and %d idle connections: a fresh /healthz answered "
            "%d of 10 times, the slowest in %.0f ms\n",
            SLOW, IDLE, answered, worst);
    cr_expect_eq(answered, 10);
    cr_expect_lt(worst, 2000, "a fresh client waited %.0f ms", worst);
    for (int i = 0; i < SLOW; i++)
        if (slow[i] >= 0)
            close(slow[i]);
    for (int i = 0; i < IDLE; i++)
        if (idle[i] >= 0)
            close(idle[i]);
}
