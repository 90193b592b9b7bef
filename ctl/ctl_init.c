/* quizctl init (see ctl_init.h). */
#include "ctl/ctl_init.h"

#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ident.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/shard.h"
#include "ctl/ctl_clusters.h"
#include "worker/wk_db.h"
#include "worker/wk_handle.h"
#include "worker/wk_migrate.h"
#include "worker/wk_tenant.h"

typedef struct {
    ctl_dbs_t dbs; /* the owner's connection per cluster */
    ctl_shard_map_t map;
} fleet_t;

/* The shard map (after the migration made it), each shard's cluster configured. 0 or -1 with
 * err. */
static int s_shard_map(fleet_t *f, char *err, size_t len)
{
    if (ctl_shard_map(ctl_db(&f->dbs, 0), &f->map, err, len) < 0)
        return -1;
    for (int k = 0; k < f->map.shards; k++)
        if (!ctl_db(&f->dbs, f->map.cluster_of[k])) {
            snprintf(err, len, "shard %d is on cluster %d: set QUIZ_CLUSTER_URLS", k,
                     f->map.cluster_of[k]);
            return -1;
        }
    return 0;
}

/* Creates a tenant with the worker's own handler (POST /api/tenants as shard `shard`'s worker
 * runs it; shard < 0: placed as the gateway places a new tenant). The handler's
 * answer (tenant_id, admin_email, temp_password, shard) or NULL with err. */
static json_t *s_create(fleet_t *f, const char *name, const char *email, int shard, char *err,
                        size_t len)
{
    proto_request_t req = {
        .op = PROTO_OP_TENANT_CREATE, .role = PROTO_ROLE_PLATFORM, .has_tenant = true};
    ident_uuid_random(req.request_id);
    ident_uuid_random(req.tenant);
    snprintf(req.client, sizeof req.client, "quizctl init");
    if (shard < 0)
        shard = shard_place(req.tenant, f->map.dedicated, f->map.shards);
    if (shard < 0) {
        snprintf(err, len, "every shard is dedicated: no shard takes a new tenant");
        return NULL;
    }
    json_t *body = json_pack("{s:s, s:s}", "tenant_name", name, "owner_email", email);
    req.body = json_dumps(body, JSON_COMPACT);
    req.body_len = strlen(req.body);
    json_decref(body);
    wk_ctx_t ctx = {.admin = ctl_db(&f->dbs, f->map.cluster_of[shard]),
                    .registry_admin = ctl_db(&f->dbs, 0),
                    .shard = shard,
                    .shards = f->map.shards,
                    .dedicated = f->map.dedicated};
    ctx.db = ctx.admin;
    ctx.registry = ctx.registry_admin;
    proto_reply_t rep = {0};
    /* The handler itself: the caller's right is the database login, not a platform token. */
    wk_tenant_create(&ctx, &req, &rep);
    json_t *out = NULL;
    if (rep.status == PROTO_STATUS_CREATED && rep.body)
        out = json_loads(rep.body, 0, NULL);
    if (!out)
        snprintf(err, len, "create tenant \"%s\": %s", name, rep.detail ? rep.detail : "failed");
    proto_reply_clear(&rep);
    free(req.body);
    return out;
}

/* The sample tenants "Sample tenant 1".."N" that are missing, created: their answers appended
 * to out (temporary passwords included: the operator's only copy). 0 or -1 with err. */
static int s_samples(fleet_t *f, int n, json_t *out, char *err, size_t len)
{
    for (int i = 1; i <= n; i++) {
        char name[64], email[96], *have;
        snprintf(name, sizeof name, "Sample tenant %d", i);
        snprintf(email, sizeof email, "admin@sample-%d.example", i);
        const char *v[1] = {name};
        PGresult *res =
            ctl_query(ctl_db(&f->dbs, 0), "registry",
                      "SELECT id::text FROM quiz.tenants WHERE name = $1", 1, v, err, len);
        if (!res)
            return -1;
        have = PQntuples(res) ? mem_strdup(PQgetvalue(res, 0, 0)) : NULL;
        PQclear(res);
        json_t *t = have ? json_pack("{s:s, s:s, s:b}", "tenant_id", have, "tenant_name", name,
                                     "existed", 1)
                         : s_create(f, name, email, -1, err, len);
        free(have);
        if (!t)
            return -1;
        json_array_append_new(out, t);
    }
    return 0;
}

/* As tenant `as`'s role (entered as provisioning does), counts the users of `of`'s schema: the
 * count, or -1 with the SQLSTATE of the refusal in state. */
static long s_read_users(wk_db_t *db, const uint8_t as[16], const uint8_t of[16], char state[6])
{
    char schema[IDENT_SCHEMA_LEN + 1];
    ident_schema_name(of, schema);
    char *sql = mem_printf("SELECT count(*) FROM %s.users", schema); /* from a UUID only */
    wk_tx_t tx;
    PGresult *res = NULL;
    state[0] = '\0';
    if (wk_tx_begin(&tx, db, NULL, 0) == 0 && wk_tx_schema(&tx, as, WK_SCHEMA_ENTER, -1) == 0)
        res = wk_tx_exec(&tx, sql, 0, NULL);
    long n = res ? atol(PQgetvalue(res, 0, 0)) : -1;
    if (!res)
        snprintf(state, 6, "%s", tx.sqlstate);
    PQclear(res);
    free(sql);
    wk_tx_end(&tx); /* rolled back: the membership ENTER granted goes with it */
    return n;
}

/* Drops a self-test tenant: registry row, schema and role, in one transaction (shard 0 is on
 * the control cluster). */
static int s_drop(fleet_t *f, const uint8_t id[16], const char *id_text)
{
    wk_tx_t tx;
    const char *v[1] = {id_text};
    PGresult *res = NULL;
    if (wk_tx_begin(&tx, ctl_db(&f->dbs, 0), NULL, 0) == 0 &&
        (res = wk_tx_exec(&tx, "DELETE FROM quiz.tenants WHERE id = $1", 1, v)))
        PQclear(res);
    int rc =
        res && wk_tx_schema(&tx, id, WK_SCHEMA_DROP, -1) == 0 && wk_tx_commit(&tx) == 0 ? 0 : -1;
    wk_tx_end(&tx);
    return rc;
}

/* The isolation self-test; its checks appended to checks. 0 when every one held. */
static int s_isolation(fleet_t *f, json_t *checks, char *err, size_t len)
{
    if (f->map.cluster_of[0] != 0) {
        snprintf(err, len, "shard 0 is not on the control cluster");
        return -1;
    }
    json_t *t[2] = {NULL, NULL};
    uint8_t id[2][16];
    int rc = -1;
    for (int i = 0; i < 2; i++) {
        char name[64], email[96];
        snprintf(name, sizeof name, "Isolation self-test %c", 'A' + i);
        snprintf(email, sizeof email, "self-test@isolation-%c.example", 'a' + i);
        /* Both on shard 0, whose login is a member of both roles: only the binding of each
           transaction to one tenant's role keeps them apart, which is what is tested. */
        if (!(t[i] = s_create(f, name, email, 0, err, len)))
            goto out;
        const char *text = json_string_value(json_object_get(t[i], "tenant_id"));
        if (ident_uuid_parse(text, strlen(text), id[i]) < 0) {
            snprintf(err, len, "created tenant has no id");
            goto out;
        }
    }
    rc = 0;
    log_init("quizctl", LOG_LEVEL_ERROR); /* the refusals below are expected: not warnings */
    for (int i = 0; i < 2; i++) {
        char state[6];
        long own = s_read_users(ctl_db(&f->dbs, 0), id[i], id[i], state);
        long other = s_read_users(ctl_db(&f->dbs, 0), id[i], id[1 - i], state);
        bool refused = other < 0 && strcmp(state, "42501") == 0;
        char what[96];
        snprintf(what, sizeof what, "tenant %c reads its own users", 'A' + i);
        json_array_append_new(checks, json_pack("{s:s, s:b}", "check", what, "ok", own == 1));
        snprintf(what, sizeof what, "tenant %c is refused tenant %c's users", 'A' + i, 'B' - i);
        json_array_append_new(
            checks, json_pack("{s:s, s:b, s:s}", "check", what, "ok", refused, "sqlstate", state));
        if (own != 1 || !refused)
            rc = -1;
    }
    log_init("quizctl", LOG_LEVEL_INFO);
    if (rc < 0)
        snprintf(err, len, "tenants are NOT isolated: see the checks");
out:
    for (int i = 0; i < 2; i++) {
        if (!t[i])
            continue;
        const char *text = json_string_value(json_object_get(t[i], "tenant_id"));
        if (s_drop(f, id[i], text) < 0 && rc == 0) {
            snprintf(err, len, "could not drop self-test tenant %s", text);
            rc = -1;
        }
        json_decref(t[i]);
    }
    return rc;
}

static int s_usage(FILE *out, int rc)
{
    fputs("usage: quizctl init [--shards S] [--sample-tenants N] [--json]\n"
          "Makes the configured clusters ready for the service: shared schema, service roles\n"
          "and shard map up to date (S shards: 2, or as many as the map has), every tenant\n"
          "schema migrated. Then creates the sample tenants \"Sample tenant 1\"..N that are\n"
          "missing, each with an admin (its temporary password printed once), and runs the\n"
          "isolation self-test: two throwaway tenants, a user in each, each tenant's reads of\n"
          "the other's refused by PostgreSQL; they are dropped afterwards. Safe to re-run.\n"
          "Exit 1 naming what failed, 2 on bad usage.\n",
          out);
    return rc;
}

int ctl_init(int argc, char **argv)
{
    int shards = 0, samples = 0;
    bool json = false;
    char *end;
    static const struct option opts[] = {{"shards", required_argument, 0, 's'},
                                         {"sample-tenants", required_argument, 0, 'n'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            shards = (int)strtol(optarg, &end, 10);
            if (*end || shards < 1 || shards > SHARD_MAX)
                return s_usage(stderr, 2);
            break;
        case 'n':
            samples = (int)strtol(optarg, &end, 10);
            if (*end || samples < 0 || samples > 1000)
                return s_usage(stderr, 2);
            break;
        case 'j': json = true; break;
        case 'h': return s_usage(stdout, 0);
        default: return s_usage(stderr, 2);
        }
    }
    if (optind != argc)
        return s_usage(stderr, 2);
    if (sodium_init() < 0)
        return 1;
    ctl_clusters_t cl;
    if (ctl_clusters_load(&cl, "quizctl init") < 0)
        return 2;
    fleet_t f = {.dbs = {.cl = &cl}};
    wk_clusters_t clusters = {0};
    for (int i = 0; i < cl.count && i < WK_CLUSTERS_MAX; i++)
        clusters.dsn[clusters.count++] = (char *)cl.url[i];
    char err[1024] = "";
    const char *step = "shared schema and roles";
    json_t *tenants = json_array(), *checks = json_array();
    /* The shard count: the option, else the map's, else 2. */
    if (!shards && s_shard_map(&f, err, sizeof err) == 0)
        shards = f.map.shards;
    if (!shards)
        shards = 2;
    err[0] = '\0';
    int rc = 1;
    /* The migration's report goes to stderr: stdout is init's own (one JSON line with --json). */
    fflush(stdout);
    int saved = dup(1);
    dup2(2, 1);
    int migrated = wk_migrate_all(&clusters, shards, NULL);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    if (migrated < 0) {
        snprintf(err, sizeof err, "quiz-worker --migrate's steps failed (logged above)");
        goto out;
    }
    if (s_shard_map(&f, err, sizeof err) < 0)
        goto out;
    step = "sample tenants";
    if (s_samples(&f, samples, tenants, err, sizeof err) < 0)
        goto out;
    step = "isolation self-test";
    if (s_isolation(&f, checks, err, sizeof err) < 0)
        goto out;
    rc = 0;
out:
    if (json) {
        json_t *doc = json_pack("{s:b, s:i, s:i, s:O, s:{s:b, s:O}}", "ok", rc == 0, "clusters",
                                cl.count, "shards", f.map.shards, "sample_tenants", tenants,
                                "isolation", "ok", rc == 0, "checks", checks);
        if (rc)
            json_object_set_new(doc, "error", json_sprintf("%s: %s", step, err));
        ctl_json_line(stdout, doc);
        json_decref(doc);
    } else {
        printf("shared schema and roles: up to date on %d cluster(s), %d shards\n", cl.count,
               f.map.shards);
        size_t i;
        json_t *t;
        json_array_foreach (tenants, i, t) {
            if (json_object_get(t, "existed"))
                printf("sample tenant %s: \"%s\" (there already)\n",
                       json_string_value(json_object_get(t, "tenant_id")),
                       json_string_value(json_object_get(t, "tenant_name")));
            else
                printf("sample tenant %s: \"%s\" on shard %lld, admin %s, temporary password %s\n",
                       json_string_value(json_object_get(t, "tenant_id")),
                       json_string_value(json_object_get(t, "tenant_name")),
                       (long long)json_integer_value(json_object_get(t, "shard")),
                       json_string_value(json_object_get(t, "admin_email")),
                       json_string_value(json_object_get(t, "temp_password")));
        }
        json_array_foreach (checks, i, t)
            printf("isolation self-test: %s: %s\n", json_string_value(json_object_get(t, "check")),
                   json_is_true(json_object_get(t, "ok")) ? "yes" : "NO");
        if (rc)
            fprintf(stderr, "quizctl init: %s: %s\n", step, err);
        else
            printf("isolation self-test: passed\n");
    }
    json_decref(tenants);
    json_decref(checks);
    ctl_dbs_close(&f.dbs);
    ctl_clusters_clear(&cl);
    return rc;
}
