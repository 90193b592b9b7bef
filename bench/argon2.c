/* Times one Argon2id hash with the worker's parameters (worker/wk_password.c), so tenant
 * creation can be reported as "the hash + everything else". Prints the median of 21. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "worker/wk_password.h"

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    double ms[21];
    char hash[WK_PASSWORD_HASH_LEN], pw[WK_PASSWORD_TEMP_LEN + 1];
    for (int i = 0; i < 21; i++) {
        wk_password_temp(pw);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (wk_password_hash(pw, hash) < 0)
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &b);
        ms[i] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    }
    qsort(ms, 21, sizeof ms[0], s_cmp);
    printf("{\"argon2id_hash_median_ms\": %.2f}\n", ms[10]);
    return 0;
}
