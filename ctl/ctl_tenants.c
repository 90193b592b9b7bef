/* quizctl tenants: the platform API's tenant operations from the command line, through a
 * gateway ($QUIZ_URL) with the platform token, so they follow exactly the rules the API does
 * (one code path: the workers'). Text by default, the API's own JSON with --json. */
#include "ctl/ctl_tenants.h"

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"
#include "common/mem.h"
#include "proto/proto.h"

static int s_usage(FILE *out, int rc)
{
    fputs("usage: quizctl tenants list [--q TEXT] [--status S] [--limit N] [--json]\n"
          "       quizctl tenants show ID [--json]\n"
          "       quizctl tenants create --name NAME --owner-email EMAIL [--json]\n"
          "       quizctl tenants delete|suspend|resume|restore ID [--json]\n"
          "       quizctl tenants move ID --shard K [--json]\n"
          "       quizctl tenants rate ID N|default [--json]\n"
          "       quizctl tenants rebalance [--json]\n"
          "Calls the platform API of the gateway at $QUIZ_URL (default http://127.0.0.1:8000)\n"
          "with the platform token ($QUIZ_PLATFORM_TOKEN, or the first line of the file\n"
          "$QUIZ_PLATFORM_TOKEN_FILE). list: the newest first, all pages (--limit: at most N);\n"
          "--q: name or id containing TEXT; --status: active, suspended or deleted (default:\n"
          "all but deleted). delete keeps the data for the workers' grace period (restore\n"
          "brings it back whole); suspend refuses the tenant's users until resume.\n"
          "create prints the owner's temporary password once. rate: the tenant's own requests\n"
          "a second at each gateway (0: unlimited; default: the gateways' --tenant-rate).\n"
          "move and rebalance queue an operation and print it (GET /api/operations/ID follows\n"
          "it). Exits 1 naming the API's answer when it refuses, 2 on bad usage.\n",
          out);
    return rc;
}

typedef struct {
    char *data;
    size_t len;
} buf_t;

static size_t s_collect(char *p, size_t size, size_t n, void *arg)
{
    buf_t *b = arg;
    b->data = mem_realloc(b->data, b->len + size * n + 1);
    memcpy(b->data + b->len, p, size * n);
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

/* The platform token, from the environment or the file it names; the caller frees. */
static char *s_token(void)
{
    const char *t = getenv("QUIZ_PLATFORM_TOKEN");
    if (t && *t)
        return mem_strdup(t);
    const char *path = getenv("QUIZ_PLATFORM_TOKEN_FILE");
    FILE *f = path ? fopen(path, "r") : NULL;
    char line[600] = "";
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = '\0';
        fclose(f);
    }
    line[strcspn(line, "\r\n")] = '\0';
    return *line ? mem_strdup(line) : NULL;
}

/* METHOD path (with body) to the gateway: the HTTP status (0 if none came) and the body in
 * *out (the caller frees). */
static long s_call(const char *method, const char *path, const char *body, char **out)
{
    const char *base = getenv("QUIZ_URL");
    char *token = s_token(), url[1024], auth[700];
    *out = NULL;
    if (!token) {
        fprintf(stderr, "quizctl tenants: no platform token: set QUIZ_PLATFORM_TOKEN or"
                        " QUIZ_PLATFORM_TOKEN_FILE\n");
        return 0;
    }
    snprintf(url, sizeof url, "%s%s", base && *base ? base : "http://127.0.0.1:8000", path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    free(token);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    buf_t b = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    long status = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        fprintf(stderr, "quizctl tenants: %s: %s\n", url, curl_easy_strerror(rc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    memset(auth, 0, sizeof auth);
    *out = b.data ? b.data : mem_strdup("");
    return status;
}

/* A 2xx answer: 0. Otherwise the problem's detail on stderr and 1. */
static int s_check(long status, const char *body, const char *what)
{
    if (status >= 200 && status < 300)
        return 0;
    if (status) {
        json_t *p = json_loads(body, 0, NULL);
        const char *detail = json_string_value(json_object_get(p, "detail"));
        fprintf(stderr, "quizctl tenants %s: HTTP %ld: %s\n", what, status,
                detail && *detail ? detail : body);
        json_decref(p);
    }
    return 1;
}

static void s_print_tenant(const json_t *t)
{
    json_t *size = json_object_get(t, "storage_bytes");
    char bytes[32] = "-";
    if (json_is_integer(size))
        snprintf(bytes, sizeof bytes, "%lld B", (long long)json_integer_value(size));
    printf("%s  %-8s shard %-3lld %14s  %s\n", json_string_value(json_object_get(t, "tenant_id")),
           json_string_value(json_object_get(t, "status")),
           (long long)json_integer_value(json_object_get(t, "shard")), bytes,
           json_string_value(json_object_get(t, "tenant_name")));
}

/* The compact text of a new JSON value, which is freed; the caller frees the text. */
static char *s_dump(json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT);
    json_decref(value);
    return text;
}

/* Every page of GET /api/tenants/ (at most `limit` tenants; 0: all). */
static int s_list(const char *q, const char *status, long limit, bool json)
{
    char *cursor = NULL, *esc_q = NULL;
    CURL *enc = curl_easy_init();
    if (q)
        esc_q = curl_easy_escape(enc, q, 0);
    json_t *all = json_array();
    int rc = 0;
    for (;;) {
        char path[1024], *esc_c = cursor ? curl_easy_escape(enc, cursor, 0) : NULL;
        snprintf(path, sizeof path, "/api/tenants/?limit=100%s%s%s%s%s%s", esc_q ? "&q=" : "",
                 esc_q ? esc_q : "", esc_c ? "&cursor=" : "", esc_c ? esc_c : "",
                 status ? "&status=" : "", status ? status : "");
        curl_free(esc_c);
        char *body;
        long st = s_call("GET", path, NULL, &body);
        if ((rc = s_check(st, body, "list")) != 0) {
            free(body);
            break;
        }
        json_t *page = json_loads(body, 0, NULL);
        free(body);
        size_t i;
        json_t *t;
        json_array_foreach (json_object_get(page, "items"), i, t)
            if (!limit || (long)json_array_size(all) < limit)
                json_array_append(all, t);
        free(cursor);
        const char *next = json_string_value(json_object_get(page, "next_cursor"));
        cursor = next && (!limit || (long)json_array_size(all) < limit) ? mem_strdup(next) : NULL;
        json_decref(page);
        if (!cursor)
            break;
    }
    curl_free(esc_q);
    curl_easy_cleanup(enc);
    if (!rc) {
        if (json) {
            char *text = s_dump(json_pack("{s:O}", "items", all));
            puts(text);
            free(text);
        } else {
            size_t i;
            json_t *t;
            json_array_foreach (all, i, t)
                s_print_tenant(t);
            printf("%zu tenants\n", json_array_size(all));
        }
    }
    json_decref(all);
    return rc;
}

/* Prints an answer: its JSON as it came, or via the text printer. */
static void s_output(const char *body, bool json, void (*text)(const json_t *))
{
    if (json) {
        puts(body);
        return;
    }
    json_t *doc = json_loads(body, 0, NULL);
    if (doc && text)
        text(doc);
    else
        puts(body);
    json_decref(doc);
}

static void s_print_created(const json_t *t)
{
    printf("created %s on shard %lld; owner %s, temporary password %s\n",
           json_string_value(json_object_get(t, "tenant_id")),
           (long long)json_integer_value(json_object_get(t, "shard")),
           json_string_value(json_object_get(t, "admin_email")),
           json_string_value(json_object_get(t, "temp_password")));
}

static void s_print_operation(const json_t *o)
{
    printf("operation %s: %s %s\n", json_string_value(json_object_get(o, "id")),
           json_string_value(json_object_get(o, "kind")),
           json_string_value(json_object_get(o, "state")));
}

int ctl_tenants(int argc, char **argv)
{
    const char *q = NULL, *name = NULL, *email = NULL, *status = NULL;
    long limit = 0, shard = -1;
    bool json = false;
    static const struct option opts[] = {{"q", required_argument, 0, 'q'},
                                         {"limit", required_argument, 0, 'l'},
                                         {"status", required_argument, 0, 't'},
                                         {"name", required_argument, 0, 'n'},
                                         {"owner-email", required_argument, 0, 'e'},
                                         {"shard", required_argument, 0, 's'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'q': q = optarg; break;
        case 't':
            if (strcmp(optarg, "active") && strcmp(optarg, "suspended") &&
                strcmp(optarg, "deleted"))
                return s_usage(stderr, 2);
            status = optarg;
            break;
        case 'l':
            limit = strtol(optarg, &end, 10);
            if (*end || limit < 1)
                return s_usage(stderr, 2);
            break;
        case 'n': name = optarg; break;
        case 'e': email = optarg; break;
        case 's':
            shard = strtol(optarg, &end, 10);
            if (*end || shard < 0)
                return s_usage(stderr, 2);
            break;
        case 'j': json = true; break;
        case 'h': return s_usage(stdout, 0);
        default: return s_usage(stderr, 2);
        }
    }
    if (optind >= argc)
        return s_usage(stderr, 2);
    const char *verb = argv[optind++];
    const char *id = optind < argc ? argv[optind++] : NULL;
    const char *value = strcmp(verb, "rate") == 0 && optind < argc ? argv[optind++] : NULL;
    uint8_t uuid[16];
    bool lifecycle =
        strcmp(verb, "suspend") == 0 || strcmp(verb, "resume") == 0 || strcmp(verb, "restore") == 0;
    bool needs_id = lifecycle || strcmp(verb, "show") == 0 || strcmp(verb, "delete") == 0 ||
                    strcmp(verb, "move") == 0 || strcmp(verb, "rate") == 0;
    char *rate_end = NULL;
    long rate = value && strcmp(value, "default") != 0 ? strtol(value, &rate_end, 10) : -1;
    if (strcmp(verb, "rate") == 0 &&
        (!value || (rate_end && (*rate_end || rate_end == value || rate < 0 ||
                                 rate > PROTO_TENANT_RATE_MAX)))) {
        fprintf(stderr, "quizctl tenants rate: give requests a second (0..1000000) or default\n");
        return s_usage(stderr, 2);
    }
    if (optind != argc || (needs_id && (!id || ident_uuid_parse(id, strlen(id), uuid) < 0)) ||
        (!needs_id && id)) {
        if (needs_id && id)
            fprintf(stderr, "quizctl tenants %s: \"%s\" is not a tenant id (a UUID)\n", verb, id);
        return s_usage(stderr, 2);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char path[256], *body = NULL, *req = NULL;
    long st;
    int rc;
    if (strcmp(verb, "list") == 0) {
        rc = s_list(q, status, limit, json);
    } else if (strcmp(verb, "show") == 0) {
        snprintf(path, sizeof path, "/api/tenants/%s", id);
        st = s_call("GET", path, NULL, &body);
        if (!(rc = s_check(st, body, "show")))
            s_output(body, json, s_print_tenant);
    } else if (strcmp(verb, "create") == 0 && name && email) {
        req = s_dump(json_pack("{s:s, s:s}", "tenant_name", name, "owner_email", email));
        st = s_call("POST", "/api/tenants/", req, &body);
        if (!(rc = s_check(st, body, "create")))
            s_output(body, json, s_print_created);
    } else if (strcmp(verb, "delete") == 0) {
        snprintf(path, sizeof path, "/api/tenants/%s", id);
        st = s_call("DELETE", path, NULL, &body);
        if (!(rc = s_check(st, body, "delete")) && !json)
            printf("deleted %s\n", id);
    } else if (lifecycle) {
        snprintf(path, sizeof path, "/api/tenants/%s/%s", id, verb);
        st = s_call("POST", path, "{}", &body);
        if (!(rc = s_check(st, body, verb)))
            s_output(body, json, s_print_tenant);
    } else if (strcmp(verb, "move") == 0 && shard >= 0) {
        snprintf(path, sizeof path, "/api/tenants/%s/move", id);
        req = s_dump(json_pack("{s:I}", "shard", (json_int_t)shard));
        st = s_call("POST", path, req, &body);
        if (!(rc = s_check(st, body, "move")))
            s_output(body, json, s_print_operation);
    } else if (strcmp(verb, "rate") == 0) {
        snprintf(path, sizeof path, "/api/tenants/%s/rate", id);
        req = s_dump(rate < 0 ? json_pack("{s:n}", "requests_per_second")
                              : json_pack("{s:I}", "requests_per_second", (json_int_t)rate));
        st = s_call("PUT", path, req, &body);
        if (!(rc = s_check(st, body, "rate")) && !json)
            printf("%s: %s\n", id, rate < 0 ? "the gateways' default rate" : value);
        else if (!rc)
            printf("%s\n", body);
    } else if (strcmp(verb, "rebalance") == 0) {
        st = s_call("POST", "/api/shards/rebalance", "{}", &body);
        if (!(rc = s_check(st, body, "rebalance")))
            s_output(body, json, s_print_operation);
    } else {
        rc = s_usage(stderr, 2);
    }
    free(body);
    free(req);
    curl_global_cleanup();
    return rc;
}
