/* Prometheus text exposition shared by both daemons: latency histograms updated with relaxed
 * atomics (no lock on the request path), a growing text buffer to render into, and the
 * standard process_* metrics read from /proc. Names follow Prometheus' conventions: base units
 * (seconds, bytes), _total on counters, a HELP and a TYPE line per family. */
#ifndef COMMON_METRICS_H
#define COMMON_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bounds of the histogram buckets in seconds, from 0.5 ms to 10 s (then +Inf). */
#define METRICS_BUCKETS 14
extern const double metrics_bucket_le[METRICS_BUCKETS];

typedef struct {
    atomic_ullong bucket[METRICS_BUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
    atomic_ullong sum_us;
} metrics_hist_t;

/* Counts one observation of `usec` microseconds. */
void metrics_hist_observe(metrics_hist_t *h, uint64_t usec);
/* Observations so far. */
uint64_t metrics_hist_count(const metrics_hist_t *h);

typedef struct {
    char *buf;
    size_t len, cap;
} metrics_text_t;

void metrics_printf(metrics_text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The HELP and TYPE lines of a family. */
void metrics_family(metrics_text_t *t, const char *name, const char *type, const char *help);
/* One histogram's _bucket, _sum and _count lines. `labels`: `k="v",...` without braces, or "". */
void metrics_hist_render(metrics_text_t *t, const char *name, const char *labels,
                         const metrics_hist_t *h);
/* process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds, process_max_fds and process_start_time_seconds of this process. */
void metrics_process(metrics_text_t *t);

#endif
