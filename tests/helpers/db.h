/* Direct database checks for integration tests: what the API says must match what PostgreSQL
 * holds. */
#ifndef TESTS_HELPERS_DB_H
#define TESTS_HELPERS_DB_H

#include <libpq-fe.h>

/* Runs sql with up to 2 text parameters (NULL for those it does not use) against
 * $QUIZ_TEST_DATABASE_URL; returns the first cell as a new string (caller frees), "" for no
 * row, or NULL on error (printed). */
char *db_value(const char *sql, const char *p1, const char *p2);
/* A query counting tenant_* schemas and roles that belong to neither an active tenant nor a
 * spare schema, plus active tenants missing their schema or role: "0" when nothing is orphaned. */
extern const char db_orphans_sql[];

/* Executes a statement; 0 or -1 (printed). */
int db_exec(const char *sql);
/* Makes the last step of tenant creation (the platform audit row) fail for tenants named `name`
 * (a test's own, no quotes), until db_forced_failure_end; one per test process. 0 or -1. */
int db_forced_failure_begin(const char *name);
int db_forced_failure_end(void);

/* Runs sql on the database at url: the first cell (caller frees), "" for no row, NULL on error
 * (printed). */
char *db_at(const char *url, const char *sql);
/* Creates database `name` beside the one at base (a test's own, for a test that changes what
 * every tenant of its database sees); its URL in out. Asserts on failure. */
void db_create_database(const char *base, const char *name, char *out, size_t len);
/* The tenant roles (space-separated; caller frees) whose schemas are in the database at url:
 * roles belong to the cluster, so dropping the database leaves them. */
char *db_tenant_roles(const char *url);
/* Drops database `name` beside base (WITH (FORCE)), then the roles listed (db_tenant_roles);
 * frees roles. */
void db_drop_database(const char *base, const char *name, char *roles);

/* Holds ACCESS EXCLUSIVE on a tenant's table from a connection of the test's own, so a request
 * touching it blocks, until db_unlock. Asserts on failure. db_lock_users: its users table;
 * db_lock_counts: its row_counts, which the tenant stats read. */
PGconn *db_lock_table(const char *tenant, const char *table);
PGconn *db_lock_users(const char *tenant);
PGconn *db_lock_counts(const char *tenant);
/* Runs sql in a transaction of a connection of the test's own, left open until db_unlock
 * commits it. Asserts on failure. */
PGconn *db_begin(const char *sql);
void db_unlock(PGconn *c);
/* Waits until a backend of application_name app waits on a lock; asserts if none does. */
void db_wait_blocked(const char *app);

#endif
