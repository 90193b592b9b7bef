/* quizctl check: is every configured database cluster reachable and set up as the service
 * needs? Per cluster: server version, TLS, round-trip time, the connecting role's privileges
 * for --migrate, the shared schema and the service's roles, wal_level (cross-cluster moves need
 * logical) and whether a transaction-mode pooler sits in front. Every problem comes with the
 * command that fixes it. Passwords are never printed: a cluster is named by host, port and
 * database. */
#include "ctl/ctl_check.h"

#include <getopt.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "ctl/ctl_clusters.h"

#define RTT_SAMPLES 5

static int s_usage(FILE *out, int rc)
{
    fputs("usage: quizctl check [--json]\n"
          "Connects to every configured cluster ($QUIZ_DATABASE_URL, $DATABASE_URL or\n"
          "$NEON_DATABASE_URL, then each of $QUIZ_CLUSTER_URLS, comma-separated) and reports\n"
          "server version, TLS, round-trip time, the privileges --migrate needs, the shared\n"
          "schema and the service's roles, wal_level and whether a transaction-mode pooler is\n"
          "in front; each problem with the command that fixes it. Exits 1 if any cluster has a\n"
          "problem, 2 on bad usage.\n",
          out);
    return rc;
}

/* One cell of a one-row query ("" on error or no row); the caller frees. */
static char *s_value(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    char *v = mem_strdup(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                                 !PQgetisnull(r, 0, 0)
                             ? PQgetvalue(r, 0, 0)
                             : "");
    PQclear(r);
    return v;
}

static double s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median time of a trivial query, in ms. */
static double s_rtt_ms(PGconn *c)
{
    double t[RTT_SAMPLES];
    for (int i = 0; i < RTT_SAMPLES; i++) {
        double start = s_now_ms();
        PQclear(PQexec(c, "SELECT 1"));
        t[i] = s_now_ms() - start;
    }
    qsort(t, RTT_SAMPLES, sizeof t[0], s_cmp_double);
    return t[RTT_SAMPLES / 2];
}

/* Whether consecutive transactions ran on different backends: only a pooler in transaction
 * (or statement) mode hands one client connection several server connections. */
static bool s_pooled(PGconn *c)
{
    char *first = s_value(c, "SELECT pg_backend_pid()");
    bool other = false;
    for (int i = 0; i < 8 && !other && *first; i++) {
        char *pid = s_value(c, "SELECT pg_backend_pid()");
        other = strcmp(pid, first) != 0;
        free(pid);
    }
    free(first);
    return other;
}

static void s_problem(json_t *problems, const char *what, const char *fix)
{
    json_array_append_new(problems, json_pack("{s:s, s:s}", "problem", what, "fix", fix));
}

/* Everything about one cluster, as a JSON object with "problems". */
static json_t *s_check_cluster(int index, const char *url, int count, void *arg)
{
    bool several = count > 1;
    PGconn *c = ctl_cluster_connect(url);
    json_t *out = json_pack("{s:i}", "cluster", index), *problems = json_array();
    json_object_set_new(out, "problems", problems);
    if (PQstatus(c) != CONNECTION_OK) {
        /* libpq's message names host and port, never the password. */
        char what[600];
        snprintf(what, sizeof what, "cannot connect: %.*s", (int)strcspn(PQerrorMessage(c), "\n"),
                 PQerrorMessage(c));
        s_problem(problems, what,
                  "check the URL's host, port, database and user (pg_isready -d URL), and the"
                  " password in it, PGPASSWORD or ~/.pgpass");
        json_object_set_new(out, "reachable", json_false());
        PQfinish(c);
        return out;
    }
    const char *host = PQhost(c);
    bool local = !host || host[0] == '/' || strcmp(host, "localhost") == 0 ||
                 strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0;
    char where[300];
    snprintf(where, sizeof where, "%s:%s/%s", host && *host ? host : "(socket)", PQport(c),
             PQdb(c));
    json_object_set_new(out, "where", json_string(where));
    json_object_set_new(out, "reachable", json_true());
    int version = PQserverVersion(c);
    json_object_set_new(out, "server_version",
                        json_string(PQparameterStatus(c, "server_version")
                                        ? PQparameterStatus(c, "server_version")
                                        : "?"));
    if (version < 130000)
        s_problem(problems, "PostgreSQL older than 13",
                  "upgrade the server to PostgreSQL 13 or later");
    bool tls = PQsslInUse(c) != 0;
    json_object_set_new(out, "tls", json_boolean(tls));
    if (!tls && !local)
        s_problem(problems, "the connection to a remote server is not encrypted",
                  "add sslmode=require (or verify-full) to the URL");
    json_object_set_new(out, "rtt_ms", json_real(s_rtt_ms(c)));
    /* What --migrate does: create roles, the shared schema and one schema per tenant. */
    char *user = s_value(c, "SELECT current_user");
    char *super = s_value(c, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user");
    char *createrole =
        s_value(c, "SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user");
    char *createdb = s_value(c, "SELECT has_database_privilege(current_database(), 'CREATE')");
    json_object_set_new(out, "user", json_string(user));
    json_object_set_new(out, "privileges",
                        json_pack("{s:b, s:b, s:b}", "superuser", strcmp(super, "t") == 0,
                                  "create_role", strcmp(createrole, "t") == 0, "create_on_database",
                                  strcmp(createdb, "t") == 0));
    char fix[400];
    if (strcmp(createrole, "t") != 0) {
        snprintf(fix, sizeof fix, "as an administrator: ALTER ROLE \"%s\" CREATEROLE", user);
        s_problem(problems, "the role cannot create roles (--migrate creates the service's)", fix);
    }
    if (strcmp(createdb, "t") != 0) {
        char *db = s_value(c, "SELECT current_database()");
        snprintf(fix, sizeof fix,
                 "as the database owner: GRANT CREATE ON DATABASE \"%s\" TO \"%s\"", db, user);
        free(db);
        s_problem(problems, "the role cannot create schemas in this database", fix);
    }
    /* Set up by --migrate: the shared schema and the roles the daemons log in as. */
    char *migrations = s_value(c, "SELECT count(*) FROM pg_namespace n, pg_class t"
                                  " WHERE n.nspname = 'quiz' AND t.relnamespace = n.oid"
                                  " AND t.relname = 'schema_migrations'");
    char *applied = strcmp(migrations, "1") == 0
                        ? s_value(c, "SELECT count(*) FROM quiz.schema_migrations")
                        : mem_strdup("0");
    json_object_set_new(out, "shared_migrations_applied", json_integer(atoi(applied)));
    char *roles = s_value(c, "SELECT count(*) FROM pg_roles WHERE rolname = 'quiz_provisioner'"
                             " OR rolname LIKE 'quiz\\_shard\\_%'");
    json_object_set_new(out, "service_roles", json_integer(atoi(roles)));
    if (atoi(applied) == 0 || atoi(roles) < 2)
        s_problem(problems, "the shared schema or the service's roles are missing",
                  "quiz-worker --migrate --shards S (with this cluster's URL)");
    char *wal = s_value(c, "SHOW wal_level");
    json_object_set_new(out, "wal_level", json_string(wal));
    if (several && strcmp(wal, "logical") != 0)
        s_problem(problems,
                  "wal_level is not logical: tenants cannot be moved to or from this cluster",
                  "ALTER SYSTEM SET wal_level = logical; then restart the server");
    json_object_set_new(out, "transaction_pooler", json_boolean(s_pooled(c)));
    free(user);
    free(super);
    free(createrole);
    free(createdb);
    free(migrations);
    free(applied);
    free(roles);
    free(wal);
    PQfinish(c);
    return out;
}

static bool s_fine(const json_t *cl)
{
    return json_array_size(json_object_get(cl, "problems")) == 0;
}

static void s_print_text(const json_t *cl)
{
    const char *where = json_string_value(json_object_get(cl, "where"));
    printf("cluster %lld: %s\n", (long long)json_integer_value(json_object_get(cl, "cluster")),
           where ? where : "unreachable");
    if (json_is_true(json_object_get(cl, "reachable"))) {
        const json_t *p = json_object_get(cl, "privileges");
        printf("  PostgreSQL %s, TLS %s, round trip %.2f ms, wal_level %s, transaction pooler %s\n",
               json_string_value(json_object_get(cl, "server_version")),
               json_is_true(json_object_get(cl, "tls")) ? "on" : "off",
               json_real_value(json_object_get(cl, "rtt_ms")),
               json_string_value(json_object_get(cl, "wal_level")),
               json_is_true(json_object_get(cl, "transaction_pooler")) ? "yes" : "no");
        printf("  as %s: superuser %s, create role %s, create schema %s; %lld shared migrations,"
               " %lld service roles\n",
               json_string_value(json_object_get(cl, "user")),
               json_is_true(json_object_get(p, "superuser")) ? "yes" : "no",
               json_is_true(json_object_get(p, "create_role")) ? "yes" : "no",
               json_is_true(json_object_get(p, "create_on_database")) ? "yes" : "no",
               (long long)json_integer_value(json_object_get(cl, "shared_migrations_applied")),
               (long long)json_integer_value(json_object_get(cl, "service_roles")));
    }
    size_t i;
    json_t *pr;
    json_array_foreach (json_object_get(cl, "problems"), i, pr)
        printf("  PROBLEM: %s\n    fix: %s\n", json_string_value(json_object_get(pr, "problem")),
               json_string_value(json_object_get(pr, "fix")));
}

int ctl_check(int argc, char **argv)
{
    bool json = false;
    static const struct option opts[] = {
        {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'h': return s_usage(stdout, 0);
        default: return s_usage(stderr, 2);
        }
    }
    if (optind != argc)
        return s_usage(stderr, 2);
    ctl_cluster_job_t job = {s_check_cluster, s_fine, s_print_text, NULL};
    int rc = ctl_clusters_each("quizctl check", json, &job);
    if (!json && rc < 2)
        puts(rc == 0 ? "check: every cluster is ready" : "check: problems found (see above)");
    return rc;
}
