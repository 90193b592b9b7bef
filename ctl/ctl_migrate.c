/* quizctl migrate: the fleet runner the workers' --migrate uses (worker/wk_fleet.c), on the
 * clusters quizctl is configured with, with its options and a progress bar on a terminal. */
#include "ctl/ctl_migrate.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ctl/ctl_clusters.h"
#include "worker/wk_fleet.h"

static int s_usage(FILE *out, int rc)
{
    fputs("usage: quizctl migrate [--jobs N] [--dir DIR] [--dry-run] [--status]\n"
          "                       [--allow-contract] [--json]\n"
          "Brings every tenant schema, on every cluster, to the newest registered tenant\n"
          "migration: one transaction per tenant with lock_timeout (100 ms, doubled over 5\n"
          "tries), --jobs at once (4; fewer when a cluster has fewer free connections). Each\n"
          "tenant's version is recorded in the registry: a failed tenant is named and the\n"
          "others go on; a re-run resumes, and costs nothing for tenants already there.\n"
          "--dir: register the new NNN_name.sql files of DIR first (appended only; a\n"
          "registered file may not change; one that drops, renames, retypes or tightens is\n"
          "refused unless its first line is \"-- contract\": README \"Fleet migrations\").\n"
          "--allow-contract: run pending contract migrations (only once no serving version\n"
          "uses what they remove). --dry-run: say what would change. --status: tenants per\n"
          "version and how many failed. Progress: a bar on a terminal, lines otherwise.\n"
          "Exit 1 when a tenant failed or the run was refused, 2 on bad usage.\n",
          out);
    return rc;
}

int ctl_migrate(int argc, char **argv)
{
    wk_fleet_opts_t o = {.jobs = 4, .progress = isatty(2) ? WK_FLEET_BAR : WK_FLEET_LINES};
    static const struct option opts[] = {
        {"jobs", required_argument, 0, 'j'},     {"dir", required_argument, 0, 'd'},
        {"dry-run", no_argument, 0, 'n'},        {"status", no_argument, 0, 's'},
        {"allow-contract", no_argument, 0, 'c'}, {"json", no_argument, 0, 'J'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            o.jobs = (int)strtol(optarg, &end, 10);
            if (*end || o.jobs < 1 || o.jobs > 64)
                return s_usage(stderr, 2);
            break;
        case 'd': o.dir = optarg; break;
        case 'n': o.dry_run = true; break;
        case 's': o.status = true; break;
        case 'c': o.allow_contract = true; break;
        case 'J': o.json = true; break;
        case 'h': return s_usage(stdout, 0);
        default: return s_usage(stderr, 2);
        }
    }
    if (optind != argc)
        return s_usage(stderr, 2);
    ctl_clusters_t cl;
    if (ctl_clusters_load(&cl, "quizctl migrate") < 0)
        return 2;
    wk_clusters_t clusters = {0};
    for (int i = 0; i < cl.count && i < WK_CLUSTERS_MAX; i++)
        clusters.dsn[clusters.count++] = (char *)cl.url[i];
    int rc = wk_fleet_run(&clusters, &o);
    ctl_clusters_clear(&cl);
    return rc;
}
