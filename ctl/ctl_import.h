/* One tenant back in: `quizctl tenant import FILE [--as NEW_ID] [--shard K]`. The archive is
 * verified whole first (shape, row counts, checksum: ctl_archive_verify), so a corrupt or
 * truncated file changes nothing. The tenant is then rebuilt as tenant creation builds one, in
 * one transaction on its shard's cluster: registry row (placed like a new tenant unless
 * --shard), role, schema migrated to the archive's version, every table loaded, sequences set,
 * row counts checked, then the newer migrations applied, the shard's grant and the audit
 * ('tenant.import'). Users keep their password hashes, so they log in as before. Refused: an
 * archive of a schema version newer than the fleet's (or one never registered), and an id the
 * registry has in any status. The tenant comes back active. */
#ifndef CTL_CTL_IMPORT_H
#define CTL_CTL_IMPORT_H

#include <jansson.h>
#include <stddef.h>

#include "ctl/ctl_clusters.h"

/* Over d's connections. as_id: the new tenant id (UUID text), NULL for the archive's own;
 * shard < 0: placed like a new tenant. 0 with a summary in *summary (the caller decrefs), or -1
 * with why in err. */
int ctl_import_tenant(ctl_dbs_t *d, const char *path, const char *as_id, int shard,
                      json_t **summary, char *err, size_t len);

/* quizctl tenant import. */
int ctl_import(int argc, char **argv);

#endif
