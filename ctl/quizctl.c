/* quizctl: the operator's tool. One table of subcommands; each parses its own options and
 * exits non-zero, naming what failed: `keygen` (the CurveZMQ keys of the worker link),
 * `check` (the database clusters, ctl_check.c), `init` (a database made ready, ctl_init.c),
 * `monitor` (what the tenants do to the catalog, ctl_monitor.c), `tenants` (the platform API,
 * ctl_tenants.c), `migrate` (fleet migrations, ctl_migrate.c), `tenant export|import` (one tenant's
 * archive, ctl_export.c, ctl_import.c), `backup` (every tenant's, ctl_backup.c). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/curve.h"
#include "ctl/ctl_backup.h"
#include "ctl/ctl_check.h"
#include "ctl/ctl_export.h"
#include "ctl/ctl_import.h"
#include "ctl/ctl_init.h"
#include "ctl/ctl_monitor.h"
#include "ctl/ctl_migrate.h"
#include "ctl/ctl_tenants.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} ctl_command_t;

static int s_keygen_usage(FILE *out, int rc)
{
    fputs("usage: quizctl keygen [--dir DIR] [--json] NAME\n"
          "Writes a new CurveZMQ keypair: DIR/NAME.secret (mode 0600, for the process that\n"
          "owns the key) and DIR/NAME.pub (its public key, to hand out). DIR defaults to the\n"
          "current directory and is created (0700) if missing; existing keys are never\n"
          "overwritten. The worker link needs one keypair for the workers (its .pub goes to\n"
          "every gateway's --worker-key) and one per gateway (its .pub goes into every\n"
          "worker's --allowed-gateways directory).\n",
          out);
    return rc;
}

static int s_keygen(int argc, char **argv)
{
    const char *dir = ".";
    bool json = false;
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 'j': json = true; break;
        case 'h': return s_keygen_usage(stdout, 0);
        default: return s_keygen_usage(stderr, 2);
        }
    }
    if (optind != argc - 1)
        return s_keygen_usage(stderr, 2);
    const char *name = argv[optind];
    struct stat st;
    if (stat(dir, &st) < 0 && mkdir(dir, 0700) < 0) {
        fprintf(stderr, "quizctl keygen: cannot create %s\n", dir);
        return 1;
    }
    curve_keypair_t kp;
    char err[4200];
    if (curve_keypair_generate(dir, name, &kp, err, sizeof err) < 0) {
        fprintf(stderr, "quizctl keygen: %s\n", err);
        return 1;
    }
    if (json)
        printf("{\"name\":\"%s\",\"public_key\":\"%s\",\"public_file\":\"%s/%s.pub\","
               "\"secret_file\":\"%s/%s.secret\"}\n",
               name, kp.public_key, dir, name, dir, name);
    else
        printf("%s/%s.pub %s\n", dir, name, kp.public_key);
    curve_keypair_clear(&kp);
    return 0;
}

/* quizctl tenant export|import: one tenant's archive out and back in. */
static int s_tenant(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "export") == 0)
        return ctl_export(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "import") == 0)
        return ctl_import(argc - 1, argv + 1);
    FILE *out = argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr;
    fputs("usage: quizctl tenant export ID > FILE | quizctl tenant import FILE [--as NEW_ID]\n"
          "(quizctl tenant export --help, quizctl tenant import --help for their options)\n",
          out);
    return out == stdout ? 0 : 2;
}

static const ctl_command_t s_commands[] = {
    {"keygen", s_keygen, "make a CurveZMQ keypair for a worker or gateway"},
    {"check", ctl_check, "check every database cluster: reachable, TLS, privileges, wal_level"},
    {"init", ctl_init, "shared schema and roles, sample tenants, the isolation self-test"},
    {"monitor", ctl_monitor, "tenant schemas per cluster: drift, sizes, relations, catalog"},
    {"tenants", ctl_tenants,
     "list, show, create, delete, suspend, resume, restore, move, rebalance (platform API)"},
    {"migrate", ctl_migrate, "fleet migrations: every tenant schema to the newest version"},
    {"tenant", s_tenant, "export one tenant to an archive, import one from it"},
    {"backup", ctl_backup, "export every tenant to a directory, in parallel, resumable"},
};

static int s_usage(FILE *out, int rc)
{
    fputs("usage: quizctl COMMAND [OPTIONS]   (quizctl COMMAND --help for its options)\n", out);
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        fprintf(out, "  %-10s %s\n", s_commands[i].name, s_commands[i].summary);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return s_usage(stderr, 2);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)
        return s_usage(stdout, 0);
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (strcmp(argv[1], s_commands[i].name) == 0)
            return s_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "quizctl: unknown command \"%s\"\n", argv[1]);
    return s_usage(stderr, 2);
}
