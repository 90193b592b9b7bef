/* The tenant archive `quizctl tenant export` writes and `tenant import` reads, gzip around:
 *   "quiz-tenant-export 1\n"
 *   the manifest, one JSON line: format and its version, the tenant's schema version, the tenant
 *     (id, name, status, created_at), its tables in load order (parents before the tables that
 *     reference them) with their columns and row counts, its sequences' values
 *   for each table of the manifest, its rows in COPY text format (one row per line), then "\.\n"
 *   the trailer, one JSON line: {"sha256": hex of every byte before it}
 * so `zcat FILE | head -c 4096` shows what it is, and a file cut short or altered anywhere is
 * refused by ctl_archive_verify before an import changes anything. */
#ifndef CTL_CTL_ARCHIVE_H
#define CTL_CTL_ARCHIVE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CTL_ARCHIVE_FORMAT_VERSION 1
/* Session settings both ends use, so timestamps, bytea and floats read back as written. */
#define CTL_ARCHIVE_SETTINGS                                                  \
    "SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres';" \
    " SET LOCAL bytea_output = 'hex'; SET LOCAL extra_float_digits = 3"
#define CTL_ARCHIVE_TABLES_MAX 64

typedef struct ctl_archive ctl_archive_t;

/* Writing, to fd (not closed). NULL if gzip cannot start. */
ctl_archive_t *ctl_archive_create(int fd);
/* Appends bytes (hashed); 0 or -1 on a write error. */
int ctl_archive_write(ctl_archive_t *a, const void *data, size_t len);
/* The magic line and the manifest line. 0 or -1. */
int ctl_archive_write_manifest(ctl_archive_t *a, const json_t *manifest);
/* Writes the trailer and flushes; frees a. The compressed size in *bytes. 0 or -1. */
int ctl_archive_finish(ctl_archive_t *a, long long *bytes);
/* Frees a after a failure (whatever was written is not an archive: no trailer). */
void ctl_archive_abandon(ctl_archive_t *a);

/* Reading a file: its magic and manifest (borrowed in *manifest), checked for shape. NULL with
 * why in err. */
ctl_archive_t *ctl_archive_open(const char *path, const json_t **manifest, char *err, size_t len);
/* The next line, with its '\n' (borrowed until the next call; *n its length), or NULL at the
 * end or on a read error (named in err). */
const char *ctl_archive_line(ctl_archive_t *a, size_t *n, char *err, size_t len);
void ctl_archive_close(ctl_archive_t *a);
/* A whole pass over the file: shape, every table's rows against the manifest's count, the
 * trailer's checksum, nothing after it. 0, or -1 with what is wrong in err. *manifest (when
 * not NULL) is the caller's to decref. */
int ctl_archive_verify(const char *path, json_t **manifest, char *err, size_t len);
/* Whether the line is a table's end marker. */
bool ctl_archive_is_end(const char *line, size_t n);

#endif
