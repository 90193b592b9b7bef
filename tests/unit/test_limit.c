/* The login limiter: per_minute events per key and minute, then the seconds to the window's
 * end; a new minute starts afresh; keys do not share budgets; 0 disables. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sodium.h>

#include "gateway/gw_limit.h"

#define T0 1800000000LL /* a minute boundary: 1800000000 = 30000000 * 60 */

Test(limit, a_key_gets_its_budget_per_minute_then_the_wait)
{
    cr_assert_geq(sodium_init(), 0);
    gw_limit_t *l = gw_limit_new(3, 60, 4096);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(gw_limit_hit(l, "203.0.113.9", T0 + 10), 0, "attempt %d refused", i + 1);
    cr_expect_eq(gw_limit_hit(l, "203.0.113.9", T0 + 10), 50); /* 50 s to the next minute */
    cr_expect_eq(gw_limit_hit(l, "203.0.113.9", T0 + 59), 1);
    cr_expect_eq(gw_limit_hit(l, "198.51.100.7", T0 + 59), 0, "another key shares the budget");
    /* The next minute starts afresh. */
    cr_expect_eq(gw_limit_hit(l, "203.0.113.9", T0 + 60), 0);
    cr_expect_eq(gw_limit_hit(l, "203.0.113.9", T0 + 61), 0);
    cr_expect_eq(gw_limit_hit(l, "203.0.113.9", T0 + 62), 0);
    cr_expect_eq(gw_limit_hit(l, "203.0.113.9", T0 + 63), 57);
    /* A much later minute too (the slot holds the old minute, not a running count). */
    cr_expect_eq(gw_limit_hit(l, "203.0.113.9", T0 + 3600), 0);
    gw_limit_destroy(&l);
    cr_expect_null(l);
    gw_limit_destroy(&l); /* NULL is fine */
}

Test(limit, zero_disables)
{
    cr_assert_geq(sodium_init(), 0);
    gw_limit_t *l = gw_limit_new(0, 60, 4096);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(gw_limit_hit(l, "203.0.113.9", T0), 0);
    gw_limit_destroy(&l);
}

static gw_limit_t *s_shared;

static void *s_hammer(void *arg)
{
    long allowed = 0;
    for (int i = 0; i < 5000; i++)
        allowed += gw_limit_hit(s_shared, "203.0.113.9", T0) == 0;
    return (void *)allowed;
}

/* The CAS loop: threads racing on one key are let through exactly per_minute times in all. */
Test(limit, racing_threads_share_one_budget_exactly)
{
    cr_assert_geq(sodium_init(), 0);
    s_shared = gw_limit_new(1000, 60, 4096);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, s_hammer, NULL);
    long total = 0;
    for (int i = 0; i < 4; i++) {
        void *n;
        pthread_join(t[i], &n);
        total += (long)n;
    }
    cr_expect_eq(total, 1000);
    gw_limit_destroy(&s_shared);
}

Test(limit, one_second_windows_for_tenant_rates)
{
    gw_limit_t *l = gw_limit_new(2, 1, 1 << 16);
    cr_expect_eq(gw_limit_hit(l, "tenant-a", T0), 0);
    cr_expect_eq(gw_limit_hit(l, "tenant-a", T0), 0);
    cr_expect_eq(gw_limit_hit(l, "tenant-a", T0), 1, "the rest of this second");
    cr_expect_eq(gw_limit_hit(l, "tenant-b", T0), 0, "another tenant has its own budget");
    cr_expect_eq(gw_limit_hit(l, "tenant-a", T0 + 1), 0, "a new second, a new budget");
    gw_limit_set_rate(l, 0);
    for (int i = 0; i < 10; i++)
        cr_expect_eq(gw_limit_hit(l, "tenant-a", T0 + 1), 0, "0 turns it off");
    gw_limit_destroy(&l);
}
