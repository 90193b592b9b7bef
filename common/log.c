/* stderr logger. Each line is written with one write() so lines from concurrent threads never
 * interleave; systemd-journald reads the "<N>" prefix as the priority. */
#include "common/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "common/ident.h"

static const char *s_name = "quiz";
static log_level_t s_max = LOG_LEVEL_INFO;
static bool s_journal; /* stderr is connected to the journal: send lines with their fields */

/* Whether $JOURNAL_STREAM ("device:inode", set by systemd) names our stderr, as systemd.exec(5)
 * says to check: a child that inherited the variable but not the stream must not use it. */
static bool s_stderr_is_journal(void)
{
    const char *v = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    return v && sscanf(v, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
           (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *name, log_level_t max_level)
{
    s_name = name;
    s_max = max_level;
    s_journal = s_stderr_is_journal();
}

static const char *const s_prefix[] = {SD_ERR, SD_WARNING, SD_INFO, SD_DEBUG};
static const int s_priority[] = {3, 4, 6, 7};

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

/* Journal fields of a line (NAME=value), at most FIELDS_MAX. */
#define FIELDS_MAX 12
typedef struct {
    struct iovec iov[FIELDS_MAX];
    char text[FIELDS_MAX][160];
    int n;
} fields_t;

static void s_field(fields_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_field(fields_t *f, const char *fmt, ...)
{
    if (f->n == FIELDS_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(f->text[f->n], sizeof f->text[0], fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    f->iov[f->n].iov_base = f->text[f->n];
    f->iov[f->n].iov_len = strlen(f->text[f->n]);
    f->n++;
}

/* The request fields of a line: REQUEST_ID, TENANT_ID, SHARD. */
static void s_req_fields(fields_t *f, const uint8_t *request_id, const uint8_t *tenant, int shard)
{
    char rid[33], id[37];
    if (request_id) {
        ident_hex(request_id, 16, rid);
        s_field(f, "REQUEST_ID=%s", rid);
    }
    if (tenant) {
        ident_uuid_format(tenant, id);
        s_field(f, "TENANT_ID=%s", id);
    }
    if (shard >= 0)
        s_field(f, "SHARD=%d", shard);
}

/* Writes one line: to the journal with its fields when stderr is the journal's stream, else
 * to stderr with one write(). */
static void s_emit(log_level_t level, const char *message, fields_t *f)
{
    if (s_journal) {
        struct iovec iov[FIELDS_MAX + 3];
        char msg[2100], prio[16], ident[80];
        snprintf(msg, sizeof msg, "MESSAGE=%s", message);
        snprintf(prio, sizeof prio, "PRIORITY=%d", s_priority[level]);
        snprintf(ident, sizeof ident, "SYSLOG_IDENTIFIER=%s", s_name);
        iov[0] = (struct iovec){msg, strlen(msg)};
        iov[1] = (struct iovec){prio, strlen(prio)};
        iov[2] = (struct iovec){ident, strlen(ident)};
        int n = 3;
        for (int i = 0; f && i < f->n; i++)
            iov[n++] = f->iov[i];
        if (sd_journal_sendv(iov, n) >= 0)
            return;
    }
    char line[2200];
    int n = snprintf(line, sizeof line - 1, "%s%s: %s", s_prefix[level], s_name, message);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
    (void)ignored;
}

__attribute__((format(printf, 4, 0))) static void
s_vwrite(log_level_t level, const char *prefix, const log_req_t *req, const char *fmt, va_list ap)
{
    if (level > s_max)
        return;
    /* The request the line is about: the one named, or the thread's (log_req_begin). */
    log_req_t current;
    if (!req && !prefix && s_current.set) {
        current = (log_req_t){s_current.request_id, s_current.has_tenant ? s_current.tenant : NULL,
                              s_current.shard};
        req = &current;
    }
    char ids[128];
    fields_t f = {.n = 0};
    if (req) {
        s_req_prefix(req->request_id, req->tenant, req->shard, ids);
        prefix = ids;
        if (s_journal) /* fields only where they go */
            s_req_fields(&f, req->request_id, req->tenant, req->shard);
    }
    char message[2048];
    int n = snprintf(message, sizeof message, "%s", prefix ? prefix : "");
    if (n >= 0 && (size_t)n < sizeof message)
        vsnprintf(message + n, sizeof message - (size_t)n, fmt, ap);
    s_emit(level, message, &f);
}

void log_write(log_level_t level, const char *prefix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vwrite(level, prefix, NULL, fmt, ap);
    va_end(ap);
}

void log_req_write(log_level_t level, const log_req_t *req, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vwrite(level, NULL, req, fmt, ap);
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

void log_access(const log_req_t *req, const log_access_t *a)
{
    if (LOG_LEVEL_INFO > s_max)
        return;
    /* One snprintf and one write per request on the common path (stderr): this runs for every
       request of both daemons. */
    char rid[33] = "-", tenant[37] = "-", user[37] = "-", line[600];
    if (req->request_id)
        ident_hex(req->request_id, 16, rid);
    if (req->tenant)
        ident_uuid_format(req->tenant, tenant);
    if (a->user)
        ident_uuid_format(a->user, user);
    const char *method = a->method ? a->method : "-";
    unsigned long long took = (unsigned long long)a->duration_us;
    const char *text = s_journal ? "" : s_prefix[LOG_LEVEL_INFO], *name = s_journal ? "" : s_name;
    const char *sep = s_journal ? "" : ": ";
    int n = a->db_us >= 0 ? snprintf(line, sizeof line,
                                     "%s%s%srequest=%s tenant=%s shard=%d access route=%s method=%s"
                                     " status=%s duration_us=%llu db_us=%lld user=%s\n",
                                     text, name, sep, rid, tenant, req->shard, a->route, method,
                                     a->status, took, a->db_us, user)
                          : snprintf(line, sizeof line,
                                     "%s%s%srequest=%s tenant=%s shard=%d access route=%s method=%s"
                                     " status=%s duration_us=%llu user=%s\n",
                                     text, name, sep, rid, tenant, req->shard, a->route, method,
                                     a->status, took, user);
    if (n <= 0 || (size_t)n >= sizeof line)
        return;
    if (!s_journal) {
        ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
        (void)ignored;
        return;
    }
    line[n - 1] = '\0';
    fields_t f = {.n = 0};
    s_req_fields(&f, req->request_id, req->tenant, req->shard);
    s_field(&f, "ROUTE=%s", a->route);
    if (a->method)
        s_field(&f, "METHOD=%s", a->method);
    s_field(&f, "STATUS=%s", a->status);
    s_field(&f, "DURATION_US=%llu", took);
    if (a->db_us >= 0)
        s_field(&f, "DB_US=%lld", a->db_us);
    if (a->user)
        s_field(&f, "USER_ID=%s", user);
    s_emit(LOG_LEVEL_INFO, line, &f);
}
