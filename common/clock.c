/* CLOCK_REALTIME for deadlines, because they cross processes and hosts; see clock.h. */
#include "common/clock.h"

uint64_t clock_us(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t clock_now_us(void)
{
    return clock_us(CLOCK_REALTIME);
}

uint64_t clock_now_ms(void)
{
    return clock_now_us() / 1000;
}

uint64_t clock_mono_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}
