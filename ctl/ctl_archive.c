/* The tenant archive (see ctl_archive.h): deflate (gzip framing) while writing, so the
 * compressed size is known; zlib's gz reader while reading, which takes an uncompressed file as
 * well. The checksum is SHA-256 (libsodium) over the uncompressed bytes. */
#include "ctl/ctl_archive.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/mem.h"

#define MAGIC          "quiz-tenant-export 1\n"
#define MANIFEST_MAX   (1 << 20)  /* bytes of the manifest line */
#define LINE_MAX_BYTES (64 << 20) /* a row; past it the file is not one of ours */
#define OUT_CHUNK      65536

struct ctl_archive {
    crypto_hash_sha256_state sha;
    /* writing */
    int fd;
    z_stream z;
    long long out_bytes;
    unsigned char out[OUT_CHUNK];
    /* reading */
    gzFile in;
    char *line;
    size_t cap;
    json_t *manifest;
};

/* ---- writing ---- */

ctl_archive_t *ctl_archive_create(int fd)
{
    ctl_archive_t *a = mem_zalloc(sizeof *a);
    a->fd = fd;
    crypto_hash_sha256_init(&a->sha);
    /* 15 + 16: a gzip header, so zcat and gzip -t work on the file. */
    if (deflateInit2(&a->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(a);
        return NULL;
    }
    return a;
}

static int s_deflate(ctl_archive_t *a, const void *data, size_t len, int flush)
{
    a->z.next_in = (unsigned char *)data;
    a->z.avail_in = (uInt)len;
    do {
        a->z.next_out = a->out;
        a->z.avail_out = sizeof a->out;
        int rc = deflate(&a->z, flush);
        if (rc == Z_STREAM_ERROR)
            return -1;
        size_t have = sizeof a->out - a->z.avail_out;
        for (size_t off = 0; off < have;) {
            ssize_t w = write(a->fd, a->out + off, have - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return -1;
            off += (size_t)w;
        }
        a->out_bytes += (long long)have;
    } while (a->z.avail_out == 0 || (flush == Z_FINISH && a->z.avail_in > 0));
    return 0;
}

int ctl_archive_write(ctl_archive_t *a, const void *data, size_t len)
{
    /* In pieces that fit zlib's uInt. */
    const unsigned char *p = data;
    while (len) {
        size_t n = len > (1u << 30) ? (1u << 30) : len;
        crypto_hash_sha256_update(&a->sha, p, n);
        if (s_deflate(a, p, n, Z_NO_FLUSH) < 0)
            return -1;
        p += n;
        len -= n;
    }
    return 0;
}

int ctl_archive_write_manifest(ctl_archive_t *a, const json_t *manifest)
{
    char *text = json_dumps(manifest, JSON_COMPACT);
    if (!text)
        return -1;
    int rc = ctl_archive_write(a, MAGIC, strlen(MAGIC)) < 0 ||
                     ctl_archive_write(a, text, strlen(text)) < 0 || ctl_archive_write(a, "\n", 1)
                 ? -1
                 : 0;
    free(text);
    return rc;
}

static void s_hex_digest(crypto_hash_sha256_state *sha, char hex[crypto_hash_sha256_BYTES * 2 + 1])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(sha, digest);
    sodium_bin2hex(hex, crypto_hash_sha256_BYTES * 2 + 1, digest, sizeof digest);
}

int ctl_archive_finish(ctl_archive_t *a, long long *bytes)
{
    char hex[crypto_hash_sha256_BYTES * 2 + 1], trailer[128];
    s_hex_digest(&a->sha, hex);
    int n = snprintf(trailer, sizeof trailer, "{\"sha256\":\"%s\"}\n", hex);
    int rc = s_deflate(a, trailer, (size_t)n, Z_FINISH);
    *bytes = a->out_bytes;
    ctl_archive_abandon(a);
    return rc;
}

void ctl_archive_abandon(ctl_archive_t *a)
{
    if (!a)
        return;
    deflateEnd(&a->z);
    free(a);
}

/* ---- reading ---- */

bool ctl_archive_is_end(const char *line, size_t n)
{
    return n == 3 && memcmp(line, "\\.\n", 3) == 0;
}

const char *ctl_archive_line(ctl_archive_t *a, size_t *n, char *err, size_t len)
{
    size_t have = 0;
    for (;;) {
        if (a->cap - have < 2) {
            if (a->cap >= LINE_MAX_BYTES) {
                snprintf(err, len, "a line longer than %d MiB: not a tenant archive",
                         LINE_MAX_BYTES >> 20);
                return NULL;
            }
            a->cap = a->cap ? a->cap * 2 : 65536;
            a->line = mem_realloc(a->line, a->cap);
        }
        if (!gzgets(a->in, a->line + have, (int)(a->cap - have))) {
            int zerr;
            const char *msg = gzerror(a->in, &zerr);
            if (zerr != Z_OK && zerr != Z_BUF_ERROR)
                snprintf(err, len, "corrupt (%s)", msg);
            else if (zerr == Z_BUF_ERROR || have)
                snprintf(err, len, "truncated: the file ends inside its compressed data");
            else
                err[0] = '\0'; /* a clean end */
            return NULL;
        }
        have += strlen(a->line + have);
        if (have && a->line[have - 1] == '\n')
            break;
    }
    *n = have;
    return a->line;
}

/* The manifest's shape: what an import relies on before it reads a row. */
static int s_check_manifest(const json_t *m, char *err, size_t len)
{
    json_t *fv = json_object_get(m, "format_version");
    if (!json_is_integer(fv)) {
        snprintf(err, len, "the manifest has no format_version: not a tenant archive");
        return -1;
    }
    if (json_integer_value(fv) != CTL_ARCHIVE_FORMAT_VERSION) {
        snprintf(err, len, "archive format %lld: this quizctl reads format %d",
                 (long long)json_integer_value(fv), CTL_ARCHIVE_FORMAT_VERSION);
        return -1;
    }
    const json_t *tenant = json_object_get(m, "tenant");
    const json_t *tables = json_object_get(m, "tables");
    if (!json_is_string(json_object_get(m, "schema_version")) ||
        !json_is_string(json_object_get(tenant, "id")) ||
        !json_is_string(json_object_get(tenant, "name")) || !json_is_array(tables) ||
        json_array_size(tables) > CTL_ARCHIVE_TABLES_MAX ||
        !json_is_object(json_object_get(m, "sequences"))) {
        snprintf(err, len, "the manifest lacks schema_version, tenant, tables or sequences");
        return -1;
    }
    size_t i;
    const json_t *t;
    json_array_foreach (tables, i, t) {
        const json_t *cols = json_object_get(t, "columns");
        if (!json_is_string(json_object_get(t, "name")) || !json_is_array(cols) ||
            json_array_size(cols) == 0 || !json_is_integer(json_object_get(t, "rows")) ||
            json_integer_value(json_object_get(t, "rows")) < 0) {
            snprintf(err, len, "table %zu of the manifest lacks its name, columns or rows", i);
            return -1;
        }
        size_t k;
        const json_t *c;
        json_array_foreach (cols, k, c)
            if (!json_is_string(c)) {
                snprintf(err, len, "table %zu of the manifest has a column that is not a name", i);
                return -1;
            }
    }
    return 0;
}

ctl_archive_t *ctl_archive_open(const char *path, const json_t **manifest, char *err, size_t len)
{
    ctl_archive_t *a = mem_zalloc(sizeof *a);
    crypto_hash_sha256_init(&a->sha);
    a->in = gzopen(path, "rb");
    if (!a->in) {
        snprintf(err, len, "cannot open %s: %s", path, strerror(errno));
        free(a);
        return NULL;
    }
    size_t n;
    const char *line = ctl_archive_line(a, &n, err, len);
    if (!line || n != strlen(MAGIC) || memcmp(line, MAGIC, n) != 0) {
        /* A read error has said why already. */
        if (line && strncmp(line, "quiz-tenant-export ", 19) == 0)
            snprintf(err, len, "archive format \"%.*s\": this quizctl reads format %d",
                     (int)(n > 40 ? 40 : n - 1), line + 19, CTL_ARCHIVE_FORMAT_VERSION);
        else if (line || !err[0])
            snprintf(err, len, "not a tenant archive (quizctl tenant export writes them)");
        ctl_archive_close(a);
        return NULL;
    }
    crypto_hash_sha256_update(&a->sha, (const unsigned char *)line, n);
    line = ctl_archive_line(a, &n, err, len);
    json_error_t jerr;
    if (line && n <= MANIFEST_MAX)
        a->manifest = json_loadb(line, n, 0, &jerr);
    if (!a->manifest) {
        if (line || !err[0])
            snprintf(err, len, "the manifest line is not JSON: not a tenant archive");
        ctl_archive_close(a);
        return NULL;
    }
    crypto_hash_sha256_update(&a->sha, (const unsigned char *)line, n);
    if (s_check_manifest(a->manifest, err, len) < 0) {
        ctl_archive_close(a);
        return NULL;
    }
    *manifest = a->manifest;
    return a;
}

void ctl_archive_close(ctl_archive_t *a)
{
    if (!a)
        return;
    if (a->in)
        gzclose(a->in);
    free(a->line);
    json_decref(a->manifest);
    free(a);
}

int ctl_archive_verify(const char *path, json_t **manifest_out, char *err, size_t len)
{
    const json_t *m;
    ctl_archive_t *a = ctl_archive_open(path, &m, err, len);
    if (!a)
        return -1;
    int rc = -1;
    size_t i, n;
    const json_t *t;
    const char *line = NULL;
    json_array_foreach (json_object_get(m, "tables"), i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        long long want = json_integer_value(json_object_get(t, "rows")), rows = 0;
        while ((line = ctl_archive_line(a, &n, err, len)) && !ctl_archive_is_end(line, n)) {
            crypto_hash_sha256_update(&a->sha, (const unsigned char *)line, n);
            rows++;
        }
        if (!line) {
            if (!err[0])
                snprintf(err, len, "truncated: the file ends inside table %s", name);
            goto out;
        }
        crypto_hash_sha256_update(&a->sha, (const unsigned char *)line, n);
        if (rows != want) {
            snprintf(err, len, "table %s: %lld rows, the manifest says %lld: corrupt", name, rows,
                     want);
            goto out;
        }
    }
    char hex[crypto_hash_sha256_BYTES * 2 + 1], expect[128];
    s_hex_digest(&a->sha, hex);
    snprintf(expect, sizeof expect, "{\"sha256\":\"%s\"}\n", hex);
    line = ctl_archive_line(a, &n, err, len);
    if (!line) {
        if (!err[0])
            snprintf(err, len, "truncated: the file ends before its checksum");
        goto out;
    }
    if (n != strlen(expect) || memcmp(line, expect, n) != 0) {
        snprintf(err, len, "checksum mismatch: the archive is corrupt");
        goto out;
    }
    if (ctl_archive_line(a, &n, err, len) || err[0]) {
        if (!err[0])
            snprintf(err, len, "data after the checksum: corrupt");
        goto out;
    }
    rc = 0;
    if (manifest_out)
        *manifest_out = json_incref(a->manifest);
out:
    ctl_archive_close(a);
    return rc;
}
