/* quiz-gateway: parses options, loads the platform token, starts the HTTP server and waits for
 * SIGTERM; then stops accepting and lets requests in progress finish (civetweb's mg_stop). */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/curve.h"
#include "common/lifecycle.h"
#include "common/log.h"
#include "common/platform.h"
#include "common/shard.h"
#include "gateway/gw_http.h"

static void s_usage(FILE *out)
{
    fputs("usage: quiz-gateway --shard ENDPOINTS [--shard ENDPOINTS ...] [--listen ADDR:PORT]\n"
          "                    [--threads N] [--deadline-ms MS] [--keep-alive-ms MS]\n"
          "                    [--max-body BYTES] [--platform-token-file PATH] [--keys DIR]\n"
          "                    [--login-rate N] [--password-inflight N]\n"
          "                    [--trusted-proxy CIDR ...] [--curve-secret FILE]\n"
          "                    [--worker-key FILE] [--insecure-no-curve] [--dedicated K ...]\n"
          "                    [--verbose]\n"
          "Each --shard names shard 0, 1, ... in order: comma-separated worker endpoints.\n"
          "--dedicated K (repeatable): shard K takes no new tenants, only those moved there.\n"
          "Tenants stay where the registry says: a worker asked about another's tenant\n"
          "names the owner, and the gateway retries there and remembers.\n"
          "The platform token is $QUIZ_PLATFORM_TOKEN, or the first line of the token file.\n"
          "--keys (or $QUIZ_KEYS_DIR) holds the <kid>.key files that verify access tokens.\n"
          "--login-rate: login attempts per client address and minute (default 30, 0 = off).\n"
          "--password-inflight: requests that hash a password (logins, password changes, user\n"
          "and tenant creation) in flight at once; beyond it they get 503 with Retry-After, so\n"
          "a login storm cannot hold every thread (default a quarter of --threads).\n"
          "--trusted-proxy: a load balancer whose X-Forwarded-For is believed (repeatable).\n"
          "--curve-secret (or $QUIZ_CURVE_SECRET): this gateway's CurveZMQ secret key file;\n"
          "its public key must be in every worker's allowed directory.\n"
          "--worker-key (or $QUIZ_WORKER_KEY): the workers' CurveZMQ public key file.\n"
          "--insecure-no-curve: talk to workers in plaintext, unauthenticated. UNSAFE: anyone\n"
          "who reaches a worker port could then act as any caller. Benchmarks only.\n",
          out);
}

static int s_int(const char *text, long min, long max, long *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
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

int main(int argc, char **argv)
{
    gw_http_config_t cfg = {.listen = "127.0.0.1:8000",
                            .threads = 64,
                            .deadline_ms = 5000,
                            .keep_alive_ms = 5000,
                            .max_body = 64 * 1024};
    char *shard_eps[SHARD_MAX];
    int nshards = 0;
    const char *token_file = NULL, *keys_dir = getenv("QUIZ_KEYS_DIR");
    const char *curve_secret = getenv("QUIZ_CURVE_SECRET"), *worker_key = getenv("QUIZ_WORKER_KEY");
    bool plaintext = false;
    static bool dedicated[SHARD_MAX];
    long login_rate = 30, password_inflight = 0;
    gw_proxy_t *proxies = gw_proxy_new();
    int rc = 0;
    bool verbose = false;
    static const struct option opts[] = {{"shard", required_argument, 0, 's'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"threads", required_argument, 0, 't'},
                                         {"deadline-ms", required_argument, 0, 'd'},
                                         {"keep-alive-ms", required_argument, 0, 'k'},
                                         {"max-body", required_argument, 0, 'b'},
                                         {"platform-token-file", required_argument, 0, 'p'},
                                         {"keys", required_argument, 0, 'K'},
                                         {"password-inflight", required_argument, 0, 'I'},
                                         {"login-rate", required_argument, 0, 'r'},
                                         {"trusted-proxy", required_argument, 0, 'T'},
                                         {"curve-secret", required_argument, 0, 'C'},
                                         {"worker-key", required_argument, 0, 'W'},
                                         {"insecure-no-curve", no_argument, 0, 'U'},
                                         {"dedicated", required_argument, 0, 'D'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    long v = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 's':
            if (nshards == SHARD_MAX)
                bad = 1;
            else
                shard_eps[nshards++] = optarg;
            break;
        case 'l': cfg.listen = optarg; break;
        case 't':
            bad = s_int(optarg, 2, 4096, &v);
            cfg.threads = (int)v;
            break;
        case 'd':
            bad = s_int(optarg, 10, 600000, &v);
            cfg.deadline_ms = (int)v;
            break;
        case 'k':
            bad = s_int(optarg, 0, 600000, &v);
            cfg.keep_alive_ms = (int)v;
            break;
        case 'b':
            bad = s_int(optarg, 0, PROTO_MAX_BODY, &v);
            cfg.max_body = (size_t)v;
            break;
        case 'p': token_file = optarg; break;
        case 'K': keys_dir = optarg; break;
        case 'r': bad = s_int(optarg, 0, 1000000, &login_rate); break;
        case 'I': bad = s_int(optarg, 1, 4096, &password_inflight); break;
        case 'T': bad = gw_proxy_add(proxies, optarg); break;
        case 'C': curve_secret = optarg; break;
        case 'W': worker_key = optarg; break;
        case 'U': plaintext = true; break;
        case 'D':
            bad = s_int(optarg, 0, SHARD_MAX - 1, &v);
            if (!bad)
                dedicated[v] = true;
            break;
        case 'v': verbose = true; break;
        case 'h':
            s_usage(stdout);
            rc = 0;
            goto out;
        default:
            s_usage(stderr);
            rc = 2;
            goto out;
        }
        if (bad) {
            fprintf(stderr, "quiz-gateway: invalid value \"%s\"\n", optarg);
            rc = 2;
            goto out;
        }
    }
    log_init("quiz-gateway", verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
    if (nshards == 0) {
        s_usage(stderr);
        rc = 2;
        goto out;
    }
    if (sodium_init() < 0) {
        log_error("could not initialise libsodium");
        rc = 1;
        goto out;
    }
    char err[300];
    jwt_keyring_t *ring = jwt_keyring_load(keys_dir, err, sizeof err);
    if (!ring) {
        log_error("%s: set --keys or QUIZ_KEYS_DIR", err);
        rc = 2;
        goto out;
    }
    platform_token_t platform;
    if (platform_token_load(&platform, token_file) < 0) {
        log_error("no usable platform token: set QUIZ_PLATFORM_TOKEN or --platform-token-file"
                  " (16 to 512 bytes)");
        jwt_keyring_destroy(&ring);
        rc = 2;
        goto out;
    }
    curve_keypair_t self = {0};
    char server_key[CURVE_KEY_LEN + 1] = "";
    bool curve = false;
    if (s_curve_keys(curve_secret, worker_key, plaintext, &self, server_key, &curve) < 0) {
        jwt_keyring_destroy(&ring);
        rc = 2;
        goto out;
    }
    gw_auth_t *auth = gw_auth_new(&platform, &ring);
    lifecycle_init();
    cfg.shards = gw_shards_new(nshards, shard_eps, curve ? &self : NULL, server_key);
    curve_keypair_clear(&self); /* the sockets hold their own copy */
    if (!cfg.shards) {
        gw_auth_destroy(&auth);
        rc = 1;
        goto out;
    }
    cfg.auth = auth;
    cfg.login_limit = gw_limit_new((unsigned)login_rate);
    cfg.proxies = proxies;
    cfg.password_inflight = (int)password_inflight;
    cfg.placement = gw_placement_new(nshards, dedicated);
    gw_http_t *http = gw_http_start(&cfg);
    if (!http) {
        gw_shards_destroy(&cfg.shards);
        gw_auth_destroy(&auth);
        gw_limit_destroy(&cfg.login_limit);
        gw_placement_destroy(&cfg.placement);
        rc = 1;
        goto out;
    }
    char status[128];
    snprintf(status, sizeof status, "listening on http://%.*s:%d with %d shards",
             (int)strcspn(cfg.listen, ":"), cfg.listen, gw_http_port(http), nshards);
    lifecycle_ready(status);
    log_info("%s", status);

    uint64_t wd_usec = lifecycle_watchdog_usec();
    useconds_t tick = wd_usec ? (useconds_t)(wd_usec / 2 < 200000 ? wd_usec / 2 : 200000) : 200000;
    while (!lifecycle_is_stopping()) {
        usleep(tick); /* SIGTERM interrupts the sleep; the loop then sees the flag */
        if (wd_usec)
            lifecycle_watchdog();
    }
    lifecycle_stopping();
    log_info("stopping: finishing requests in progress");
    gw_http_stop(&http);
    gw_shards_destroy(&cfg.shards);
    gw_auth_destroy(&auth);
    gw_limit_destroy(&cfg.login_limit);
    gw_placement_destroy(&cfg.placement);
    log_info("stopped");
    rc = 0;
out:
    gw_proxy_destroy(&proxies);
    return rc;
}
