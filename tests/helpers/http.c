/* libcurl wrapper for tests (see http.h). */
#include "tests/helpers/http.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

typedef struct {
    char *data;
    size_t len;
} buf_t;

static size_t s_collect(char *ptr, size_t size, size_t n, void *user)
{
    buf_t *b = user;
    b->data = mem_realloc(b->data, b->len + size * n + 1);
    memcpy(b->data + b->len, ptr, size * n);
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

/* With QUIZ_TEST_TRAFFIC set, one line per answer ("METHOD PATH STATUS CONTENT-TYPE") is
 * appended to that file, for tests/openapi_traffic.py to hold against the OpenAPI document. */
static void s_record(CURL *c, const char *method, const char *url, long status)
{
    const char *file = getenv("QUIZ_TEST_TRAFFIC");
    if (!file || !*file)
        return;
    const char *path = strstr(url, "://");
    path = path ? strchr(path + 3, '/') : NULL;
    char *type = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
    FILE *f = fopen(file, "a");
    if (!f)
        return;
    /* One short write per line (O_APPEND): lines of parallel tests do not interleave. */
    char line[600];
    int n = snprintf(line, sizeof line, "%s %.*s %ld %s\n", method,
                     (int)strcspn(path ? path : "/", "? "), path ? path : "/", status,
                     type ? type : "");
    setvbuf(f, NULL, _IONBF, 0);
    if (n > 0 && (size_t)n < sizeof line)
        fwrite(line, 1, (size_t)n, f);
    fclose(f);
}

static long s_do(http_resp_t *r, const char *method, const char *url, const char *body,
                 const char *const *headers, bool record);

long http_do(http_resp_t *r, const char *method, const char *url, const char *body,
             const char *const *headers)
{
    return s_do(r, method, url, body, headers, true);
}

long http_get_unrecorded(http_resp_t *r, const char *url)
{
    return s_do(r, "GET", url, NULL, NULL, false);
}

double http_metric(int port, const char *series)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    http_resp_t r;
    double v = -1;
    if (http_get_unrecorded(&r, url) == 200) {
        size_t n = strlen(series);
        for (const char *p = r.body; (p = strstr(p, series)); p += n)
            if ((p == r.body || p[-1] == '\n') && p[n] == ' ') {
                v = atof(p + n + 1);
                break;
            }
    }
    http_resp_clear(&r);
    return v;
}

static long s_do(http_resp_t *r, const char *method, const char *url, const char *body,
                 const char *const *headers, bool record)
{
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    buf_t b = {0}, h = {0};
    struct curl_slist *list = NULL;
    for (const char *const *p = headers; p && *p; p++)
        list = curl_slist_append(list, *p);
    if (body)
        list = curl_slist_append(list, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->seconds);
    }
    if (record)
        s_record(c, method, url, r->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    r->body = b.data ? b.data : mem_strdup("");
    r->len = b.len;
    r->headers = h.data ? h.data : mem_strdup("");
    return r->status;
}

void http_url(char *out, size_t len, const char *base, const char *fmt, ...)
{
    int n = snprintf(out, len, "%s", base);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + n, len - (size_t)n, fmt, ap);
    va_end(ap);
}

json_t *http_json(const http_resp_t *r)
{
    return json_loads(r->body, 0, NULL);
}

int http_header(const http_resp_t *r, const char *name, char *out, size_t len)
{
    size_t nl = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *end = strstr(line, "\r\n");
        if (!end)
            break;
        if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, len, "%.*s", (int)(end - v), v);
            return 0;
        }
        line = end + 2;
    }
    return -1;
}

void http_resp_clear(http_resp_t *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}
