/* One access line per request in the gateway's and its worker's logs, both under the request id
 * the client got in X-Request-ID; an id sent by a trusted load balancer is kept, one sent by
 * anyone else is replaced. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/helpers/api.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

static qstack_t S;

static void teardown(void)
{
    stack_suite_fini(&S);
}

/* The gateway trusts `proxy` (CIDR) as a load balancer. */
static void s_start(const char *proxy)
{
    static const char *args[3];
    args[0] = "--trusted-proxy";
    args[1] = proxy;
    cr_assert_geq(sodium_init(), 0);
    cr_assert_eq(stack_start_with(&S, 2, args), 0, "stack did not start");
}
static void setup_trusted(void)
{
    s_start("127.0.0.1/32");
}
static void setup_untrusted(void)
{
    s_start("10.0.0.0/8");
}

TestSuite(logs, .fini = teardown, .timeout = 60);

/* The line of DIR/NAME.log that has every one of the NULL-terminated needles (written after
 * the answer, so waited for up to 2 s), copied into out; 0 if found. */
static int s_find_line(const char *name, char *out, size_t len, ...)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s.log", S.dir, name);
    for (int tries = 0; tries < 100; tries++) {
        FILE *f = fopen(path, "r");
        char line[2048];
        while (f && fgets(line, sizeof line, f)) {
            va_list ap;
            va_start(ap, len);
            bool all = true;
            for (const char *n; (n = va_arg(ap, const char *));)
                all = all && strstr(line, n);
            va_end(ap);
            if (all) {
                snprintf(out, len, "%s", line);
                fclose(f);
                return 0;
            }
        }
        if (f)
            fclose(f);
        nanosleep(&(struct timespec){0, 20000000}, NULL);
    }
    return -1;
}

/* GET /api/users/me as t with an optional X-Request-ID; the answer's id into rid (33 bytes). */
static void s_me(const api_tenant_t *t, const char *given, char *rid)
{
    http_resp_t r;
    char extra[80];
    snprintf(extra, sizeof extra, "X-Request-ID: %s", given ? given : "");
    cr_assert_eq(
        api_call(&S, &r, "GET", "/api/users/me", t->id, t->token, NULL, given ? extra : NULL), 200,
        "%s", r.body);
    cr_assert_eq(http_header(&r, "X-Request-ID", rid, 33), 0);
    cr_expect_eq(strlen(rid), 32);
    http_resp_clear(&r);
}

Test(logs, one_request_has_one_access_line_in_the_gateway_and_in_its_worker_under_one_id,
     .init = setup_untrusted)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char rid[33], needle[48], tenant[64], line[2048], worker[16];
    s_me(&t, NULL, rid);
    snprintf(needle, sizeof needle, "request=%s ", rid);
    snprintf(tenant, sizeof tenant, "tenant=%s ", t.id);
    cr_assert_eq(s_find_line("gateway", line, sizeof line, needle, tenant, "access route=user_me",
                             "method=GET", "status=200", "duration_us=", NULL),
                 0, "no access line for %s in the gateway's log", rid);
    char shard[16];
    snprintf(shard, sizeof shard, "shard=%d ", t.shard);
    cr_expect(strstr(line, shard), "%s", line);
    cr_expect(strstr(line, "user=-") == NULL, "the caller is named: %s", line);
    cr_expect(strstr(line, t.token) == NULL, "no token in a log line");
    snprintf(worker, sizeof worker, "worker%d", t.shard);
    cr_assert_eq(s_find_line(worker, line, sizeof line, needle, tenant, "access route=user_me",
                             "status=ok", "db_us=", NULL),
                 0, "no access line for %s in the worker's log", rid);
    snprintf(worker, sizeof worker, "worker%d", 1 - t.shard);
    cr_expect_neq(s_find_line(worker, line, sizeof line, needle, NULL), 0,
                  "the other shard never saw it");
}

Test(logs, an_id_from_a_trusted_balancer_is_kept_end_to_end, .init = setup_trusted)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char rid[33], line[2048], worker[16];
    s_me(&t, "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0", rid);
    cr_expect_str_eq(rid, "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "normalised to 32 hex digits");
    snprintf(worker, sizeof worker, "worker%d", t.shard);
    cr_expect_eq(s_find_line(worker, line, sizeof line, "request=0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                             "access route=user_me", NULL),
                 0);
    /* Not an id: a new one is minted rather than the text passed on. */
    s_me(&t, "not-an-id\" injected=1", rid);
    cr_expect_eq(strspn(rid, "0123456789abcdef"), 32, "%s", rid);
}

Test(logs, an_id_from_anyone_else_is_replaced, .init = setup_untrusted)
{
    api_tenant_t t;
    api_tenant(&S, &t);
    char rid[33];
    s_me(&t, "0f1e2d3c4b5a69788796a5b4c3d2e1f0", rid);
    cr_expect_str_neq(rid, "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
    cr_expect_eq(strspn(rid, "0123456789abcdef"), 32, "%s", rid);
}
