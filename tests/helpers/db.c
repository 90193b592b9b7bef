/* libpq helpers for tests (see db.h). */
#include "tests/helpers/db.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ident.h"
#include "common/mem.h"

const char db_orphans_sql[] =
    "WITH schemas AS (SELECT nspname::text AS n FROM pg_namespace WHERE nspname LIKE 'tenant\\_%'"
    "  UNION ALL SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'tenant\\_%'),"
    " owners AS (SELECT 'tenant_' || replace(id::text, '-', '') AS n FROM quiz.tenants"
    "  UNION ALL SELECT 'tenant_' || replace(id::text, '-', '')"
    "  FROM quiz.spare_schemas)"
    " SELECT (SELECT count(*) FROM (SELECT n FROM schemas EXCEPT SELECT n FROM owners) a)"
    /* each owner needs two entries: its schema and its role */
    " + (SELECT count(*) FROM (SELECT n FROM owners UNION ALL SELECT n FROM owners"
    "    EXCEPT ALL SELECT n FROM schemas) b)";

static PGconn *s_connect(void)
{
    PGconn *c = PQconnectdb(getenv("QUIZ_TEST_DATABASE_URL"));
    if (PQstatus(c) != CONNECTION_OK)
        fprintf(stderr, "db: %s", PQerrorMessage(c));
    return c;
}

char *db_value(const char *sql, const char *p1, const char *p2)
{
    PGconn *c = s_connect();
    const char *params[2] = {p1, p2};
    int n = p2 ? 2 : p1 ? 1 : 0;
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    char *out = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        out = mem_strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    else
        fprintf(stderr, "db: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return out;
}

int db_exec(const char *sql)
{
    PGconn *c = s_connect();
    PGresult *r = PQexec(c, sql);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
    if (rc < 0)
        fprintf(stderr, "db: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return rc;
}

int db_forced_failure_begin(const char *name)
{
    char sql[1024];
    unsigned pid = (unsigned)getpid();
    snprintf(sql, sizeof sql,
             "CREATE OR REPLACE FUNCTION quiz.test_fail_%u() RETURNS trigger LANGUAGE plpgsql AS $$"
             " BEGIN IF (SELECT name FROM quiz.tenants WHERE id = NEW.tenant_id) = '%s' THEN"
             " RAISE EXCEPTION 'forced failure'; END IF; RETURN NEW; END $$;"
             " CREATE TRIGGER test_fail_%u BEFORE INSERT ON quiz.platform_audit"
             " FOR EACH ROW EXECUTE FUNCTION quiz.test_fail_%u()",
             pid, name, pid, pid);
    return db_exec(sql);
}

int db_forced_failure_end(void)
{
    char sql[256];
    unsigned pid = (unsigned)getpid();
    snprintf(sql, sizeof sql,
             "DROP TRIGGER test_fail_%u ON quiz.platform_audit; DROP FUNCTION quiz.test_fail_%u()",
             pid, pid);
    return db_exec(sql);
}

PGconn *db_lock_table(const char *tenant, const char *table)
{
    uint8_t u[16];
    char schema[IDENT_SCHEMA_LEN + 1], sql[200];
    cr_assert_eq(ident_uuid_parse(tenant, 36, u), 0);
    ident_schema_name(u, schema);
    snprintf(sql, sizeof sql, "LOCK TABLE %s.%s IN ACCESS EXCLUSIVE MODE", schema, table);
    return db_begin(sql);
}

PGconn *db_lock_users(const char *tenant)
{
    return db_lock_table(tenant, "users");
}

PGconn *db_lock_counts(const char *tenant)
{
    return db_lock_table(tenant, "row_counts");
}

PGconn *db_begin(const char *sql)
{
    PGconn *c = s_connect();
    PGresult *r = PQexec(c, "BEGIN");
    PQclear(r);
    r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s",
              PQerrorMessage(c));
    PQclear(r);
    return c;
}

void db_unlock(PGconn *c)
{
    PQclear(PQexec(c, "COMMIT"));
    PQfinish(c);
}

void db_wait_blocked(const char *app)
{
    for (int i = 0; i < 500; i++) {
        char *v = db_value("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
                           " AND wait_event_type = 'Lock'",
                           app, NULL);
        int n = v ? atoi(v) : 0;
        free(v);
        if (n > 0)
            return;
    }
    cr_assert_fail("the request never blocked on the lock");
}

char *db_at(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, sql);
    char *out = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        out = strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    else if (PQresultStatus(r) == PGRES_COMMAND_OK)
        out = strdup("");
    else
        fprintf(stderr, "db: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return out;
}

/* url with its database name replaced by name. */
static void s_with_db(const char *url, const char *name, char *out, size_t len)
{
    const char *slash = strrchr(url, '/');
    cr_assert(slash && slash > url + 10, "unexpected URL %s", url);
    snprintf(out, len, "%.*s/%s", (int)(slash - url), url, name);
}

void db_create_database(const char *base, const char *name, char *out, size_t len)
{
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    char *ok = db_at(base, sql);
    cr_assert_not_null(ok, "could not create database %s", name);
    free(ok);
    s_with_db(base, name, out, len);
}

char *db_tenant_roles(const char *url)
{
    return db_at(url, "SELECT string_agg(rolname, ' ') FROM pg_roles r WHERE rolname LIKE"
                      " 'tenant\\_%' AND EXISTS (SELECT 1 FROM pg_namespace n WHERE"
                      " n.nspname = r.rolname)");
}

void db_drop_database(const char *base, const char *name, char *roles)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", name);
    free(db_at(base, sql));
    for (char *save = NULL, *role = roles ? strtok_r(roles, " ", &save) : NULL; role;
         role = strtok_r(NULL, " ", &save)) {
        snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", role);
        free(db_at(base, sql));
    }
    free(roles);
}
