/* Per-tenant fairness at the gateway (--tenant-rate, gateway/gw_http.c): past its requests per
 * second a tenant is answered 429 with Retry-After until the second is over, while another
 * tenant on the same gateway and the platform's own calls go on being served. The gateway runs
 * with a rate of 10. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/helpers/api.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

static qstack_t S;
static const char *const s_gateway_args[] = {"--tenant-rate", "10", NULL};

static void setup(void)
{
    cr_assert_eq(stack_start_with(&S, 2, s_gateway_args), 0, "stack did not start");
}
static void teardown(void)
{
    stack_suite_fini(&S);
}

TestSuite(fairness, .init = setup, .fini = teardown, .timeout = 60);

Test(fairness, a_tenant_past_its_rate_gets_429_and_its_neighbour_is_served)
{
    api_tenant_t a, b;
    api_tenant(&S, &a);
    api_tenant(&S, &b);
    usleep(1100000); /* the set-up's requests counted in a second of their own */
    int ok = 0, limited = 0;
    long first_429 = -1;
    for (int i = 0; i < 40; i++) {
        http_resp_t r;
        long st = api_call(&S, &r, "GET", "/api/users/me", a.id, a.token, NULL, NULL);
        if (st == 200) {
            ok++;
        } else {
            cr_expect_eq(st, 429, "%s", r.body);
            char retry[16] = "";
            cr_expect_eq(http_header(&r, "Retry-After", retry, sizeof retry), 0);
            cr_expect_str_eq(retry, "1");
            cr_expect(strstr(r.body, "/problems/rate_limited"), "%s", r.body);
            if (first_429 < 0)
                first_429 = i;
            limited++;
        }
        http_resp_clear(&r);
    }
    /* 40 requests within at most two seconds' windows: 10 or 20 served, the rest refused. */
    cr_expect_geq(ok, 10, "%d served", ok);
    cr_expect_leq(ok, 20, "%d served past a rate of 10", ok);
    cr_expect_eq(ok + limited, 40);
    cr_expect_geq(first_429, 10, "refused before its budget was spent");
    /* Its neighbour and the operator are not held to A's budget. */
    cr_expect_eq(api_status(&S, "GET", "/api/users/me", b.id, b.token, NULL), 200);
    char url[256];
    http_url(url, sizeof url, S.url, "/api/tenants/%s", a.id);
    const char *h[] = {S.auth, NULL};
    http_resp_t r;
    cr_expect_eq(http_do(&r, "GET", url, NULL, h), 200, "%s", r.body);
    http_resp_clear(&r);
    /* The next second, A is served again. */
    usleep(1100000);
    cr_expect_eq(api_status(&S, "GET", "/api/users/me", a.id, a.token, NULL), 200);
}
