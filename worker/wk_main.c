/* quiz-worker: parses options, then either applies migrations (--migrate) or serves one shard
 * until SIGTERM. All the work is in wk_server.c and the handlers. */
#include <getopt.h>
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
#include "common/shard.h"
#include "worker/wk_cluster.h"
#include "worker/wk_migrate.h"
#include "worker/wk_server.h"

static void s_usage(FILE *out)
{
    fputs("usage: quiz-worker --shard K --shards S --endpoint ZMQ_ENDPOINT [--threads N]\n"
          "                   [--password-threads N] [--password-share PCT] [--drain-ms MS]\n"
          "                   [--keys DIR] [--spare-schemas N] [--no-set-role] [--verbose]\n"
          "                   [--curve-secret FILE] [--allowed-gateways DIR]\n"
          "                   [--platform-token-file PATH] [--insecure-no-curve]\n"
          "                   [--dedicated K ...] [--tenant-budget N]\n"
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
          "--shards: every shard, dedicated ones included; --dedicated K (repeatable): shard K\n"
          "takes no hashed tenants, only those moved onto it. Give every process the same.\n"
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

static int s_int(const char *text, int min, int max, int *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
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

static int s_serve(wk_server_config_t *cfg_in, const wk_clusters_t *clusters, const bool *dedicated,
                   const char *token_file, const char *curve_secret, const char *allowed,
                   bool plaintext, const char *keys_dir);

int main(int argc, char **argv)
{
    wk_server_config_t cfg = {.shard = -1,
                              .shards = 0,
                              .threads = 2,
                              .slow_threads = 1,
                              .password_share = 10,
                              .drain_ms = 10000,
                              .spare_schemas = 4,
                              .tenant_budget = 1000,
                              .set_role = true};
    bool migrate = false, verbose = false;
    const char *keys_dir = getenv("QUIZ_KEYS_DIR"), *token_file = NULL;
    const char *curve_secret = getenv("QUIZ_CURVE_SECRET");
    const char *allowed = getenv("QUIZ_ALLOWED_GATEWAYS");
    bool plaintext = false;
    static bool dedicated[SHARD_MAX];
    int dedicated_k = 0;
    static const struct option opts[] = {{"shard", required_argument, 0, 'k'},
                                         {"shards", required_argument, 0, 's'},
                                         {"endpoint", required_argument, 0, 'e'},
                                         {"threads", required_argument, 0, 't'},
                                         {"drain-ms", required_argument, 0, 'd'},
                                         {"migrate", no_argument, 0, 'm'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},
                                         {"keys", required_argument, 0, 'K'},
                                         {"no-set-role", no_argument, 0, 'N'},
                                         {"password-threads", required_argument, 0, 'P'},
                                         {"password-share", required_argument, 0, 'H'},
                                         {"spare-schemas", required_argument, 0, 'S'},
                                         {"curve-secret", required_argument, 0, 'C'},
                                         {"allowed-gateways", required_argument, 0, 'A'},
                                         {"platform-token-file", required_argument, 0, 'p'},
                                         {"insecure-no-curve", no_argument, 0, 'U'},
                                         {"dedicated", required_argument, 0, 'D'},
                                         {"tenant-budget", required_argument, 0, 'B'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'k': bad = s_int(optarg, 0, SHARD_MAX - 1, &cfg.shard); break;
        case 's': bad = s_int(optarg, 1, SHARD_MAX, &cfg.shards); break;
        case 'e': cfg.endpoint = optarg; break;
        case 't': bad = s_int(optarg, 1, 64, &cfg.threads); break;
        case 'd': bad = s_int(optarg, 0, 600000, &cfg.drain_ms); break;
        case 'm': migrate = true; break;
        case 'v': verbose = true; break;
        case 'K': keys_dir = optarg; break;
        case 'N': cfg.set_role = false; break;
        case 'P': bad = s_int(optarg, 1, 16, &cfg.slow_threads); break;
        case 'H': bad = s_int(optarg, 1, 100, &cfg.password_share); break;
        case 'S': bad = s_int(optarg, 0, 1000, &cfg.spare_schemas); break;
        case 'C': curve_secret = optarg; break;
        case 'A': allowed = optarg; break;
        case 'p': token_file = optarg; break;
        case 'U': plaintext = true; break;
        case 'B': bad = s_int(optarg, 0, 1000000, &cfg.tenant_budget); break;
        case 'D':
            bad = s_int(optarg, 0, SHARD_MAX - 1, &dedicated_k);
            dedicated[dedicated_k] = !bad;
            break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
        if (bad) {
            fprintf(stderr, "quiz-worker: invalid value \"%s\"\n", optarg);
            return 2;
        }
    }
    log_init("quiz-worker", verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
    /* Argon2id takes 19 MiB per hash. A fixed mmap threshold keeps such blocks mmapped and
       returned to the kernel on free; glibc's adaptive threshold would otherwise move them into
       the heap after the first one and keep them resident. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    if (sodium_init() < 0) {
        log_error("could not initialise libsodium");
        return 1;
    }
    cfg.dsn = s_dsn();
    if (!cfg.dsn) {
        log_error("no database: set QUIZ_DATABASE_URL, DATABASE_URL or NEON_DATABASE_URL");
        return 2;
    }
    wk_clusters_t clusters;
    if (wk_clusters_load(&clusters, cfg.dsn, getenv("QUIZ_CLUSTER_URLS")) < 0)
        return 2;
    if (migrate) {
        int rc = 2;
        if (cfg.shards >= 1)
            rc = wk_migrate_all(&clusters, cfg.shards, dedicated) == 0 ? 0 : 1;
        else
            s_usage(stderr);
        wk_clusters_clear(&clusters);
        return rc;
    }
    int rc =
        s_serve(&cfg, &clusters, dedicated, token_file, curve_secret, allowed, plaintext, keys_dir);
    wk_clusters_clear(&clusters);
    return rc;
}

/* Checks the serving configuration and serves until stopped: 0, 1 (failed), 2 (bad set-up). */
static int s_serve(wk_server_config_t *cfg_in, const wk_clusters_t *clusters, const bool *dedicated,
                   const char *token_file, const char *curve_secret, const char *allowed,
                   bool plaintext, const char *keys_dir)
{
    wk_server_config_t cfg = *cfg_in;
    cfg.dedicated = dedicated;
    if (cfg.shard < 0 || cfg.shards < 1 || cfg.shard >= cfg.shards || !cfg.endpoint) {
        s_usage(stderr);
        return 2;
    }
    platform_token_t platform;
    if (platform_token_load(&platform, token_file) < 0) {
        log_error("no usable platform token: set QUIZ_PLATFORM_TOKEN or --platform-token-file"
                  " (16 to 512 bytes)");
        return 2;
    }
    cfg.platform = &platform;
    curve_keypair_t curve;
    if (s_curve(curve_secret, allowed, plaintext, &curve) < 0)
        return 2;
    cfg.curve = plaintext ? NULL : &curve;
    cfg.allowed_dir = allowed;
    char err[300], shard_user[32];
    jwt_keyring_t *ring = jwt_keyring_load(keys_dir, err, sizeof err);
    if (!ring) {
        log_error("%s: set --keys or QUIZ_KEYS_DIR", err);
        curve_keypair_clear(&curve);
        return 2;
    }
    cfg.ring = ring;
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
