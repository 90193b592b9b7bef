/* Histograms, exposition text and process metrics for /metrics (see metrics.h). */
#include "common/metrics.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/mem.h"

const double metrics_bucket_le[METRICS_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                   0.1,    0.25,  0.5,    1,     2.5,  5,     10};

void metrics_hist_observe(metrics_hist_t *h, uint64_t usec)
{
    int b = 0;
    while (b < METRICS_BUCKETS && (double)usec > metrics_bucket_le[b] * 1e6)
        b++;
    atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, usec, memory_order_relaxed);
}

uint64_t metrics_hist_count(const metrics_hist_t *h)
{
    uint64_t n = 0;
    for (int b = 0; b <= METRICS_BUCKETS; b++)
        n += atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
    return n;
}

void metrics_printf(metrics_text_t *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = t->cap - t->len;
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        t->cap = t->cap * 2 + (size_t)n + 4096;
        t->buf = mem_realloc(t->buf, t->cap);
    }
}

void metrics_family(metrics_text_t *t, const char *name, const char *type, const char *help)
{
    metrics_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_hist_render(metrics_text_t *t, const char *name, const char *labels,
                         const metrics_hist_t *h)
{
    /* Read the buckets once: _count must equal the +Inf bucket even while requests go on. */
    uint64_t cumulative = 0;
    const char *sep = *labels ? "," : "";
    for (int b = 0; b <= METRICS_BUCKETS; b++) {
        cumulative += atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
        if (b < METRICS_BUCKETS)
            metrics_printf(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                           metrics_bucket_le[b], (unsigned long long)cumulative);
        else
            metrics_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                           (unsigned long long)cumulative);
    }
    const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";
    metrics_printf(t, "%s_sum%s%s%s %.6f\n%s_count%s%s%s %llu\n", name, open, labels, close,
                   (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6, name, open,
                   labels, close, (unsigned long long)cumulative);
}

/* Fields 14 on of /proc/self/stat (after the command name, which may hold spaces). */
static int s_stat(unsigned long long *ticks, unsigned long long *start_ticks,
                  unsigned long long *vsize, long long *rss_pages)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long utime, stime;
    /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime
       cstime priority nice threads itrealvalue starttime vsize rss */
    if (sscanf(p + 2,
               "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d"
               " %llu %llu %lld",
               &utime, &stime, start_ticks, vsize, rss_pages) != 5)
        return -1;
    *ticks = utime + stime;
    return 0;
}

/* The boot time, in seconds since the epoch (/proc/stat's btime). */
static long long s_boot_time(void)
{
    FILE *f = fopen("/proc/stat", "r");
    char line[256];
    long long btime = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "btime %lld", &btime) == 1)
            break;
    if (f)
        fclose(f);
    return btime;
}

static int s_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

void metrics_process(metrics_text_t *t)
{
    unsigned long long ticks, start, vsize;
    long long rss;
    double hz = (double)sysconf(_SC_CLK_TCK);
    if (s_stat(&ticks, &start, &vsize, &rss) == 0) {
        metrics_family(t, "process_cpu_seconds_total", "counter",
                       "User and system CPU time spent in seconds.");
        metrics_printf(t, "process_cpu_seconds_total %.2f\n", (double)ticks / hz);
        metrics_family(t, "process_resident_memory_bytes", "gauge",
                       "Resident memory size in bytes.");
        metrics_printf(t, "process_resident_memory_bytes %lld\n", rss * sysconf(_SC_PAGESIZE));
        metrics_family(t, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
        metrics_printf(t, "process_virtual_memory_bytes %llu\n", vsize);
        metrics_family(t, "process_start_time_seconds", "gauge",
                       "Start time of the process since unix epoch in seconds.");
        metrics_printf(t, "process_start_time_seconds %.2f\n",
                       (double)s_boot_time() + (double)start / hz);
    }
    int fds = s_open_fds();
    if (fds >= 0) {
        metrics_family(t, "process_open_fds", "gauge", "Number of open file descriptors.");
        metrics_printf(t, "process_open_fds %d\n", fds);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        metrics_family(t, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
        metrics_printf(t, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    }
}
