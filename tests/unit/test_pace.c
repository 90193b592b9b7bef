/* Password-lane pacing (worker/wk_pace.c): rests in proportion to the work while the worker is
 * busy, never rests an idle worker, and bounds every rest. */
#include <criterion/criterion.h>

#include "worker/wk_pace.h"

Test(pace, idle_worker_never_waits)
{
    wk_pace_t p;
    wk_pace_init(&p, 10);
    wk_pace_ran(&p, 1000000, 13000, false);
    cr_assert_eq(wk_pace_wait_us(&p, 1000000, false), 0);
}

Test(pace, busy_worker_rests_nine_times_the_run_at_ten_percent)
{
    wk_pace_t p;
    wk_pace_init(&p, 10);
    cr_assert_eq(wk_pace_wait_us(&p, 1000000, true), 0, "nothing ran yet");
    wk_pace_ran(&p, 1000000, 13000, true);
    cr_assert_eq(wk_pace_wait_us(&p, 1000000, true), 117000);
    cr_assert_eq(wk_pace_wait_us(&p, 1100000, true), 17000);
    cr_assert_eq(wk_pace_wait_us(&p, 1117000, true), 0);
}

Test(pace, runs_ending_while_busy_add_their_rests)
{
    wk_pace_t p;
    wk_pace_init(&p, 50);
    wk_pace_ran(&p, 1000000, 10000, true);
    wk_pace_ran(&p, 1001000, 10000, true);
    cr_assert_eq(wk_pace_wait_us(&p, 1001000, true), 19000);
}

Test(pace, runs_ending_while_idle_owe_only_the_last_rest)
{
    wk_pace_t p;
    wk_pace_init(&p, 10);
    for (uint64_t t = 1000000; t < 1200000; t += 13000)
        wk_pace_ran(&p, t, 13000, false); /* a burst of logins on an idle worker */
    cr_assert_eq(wk_pace_wait_us(&p, 1195000, true), 117000);
}

Test(pace, full_share_never_rests)
{
    wk_pace_t p;
    wk_pace_init(&p, 100);
    wk_pace_ran(&p, 1000000, 50000, true);
    cr_assert_eq(wk_pace_wait_us(&p, 1000000, true), 0);
}

Test(pace, rests_are_bounded_and_shares_clamped)
{
    wk_pace_t p;
    wk_pace_init(&p, 0); /* clamped to 1% */
    cr_assert_eq(p.share, 1);
    wk_pace_ran(&p, 1000000, 60000000, true); /* a request that ran a minute */
    cr_assert_eq(wk_pace_wait_us(&p, 1000000, true), 2000000);
    wk_pace_ran(&p, 1000000, 60000000, true);
    cr_assert_eq(wk_pace_wait_us(&p, 1000000, true), 2000000, "stacked rests stay bounded");
    wk_pace_init(&p, 250);
    cr_assert_eq(p.share, 100);
}
