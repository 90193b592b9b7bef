/* The migrations compiled into the worker (generated from sql/ by sql/embed.sh). Each list ends
 * with a {NULL, NULL} entry and is ordered by version. */
#ifndef WORKER_WK_SQL_H
#define WORKER_WK_SQL_H

typedef struct {
    const char *version; /* file stem, e.g. "001_init" */
    const char *sql;     /* whole file, possibly several statements */
} wk_sql_file_t;

extern const wk_sql_file_t wk_sql_shared[];
extern const wk_sql_file_t wk_sql_tenant[];

#endif
