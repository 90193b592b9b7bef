/* The sampled figures' table (see wk_sample.h). */
#include "worker/wk_sample.h"

#include <pthread.h>
#include <string.h>

#include "common/clock.h"

#define SLOTS 1024

static struct {
    uint8_t tenant[16];
    int64_t value;
    uint64_t at_us; /* CLOCK_MONOTONIC; 0 = empty */
} s_slots[SLOTS];
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned s_slot(const uint8_t tenant[16])
{
    uint32_t h;
    memcpy(&h, tenant + 12, sizeof h); /* random bits of a v4 UUID */
    return h % SLOTS;
}

bool wk_sample_get(const uint8_t tenant[16], int64_t *value)
{
    unsigned i = s_slot(tenant);
    uint64_t now = clock_mono_us();
    pthread_mutex_lock(&s_lock);
    bool fresh = s_slots[i].at_us && memcmp(s_slots[i].tenant, tenant, 16) == 0 &&
                 now - s_slots[i].at_us < (uint64_t)WK_SAMPLE_MAX_AGE_MS * 1000;
    if (fresh)
        *value = s_slots[i].value;
    pthread_mutex_unlock(&s_lock);
    return fresh;
}

void wk_sample_put(const uint8_t tenant[16], int64_t value)
{
    unsigned i = s_slot(tenant);
    pthread_mutex_lock(&s_lock);
    memcpy(s_slots[i].tenant, tenant, 16);
    s_slots[i].value = value;
    s_slots[i].at_us = clock_mono_us();
    pthread_mutex_unlock(&s_lock);
}
