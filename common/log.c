/* stderr logger. Each line is written with one write() so lines from concurrent threads never
 * interleave; systemd-journald reads the "<N>" prefix as the priority. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "common/ident.h"

static const char *s_name = "quiz";
static log_level_t s_max = LOG_LEVEL_INFO;

void log_init(const char *name, log_level_t max_level)
{
    s_name = name;
    s_max = max_level;
}

static const char *const s_prefix[] = {SD_ERR, SD_WARNING, SD_INFO, SD_DEBUG};

static void s_vwrite(log_level_t level, const char *prefix, const char *fmt, va_list ap)
{
    if (level > s_max)
        return;
    char line[2048];
    int n = snprintf(line, sizeof line, "%s%s: %s", s_prefix[level], s_name, prefix ? prefix : "");
    if (n < 0)
        return;
    if ((size_t)n < sizeof line - 1) {
        int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
        if (m > 0)
            n += m;
    }
    if ((size_t)n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
    (void)ignored;
}

void log_write(log_level_t level, const char *prefix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vwrite(level, prefix, fmt, ap);
    va_end(ap);
}

void log_req_write(log_level_t level, const log_req_t *req, const char *fmt, ...)
{
    char rid[33] = "-", tenant[37] = "-", prefix[128];
    if (req->request_id)
        ident_hex(req->request_id, 16, rid);
    if (req->tenant)
        ident_uuid_format(req->tenant, tenant);
    snprintf(prefix, sizeof prefix, "request=%s tenant=%s shard=%d ", rid, tenant, req->shard);
    va_list ap;
    va_start(ap, fmt);
    s_vwrite(level, prefix, fmt, ap);
    va_end(ap);
}
