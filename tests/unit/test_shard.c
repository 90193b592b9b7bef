/* Shard placement: golden values (a change here would move live tenants), spread over shards,
 * and the consistency that makes adding a shard cheap. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <sodium.h>

#include "common/ident.h"
#include "common/shard.h"

/* Parameters hold arrays, not pointers: each case runs in a fresh process. */
struct golden {
    char uuid[40];
    uint64_t hash;
    int of2, of4, of1000;
};

ParameterizedTestParameters(shard, golden)
{
    static struct golden cases[] = {
        {"00000000-0000-0000-0000-000000000000", 0x68752350ae1d483fULL, 1, 2, 451},
        {"e98fc27d-e36a-44d6-a23e-5ccfb4d6d277", 0xbeb5feb2a2e40807ULL, 0, 0, 255},
        {"ffffffff-ffff-ffff-ffff-ffffffffffff", 0xbe9bb22066375ef1ULL, 1, 1, 523},
        {"123e4567-e89b-12d3-a456-426614174000", 0x40b1b038949956a4ULL, 0, 3, 848},
    };
    return cr_make_param_array(struct golden, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct golden *c, shard, golden)
{
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(c->uuid, 36, u), 0);
    cr_expect_eq(shard_hash(u), c->hash, "hash of %s", c->uuid);
    cr_expect_eq(shard_of(u, 2), c->of2);
    cr_expect_eq(shard_of(u, 4), c->of4);
    cr_expect_eq(shard_of(u, 1000), c->of1000);
    cr_expect_eq(shard_of(u, 1), 0);
}

Test(shard, jump_known_values)
{
    cr_expect_eq(shard_jump(0, 10), 0);
    cr_expect_eq(shard_jump(1, 10), 6);
    cr_expect_eq(shard_jump(0xdeadbeefULL, 1000), 285);
}

Test(shard, spread_over_four_shards_within_ten_percent)
{
    cr_assert_geq(sodium_init(), 0);
    int counts[4] = {0};
    for (int i = 0; i < 10000; i++) {
        uint8_t u[16];
        ident_uuid_random(u);
        int s = shard_of(u, 4);
        cr_assert(s >= 0 && s < 4);
        counts[s]++;
    }
    for (int s = 0; s < 4; s++)
        cr_expect(counts[s] >= 2250 && counts[s] <= 2750, "shard %d got %d of 10000", s, counts[s]);
}

Test(shard, growing_moves_only_to_the_new_shard)
{
    int moved = 0;
    for (int i = 0; i < 10000; i++) {
        uint8_t u[16];
        ident_uuid_random(u);
        int before = shard_of(u, 4), after = shard_of(u, 5);
        if (before != after) {
            cr_expect_eq(after, 4, "a tenant moved between old shards");
            moved++;
        }
    }
    /* About 1/5 of the tenants move to the new shard. */
    cr_expect(moved > 1700 && moved < 2300, "moved %d of 10000", moved);
}

Test(shard, placement_skips_dedicated_shards)
{
    bool dedicated[5] = {false, true, false, false, true};
    int seen[5] = {0};
    for (int i = 0; i < 3000; i++) {
        uint8_t u[16];
        for (int b = 0; b < 16; b++)
            u[b] = (uint8_t)(i * 31 + b * 7 + (i >> 3));
        int k = shard_place(u, dedicated, 5);
        cr_assert(k >= 0 && k < 5);
        seen[k]++;
        /* The hashed shards 0, 2, 3 are the buckets 0, 1, 2 of a 3-shard hash. */
        static const int of_bucket[3] = {0, 2, 3};
        cr_expect_eq(k, of_bucket[shard_of(u, 3)]);
        cr_expect_eq(shard_place(u, NULL, 3), shard_of(u, 3));
    }
    cr_expect_eq(seen[1], 0, "a dedicated shard got a hashed tenant");
    cr_expect_eq(seen[4], 0, "a dedicated shard got a hashed tenant");
    cr_expect(seen[0] > 800 && seen[2] > 800 && seen[3] > 800, "%d %d %d", seen[0], seen[2],
              seen[3]);
    bool all[2] = {true, true};
    uint8_t u[16] = {1};
    cr_expect_eq(shard_place(u, all, 2), -1);
}
