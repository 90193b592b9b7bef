/* quizctl check against real clusters: the test database (and the second cluster, when there
 * is one) reported ready with their facts; a URL that cannot connect, and a role without the
 * privileges --migrate needs, reported as problems with their fixes and a non-zero exit; no
 * password ever printed. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/helpers/db.h"

/* Runs `quizctl check --json` with the given database URLs; its exit status, its output parsed
 * into *doc (caller decrefs) and raw into out. */
static int s_check(const char *url, const char *more, json_t **doc, char *out, size_t len)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "QUIZ_DATABASE_URL='%s' QUIZ_CLUSTER_URLS='%s' %s/quizctl check --json", url,
             more ? more : "", getenv("QUIZ_BIN_DIR"));
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    *doc = json_loads(out, 0, NULL);
    cr_assert(*doc, "not JSON: %s", out);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
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
