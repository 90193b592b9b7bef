/* See wk_pace.h. */
#include "worker/wk_pace.h"

/* A rest longer than this would only turn logins into timeouts; one hash never runs so long. */
#define REST_MAX_US 2000000u

void wk_pace_init(wk_pace_t *p, int share)
{
    p->share = share < 1 ? 1 : share > 100 ? 100 : share;
    p->next_us = 0;
}

void wk_pace_ran(wk_pace_t *p, uint64_t now_us, uint64_t ran_us, bool busy)
{
    uint64_t rest = ran_us * (uint64_t)(100 - p->share) / (uint64_t)p->share;
    if (rest > REST_MAX_US)
        rest = REST_MAX_US;
    uint64_t from = busy && p->next_us > now_us ? p->next_us : now_us;
    p->next_us = from + rest;
    if (p->next_us > now_us + REST_MAX_US)
        p->next_us = now_us + REST_MAX_US;
}

uint64_t wk_pace_wait_us(const wk_pace_t *p, uint64_t now_us, bool busy)
{
    return busy && p->next_us > now_us ? p->next_us - now_us : 0;
}
