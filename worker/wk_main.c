/* quiz-worker: parses options, then either applies migrations (--migrate) or serves one shard
 * until SIGTERM. All the work is in wk_server.c and the handlers. */
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/curve.h"
#include "common/lifecycle.h"
#include "common/platform.h"
#include "common/log.h"
#include "common/options.h"
#include "common/shard.h"
#include "common/topk.h"
#include "worker/wk_cluster.h"
#include "worker/wk_migrate.h"
#include "worker/wk_server.h"

static void s_usage(FILE *out)
{
    fputs("usage: quiz-worker --shard K --shards S --endpoint ZMQ_ENDPOINT [--threads N]\n"
          "                   [--password-threads N] [--password-share PCT] [--drain-ms MS]\n"
          "                   [--tenant-share PCT] [--canary-ms MS] [--queue-max N]\n"
          "                   [--rates-ms MS]\n"
          "                   [--keys DIR] [--spare-schemas N] [--no-set-role] [--verbose]\n"
          "                   [--curve-secret FILE] [--allowed-gateways DIR]\n"
          "                   [--platform-token-file PATH] [--insecure-no-curve]\n"
          "                   [--dedicated K ...] [--tenant-budget N] [--cache-mb N]\n"
          "                   [--cache-round-us N] [--cache-log-retain-s S]\n"
          "                   [--metrics-listen ADDR:PORT] [--metrics-top K] [--stall-ms MS]\n"
          "                   [--delete-grace S] [--config FILE]\n"
          "       quiz-worker --migrate --shards S [--dedicated K ...]\n"
          "The database is named by $QUIZ_DATABASE_URL, $DATABASE_URL or $NEON_DATABASE_URL\n"
          "(a libpq URI or key=value string; sslmode=require is honoured). --migrate logs in as\n"
          "that URL's user, which must be able to create roles. Serving logs in as quiz_shard_K\n"
          "and provisioning as quiz_provisioner on the same server, unless\n"
          "$QUIZ_SERVING_DATABASE_URL / $QUIZ_PROVISION_DATABASE_URL name other URLs; passwords\n"
          "come from those URLs, PGPASSWORD or ~/.pgpass.\n"
          "--keys (or $QUIZ_KEYS_DIR) holds the <kid>.key files; the greatest kid signs.\n"
          "--threads: database threads (= connections) for ordinary requests (default 2).\n"
          "Keep the total over all workers near twice the database server's cores: beyond\n"
          "that, requests only queue inside PostgreSQL and its tail latency grows.\n"
          "--tenant-share: while another tenant is active (asked in the last 20 ms), one\n"
          "tenant may hold at most this percentage of the threads (default 50, at least one),\n"
          "the rest kept for the others; alone, it may use all.\n"
          "--queue-max: requests of each lane that wait for a thread (default 1024); beyond\n"
          "that the worker answers 503 with Retry-After at once.\n"
          "--rates-ms: how often the tenants' own request rates are read from the registry\n"
          "(default 5000) to be named in their answers, for the gateways' limiters.\n"
          "--canary-ms: how often a connection of its own checks that the session it is given\n"
          "(behind a pooler, one the requests use too) carries no setting another client left\n"
          "(default 10000, 0 = off; quiz_worker_pool_canary_leaks_total must stay 0).\n"
          "--password-threads: threads for requests that hash passwords (default 1), run at\n"
          "low CPU priority so logins cannot starve reads.\n"
          "--password-share: while other requests are in flight, password requests may use\n"
          "this percentage of one core (default 10); an otherwise idle worker hashes at full\n"
          "speed. CPU priority alone cannot keep a busy machine's tail latency.\n"
          "--spare-schemas: tenant schemas kept built ahead for this shard (default 4), so\n"
          "creating a tenant does not wait for their DDL; 0 builds each at creation.\n"
          "--no-set-role keeps only shard-level database isolation (benchmarks only).\n"
          "--tenant-budget: a database connection that has entered N tenants is renewed\n"
          "between requests, bounding its backend's catalog cache (~77 kB per tenant);\n"
          "default 1000, 0 = never.\n"
          "--cache-mb: quiz documents kept in memory (default 64 MiB, 0 = none); a read is\n"
          "answered from them only once the database said it did not change (wk_coherence.h).\n"
          "--cache-round-us: the least time between two such checks (default 1000): longer\n"
          "costs the database less per read under load, and each read up to that long.\n"
          "--cache-log-retain-s: how long the quiz change log keeps a row (default 300); the\n"
          "same on every worker of a cluster. A cache not checked for 4/5 of it starts afresh.\n"
          "--shards: every shard, dedicated ones included; --dedicated K (repeatable): shard K\n"
          "takes no hashed tenants, only those moved onto it. Give every process the same.\n"
          "--metrics-listen: serve GET /metrics (Prometheus text format) on ADDR:PORT, e.g.\n"
          "127.0.0.1:9101 (port 0 picks one; the READY status names it); off by default.\n"
          "--metrics-top: tenants named in the per-tenant series (default 20), the rest\n"
          "summed as tenant=\"other\".\n"
          "--stall-ms: a database thread on one request this long (default 60000; a query\n"
          "ends by its deadline) is stalled: the systemd watchdog is no longer fed, so systemd\n"
          "restarts the worker, and /healthz on the metrics port answers 503.\n"
          "--delete-grace: a deleted tenant stays restorable this many seconds (default\n"
          "604800, 7 days); then a worker of its shard purges its schema and role.\n"
          "--config: more options from FILE, one per line (\"password-share 20\"). SIGHUP\n"
          "(systemctl reload) reads the key directory again (a new key verifies, and the\n"
          "greatest signs) and the command line and FILE for --password-share.\n"
          "--curve-secret (or $QUIZ_CURVE_SECRET): the workers' CurveZMQ secret key file.\n"
          "--allowed-gateways (or $QUIZ_ALLOWED_GATEWAYS): a directory of the *.pub keys of\n"
          "the gateways let in, read at every connection.\n"
          "The platform token ($QUIZ_PLATFORM_TOKEN or the file's first line) is checked again\n"
          "here on every platform request, as each user's access token is.\n"
          "--insecure-no-curve: accept plaintext, unauthenticated connections. UNSAFE: anyone\n"
          "who reaches the port can send requests (each still needs its credential).\n"
          "Benchmarks only.\n",
          out);
}

static const char *s_dsn(void)
{
    const char *names[] = {"QUIZ_DATABASE_URL", "DATABASE_URL", "NEON_DATABASE_URL"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v)
            return v;
    }
    return NULL;
}

/* The frontend's CURVE key and the allowed gateways, checked before serving. 0, or -1 (logged);
 * with plaintext, only a warning. */
static int s_curve(const char *secret, const char *allowed, bool plaintext, curve_keypair_t *out)
{
    memset(out, 0, sizeof *out);
    if (plaintext) {
        log_warning("--insecure-no-curve: the frontend accepts unauthenticated plaintext peers");
        return 0;
    }
    if (!secret || !allowed) {
        log_error("the gateway link needs --curve-secret and --allowed-gateways (or"
                  " QUIZ_CURVE_SECRET and QUIZ_ALLOWED_GATEWAYS); see README \"The worker link\"");
        return -1;
    }
    char err[4200];
    if (curve_keypair_load(secret, out, err, sizeof err) < 0) {
        log_error("%s", err);
        return -1;
    }
    struct stat st;
    if (stat(allowed, &st) < 0 || !S_ISDIR(st.st_mode)) {
        log_error("--allowed-gateways %s is not a directory", allowed);
        curve_keypair_clear(out);
        return -1;
    }
    log_info("gateway link: CURVE, worker key %.8s..., gateways allowed by %s", out->public_key,
             allowed);
    return 0;
}

/* What the command line sets. */
typedef struct {
    wk_server_config_t cfg;
    bool migrate, verbose, plaintext;
    const char *keys_dir, *token_file, *curve_secret, *allowed;
    bool dedicated[SHARD_MAX];
    const char *config;  /* --config FILE: read at start and at each reload */
    options_file_t file; /* its text, which the values above may point into */
} wk_args_t;

/* Parses the command line into *a (defaults first). OPTIONS_OK to go on. */
static options_result_t s_parse_args(int argc, char **argv, wk_args_t *a)
{
    *a = (wk_args_t){.cfg = {.shard = -1,
                             .threads = 2,
                             .tenant_share = 50,
                             .canary_ms = 10000,
                             .queue_max = 1024,
                             .rates_ms = 5000,
                             .slow_threads = 1,
                             .password_share = 10,
                             .drain_ms = 10000,
                             .spare_schemas = 4,
                             .tenant_budget = 1000,
                             .cache_mb = 64,
                             .cache_round_us = 1000,
                             .cache_retain_s = 300,
                             .metrics_top = 20,
                             .stall_ms = 60000,
                             .delete_grace_s = 7 * 24 * 3600,
                             .set_role = true},
                     .keys_dir = getenv("QUIZ_KEYS_DIR"),
                     .curve_secret = getenv("QUIZ_CURVE_SECRET"),
                     .allowed = getenv("QUIZ_ALLOWED_GATEWAYS")};
    bool no_set_role = false;
    wk_server_config_t *cfg = &a->cfg;
    const option_t opts[] = {
        OPT_INT("shard", &cfg->shard, 0, SHARD_MAX - 1),
        OPT_INT("shards", &cfg->shards, 1, SHARD_MAX),
        OPT_TEXT("endpoint", &cfg->endpoint),
        OPT_INT("threads", &cfg->threads, 1, 64),
        OPT_INT("tenant-share", &cfg->tenant_share, 1, 100),
        OPT_INT("canary-ms", &cfg->canary_ms, 0, 3600000),
        OPT_INT("queue-max", &cfg->queue_max, 1, 65536),
        OPT_INT("rates-ms", &cfg->rates_ms, 0, 3600000),
        OPT_INT("drain-ms", &cfg->drain_ms, 0, 600000),
        OPT_FLAG("migrate", &a->migrate),
        OPT_FLAG("verbose", &a->verbose),
        OPT_TEXT("keys", &a->keys_dir),
        OPT_FLAG("no-set-role", &no_set_role),
        OPT_INT("password-threads", &cfg->slow_threads, 1, 16),
        OPT_INT("password-share", &cfg->password_share, 1, 100),
        OPT_INT("spare-schemas", &cfg->spare_schemas, 0, 1000),
        OPT_TEXT("curve-secret", &a->curve_secret),
        OPT_TEXT("allowed-gateways", &a->allowed),
        OPT_TEXT("platform-token-file", &a->token_file),
        OPT_FLAG("insecure-no-curve", &a->plaintext),
        OPT_INDEX("dedicated", a->dedicated, 0, SHARD_MAX - 1),
        OPT_INT("tenant-budget", &cfg->tenant_budget, 0, 1000000),
        OPT_INT("cache-mb", &cfg->cache_mb, 0, 65536),
        OPT_INT("cache-round-us", &cfg->cache_round_us, 0, 100000),
        OPT_INT("cache-log-retain-s", &cfg->cache_retain_s, 2, 86400),
        OPT_TEXT("metrics-listen", &cfg->metrics_listen),
        OPT_INT("metrics-top", &cfg->metrics_top, 1, TOPK_MAX),
        OPT_INT("stall-ms", &cfg->stall_ms, 100, 3600000),
        OPT_INT("delete-grace", &cfg->delete_grace_s, 1, 366 * 24 * 3600),
        OPT_TEXT("config", &a->config),
    };
    int n = (int)(sizeof opts / sizeof opts[0]);
    options_result_t r = options_parse(argc, argv, "quiz-worker", opts, n, s_usage);
    const char *config = a->config; /* then its options (a second --config there is ignored) */
    if (r == OPTIONS_OK && config) {
        r = options_file_read(config, "quiz-worker", &a->file) < 0
                ? OPTIONS_BAD
                : options_parse(a->file.argc, a->file.argv, "quiz-worker", opts, n, s_usage);
        a->config = config;
    }
    cfg->set_role = !no_set_role;
    return r;
}

/* What a reload needs: the command line to parse again and the keys to replace. */
typedef struct {
    int argc;
    char **argv;
    jwt_keyring_t *ring;
} reload_t;

/* SIGHUP (see wk_server.h): the access-token keys from the key directory and the password
 * share, from the command line and config file read again. */
static void s_reload(void *arg, int *password_share)
{
    reload_t *rl = arg;
    wk_args_t r;
    char err[300];
    if (s_parse_args(rl->argc, rl->argv, &r) != OPTIONS_OK) {
        log_error("reload: the configuration does not parse; nothing changed");
    } else if (jwt_keyring_reload(rl->ring, r.keys_dir, err, sizeof err) < 0) {
        log_error("reload: %s; the access-token keys stay as they were", err);
        *password_share = r.cfg.password_share;
    } else {
        *password_share = r.cfg.password_share;
        log_info("reloaded: %d access-token keys, password share %d%%", jwt_keyring_count(rl->ring),
                 r.cfg.password_share);
    }
    options_file_free(&r.file);
}

/* Checks the serving configuration and serves until stopped: 0, 1 (failed), 2 (bad set-up). */
static int s_serve(const wk_args_t *a, int argc, char **argv, const char *dsn,
                   const wk_clusters_t *clusters)
{
    wk_server_config_t cfg = a->cfg;
    cfg.dsn = dsn;
    cfg.dedicated = a->dedicated;
    const char *allowed = a->allowed;
    if (cfg.shard < 0 || cfg.shards < 1 || cfg.shard >= cfg.shards || !cfg.endpoint) {
        s_usage(stderr);
        return 2;
    }
    platform_token_t platform;
    if (platform_token_load(&platform, a->token_file) < 0) {
        log_error("no usable platform token: set QUIZ_PLATFORM_TOKEN or --platform-token-file"
                  " (16 to 512 bytes)");
        return 2;
    }
    cfg.platform = &platform;
    curve_keypair_t curve;
    if (s_curve(a->curve_secret, allowed, a->plaintext, &curve) < 0)
        return 2;
    cfg.curve = a->plaintext ? NULL : &curve;
    cfg.allowed_dir = allowed;
    char err[300], shard_user[32];
    jwt_keyring_t *ring = jwt_keyring_load(a->keys_dir, err, sizeof err);
    if (!ring) {
        log_error("%s: set --keys or QUIZ_KEYS_DIR", err);
        curve_keypair_clear(&curve);
        return 2;
    }
    cfg.ring = ring;
    reload_t rl = {argc, argv, ring};
    cfg.reload = s_reload;
    cfg.reload_arg = &rl;
    snprintf(shard_user, sizeof shard_user, "quiz_shard_%d", cfg.shard);
    /* With several clusters, the registry says which one holds this shard's tenants. */
    cfg.clusters = clusters;
    cfg.cluster = clusters->count > 1 ? wk_clusters_of_shard(clusters, cfg.shard, shard_user) : 0;
    if (cfg.cluster < 0) {
        jwt_keyring_destroy(&ring);
        curve_keypair_clear(&curve);
        return 1;
    }
    cfg.dsn = clusters->dsn[cfg.cluster];
    const char *serving = getenv("QUIZ_SERVING_DATABASE_URL");
    const char *provision = getenv("QUIZ_PROVISION_DATABASE_URL");
    if (clusters->count > 1)
        serving = provision = NULL; /* passwords of several clusters: ~/.pgpass */
    cfg.dsn_user = serving && *serving ? NULL : shard_user;
    cfg.provision_user = provision && *provision ? NULL : "quiz_provisioner";
    cfg.provision_dsn = provision && *provision ? provision : cfg.dsn;
    if (serving && *serving)
        cfg.dsn = serving;
    if (!cfg.set_role)
        log_warning("--no-set-role: requests run with shard-level database isolation only");
    lifecycle_init();
    int rc = wk_server_run(&cfg) == 0 ? 0 : 1;
    jwt_keyring_destroy(&ring);
    curve_keypair_clear(&curve);
    return rc;
}

/* After the options: migrate, or serve. The exit status. */
static int s_run(const wk_args_t *a, int argc, char **argv)
{
    log_init("quiz-worker", a->verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
    /* Argon2id takes 19 MiB per hash. A fixed mmap threshold keeps such blocks mmapped and
       returned to the kernel on free; glibc's adaptive threshold would otherwise move them into
       the heap after the first one and keep them resident. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    if (sodium_init() < 0) {
        log_error("could not initialise libsodium");
        return 1;
    }
    const char *dsn = s_dsn();
    if (!dsn) {
        log_error("no database: set QUIZ_DATABASE_URL, DATABASE_URL or NEON_DATABASE_URL");
        return 2;
    }
    wk_clusters_t clusters;
    if (wk_clusters_load(&clusters, dsn, getenv("QUIZ_CLUSTER_URLS")) < 0)
        return 2;
    if (a->migrate) {
        int rc = 2;
        if (a->cfg.shards >= 1)
            rc = wk_migrate_all(&clusters, a->cfg.shards, a->dedicated) == 0 ? 0 : 1;
        else
            s_usage(stderr);
        wk_clusters_clear(&clusters);
        return rc;
    }
    int rc = s_serve(a, argc, argv, dsn, &clusters);
    wk_clusters_clear(&clusters);
    return rc;
}

int main(int argc, char **argv)
{
    wk_args_t a;
    options_result_t parsed = s_parse_args(argc, argv, &a);
    int rc = parsed == OPTIONS_OK ? s_run(&a, argc, argv) : parsed == OPTIONS_HELP ? 0 : 2;
    options_file_free(&a.file);
    return rc;
}
