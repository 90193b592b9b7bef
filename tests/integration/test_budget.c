/* The catalog-cache budget: a worker's database connection that has entered --tenant-budget
 * tenants is renewed between requests, and no client notices. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/helpers/api.h"
#include "tests/helpers/db.h"
#include "tests/helpers/stack.h"

static qstack_t S;
static const char *const s_worker_args[] = {"--threads", "1", "--tenant-budget", "2", NULL};

static void setup(void)
{
    cr_assert_geq(sodium_init(), 0);
    srandom((unsigned)randombytes_random());
    cr_assert_eq(stack_start_opts(&S, 1, NULL, s_worker_args), 0, "stack did not start");
}
static void teardown(void)
{
    stack_suite_fini(&S);
}

TestSuite(budget, .init = setup, .fini = teardown, .timeout = 120);

/* The backend pids serving this stack's shard, as one sorted text. */
static char *s_backends(void)
{
    return db_value("SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity"
                    " WHERE application_name = $1 AND usename = 'quiz_shard_0'",
                    S.app, NULL);
}

Test(budget, a_connection_past_its_budget_is_renewed_unseen)
{
    api_tenant_t t[3];
    for (int i = 0; i < 3; i++)
        api_tenant(&S, &t[i]);
    for (int round = 0; round < 3; round++) {
        char *before = s_backends();
        /* Three distinct tenants on the one ordinary thread: past the budget of two (a read the
           workers keep in memory, such as /api/users/me, would not reach the database). */
        for (int i = 0; i < 3; i++)
            cr_expect_eq(api_status(&S, "GET", "/api/users", t[i].id, t[i].token, NULL), 200);
        char *after = s_backends();
        cr_expect_str_neq(before, after, "round %d: no connection was renewed", round);
        free(before);
        free(after);
    }
}
