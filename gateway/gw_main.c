/* quiz-gateway: parses options, loads the platform token, starts the HTTP server and waits for
 * SIGTERM; then stops accepting and lets requests in progress finish (civetweb's mg_stop). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/curve.h"
#include "common/lifecycle.h"
#include "common/log.h"
#include "common/options.h"
#include "common/platform.h"
#include "common/shard.h"
#include "gateway/gw_http.h"
#include "gateway/gw_samples.h"

static void s_usage(FILE *out)
{
    fputs(
        "usage: quiz-gateway --shard ENDPOINTS [--shard ENDPOINTS ...] [--listen ADDR:PORT]\n"
        "                    [--threads N] [--deadline-ms MS] [--keep-alive-ms MS]\n"
        "                    [--max-body BYTES] [--platform-token-file PATH] [--keys DIR]\n"
        "                    [--login-rate N] [--tenant-rate N] [--password-inflight N]\n"
        "                    [--trusted-proxy CIDR ...] [--curve-secret FILE]\n"
        "                    [--worker-key FILE] [--insecure-no-curve] [--dedicated K ...]\n"
        "                    [--stall-ms MS] [--samples-ms MS] [--config FILE] [--verbose]\n"
        "Each --shard names shard 0, 1, ... in order: comma-separated worker endpoints.\n"
        "--dedicated K (repeatable): shard K takes no new tenants, only those moved there.\n"
        "Tenants stay where the registry says: a worker asked about another's tenant\n"
        "names the owner, and the gateway retries there and remembers.\n"
        "The platform token is $QUIZ_PLATFORM_TOKEN, or the first line of the token file.\n"
        "--keys (or $QUIZ_KEYS_DIR) holds the <kid>.key files that verify access tokens.\n"
        "--login-rate: login attempts per client address and minute (default 30, 0 = off).\n"
        "--tenant-rate: requests per tenant and second at this gateway (default 1000, 0 =\n"
        "off); past it 429 with Retry-After, so one tenant cannot take its shard.\n"
        "--password-inflight: requests that hash a password (logins, password changes, user\n"
        "and tenant creation) in flight at once; beyond it they get 503 with Retry-After, so\n"
        "a login storm cannot hold every thread (default a quarter of --threads, at most 16).\n"
        "--threads: connection threads (default 512). civetweb gives every connection a thread\n"
        "of its own, idle ones and ones still sending their headers too (each for at most\n"
        "--deadline-ms + 5 s): many threads keep slow or idle clients from starving a fresh one.\n"
        "--trusted-proxy: a load balancer whose X-Forwarded-For and X-Request-ID are\n"
        "believed (repeatable).\n"
        "--stall-ms: a request in progress this long past its deadline (default 60000) holds\n"
        "its thread for good: the systemd watchdog is no longer fed, so systemd restarts us.\n"
        "--config: more options from FILE, one per line (\"login-rate 10\", \"shard tcp://...\");\n"
        "SIGHUP (systemctl reload) reads the command line and FILE again and applies the\n"
        "access-token keys, shard endpoint lists, --login-rate, --tenant-rate,\n"
        "--password-inflight and\n"
        "--max-body without dropping a connection.\n"
        "--samples-ms: how often the dashboard's charts take a sample (default 10000: the\n"
        "90 kept cover 15 minutes).\n"
        "--curve-secret (or $QUIZ_CURVE_SECRET): this gateway's CurveZMQ secret key file;\n"
        "its public key must be in every worker's allowed directory.\n"
        "--worker-key (or $QUIZ_WORKER_KEY): the workers' CurveZMQ public key file.\n"
        "--insecure-no-curve: talk to workers in plaintext, unauthenticated. UNSAFE: anyone\n"
        "who reaches a worker port could then act as any caller. Benchmarks only.\n",
        out);
}

/* The CURVE keys of the shard sockets: this gateway's keypair and the workers' public key, from
 * the options or the environment. 0 when both load (or plaintext was asked for: *on false). */
static int s_curve_keys(const char *secret, const char *worker_key, bool plaintext,
                        curve_keypair_t *self, char server_key[CURVE_KEY_LEN + 1], bool *on)
{
    *on = !plaintext;
    if (plaintext) {
        log_warning("--insecure-no-curve: the worker link is neither encrypted nor authenticated");
        return 0;
    }
    if (!secret || !worker_key) {
        log_error("the worker link needs --curve-secret and --worker-key (or QUIZ_CURVE_SECRET"
                  " and QUIZ_WORKER_KEY); see README \"The worker link\"");
        return -1;
    }
    char err[4200];
    if (curve_keypair_load(secret, self, err, sizeof err) < 0 ||
        curve_public_load(worker_key, server_key, err, sizeof err) < 0) {
        log_error("%s", err);
        curve_keypair_clear(self);
        return -1;
    }
    log_info("worker link: CURVE, gateway key %.8s...", self->public_key);
    return 0;
}

/* What the command line sets. */
typedef struct {
    gw_http_config_t http;
    const char *shard_eps[SHARD_MAX];
    int nshards, max_body, login_rate, tenant_rate, stall_ms, samples_ms;
    const char *token_file, *keys_dir, *curve_secret, *worker_key;
    bool plaintext, verbose;
    bool dedicated[SHARD_MAX];
    gw_proxy_t *proxies;
    const char *config;  /* --config FILE: read at start and at each reload */
    options_file_t file; /* its text, which the values above may point into */
    int argc;            /* the command line, parsed again at a reload */
    char **argv;
} gw_args_t;

static int s_add_shard(void *target, const char *arg)
{
    gw_args_t *a = target;
    if (a->nshards == SHARD_MAX)
        return -1;
    a->shard_eps[a->nshards++] = arg;
    return 0;
}

static int s_add_proxy(void *target, const char *arg)
{
    return gw_proxy_add(target, arg);
}

/* Parses the command line into *a (defaults first). OPTIONS_OK to go on. */
static options_result_t s_parse_args(int argc, char **argv, gw_args_t *a)
{
    *a = (gw_args_t){.http = {.listen = "127.0.0.1:8000",
                              .threads = 512,
                              .deadline_ms = 5000,
                              .keep_alive_ms = 5000},
                     .max_body = 64 * 1024,
                     .login_rate = 30,
                     .tenant_rate = 1000,
                     .stall_ms = 60000,
                     .samples_ms = 10000,
                     .keys_dir = getenv("QUIZ_KEYS_DIR"),
                     .curve_secret = getenv("QUIZ_CURVE_SECRET"),
                     .worker_key = getenv("QUIZ_WORKER_KEY"),
                     .proxies = gw_proxy_new(),
                     .argc = argc,
                     .argv = argv};
    const option_t opts[] = {
        OPT_CALL("shard", a, s_add_shard),
        OPT_TEXT("listen", &a->http.listen),
        OPT_INT("threads", &a->http.threads, 2, 4096),
        OPT_INT("deadline-ms", &a->http.deadline_ms, 10, 600000),
        OPT_INT("keep-alive-ms", &a->http.keep_alive_ms, 0, 600000),
        OPT_INT("max-body", &a->max_body, 0, PROTO_MAX_BODY),
        OPT_TEXT("platform-token-file", &a->token_file),
        OPT_TEXT("keys", &a->keys_dir),
        OPT_INT("password-inflight", &a->http.password_inflight, 1, 4096),
        OPT_INT("login-rate", &a->login_rate, 0, 1000000),
        OPT_INT("tenant-rate", &a->tenant_rate, 0, 100000000),
        OPT_CALL("trusted-proxy", a->proxies, s_add_proxy),
        OPT_TEXT("curve-secret", &a->curve_secret),
        OPT_TEXT("worker-key", &a->worker_key),
        OPT_FLAG("insecure-no-curve", &a->plaintext),
        OPT_INDEX("dedicated", a->dedicated, 0, SHARD_MAX - 1),
        OPT_FLAG("verbose", &a->verbose),
        OPT_INT("stall-ms", &a->stall_ms, 100, 3600000),
        OPT_INT("samples-ms", &a->samples_ms, 100, 60000),
        OPT_TEXT("config", &a->config),
    };
    int n = (int)(sizeof opts / sizeof opts[0]);
    options_result_t r = options_parse(argc, argv, "quiz-gateway", opts, n, s_usage);
    /* Then the config file's options (a second --config there is ignored). Its shard lines
       replace the command line's, so the list can change at a reload; not both. */
    const char *config = a->config;
    if (r == OPTIONS_OK && config) {
        int from_command_line = a->nshards;
        a->nshards = 0;
        if (options_file_read(config, "quiz-gateway", &a->file) < 0)
            r = OPTIONS_BAD;
        else
            r = options_parse(a->file.argc, a->file.argv, "quiz-gateway", opts, n, s_usage);
        if (r == OPTIONS_OK && a->nshards && from_command_line) {
            fprintf(stderr, "quiz-gateway: --shard both on the command line and in %s\n", config);
            r = OPTIONS_BAD;
        }
        if (!a->nshards)
            a->nshards = from_command_line;
        a->config = config;
    }
    a->http.max_body = (size_t)a->max_body;
    if (r == OPTIONS_OK && a->nshards == 0) {
        s_usage(stderr);
        r = OPTIONS_BAD;
    }
    return r;
}

/* Loads the secrets (access-token keys, platform token, CURVE keys) and opens what the HTTP
 * server borrows: auth, shard sockets, login limiter, placement. 0, or the exit status. */
static int s_open(gw_args_t *a)
{
    if (sodium_init() < 0) {
        log_error("could not initialise libsodium");
        return 1;
    }
    char err[300];
    jwt_keyring_t *ring = jwt_keyring_load(a->keys_dir, err, sizeof err);
    if (!ring) {
        log_error("%s: set --keys or QUIZ_KEYS_DIR", err);
        return 2;
    }
    platform_token_t platform;
    if (platform_token_load(&platform, a->token_file) < 0) {
        log_error("no usable platform token: set QUIZ_PLATFORM_TOKEN or --platform-token-file"
                  " (16 to 512 bytes)");
        jwt_keyring_destroy(&ring);
        return 2;
    }
    curve_keypair_t self = {0};
    char server_key[CURVE_KEY_LEN + 1] = "";
    bool curve = false;
    if (s_curve_keys(a->curve_secret, a->worker_key, a->plaintext, &self, server_key, &curve) < 0) {
        jwt_keyring_destroy(&ring);
        return 2;
    }
    a->http.auth = gw_auth_new(&platform, &ring);
    a->http.shards = gw_shards_new(a->nshards, a->shard_eps, curve ? &self : NULL, server_key);
    curve_keypair_clear(&self); /* the sockets hold their own copy */
    if (!a->http.shards) {
        gw_auth_destroy(&a->http.auth);
        return 1;
    }
    a->http.login_limit = gw_limit_new((unsigned)a->login_rate, 60, 100, 4096);
    /* Far more slots than tenants active in one second, so two rarely share a budget; a tenant
       may send a tenth of a second's worth at once, then evenly. */
    a->http.tenant_limit = gw_limit_new((unsigned)a->tenant_rate, 1, 10, 1 << 16);
    a->http.proxies = a->proxies;
    a->http.placement = gw_placement_new(a->nshards, a->dedicated);
    return 0;
}

static void s_close(gw_args_t *a)
{
    gw_shards_destroy(&a->http.shards);
    gw_auth_destroy(&a->http.auth);
    gw_limit_destroy(&a->http.login_limit);
    gw_limit_destroy(&a->http.tenant_limit);
    gw_placement_destroy(&a->http.placement);
    gw_proxy_destroy(&a->proxies);
    options_file_free(&a->file);
}

/* SIGHUP: the command line and config file again; what can change while serving is applied
 * (access-token keys, each shard's endpoint list, login rate, password-inflight, max-body),
 * the rest is named as needing a restart. Connections stay up. */
static void s_reload(gw_args_t *a, gw_http_t *http, const char *status)
{
    lifecycle_reloading();
    gw_args_t r;
    if (s_parse_args(a->argc, a->argv, &r) != OPTIONS_OK) {
        log_error("reload: the configuration does not parse; nothing changed");
    } else {
        char err[300];
        if (gw_auth_reload_keys(a->http.auth, r.keys_dir, err, sizeof err) < 0)
            log_error("reload: %s; the access-token keys stay as they were", err);
        if (r.nshards != a->nshards)
            log_warning("reload: the shard count changes only with a restart (after --migrate)");
        else
            for (int k = 0; k < r.nshards; k++)
                gw_shards_set_endpoints(a->http.shards, k, r.shard_eps[k]);
        gw_limit_set_rate(a->http.login_limit, (unsigned)r.login_rate);
        gw_limit_set_rate(a->http.tenant_limit, (unsigned)r.tenant_rate);
        gw_http_set_limits(http, r.http.password_inflight, (size_t)r.max_body);
        if (strcmp(r.http.listen, a->http.listen) != 0 || r.http.threads != a->http.threads ||
            r.http.deadline_ms != a->http.deadline_ms)
            log_warning("reload: --listen, --threads and --deadline-ms change only with a restart");
        log_info("reloaded: keys, %d shard endpoint lists, login rate %d, tenant rate %d,"
                 " password-inflight %d, max-body %d",
                 r.nshards, r.login_rate, r.tenant_rate, r.http.password_inflight, r.max_body);
    }
    gw_proxy_destroy(&r.proxies);
    options_file_free(&r.file);
    lifecycle_ready(status);
}

/* Tells systemd (and the log) where we listen, then feeds the watchdog until SIGTERM. */
static void s_serve_until_stop(gw_args_t *a, gw_http_t *http)
{
    char status[128];
    snprintf(status, sizeof status, "listening on http://%.*s:%d with %d shards",
             (int)strcspn(a->http.listen, ":"), a->http.listen, gw_http_port(http), a->nshards);
    lifecycle_ready(status);
    log_info("%s", status);
    uint64_t wd_usec = lifecycle_watchdog_usec();
    useconds_t tick = wd_usec ? (useconds_t)(wd_usec / 2 < 200000 ? wd_usec / 2 : 200000) : 200000;
    /* A request ends by its deadline (a shard call gives up then, civetweb's request timeout
       bounds the client's side): one older than that and stall_ms holds its thread for good. */
    uint64_t limit = (uint64_t)a->http.deadline_ms + 5000 + (uint64_t)a->stall_ms;
    bool stalled = false;
    while (!lifecycle_is_stopping()) {
        usleep(tick); /* SIGTERM interrupts the sleep; the loop then sees the flag */
        uint64_t oldest = gw_http_oldest_ms(http);
        if ((oldest > limit) != stalled) {
            stalled = !stalled;
            if (stalled)
                log_error("a request has been in progress for %llu ms: stalled; the watchdog is no"
                          " longer fed",
                          (unsigned long long)oldest);
            else
                log_info("no request is stalled any more");
        }
        if (wd_usec && !stalled)
            lifecycle_watchdog();
        gw_samples_tick();
        if (lifecycle_take_reload())
            s_reload(a, http, status);
    }
    lifecycle_stopping();
    log_info("stopping: finishing requests in progress");
}

int main(int argc, char **argv)
{
    gw_args_t a;
    options_result_t parsed = s_parse_args(argc, argv, &a);
    if (parsed != OPTIONS_OK) {
        gw_proxy_destroy(&a.proxies);
        options_file_free(&a.file);
        return parsed == OPTIONS_HELP ? 0 : 2;
    }
    log_init("quiz-gateway", a.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
    int rc = s_open(&a);
    if (rc) {
        gw_proxy_destroy(&a.proxies);
        options_file_free(&a.file);
        return rc;
    }
    lifecycle_init();
    gw_samples_init(a.nshards, a.samples_ms);
    gw_http_t *http = gw_http_start(&a.http);
    rc = http ? 0 : 1;
    if (http) {
        s_serve_until_stop(&a, http);
        gw_http_stop(&http);
        log_info("stopped");
    }
    gw_samples_fini();
    s_close(&a);
    return rc;
}
