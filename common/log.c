/* stderr logger. Each line is written with one write() so lines from concurrent threads never
 * interleave; systemd-journald reads the "<N>" prefix as the priority. */
#include "common/log.h"

#include <stdarg.h>
#include <stdbool.h>
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

/* The request this thread is handling (log_req_begin), so every line it logs names it. */
static _Thread_local struct {
    bool set;
    uint8_t request_id[16], tenant[16];
    bool has_tenant;
    int shard;
} s_current;

static void s_req_prefix(const uint8_t *request_id, const uint8_t *tenant, int shard, char out[128])
{
    char rid[33] = "-", id[37] = "-";
    if (request_id)
        ident_hex(request_id, 16, rid);
    if (tenant)
        ident_uuid_format(tenant, id);
    snprintf(out, 128, "request=%s tenant=%s shard=%d ", rid, id, shard);
}

static void s_vwrite(log_level_t level, const char *prefix, const char *fmt, va_list ap)
{
    if (level > s_max)
        return;
    char current[128];
    if (!prefix && s_current.set) {
        s_req_prefix(s_current.request_id, s_current.has_tenant ? s_current.tenant : NULL,
                     s_current.shard, current);
        prefix = current;
    }
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
    char prefix[128];
    s_req_prefix(req->request_id, req->tenant, req->shard, prefix);
    va_list ap;
    va_start(ap, fmt);
    s_vwrite(level, prefix, fmt, ap);
    va_end(ap);
}

void log_req_begin(const log_req_t *req)
{
    s_current.set = true;
    memset(s_current.request_id, 0, 16);
    if (req->request_id)
        memcpy(s_current.request_id, req->request_id, 16);
    s_current.has_tenant = req->tenant != NULL;
    if (req->tenant)
        memcpy(s_current.tenant, req->tenant, 16);
    s_current.shard = req->shard;
}

void log_req_end(void)
{
    s_current.set = false;
}
