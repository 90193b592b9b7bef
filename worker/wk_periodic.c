/* Periodic background threads (see wk_periodic.h). */
#include "worker/wk_periodic.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"

struct wk_periodic {
    void (*fn)(void *);
    void *arg;
    int interval_ms;
    pthread_t tid;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
};

static void *s_main(void *arg)
{
    wk_periodic_t *p = arg;
    for (;;) {
        p->fn(p->arg);
        pthread_mutex_lock(&p->lock);
        if (!p->stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            long ns = until.tv_nsec + (long)(p->interval_ms % 1000) * 1000000L;
            until.tv_sec += p->interval_ms / 1000 + ns / 1000000000L;
            until.tv_nsec = ns % 1000000000L;
            pthread_cond_timedwait(&p->wake, &p->lock, &until);
        }
        bool stop = p->stop;
        pthread_mutex_unlock(&p->lock);
        if (stop)
            return NULL;
    }
}

wk_periodic_t *wk_periodic_start(const char *what, void (*fn)(void *), void *arg, int interval_ms)
{
    wk_periodic_t *p = mem_zalloc(sizeof *p);
    *p = (wk_periodic_t){.fn = fn, .arg = arg, .interval_ms = interval_ms};
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (pthread_create(&p->tid, NULL, s_main, p) != 0) {
        log_error("could not start the %s", what);
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

void wk_periodic_stop(wk_periodic_t **p_p)
{
    wk_periodic_t *p = p_p ? *p_p : NULL;
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->tid, NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
    *p_p = NULL;
}
