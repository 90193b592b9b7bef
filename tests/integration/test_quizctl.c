/* quizctl check against real clusters: the test database (and the second cluster, when there
 * is one) reported ready with their facts; a URL that cannot connect, and a role without the
 * privileges --migrate needs, reported as problems with their fixes and a non-zero exit; no
 * password ever printed. quizctl tenants through a real gateway; quizctl init on an empty
 * database of its own. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/ident.h"
#include "tests/helpers/cmd.h"
#include "tests/helpers/db.h"
#include "tests/helpers/stack.h"

/* Runs `quizctl check --json` with the given database URLs. */
static int s_check(const char *url, const char *more, json_t **doc, char *out, size_t len)
{
    char cmd[4608];
    snprintf(cmd, sizeof cmd,
             "QUIZ_DATABASE_URL='%s' QUIZ_CLUSTER_URLS='%s' %s/quizctl check --json", url,
             more ? more : "", getenv("QUIZ_BIN_DIR"));
    return cmd_run(cmd, out, len, doc);
}

Test(quizctl, check_reports_a_ready_cluster_and_its_facts)
{
    const char *second = getenv("QUIZ_TEST_SECOND_CLUSTER_URL");
    json_t *doc;
    char out[16384];
    int rc = s_check(getenv("QUIZ_TEST_DATABASE_URL"), second, &doc, out, sizeof out);
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(json_is_true(json_object_get(doc, "ok")), "%s", out);
    json_t *clusters = json_object_get(doc, "clusters");
    cr_assert_eq(json_array_size(clusters), second && *second ? 2 : 1, "%s", out);
    json_t *c = json_array_get(clusters, 0);
    char *version = db_value("SHOW server_version", NULL, NULL);
    cr_expect_str_eq(json_string_value(json_object_get(c, "server_version")), version);
    free(version);
    cr_expect_str_eq(json_string_value(json_object_get(c, "wal_level")), "logical");
    cr_expect(json_is_false(json_object_get(c, "tls")), "a local test cluster has no TLS");
    cr_expect(json_is_false(json_object_get(c, "transaction_pooler")), "%s", out);
    cr_expect_gt(json_integer_value(json_object_get(c, "shared_migrations_applied")), 5);
    cr_expect_geq(json_integer_value(json_object_get(c, "service_roles")), 3);
    cr_expect_gt(json_real_value(json_object_get(c, "rtt_ms")), 0);
    cr_expect(json_is_true(json_object_get(json_object_get(c, "privileges"), "create_role")));
    json_decref(doc);
}

Test(quizctl, check_names_a_cluster_it_cannot_reach_and_never_its_password)
{
    json_t *doc;
    char out[16384];
    int rc = s_check("postgresql://nobody:s3cret-pw@127.0.0.1:1/none", NULL, &doc, out, sizeof out);
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(json_is_false(json_object_get(doc, "ok")));
    json_t *c = json_array_get(json_object_get(doc, "clusters"), 0);
    cr_expect(json_is_false(json_object_get(c, "reachable")));
    const char *what = json_string_value(
        json_object_get(json_array_get(json_object_get(c, "problems"), 0), "problem"));
    cr_expect(what && strstr(what, "cannot connect"), "%s", out);
    cr_expect(strstr(out, "s3cret-pw") == NULL, "the password is printed: %s", out);
    json_decref(doc);
}

Test(quizctl, check_names_missing_privileges_with_the_grant_that_fixes_them)
{
    /* A login that may do nothing but connect. */
    cr_assert_eq(db_exec("DROP ROLE IF EXISTS quizctl_weak"), 0);
    cr_assert_eq(db_exec("CREATE ROLE quizctl_weak LOGIN PASSWORD 'weak-pass-123'"), 0);
    char *db = db_value("SELECT current_database()", NULL, NULL);
    char url[2048];
    const char *base = getenv("QUIZ_TEST_DATABASE_URL");
    /* The test URL names host, port and database; user and password follow as parameters. */
    snprintf(url, sizeof url, "%s%suser=quizctl_weak&password=weak-pass-123", base,
             strchr(base, '?') ? "&" : "?");
    json_t *doc;
    char out[16384];
    int rc = s_check(url, NULL, &doc, out, sizeof out);
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "ALTER ROLE \\\"quizctl_weak\\\" CREATEROLE"), "%s", out);
    cr_expect(strstr(out, "GRANT CREATE ON DATABASE"), "%s", out);
    cr_expect(strstr(out, "weak-pass-123") == NULL, "the password is printed: %s", out);
    json_decref(doc);
    free(db);
    db_exec("DROP ROLE quizctl_weak");
}

/* ---- quizctl tenants, through a real gateway ---- */

static qstack_t S;

static void setup_stack(void)
{
    stack_suite_init(&S);
}
static void teardown_stack(void)
{
    stack_suite_fini(&S);
}

TestSuite(quizctl_tenants, .init = setup_stack, .fini = teardown_stack, .timeout = 60);

/* Runs `quizctl tenants ARGS` against the stack with `token`; its exit status and output. */
static int s_tenants(const char *token, const char *args, char *out, size_t len)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "QUIZ_URL='%s' QUIZ_PLATFORM_TOKEN='%s' %s/quizctl tenants %s 2>&1",
             S.url, token, getenv("QUIZ_BIN_DIR"), args);
    return cmd_run(cmd, out, len, NULL);
}

Test(quizctl_tenants, create_list_show_suspend_resume_delete_restore_as_the_api_does)
{
    char out[65536], args[512], name[64], id[37] = "";
    snprintf(name, sizeof name, "Ctl %08x", randombytes_random());
    snprintf(args, sizeof args, "create --name '%s' --owner-email owner@ctl.example --json", name);
    cr_assert_eq(s_tenants(S.token, args, out, sizeof out), 0, "%s", out);
    json_t *created = json_loads(out, 0, NULL);
    cr_assert(created, "%s", out);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(created, "tenant_id")));
    cr_expect(json_string_value(json_object_get(created, "temp_password")));
    json_decref(created);
    /* The registry has it, as the API made it. */
    char *row = db_value("SELECT name FROM quiz.tenants WHERE id = $1", id, NULL);
    cr_expect_str_eq(row, name);
    free(row);
    snprintf(args, sizeof args, "list --q '%s'", name);
    cr_expect_eq(s_tenants(S.token, args, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, id) && strstr(out, "1 tenants"), "%s", out);
    snprintf(args, sizeof args, "show %s --json", id);
    cr_expect_eq(s_tenants(S.token, args, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, name), "%s", out);
    /* The lifecycle: each step as the registry then records it. */
    static const char *const steps[][2] = {{"suspend", "suspended"},
                                           {"resume", "active"},
                                           {"delete", "deleted"},
                                           {"restore", "active"}};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        snprintf(args, sizeof args, "%s %s", steps[i][0], id);
        cr_expect_eq(s_tenants(S.token, args, out, sizeof out), 0, "%s: %s", steps[i][0], out);
        row = db_value("SELECT status FROM quiz.tenants WHERE id = $1", id, NULL);
        cr_expect_str_eq(row, steps[i][1], "after %s", steps[i][0]);
        free(row);
    }
    snprintf(args, sizeof args, "restore %s", id);
    cr_expect_eq(s_tenants(S.token, args, out, sizeof out), 1, "restored twice: %s", out);
    cr_expect(strstr(out, "HTTP 409") && strstr(out, "not deleted"), "%s", out);
    snprintf(args, sizeof args, "delete %s", id);
    cr_expect_eq(s_tenants(S.token, args, out, sizeof out), 0, "%s", out);
    cr_expect_eq(s_tenants(S.token, "list --status deleted", out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, id), "%s", out);
    snprintf(args, sizeof args, "delete %s", id);
    cr_expect_eq(s_tenants(S.token, args, out, sizeof out), 1, "deleted twice: %s", out);
    cr_expect(strstr(out, "HTTP 404"), "%s", out);
}

Test(quizctl_tenants, refusals_are_named_and_change_nothing)
{
    char out[8192];
    cr_expect_eq(s_tenants("not-the-platform-token", "list", out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "HTTP 401"), "%s", out);
    cr_expect_eq(s_tenants(S.token, "show not-a-uuid", out, sizeof out), 2, "%s", out);
    cr_expect(strstr(out, "not a tenant id"), "%s", out);
    char name[64], args[256];
    snprintf(name, sizeof name, "Refused %08x", randombytes_random());
    snprintf(args, sizeof args, "create --name '%s' --owner-email not-an-email", name);
    cr_expect_eq(s_tenants(S.token, args, out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "HTTP 400"), "%s", out);
    char *n = db_value("SELECT count(*) FROM quiz.tenants WHERE name = $1", name, NULL);
    cr_expect_str_eq(n ? n : "?", "0");
    free(n);
}

/* Runs `quizctl monitor ARGS --json` on the test database; its exit status and parsed output. */
static int s_monitor(const char *args, json_t **doc, char *out, size_t len)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "QUIZ_DATABASE_URL='%s' QUIZ_CLUSTER_URLS= %s/quizctl monitor %s --json",
             getenv("QUIZ_TEST_DATABASE_URL"), getenv("QUIZ_BIN_DIR"), args);
    return cmd_run(cmd, out, len, doc);
}

Test(quizctl_tenants, monitor_names_drift_sizes_and_the_thresholds_passed)
{
    /* Two tenants made as the API makes them: the expected set, however empty the database. */
    char made[8192];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(s_tenants(S.token, "create --name 'Monitored' --owner-email m@mon.example",
                               made, sizeof made),
                     0, "%s", made);
    /* A tenant schema with one of the usual tables and one of its own: drift both ways. */
    char schema[48];
    snprintf(schema, sizeof schema, "tenant_%08x%08x%08x%08x", randombytes_random(),
             randombytes_random(), randombytes_random(), randombytes_random());
    char sql[512];
    snprintf(sql, sizeof sql,
             "CREATE SCHEMA %s; CREATE TABLE %s.users (id int); CREATE TABLE %s.stray (id int)",
             schema, schema, schema);
    cr_assert_eq(db_exec(sql), 0);
    json_t *doc;
    static char out[1 << 20];
    int rc = s_monitor("--warn-relations 10 --top 3", &doc, out, sizeof out);
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    db_exec(sql);
    cr_expect_eq(rc, 0, "%.2000s", out);
    json_t *c = json_array_get(json_object_get(doc, "clusters"), 0);
    cr_assert(c && !json_object_get(c, "error"), "%.2000s", out);
    const char *expected = json_string_value(json_object_get(c, "expected_tables"));
    cr_expect(expected && strstr(expected, "quizzes") && strstr(expected, "users"), "%s", expected);
    bool found = false;
    size_t i;
    json_t *d;
    json_array_foreach (json_object_get(c, "drift"), i, d)
        if (strcmp(json_string_value(json_object_get(d, "schema")), schema) == 0) {
            found = true;
            cr_expect(strstr(json_string_value(json_object_get(d, "missing")), "quizzes"));
            cr_expect_str_eq(json_string_value(json_object_get(d, "extra")), "stray");
        }
    cr_expect(found, "the odd schema is not named as drift");
    cr_expect_leq(json_array_size(json_object_get(c, "largest_tenants")), 3);
    cr_expect_gt(json_integer_value(json_object_get(
                     json_array_get(json_object_get(c, "largest_tenants"), 0), "bytes")),
                 0);
    cr_expect_gt(json_integer_value(json_object_get(c, "relations")), 10);
    cr_expect_gt(json_integer_value(json_object_get(c, "catalog_bytes")), 0);
    bool warned = false;
    json_array_foreach (json_object_get(c, "warnings"), i, d)
        warned = warned || strstr(json_string_value(d), "over --warn-relations 10");
    cr_expect(warned, "%.2000s", out);
    json_decref(doc);
}

/* `quizctl init` on an empty database of its own: shared schema, roles and shard map made,
 * sample tenants with their admins, the isolation self-test passed and its tenants gone again;
 * a re-run adds nothing. */
Test(quizctl, init_readies_an_empty_database_with_sample_tenants_and_proves_isolation)
{
    char base[512], own[512], name[64], cmd[2048], out[16384];
    snprintf(base, sizeof base, "%s", getenv("QUIZ_TEST_DATABASE_URL"));
    snprintf(name, sizeof name, "quizi_%d", (int)getpid());
    db_create_database(base, name, own, sizeof own);
    snprintf(cmd, sizeof cmd,
             "QUIZ_DATABASE_URL='%s' %s/quizctl init --shards 3 --sample-tenants 2 --json"
             " 2>/dev/null",
             own, getenv("QUIZ_BIN_DIR"));
    json_t *doc;
    cr_expect_eq(cmd_run(cmd, out, sizeof out, &doc), 0, "%s", out);
    cr_expect(json_is_true(json_object_get(doc, "ok")), "%s", out);
    cr_expect_eq(json_integer_value(json_object_get(doc, "shards")), 3, "%s", out);
    json_t *samples = json_object_get(doc, "sample_tenants");
    cr_assert_eq(json_array_size(samples), 2, "%s", out);
    const char *pw =
        json_string_value(json_object_get(json_array_get(samples, 0), "temp_password"));
    cr_expect(pw && strlen(pw) >= 16, "%s", out);
    json_t *checks = json_object_get(json_object_get(doc, "isolation"), "checks");
    cr_expect_eq(json_array_size(checks), 4, "%s", out);
    size_t i;
    json_t *c;
    json_array_foreach (checks, i, c)
        cr_expect(json_is_true(json_object_get(c, "ok")), "%s", out);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(checks, 1), "sqlstate")),
                     "42501", "the database itself refuses: %s", out);
    char *v = db_at(own, "SELECT (SELECT string_agg(name, ',' ORDER BY name) FROM quiz.tenants)"
                         " || ' ' || (SELECT count(*) FROM quiz.shards) || ' ' || (SELECT count(*)"
                         " FROM pg_namespace WHERE nspname LIKE 'tenant\\_%')");
    cr_expect_str_eq(v, "Sample tenant 1,Sample tenant 2 3 2", "the self-test's tenants stay");
    free(v);
    /* The sample tenant's admin, as creation makes one. */
    uint8_t u[16];
    char schema[IDENT_SCHEMA_LEN + 1], sql[256];
    const char *id = json_string_value(json_object_get(json_array_get(samples, 0), "tenant_id"));
    cr_assert_eq(ident_uuid_parse(id, strlen(id), u), 0);
    ident_schema_name(u, schema);
    snprintf(sql, sizeof sql,
             "SELECT email || ' ' || role || ' ' || must_change_password FROM %s.users", schema);
    v = db_at(own, sql);
    cr_expect_str_eq(v, "admin@sample-1.example admin true");
    free(v);
    json_decref(doc);
    /* Again: nothing new. */
    cr_expect_eq(cmd_run(cmd, out, sizeof out, &doc), 0, "%s", out);
    samples = json_object_get(doc, "sample_tenants");
    cr_expect(json_is_true(json_object_get(json_array_get(samples, 1), "existed")), "%s", out);
    v = db_at(own, "SELECT count(*) FROM quiz.tenants");
    cr_expect_str_eq(v, "2");
    free(v);
    json_decref(doc);
    db_drop_database(base, name, db_tenant_roles(own));
}
