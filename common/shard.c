/* Shard placement. Pure functions, golden-tested in tests/unit/test_shard.c: changing any
 * constant here moves tenants to other shards. */
#include "common/shard.h"

#include <assert.h>

uint64_t shard_hash(const uint8_t uuid[16])
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < 16; i++) {
        h ^= uuid[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

int shard_jump(uint64_t key, int buckets)
{
    assert(buckets >= 1);
    int64_t b = -1, j = 0;
    while (j < buckets) {
        b = j;
        key = key * 2862933555777941757ULL + 1;
        j = (int64_t)((double)(b + 1) * ((double)(1LL << 31) / (double)((key >> 33) + 1)));
    }
    return (int)b;
}

int shard_of(const uint8_t uuid[16], int shards)
{
    return shard_jump(shard_hash(uuid), shards);
}

int shard_place(const uint8_t uuid[16], const bool *dedicated, int total)
{
    int hashed = 0;
    for (int k = 0; k < total; k++)
        hashed += !(dedicated && dedicated[k]);
    if (hashed == 0)
        return -1;
    int bucket = shard_of(uuid, hashed);
    for (int k = 0; k < total; k++)
        if (!(dedicated && dedicated[k]) && bucket-- == 0)
            return k;
    return -1; /* not reached */
}
