/* A small libcurl client for integration tests: one call, one response with status, body and
 * the headers we assert on. Also parses JSON bodies with jansson. */
#ifndef TESTS_HELPERS_HTTP_H
#define TESTS_HELPERS_HTTP_H

#include <jansson.h>
#include <stddef.h>

typedef struct {
    long status; /* HTTP status, 0 if the request failed */
    char *body;  /* NUL-terminated, owned */
    size_t len;
    char *headers;  /* raw response headers, owned */
    double seconds; /* total time */
} http_resp_t;

/* Performs METHOD url with an optional body and extra header lines (NULL-terminated list).
 * Returns the status; *r owns the response (http_resp_clear it). */
long http_do(http_resp_t *r, const char *method, const char *url, const char *body,
             const char *const *headers);
/* GET outside the gateway's API (a worker's metrics port): not recorded as API traffic. */
long http_get_unrecorded(http_resp_t *r, const char *url);
/* The value of one series (its full name and labels, e.g. `x_total{shard="0"}`) in a worker's
 * /metrics on 127.0.0.1:port, or -1 if it is not there. */
double http_metric(int port, const char *series);
/* Formats a URL from base + printf-style path into a static per-call buffer of the caller. */
void http_url(char *out, size_t len, const char *base, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The response body as JSON (new reference), or NULL if it is not JSON. */
json_t *http_json(const http_resp_t *r);
/* A header's value (case-insensitive name), copied into out; 0 if present. */
int http_header(const http_resp_t *r, const char *name, char *out, size_t len);
void http_resp_clear(http_resp_t *r);

#endif
