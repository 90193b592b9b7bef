/* A background thread that calls fn(arg) at once and then every interval_ms until stopped: the
 * worker's small housekeepers (the pool canary, the tenant-rate refresher). */
#ifndef WORKER_WK_PERIODIC_H
#define WORKER_WK_PERIODIC_H

typedef struct wk_periodic wk_periodic_t;

/* NULL if the thread could not start (logged, naming `what`). */
wk_periodic_t *wk_periodic_start(const char *what, void (*fn)(void *), void *arg, int interval_ms);
/* Stops it after the call in progress, and frees it. NULL is fine. */
void wk_periodic_stop(wk_periodic_t **p);

#endif
