/* quiz-worker: parses options, then either applies migrations (--migrate) or serves one shard
 * until SIGTERM. All the work is in wk_server.c and the handlers. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/lifecycle.h"
#include "common/log.h"
#include "common/shard.h"
#include "worker/wk_migrate.h"
#include "worker/wk_server.h"

static void s_usage(FILE *out)
{
    fputs("usage: quiz-worker --shard K --shards S --endpoint ZMQ_ENDPOINT [--threads N]\n"
          "                   [--drain-ms MS] [--verbose]\n"
          "       quiz-worker --migrate\n"
          "The database is named by $QUIZ_DATABASE_URL, $DATABASE_URL or $NEON_DATABASE_URL\n"
          "(a libpq URI or key=value string; sslmode=require is honoured).\n",
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

int main(int argc, char **argv)
{
    wk_server_config_t cfg = {.shard = -1, .shards = 0, .threads = 4, .drain_ms = 10000};
    bool migrate = false, verbose = false;
    static const struct option opts[] = {
        {"shard", required_argument, 0, 'k'},   {"shards", required_argument, 0, 's'},
        {"endpoint", required_argument, 0, 'e'}, {"threads", required_argument, 0, 't'},
        {"drain-ms", required_argument, 0, 'd'}, {"migrate", no_argument, 0, 'm'},
        {"verbose", no_argument, 0, 'v'},        {"help", no_argument, 0, 'h'},
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
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
        if (bad) {
            fprintf(stderr, "quiz-worker: invalid value \"%s\"\n", optarg);
            return 2;
        }
    }
    log_init("quiz-worker", verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
    if (sodium_init() < 0) {
        log_error("could not initialise libsodium");
        return 1;
    }
    cfg.dsn = s_dsn();
    if (!cfg.dsn) {
        log_error("no database: set QUIZ_DATABASE_URL, DATABASE_URL or NEON_DATABASE_URL");
        return 2;
    }
    if (migrate)
        return wk_migrate_all(cfg.dsn) == 0 ? 0 : 1;
    if (cfg.shard < 0 || cfg.shards < 1 || cfg.shard >= cfg.shards || !cfg.endpoint) {
        s_usage(stderr);
        return 2;
    }
    lifecycle_init();
    return wk_server_run(&cfg) == 0 ? 0 : 1;
}
