/* Fleet migrations (`quizctl migrate`, worker/wk_fleet.c) over a couple of hundred real tenants
 * of a database of the suite's own (a registered migration reaches every tenant created after
 * it): one tenant forced to fail while the others go on, a re-run that completes it and costs
 * the others nothing, a tenant created after the registration born at the new version, a lock
 * held across the escalating lock_timeout retries, and each refusal changing nothing. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ident.h"
#include "tests/helpers/api.h"
#include "tests/helpers/cmd.h"
#include "tests/helpers/db.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

#define TENANTS 200

static qstack_t S;
static char s_base[512], s_own[512], s_name[64], s_dir[160];

static void setup(void)
{
    snprintf(s_base, sizeof s_base, "%s", getenv("QUIZ_TEST_DATABASE_URL"));
    snprintf(s_name, sizeof s_name, "quizf_%d", (int)getpid());
    db_create_database(s_base, s_name, s_own, sizeof s_own);
    setenv("QUIZ_TEST_DATABASE_URL", s_own, 1);
    cr_assert_eq(stack_migrate(2, NULL), 0);
    cr_assert_eq(stack_start(&S, 2), 0, "stack did not start");
    snprintf(s_dir, sizeof s_dir, "%s/migrations", S.dir);
    cr_assert_eq(mkdir(s_dir, 0700), 0);
}

static void teardown(void)
{
    stack_suite_fini(&S);
    db_drop_database(s_base, s_name, db_tenant_roles(s_own));
    setenv("QUIZ_TEST_DATABASE_URL", s_base, 1);
}

TestSuite(fleet, .init = setup, .fini = teardown, .timeout = 300);

/* Writes migration file `name` of the suite's directory. */
static void s_file(const char *name, const char *sql)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(sql, f);
    fclose(f);
}

/* The last line of out parsed as JSON (stderr's lines, if any, come first). */
static json_t *s_report(const char *out)
{
    const char *last = out, *nl;
    while ((nl = strchr(last, '\n')) && nl[1])
        last = nl + 1;
    json_t *doc = json_loads(last, 0, NULL);
    cr_assert(doc, "no JSON report in: %.3000s", out);
    return doc;
}

/* `quizctl migrate ARGS --json` on the suite's database (with --dir: the suite's directory):
 * the exit status, the report. */
static int s_migrate(const char *args, bool dir, json_t **doc, char *out, size_t len)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "QUIZ_DATABASE_URL='%s' %s/quizctl migrate %s%s%s --json 2>&1", s_own,
             getenv("QUIZ_BIN_DIR"), args, dir ? " --dir " : "", dir ? s_dir : "");
    int rc = cmd_run(cmd, out, len, NULL);
    if (doc)
        *doc = s_report(out);
    return rc;
}

static json_int_t s_int(const json_t *doc, const char *key)
{
    return json_integer_value(json_object_get(doc, key));
}

static int s_count(const char *sql)
{
    char *v = db_at(s_own, sql);
    cr_assert_not_null(v);
    int n = atoi(v);
    free(v);
    return n;
}

static void s_schema(const char *id, char *out)
{
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(id, strlen(id), u), 0);
    ident_schema_name(u, out);
}

/* Whether tenant id's quizzes table has column col. */
static bool s_has_column(const char *id, const char *col)
{
    char schema[IDENT_SCHEMA_LEN + 1], sql[300];
    s_schema(id, schema);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM information_schema.columns WHERE table_schema = '%s' AND"
             " table_name = 'quizzes' AND column_name = '%s'",
             schema, col);
    return s_count(sql) == 1;
}

/* Creates n tenants through the API (no admin set-up: the migration needs only schemas); the
 * last one's id in last. */
static void s_tenants(int n, char *last)
{
    char url[256];
    http_url(url, sizeof url, S.url, "/api/tenants/");
    const char *h[] = {S.auth, NULL};
    for (int i = 0; i < n; i++) {
        char body[160];
        snprintf(body, sizeof body,
                 "{\"tenant_name\":\"Fleet %d\",\"owner_email\":\"o%d@f.example\"}", i, i);
        http_resp_t r;
        cr_assert_eq(http_do(&r, "POST", url, body, h), 201, "%s", r.body);
        api_field(&r, "tenant_id", last, 37);
        http_resp_clear(&r);
    }
}

static const char s_note[] =
    "-- the fleet test's expand migration: a column with a default, an index\n"
    "ALTER TABLE quizzes ADD COLUMN fleet_note text NOT NULL DEFAULT '';\n"
    "CREATE INDEX quizzes_fleet_note_idx ON quizzes (fleet_note);\n";

/* Commits the transaction of the connection (holding a lock) after a second. */
static void *s_release_later(void *arg)
{
    usleep(1000 * 1000);
    db_unlock(arg);
    return NULL;
}

Test(fleet, a_failed_tenant_is_named_the_rest_go_on_and_a_rerun_completes_it)
{
    char victim[37], out[65536], sql[512], schema[IDENT_SCHEMA_LEN + 1];
    s_tenants(TENANTS, victim);
    cr_assert_eq(s_count("SELECT count(*) FROM quiz.tenants WHERE schema_version ="
                         " '008_row_counts'"),
                 TENANTS, "tenants are created with their version recorded");
    /* A no-op run over a migrated fleet costs one registry query. */
    json_t *doc;
    cr_assert_eq(s_migrate("", false, &doc, out, sizeof out), 0, "%s", out);
    cr_expect_eq(s_int(doc, "tenants"), 0, "%s", out);
    json_decref(doc);

    /* One tenant cannot take the new index: its name is taken there. */
    s_schema(victim, schema);
    snprintf(sql, sizeof sql, "CREATE TABLE %s.quizzes_fleet_note_idx (x int)", schema);
    free(db_at(s_own, sql));
    s_file("009_fleet_note.sql", s_note);
    int rc = s_migrate("--jobs 4", true, &doc, out, sizeof out);
    cr_expect_eq(rc, 1, "a failed tenant must fail the run: %s", out);
    cr_expect_str_eq(json_string_value(json_object_get(doc, "target")), "009_fleet_note");
    cr_expect_eq(s_int(doc, "registered"), 1);
    cr_expect_eq(s_int(doc, "migrated"), TENANTS - 1, "%s", out);
    json_t *failed = json_object_get(doc, "failed");
    cr_assert_eq(json_array_size(failed), 1, "%s", out);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(failed, 0), "tenant_id")),
                     victim);
    cr_expect(strstr(json_string_value(json_object_get(json_array_get(failed, 0), "error")),
                     "009_fleet_note"),
              "%s", out);
    json_decref(doc);
    /* The database agrees: every other tenant migrated and recorded, the victim untouched. */
    cr_expect_eq(s_count("SELECT count(*) FROM quiz.tenants WHERE schema_version ="
                         " '009_fleet_note' AND migration_error IS NULL"),
                 TENANTS - 1);
    char *err = db_at(s_own, "SELECT migration_error FROM quiz.tenants WHERE migration_error IS"
                             " NOT NULL");
    cr_expect(err && strstr(err, "009_fleet_note"), "%s", err);
    free(err);
    cr_expect_not(s_has_column(victim, "fleet_note"), "the failed tenant's change was kept");
    char any[37];
    char *first = db_at(s_own, "SELECT id FROM quiz.tenants WHERE migration_error IS NULL LIMIT 1");
    snprintf(any, sizeof any, "%s", first);
    free(first);
    cr_expect(s_has_column(any, "fleet_note"));

    /* --status: tenants per version and the failure. */
    cr_assert_eq(s_migrate("--status", false, &doc, out, sizeof out), 0, "%s", out);
    json_t *v;
    size_t i;
    int at_new = 0, failures = 0;
    json_array_foreach (json_object_get(doc, "versions"), i, v) {
        if (strcmp(json_string_value(json_object_get(v, "version")), "009_fleet_note") == 0)
            at_new = (int)s_int(v, "tenants");
        failures += (int)s_int(v, "failed");
    }
    cr_expect_eq(at_new, TENANTS - 1, "%s", out);
    cr_expect_eq(failures, 1, "%s", out);
    json_decref(doc);

    /* A tenant created now is born at the new version (creation applies every registered
       migration, whichever worker builds it). */
    char born[37];
    s_tenants(1, born);
    cr_expect(s_has_column(born, "fleet_note"));
    snprintf(sql, sizeof sql, "SELECT schema_version FROM quiz.tenants WHERE id = '%s'", born);
    char *version = db_at(s_own, sql);
    cr_expect_str_eq(version, "009_fleet_note");
    free(version);

    /* Fixed, and held by a transaction for 1 s: the re-run waits through its lock_timeout
       retries, migrates only that tenant, and the rest cost nothing. */
    snprintf(sql, sizeof sql, "DROP TABLE %s.quizzes_fleet_note_idx", schema);
    free(db_at(s_own, sql));
    PGconn *holder = PQconnectdb(s_own);
    snprintf(sql, sizeof sql, "BEGIN; LOCK TABLE %s.quizzes IN ACCESS SHARE MODE", schema);
    PGresult *r = PQexec(holder, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(holder));
    PQclear(r);
    pthread_t tid;
    pthread_create(&tid, NULL, s_release_later, holder);
    rc = s_migrate("", false, &doc, out, sizeof out);
    pthread_join(tid, NULL);
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect_eq(s_int(doc, "tenants"), 1, "%s", out);
    cr_expect_eq(s_int(doc, "migrated"), 1, "%s", out);
    json_decref(doc);
    cr_expect(s_has_column(victim, "fleet_note"));
    cr_expect_eq(s_count("SELECT count(*) FROM quiz.tenants WHERE schema_version IS DISTINCT FROM"
                         " '009_fleet_note' OR migration_error IS NOT NULL"),
                 0);
    /* The workers served throughout, the new column unknown to them. */
    api_tenant_t t;
    api_tenant(&S, &t);
    cr_expect_eq(api_status(&S, "POST", "/api/quizzes", t.id, t.token, "{\"title\":\"After\"}"),
                 201);
}

Test(fleet, refused_migrations_change_nothing)
{
    char out[65536], last[37];
    s_tenants(3, last);
    static const struct {
        const char *file, *sql, *says;
    } bad[] = {
        {"009_drop.sql", "ALTER TABLE quizzes DROP COLUMN title;\n",
         "breaks the version that is serving"},
        {"009_tight.sql", "ALTER TABLE quizzes ADD COLUMN must text NOT NULL;\n",
         "NOT NULL without DEFAULT"},
        {"009_broken.sql", "ALTER TABLE no_such_table ADD COLUMN x int;\n",
         "does not apply to a new schema"},
        {"009_contract.sql",
         "-- contract: the serving version no longer reads description\n"
         "ALTER TABLE quizzes DROP COLUMN description;\n",
         "contract migration"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char rm[300];
        snprintf(rm, sizeof rm, "rm -f %s/*.sql", s_dir);
        cr_assert_eq(system(rm), 0);
        s_file(bad[i].file, bad[i].sql);
        cr_expect_eq(s_migrate("", true, NULL, out, sizeof out), 1, "%s: %s", bad[i].file, out);
        cr_expect(strstr(out, bad[i].says), "%s: %s", bad[i].file, out);
        cr_expect_eq(s_count("SELECT count(*) FROM quiz.tenant_migrations WHERE version LIKE"
                             " '009%'"),
                     0, "%s was registered", bad[i].file);
    }
    /* A dry run names what it would do and does nothing. */
    s_file("009_fleet_note.sql", s_note);
    char rm[300];
    snprintf(rm, sizeof rm, "rm -f %s/009_contract.sql", s_dir);
    cr_assert_eq(system(rm), 0);
    json_t *doc;
    cr_expect_eq(s_migrate("--dry-run", true, &doc, out, sizeof out), 0, "%s", out);
    cr_expect_eq(s_int(doc, "tenants"), 3, "%s", out);
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(doc, "register"), 0)),
                     "009_fleet_note");
    json_decref(doc);
    cr_expect_eq(s_count("SELECT count(*) FROM quiz.tenant_migrations WHERE version ="
                         " '009_fleet_note'"),
                 0);
    cr_expect_not(s_has_column(last, "fleet_note"));
    /* Registered, it may never change, and nothing older may follow it. */
    cr_assert_eq(s_migrate("", true, NULL, out, sizeof out), 0, "%s", out);
    s_file("009_fleet_note.sql", "ALTER TABLE quizzes ADD COLUMN other text;\n");
    cr_expect_eq(s_migrate("", true, NULL, out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "differs from migration 009_fleet_note"), "%s", out);
    s_file("009_fleet_note.sql", s_note);
    s_file("004_late.sql", "ALTER TABLE quizzes ADD COLUMN late text;\n");
    cr_expect_eq(s_migrate("", true, NULL, out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "only appended"), "%s", out);
}
