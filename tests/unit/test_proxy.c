/* Client addresses behind load balancers: X-Forwarded-For counts only from trusted proxies, and
 * only as far as the first hop we do not trust. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "gateway/gw_proxy.h"

struct proxy_case {
    char peer[48];
    char forwarded[160]; /* "" = no header */
    char expect[48];
};

ParameterizedTestParameters(proxy, client)
{
    static struct proxy_case cases[] = {
        {"203.0.113.9", "", "203.0.113.9"},
        {"203.0.113.9", "1.2.3.4", "203.0.113.9"},              /* untrusted peer: header ignored */
        {"10.0.0.5", "198.51.100.7", "198.51.100.7"},           /* balancer in 10/8 */
        {"10.0.0.5", "6.6.6.6, 198.51.100.7", "198.51.100.7"},  /* forged left part ignored */
        {"10.0.0.5", "198.51.100.7, 10.0.0.9", "198.51.100.7"}, /* two trusted hops */
        {"10.0.0.5", "10.0.0.8,10.0.0.9", "10.0.0.8"},          /* all trusted: leftmost */
        {"10.0.0.5", "not-an-ip, 198.51.100.7", "198.51.100.7"},
        {"10.0.0.5", "198.51.100.7, junk", "10.0.0.5"}, /* garbage at the right: the peer */
        {"::1", "2001:db8::7", "2001:db8::7"},          /* IPv6 loopback trusted */
        {"11.0.0.1", "198.51.100.7", "11.0.0.1"},       /* outside 10/8 */
    };
    return cr_make_param_array(struct proxy_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct proxy_case *c, proxy, client)
{
    gw_proxy_t *p = gw_proxy_new();
    cr_assert_eq(gw_proxy_add(p, "10.0.0.0/8"), 0);
    cr_assert_eq(gw_proxy_add(p, "::1"), 0);
    char out[64];
    gw_proxy_client(p, c->peer, c->forwarded[0] ? c->forwarded : NULL, out, sizeof out);
    cr_expect_str_eq(out, c->expect, "peer %s, X-Forwarded-For \"%s\"", c->peer, c->forwarded);
    gw_proxy_destroy(&p);
}

Test(proxy, malformed_networks_are_refused)
{
    gw_proxy_t *p = gw_proxy_new();
    cr_expect_eq(gw_proxy_add(p, "10.0.0.0/33"), -1);
    cr_expect_eq(gw_proxy_add(p, "10.0.0/8"), -1);
    cr_expect_eq(gw_proxy_add(p, "example.com"), -1);
    cr_expect_eq(gw_proxy_add(p, "10.0.0.0/"), -1);
    cr_expect_eq(gw_proxy_add(p, "fd00::/8"), 0);
    cr_expect_eq(gw_proxy_add(p, "192.168.1.1/24"), 0);
    gw_proxy_destroy(&p);
    cr_expect_null(p);
}
