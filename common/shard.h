/* Tenant -> shard placement, computed identically by gateways and workers: jump consistent
 * hash (Lamping & Veach 2014) of a 64-bit hash of the tenant's 16 UUID bytes. Growing from S to
 * S+1 shards moves only ~1/(S+1) of the tenants. */
#ifndef COMMON_SHARD_H
#define COMMON_SHARD_H

#include <stdbool.h>
#include <stdint.h>

#define SHARD_MAX 1024

/* FNV-1a over the 16 bytes, then the splitmix64 finaliser for avalanche. Stable forever: the
 * placement of every existing tenant depends on it. */
uint64_t shard_hash(const uint8_t uuid[16]);
/* Bucket in [0, buckets) for key; buckets >= 1. */
int shard_jump(uint64_t key, int buckets);
/* The shard of a tenant among `shards` shards. */
int shard_of(const uint8_t uuid[16], int shards);
/* Where a new tenant is placed among `total` shards of which those with dedicated[k] take no
 * hashed tenants: the jump hash over the others, in ascending order (dedicated may be NULL:
 * none). -1 when every shard is dedicated. After creation a tenant stays where the registry
 * says; this is only its first placement, and the guess a gateway starts from. */
int shard_place(const uint8_t uuid[16], const bool *dedicated, int total);

#endif
