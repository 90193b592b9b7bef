/* UUIDs and the only SQL identifiers the service ever builds: a tenant's schema name is
 * "tenant_" + 32 lowercase hex digits of its UUID, derived here and nowhere else. */
#ifndef COMMON_IDENT_H
#define COMMON_IDENT_H

#include <stddef.h>
#include <stdint.h>

#define IDENT_UUID_LEN     16
#define IDENT_UUID_STR_LEN 36
#define IDENT_SCHEMA_LEN   (7 + 32)

/* Parses the canonical 8-4-4-4-12 form (either case) into 16 bytes. 0, or -1 if malformed. */
int ident_uuid_parse(const char *text, size_t len, uint8_t out[IDENT_UUID_LEN])
    __attribute__((warn_unused_result));
/* Writes the lowercase canonical form and a NUL into out (37 bytes). */
void ident_uuid_format(const uint8_t uuid[IDENT_UUID_LEN], char out[IDENT_UUID_STR_LEN + 1]);
/* Fills a random version-4 UUID (libsodium's CSPRNG). */
void ident_uuid_random(uint8_t out[IDENT_UUID_LEN]);
/* Writes "tenant_<32 hex>" and a NUL into out (40 bytes). */
void ident_schema_name(const uint8_t uuid[IDENT_UUID_LEN], char out[IDENT_SCHEMA_LEN + 1]);
/* Lowercase hex of n bytes plus a NUL into out (2n+1 bytes). */
void ident_hex(const uint8_t *bytes, size_t n, char *out);
/* A 16-byte id given as 32 hex digits or as a UUID (either case). 0, or -1 if neither. */
int ident_id_parse(const char *text, size_t len, uint8_t out[16])
    __attribute__((warn_unused_result));

#endif
