/* Idle keep-alive clients must not starve new ones: civetweb gives each connection a thread,
 * so the gateway times idle connections out. With more idle clients than threads, a fresh
 * client is still served, and the idle connections are closed by the server. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

static qstack_t S;
static const char *const s_gateway_args[] = {"--threads", "4", "--keep-alive-ms", "300", NULL};

static void setup(void)
{
    cr_assert_geq(sodium_init(), 0);
    cr_assert_eq(stack_start_with(&S, 1, s_gateway_args), 0, "stack did not start");
}

static void teardown(void)
{
    stack_suite_fini(&S);
}

TestSuite(idle, .init = setup, .fini = teardown, .timeout = 60);

/* Opens a connection, completes one keep-alive request on it and leaves it open. */
static int s_idle_client(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n";
    cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    /* Read the whole response (headers and body may come in separate segments). */
    char buf[1024];
    size_t len = 0;
    while (len < sizeof buf - 1) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        cr_assert_gt(n, 0, "connection closed before the response was complete");
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "{\"status\":\"ok\"}"))
            break;
    }
    cr_assert(strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);
    return fd;
}

Test(idle, more_idle_clients_than_threads_do_not_starve_a_new_one)
{
    int fds[12];
    for (int i = 0; i < 12; i++)
        fds[i] = s_idle_client(S.port);
    /* A fresh client gets its answer (curl gives up after 20 s; the idle ones time out first). */
    char url[128];
    http_url(url, sizeof url, S.url, "/healthz");
    http_resp_t r;
    cr_expect_eq(http_do(&r, "GET", url, NULL, NULL), 200, "a new client starved");
    http_resp_clear(&r);
    /* The server closes every idle connection by itself. */
    for (int i = 0; i < 12; i++) {
        struct pollfd p = {fds[i], POLLIN, 0};
        cr_expect_eq(poll(&p, 1, 10000), 1, "idle connection %d never closed", i);
        char buf[256];
        ssize_t n = read(fds[i], buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        cr_expect_eq(n, 0, "idle connection %d: read %zd (%s)", i, n, buf);
        close(fds[i]);
    }
}
