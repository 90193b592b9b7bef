/* One tenant out: `quizctl tenant export ID > FILE`, and the export `quizctl backup` runs for
 * each tenant. Read in one REPEATABLE READ snapshot as the tenant's role, so the archive is one
 * consistent moment of the tenant even while it serves; nothing is written to the database.
 * Works with the database owner's login on any PostgreSQL (COPY to the client: no superuser,
 * no server file access). */
#ifndef CTL_CTL_EXPORT_H
#define CTL_CTL_EXPORT_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "ctl/ctl_clusters.h"

/* Writes the archive of tenant `id` (UUID text) to fd, over d's connections (kept for the next
 * tenant). 0 with a summary in *summary (tenant_id,
 * schema_version, rows, bytes; the caller decrefs), or -1 with why in err. */
int ctl_export_tenant(ctl_dbs_t *d, const char *id, int fd, json_t **summary, char *err,
                      size_t len);

/* The quoted "schema"."table"; free it. NULL if quoting fails. */
char *ctl_table_name(PGconn *conn, const char *schema, const char *table);
/* "COPY schema.table (col, ...) <dir>" for a manifest table (name, columns), every name
 * quoted; dir is "TO STDOUT" or "FROM STDIN". Free it; NULL if quoting fails. */
char *ctl_copy_sql(PGconn *conn, const char *schema, const json_t *table, const char *dir);

/* quizctl tenant export. */
int ctl_export(int argc, char **argv);

#endif
