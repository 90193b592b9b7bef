/* The limiter (gateway/gw_limit.c, GCRA): a key may spend its burst at once, then gets
 * one event per window / budget; a refusal says how long until the next one and is not counted;
 * keys do not share budgets; 0 disables. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sodium.h>

#include "gateway/gw_limit.h"

#define S  1000000LL          /* one second in µs */
#define T0 (1800000000LL * S) /* any time */

Test(limit, a_key_spends_its_budget_at_once_then_evenly)
{
    cr_assert_geq(sodium_init(), 0);
    gw_limit_t *l = gw_limit_new(3, 60, 100, 4096); /* 3 a minute: one each 20 s */
    for (int i = 0; i < 3; i++)
        cr_expect_eq(gw_limit_hit(l, "203.0.113.9", T0 + 10 * S), 0, "attempt %d refused", i + 1);
    cr_expect_eq(gw_limit_hit(l, "203.0.113.9", T0 + 10 * S), 20 * S, "20 s to the next one");
    cr_expect_eq(gw_limit_hit(l, "203.0.113.9", T0 + 29 * S), 1 * S, "refusals are not counted");
    cr_expect_eq(gw_limit_hit(l, "198.51.100.7", T0 + 29 * S), 0, "another key shares the budget");
    cr_expect_eq(gw_limit_hit(l, "203.0.113.9", T0 + 30 * S), 0, "one event per interval");
    cr_expect_eq(gw_limit_hit(l, "203.0.113.9", T0 + 30 * S), 20 * S);
    /* Much later, the whole budget again (no more than it: the bucket is full). */
    for (int i = 0; i < 3; i++)
        cr_expect_eq(gw_limit_hit(l, "203.0.113.9", T0 + 3600 * S), 0);
    cr_expect_gt(gw_limit_hit(l, "203.0.113.9", T0 + 3600 * S), 0);
    gw_limit_destroy(&l);
    cr_expect_null(l);
    gw_limit_destroy(&l); /* NULL is fine */
}

Test(limit, retry_after_rounds_up_to_whole_seconds)
{
    cr_expect_eq(gw_limit_retry_after(1), 1);
    cr_expect_eq(gw_limit_retry_after(S), 1);
    cr_expect_eq(gw_limit_retry_after(S + 1), 2);
    cr_expect_eq(gw_limit_retry_after(20 * S), 20);
}

Test(limit, zero_disables)
{
    cr_assert_geq(sodium_init(), 0);
    gw_limit_t *l = gw_limit_new(0, 60, 100, 4096);
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

/* The CAS loop: threads racing on one key at one instant are let through exactly a window's
 * budget in all. */
Test(limit, racing_threads_share_one_budget_exactly)
{
    cr_assert_geq(sodium_init(), 0);
    s_shared = gw_limit_new(1000, 60, 100, 4096);
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

/* Tenant rates: past the burst, requests are let through one per 1/rate s, evenly, so a flood
 * gets its rate and no more, spread over the second rather than at its start. */
Test(limit, a_flood_gets_its_rate_spread_evenly)
{
    cr_assert_geq(sodium_init(), 0);
    gw_limit_t *l = gw_limit_new(200, 1, 10, 1 << 16); /* 200/s: one each 5 ms, 20 at once */
    int allowed = 0, in_first_half = 0;
    for (int64_t t = 0; t < 3 * S; t += 1000) { /* a request every ms for 3 s */
        if (gw_limit_hit(l, "tenant-a", T0 + t) == 0) {
            allowed++;
            in_first_half += t >= S && t % S < S / 2;
        }
    }
    cr_expect_eq(allowed, 20 + 599, "the burst at 0, then one each 5 ms from 5 ms on");
    cr_expect_eq(in_first_half, 200, "half of each later second's budget in its first half");
    /* A small rate still lets a few requests in a row through. */
    gw_limit_t *small = gw_limit_new(10, 1, 10, 64);
    for (int i = 0; i < 10; i++)
        cr_expect_eq(gw_limit_hit(small, "tenant-a", T0), 0, "request %d of a burst of 10", i);
    cr_expect_eq(gw_limit_hit(small, "tenant-a", T0), S / 10);
    gw_limit_destroy(&small);
    cr_expect_eq(gw_limit_hit(l, "tenant-b", T0 + 3 * S), 0, "another tenant has its own budget");
    gw_limit_set_rate(l, 0);
    for (int i = 0; i < 10; i++)
        cr_expect_eq(gw_limit_hit(l, "tenant-a", T0 + 3 * S), 0, "0 turns it off");
    gw_limit_destroy(&l);
}

/* A rate above one per microsecond (the benchmarks lift it so) refuses nothing, however the
 * threads' clocks interleave. */
Test(limit, a_huge_rate_refuses_nothing_out_of_order)
{
    cr_assert_geq(sodium_init(), 0);
    gw_limit_t *l = gw_limit_new(100000000, 1, 10, 64);
    for (int i = 0; i < 1000; i++) {
        cr_expect_eq(gw_limit_hit(l, "tenant-a", T0 + 5), 0);
        cr_expect_eq(gw_limit_hit(l, "tenant-a", T0 + 3), 0, "an earlier clock reading refused");
    }
    gw_limit_destroy(&l);
}

/* A key's own rate: held to it, its slot-mates too, others not; a change starts afresh; -1
 * gives the limiter's back, 0 is unlimited. */
Test(limit, a_key_can_have_its_own_rate)
{
    cr_assert_geq(sodium_init(), 0);
    gw_limit_t *l = gw_limit_new(1000, 1, 10, 1 << 16);
    size_t a = gw_limit_slot(l, "tenant-a");
    cr_assert_eq(a, gw_limit_slot(l, "tenant-a"), "a key hashes to one slot");
    gw_limit_set_slot_rate(l, a, 2); /* a burst of 2, then one each 500 ms */
    cr_expect_eq(gw_limit_hit(l, "tenant-a", T0), 0);
    cr_expect_eq(gw_limit_hit(l, "tenant-a", T0), 0);
    cr_expect_eq(gw_limit_hit(l, "tenant-a", T0), S / 2, "held to its own 2/s");
    for (int i = 0; i < 50; i++)
        cr_expect_eq(gw_limit_hit(l, "tenant-b", T0), 0, "a neighbour held to it");
    gw_limit_set_slot_rate(l, a, -1); /* the default again, from a full bucket */
    for (int i = 0; i < 100; i++)
        cr_expect_eq(gw_limit_hit(l, "tenant-a", T0), 0, "request %d after the reset", i);
    gw_limit_set_slot_rate(l, a, 0);
    for (int i = 0; i < 5000; i++)
        cr_expect_eq(gw_limit_hit_slot(l, a, T0), 0, "0 is unlimited");
    gw_limit_destroy(&l);
}
