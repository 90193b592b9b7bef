/* One tenant out and back in (`quizctl tenant export` / `tenant import`, ctl/ctl_export.c,
 * ctl/ctl_import.c) and every tenant at once (`quizctl backup`), against the real stack: the
 * round trip export -> delete -> purge -> import gives the same rows in every table and the
 * same answers over HTTP, and the users log in with their passwords; a truncated, altered,
 * foreign or newer archive and an id that exists are refused, changing nothing; a backup that
 * is interrupted resumes. The workers purge a deleted tenant after 1 s. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ident.h"
#include "tests/helpers/api.h"
#include "tests/helpers/cmd.h"
#include "tests/helpers/db.h"
#include "tests/helpers/http.h"
#include "tests/helpers/stack.h"

static qstack_t S;
static const char *const s_worker_args[] = {"--delete-grace", "1", NULL};
static char s_dir[256];

static void setup(void)
{
    cr_assert_eq(stack_start_opts(&S, 2, NULL, s_worker_args), 0, "stack did not start");
    snprintf(s_dir, sizeof s_dir, "/tmp/quiz-export-XXXXXX");
    cr_assert(mkdtemp(s_dir));
}
static void teardown(void)
{
    stack_suite_fini(&S);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(export, .init = setup, .fini = teardown, .timeout = 180);

/* `quizctl ARGS` on the test clusters; its output (stdout and stderr) into out; the exit
 * status. */
static int s_quizctl_as(const char *user, const char *args, char *out, size_t len)
{
    char url[1024], cmd[3072];
    const char *base = getenv("QUIZ_TEST_DATABASE_URL");
    /* The test URL names host, port and database; another login follows as a parameter. */
    snprintf(url, sizeof url, "%s%s%s%s", base, user ? (strchr(base, '?') ? "&" : "?") : "",
             user ? "user=" : "", user ? user : "");
    /* stderr to the pipe first, so ARGS may send stdout elsewhere. */
    snprintf(cmd, sizeof cmd, "QUIZ_DATABASE_URL='%s' %s/quizctl 2>&1 %s", url,
             getenv("QUIZ_BIN_DIR"), args);
    return cmd_run(cmd, out, len, NULL);
}

static int s_quizctl(const char *args, char *out, size_t len)
{
    return s_quizctl_as(NULL, args, out, len);
}

/* Exports the tenant to s_dir/name; asserts it worked. */
static void s_export(const char *id, const char *name)
{
    char args[512], out[4096];
    snprintf(args, sizeof args, "tenant export %s > '%s/%s'", id, s_dir, name);
    cr_assert_eq(s_quizctl(args, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "exported tenant"), "%s", out);
}

/* The tenant's schema name. */
static void s_schema(const char *id, char out[IDENT_SCHEMA_LEN + 1])
{
    uint8_t u[16];
    cr_assert_eq(ident_uuid_parse(id, strlen(id), u), 0);
    ident_schema_name(u, out);
}

/* Every row of every table of the tenant's schema, as one digest per table (all but the
 * bookkeeping of migrations, and the row counts, spread over slots differently once imported:
 * s_stats compares those), so two schemas compare equal only if their data is. */
static char *s_fingerprint(const char *id)
{
    char schema[IDENT_SCHEMA_LEN + 1];
    s_schema(id, schema);
    return db_value("SELECT string_agg(relname || ':' || (xpath('/row/d/text()', query_to_xml("
                    "format('SELECT md5(coalesce(string_agg(t::text, ''|'' ORDER BY t::text),"
                    " '''')) AS d FROM %I.%I t', $1::text, relname), false, false, '')))[1]::text,"
                    " ' ' ORDER BY relname) FROM pg_class WHERE relkind = 'r'"
                    " AND relnamespace = $1::regnamespace"
                    " AND relname NOT IN ('schema_migrations', 'row_counts')",
                    schema, NULL);
}

/* The tenant's stats counts, "users/quizzes/questions/attempts". */
static void s_stats(const char *id, char *out, size_t len)
{
    snprintf(out, len, "%lld/%lld/%lld/%lld", (long long)api_tenant_stat(&S, id, "users_count"),
             (long long)api_tenant_stat(&S, id, "quizzes_count"),
             (long long)api_tenant_stat(&S, id, "questions_count"),
             (long long)api_tenant_stat(&S, id, "attempts_count"));
}

/* A tenant with content: a member, a quiz of three questions, an attempt. The quiz id in quiz. */
static void s_content(api_tenant_t *t, char *member_token, char *quiz)
{
    api_tenant(&S, t);
    char member_id[37], email[80];
    snprintf(email, sizeof email, "member-%.8s@export.example", t->id);
    api_user(&S, t, email, "member", member_id, member_token);
    http_resp_t r;
    cr_assert_eq(api_call(&S, &r, "POST", "/api/quizzes", t->id, t->token,
                          "{\"title\":\"Carried over\",\"description\":\"a \\\\ back|slash, "
                          "\\\"quotes\\\" and é\"}",
                          NULL),
                 201, "%s", r.body);
    api_field(&r, "id", quiz, 37);
    http_resp_clear(&r);
    char path[128], q[3][37];
    snprintf(path, sizeof path, "/api/quizzes/%s/questions", quiz);
    const char *bodies[3] = {
        "{\"kind\":\"single_choice\",\"prompt\":\"Tab\\\\t or not?\",\"choices\":[\"a\",\"b\"],"
        "\"correct\":1,\"points\":2}",
        "{\"kind\":\"true_false\",\"prompt\":\"True?\",\"correct\":true}",
        "{\"kind\":\"short_answer\",\"prompt\":\"Name?\",\"correct\":[\"x\"],\"explanation\":"
        "\"e\"}"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(api_call(&S, &r, "POST", path, t->id, t->token, bodies[i], NULL), 201, "%s",
                     r.body);
        api_field(&r, "id", q[i], 37);
        http_resp_clear(&r);
    }
    char body[512];
    snprintf(body, sizeof body,
             "{\"answers\":[{\"question_id\":\"%s\",\"answer\":1},{\"question_id\":\"%s\","
             "\"answer\":false},{\"question_id\":\"%s\",\"answer\":\"x\"}]}",
             q[0], q[1], q[2]);
    snprintf(path, sizeof path, "/api/quizzes/%s/attempts", quiz);
    cr_assert_eq(api_call(&S, &r, "POST", path, t->id, member_token, body, NULL), 201, "%s",
                 r.body);
    http_resp_clear(&r);
}

/* GET path as token in the tenant: the status and the body in out. */
static long s_get(const char *tenant, const char *token, const char *path, char *out, size_t len)
{
    http_resp_t r;
    long st = api_call(&S, &r, "GET", path, tenant, token, NULL, NULL);
    snprintf(out, len, "%s", r.body ? r.body : "");
    http_resp_clear(&r);
    return st;
}

/* Registry rows and tenant schemas there are: what a refused import must not change. */
static void s_counts(char *out, size_t len)
{
    char *v = db_value("SELECT (SELECT count(*) FROM quiz.tenants) || '/' || (SELECT count(*) FROM"
                       " pg_namespace WHERE nspname LIKE 'tenant\\_%') || '/' || (SELECT count(*)"
                       " FROM pg_roles WHERE rolname LIKE 'tenant\\_%')",
                       NULL, NULL);
    snprintf(out, len, "%s", v);
    free(v);
}

Test(export, round_trip_through_delete_and_purge_gives_the_same_tenant_back)
{
    api_tenant_t t;
    char member[1024], quiz[37];
    s_content(&t, member, quiz);
    char path[128], attempts[128], before[16384], after[16384], list_before[16384],
        list_after[16384];
    snprintf(path, sizeof path, "/api/quizzes/%s", quiz);
    snprintf(attempts, sizeof attempts, "/api/quizzes/%s/attempts", quiz);
    cr_assert_eq(s_get(t.id, t.token, path, before, sizeof before), 200);
    cr_assert_eq(s_get(t.id, t.token, attempts, list_before, sizeof list_before), 200);
    char *print = s_fingerprint(t.id), stats[64], stats_after[64];
    s_stats(t.id, stats, sizeof stats);
    cr_expect_str_eq(stats, "2/1/3/1", "the content's counts");
    s_export(t.id, "round.gz");

    /* Delete it and let the workers purge it: nothing of it is left. */
    char url[256];
    http_url(url, sizeof url, S.url, "/api/tenants/%s", t.id);
    http_resp_t r;
    const char *h[] = {S.auth, NULL};
    cr_assert_eq(http_do(&r, "DELETE", url, NULL, h), 204, "%s", r.body);
    http_resp_clear(&r);
    char args[512], out[4096];
    snprintf(args, sizeof args, "tenant import '%s/round.gz'", s_dir);
    cr_expect_eq(s_quizctl(args, out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "exists (deleted)"), "an id the registry has is refused: %s", out);
    uint64_t until = clock_mono_us() + 20 * 1000000ull;
    char *left = NULL;
    do {
        free(left);
        usleep(200000);
        left = db_value("SELECT count(*) FROM quiz.tenants WHERE id = $1", t.id, NULL);
    } while (strcmp(left, "0") != 0 && clock_mono_us() < until);
    cr_assert_str_eq(left, "0", "the tenant was not purged");
    free(left);

    snprintf(args, sizeof args, "tenant import --json '%s/round.gz'", s_dir);
    cr_assert_eq(s_quizctl(args, out, sizeof out), 0, "%s", out);
    json_t *sum = json_loads(out, 0, NULL);
    cr_assert(sum, "%s", out);
    cr_expect_str_eq(json_string_value(json_object_get(sum, "tenant_id")), t.id);
    cr_expect_gt(json_integer_value(json_object_get(sum, "rows")), 8, "%s", out);
    json_decref(sum);

    /* The same rows everywhere, the same answers, the same passwords. */
    char *again = s_fingerprint(t.id);
    cr_expect_str_eq(again, print);
    s_stats(t.id, stats_after, sizeof stats_after);
    cr_expect_str_eq(stats_after, stats, "the stats count what was imported, once");
    free(again);
    free(print);
    char token[1024];
    cr_assert_eq(api_login(&S, t.id, t.email, t.password, token, NULL, NULL), 200);
    cr_expect_eq(s_get(t.id, token, path, after, sizeof after), 200);
    cr_expect_str_eq(after, before);
    cr_expect_eq(s_get(t.id, token, attempts, list_after, sizeof list_after), 200);
    cr_expect_str_eq(list_after, list_before);
    char email[80];
    snprintf(email, sizeof email, "member-%.8s@export.example", t.id);
    cr_expect_eq(api_login(&S, t.id, email, "member-password", NULL, NULL, NULL), 200);
    cr_expect_eq(api_login(&S, t.id, email, "not-the-password", NULL, NULL, NULL), 401);
    char *audit = db_value("SELECT count(*) FROM quiz.platform_audit WHERE tenant_id = $1"
                           " AND action = 'tenant.import' AND client = 'quizctl'",
                           t.id, NULL);
    cr_expect_str_eq(audit, "1");
    free(audit);
}

/* Both ways as quiz_provisioner, a login that is no superuser (CREATEROLE and the grants
 * `--migrate` gives it), as on a managed PostgreSQL. */
Test(export, a_copy_under_a_new_id_lives_beside_the_original)
{
    api_tenant_t t;
    char member[1024], quiz[37];
    s_content(&t, member, quiz);
    char *super = db_value("SELECT rolsuper::text FROM pg_roles WHERE rolname = 'quiz_provisioner'",
                           NULL, NULL);
    cr_assert_str_eq(super, "false");
    free(super);
    char args[512], out[4096];
    snprintf(args, sizeof args, "tenant export %s > '%s/copy.gz'", t.id, s_dir);
    cr_assert_eq(s_quizctl_as("quiz_provisioner", args, out, sizeof out), 0, "%s", out);
    const char *copy = "6f1c2f0e-5d2a-4c59-9a57-3b9e8f0a1c22";
    snprintf(args, sizeof args, "tenant import --as %s --shard 1 '%s/copy.gz'", copy, s_dir);
    cr_assert_eq(s_quizctl_as("quiz_provisioner", args, out, sizeof out), 0, "%s", out);
    cr_expect(strstr(out, "shard 1"), "%s", out);
    char *a = s_fingerprint(t.id), *b = s_fingerprint(copy);
    cr_expect_str_eq(a, b);
    free(a);
    free(b);
    char *shard = db_value("SELECT shard FROM quiz.tenants WHERE id = $1", copy, NULL);
    cr_expect_str_eq(shard, "1");
    free(shard);
    char token[1024], path[128], body[16384];
    cr_assert_eq(api_login(&S, copy, t.email, t.password, token, NULL, NULL), 200);
    snprintf(path, sizeof path, "/api/quizzes/%s", quiz);
    cr_expect_eq(s_get(copy, token, path, body, sizeof body), 200, "%s", body);
    cr_expect(strstr(body, "Carried over"), "%s", body);
    /* Each is its own: a token of one is no key to the other, and the original still serves. */
    cr_expect_eq(s_get(t.id, token, path, body, sizeof body), 403, "%s", body);
    cr_expect_eq(s_get(t.id, t.token, path, body, sizeof body), 200, "%s", body);
}

Test(export, bad_archives_and_existing_ids_are_refused_and_change_nothing)
{
    api_tenant_t t;
    char member[1024], quiz[37];
    s_content(&t, member, quiz);
    s_export(t.id, "good.gz");
    const char *as = "--as 0b6a3d1e-7c44-4d7e-8e61-2f5a9c3b7d10";
    char cmd[2048], out[4096], args[512], before[64], now[64];
    /* Truncated, altered (one character of a row), not an archive, of a newer schema version
       (checksum made to match), of an unknown format. */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && head -c $(( $(stat -c %%s good.gz) / 2 )) good.gz > cut.gz &&"
             " zcat good.gz | sed '3s/^./X/' | gzip > altered.gz && echo nothing > plain.gz &&"
             " python3 - <<'PY'\n"
             "import gzip, hashlib, json\n"
             "lines = gzip.open('good.gz', 'rb').read().split(b'\\n')\n"
             "def write(name, first, manifest):\n"
             "    body = first + b'\\n' + json.dumps(manifest).encode() + b'\\n' + "
             "b'\\n'.join(lines[2:-2]) + b'\\n'\n"
             "    trailer = json.dumps({'sha256': hashlib.sha256(body).hexdigest()}, "
             "separators=(',', ':')).encode()\n"
             "    gzip.open(name, 'wb').write(body + trailer + b'\\n')\n"
             "m = json.loads(lines[1])\n"
             "write('resealed.gz', lines[0], m)\n"
             "m['schema_version'] = '999_from_the_future'\n"
             "write('newer.gz', lines[0], m)\n"
             "write('format.gz', b'quiz-tenant-export 2', m)\n"
             "PY",
             s_dir);
    cr_assert_eq(system(cmd), 0);
    s_counts(before, sizeof before);
    static const struct {
        const char *file, *why;
    } bad[] = {{"cut.gz", "truncated"},
               {"altered.gz", "corrupt"},
               {"plain.gz", "not a tenant archive"},
               {"newer.gz", "newer than cluster 0's newest"},
               {"format.gz", "this quizctl reads format 1"},
               {"missing.gz", "cannot open"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, "tenant import %s '%s/%s'", as, s_dir, bad[i].file);
        cr_expect_eq(s_quizctl(args, out, sizeof out), 1, "%s: %s", bad[i].file, out);
        cr_expect(strstr(out, bad[i].why), "%s: wants \"%s\": %s", bad[i].file, bad[i].why, out);
    }
    /* The original's id, which is serving. */
    snprintf(args, sizeof args, "tenant import '%s/good.gz'", s_dir);
    cr_expect_eq(s_quizctl(args, out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "exists (active)"), "%s", out);
    s_counts(now, sizeof now);
    cr_expect_str_eq(now, before, "a refused import left something behind");
    /* The resealed copy of the good one (the test's own writer) is accepted: the checks above
       refused what was wrong, not the writer. */
    snprintf(args, sizeof args, "tenant import %s '%s/resealed.gz'", as, s_dir);
    cr_expect_eq(s_quizctl(args, out, sizeof out), 0, "%s", out);
    /* An unknown tenant cannot be exported. */
    snprintf(args, sizeof args, "tenant export 7d0f5a7e-0000-4000-8000-000000000000 > /dev/null");
    cr_expect_eq(s_quizctl(args, out, sizeof out), 1, "%s", out);
    cr_expect(strstr(out, "no tenant"), "%s", out);
}

Test(export, backup_exports_every_tenant_and_resumes_after_an_interruption)
{
    api_tenant_t t;
    char member[1024], quiz[37];
    s_content(&t, member, quiz);
    api_tenant_t other;
    api_tenant(&S, &other);
    char args[512], out[8192], cmd[1024];
    snprintf(args, sizeof args, "backup --all --dir '%s/backup' --jobs 3 --json 2>/dev/null",
             s_dir);
    cr_assert_eq(s_quizctl(args, out, sizeof out), 0, "%s", out);
    json_t *doc = json_loads(out, 0, NULL);
    cr_assert(doc, "%s", out);
    /* The other tests of the suite make and purge tenants meanwhile: the run's own count. */
    int tenants = (int)json_integer_value(json_object_get(doc, "tenants"));
    cr_expect_geq(tenants, 2, "%s", out);
    cr_expect_eq(json_integer_value(json_object_get(doc, "exported")), tenants, "%s", out);
    cr_expect_gt(json_integer_value(json_object_get(doc, "bytes")), 0);
    json_decref(doc);
    /* Interrupted: one archive missing, one half-written file left. */
    snprintf(cmd, sizeof cmd,
             "cd '%s/backup' && test $(ls *.tenant.gz | wc -l) -eq %d && rm %s.tenant.gz &&"
             " echo half > .%s.partial",
             s_dir, tenants, t.id, t.id);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(s_quizctl(args, out, sizeof out), 0, "%s", out);
    doc = json_loads(out, 0, NULL);
    cr_assert(doc, "%s", out);
    cr_expect_geq(json_integer_value(json_object_get(doc, "exported")), 1, "%s", out);
    cr_expect_eq(json_integer_value(json_object_get(doc, "exported")) +
                     json_integer_value(json_object_get(doc, "kept")),
                 json_integer_value(json_object_get(doc, "tenants")), "%s", out);
    /* Those already there were not exported again: `other` at least. */
    cr_expect_geq(json_integer_value(json_object_get(doc, "kept")), 1, "%s", out);
    json_decref(doc);
    snprintf(cmd, sizeof cmd,
             "cd '%s/backup' && test ! -e .%s.partial && test -s backup.json &&"
             " zcat %s.tenant.gz | head -1 | grep -qx 'quiz-tenant-export 1'",
             s_dir, t.id, t.id);
    cr_expect_eq(system(cmd), 0, "the resumed backup's files");
    /* What the backup holds imports: the tenant's archive as a copy. */
    snprintf(args, sizeof args,
             "tenant import --as 3c9e1b2a-1111-4222-8333-444455556666 '%s/backup/%s.tenant.gz'",
             s_dir, t.id);
    cr_expect_eq(s_quizctl(args, out, sizeof out), 0, "%s", out);
}
