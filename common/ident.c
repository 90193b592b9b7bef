/* UUID text form and tenant schema names. Hand-written because it is 40 lines and must be
 * strict: only the canonical hyphenated form is accepted, nothing else becomes an id. */
#include "common/ident.h"

#include <sodium.h>
#include <string.h>

static int s_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ident_uuid_parse(const char *text, size_t len, uint8_t out[IDENT_UUID_LEN])
{
    if (!text || len != IDENT_UUID_STR_LEN)
        return -1;
    size_t byte = 0;
    for (size_t i = 0; i < len;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return -1;
            i++;
            continue;
        }
        int hi = s_nibble(text[i]), lo = s_nibble(text[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[byte++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return 0;
}

void ident_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

void ident_uuid_format(const uint8_t uuid[IDENT_UUID_LEN], char out[IDENT_UUID_STR_LEN + 1])
{
    char hex[33];
    ident_hex(uuid, IDENT_UUID_LEN, hex);
    memcpy(out, hex, 8);
    out[8] = '-';
    memcpy(out + 9, hex + 8, 4);
    out[13] = '-';
    memcpy(out + 14, hex + 12, 4);
    out[18] = '-';
    memcpy(out + 19, hex + 16, 4);
    out[23] = '-';
    memcpy(out + 24, hex + 20, 12);
    out[36] = '\0';
}

void ident_uuid_random(uint8_t out[IDENT_UUID_LEN])
{
    randombytes_buf(out, IDENT_UUID_LEN);
    out[6] = (uint8_t)((out[6] & 0x0f) | 0x40); /* version 4 */
    out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}

void ident_schema_name(const uint8_t uuid[IDENT_UUID_LEN], char out[IDENT_SCHEMA_LEN + 1])
{
    memcpy(out, "tenant_", 7);
    ident_hex(uuid, IDENT_UUID_LEN, out + 7);
}

int ident_id_parse(const char *text, size_t len, uint8_t out[16])
{
    if (!text || len != 32)
        return ident_uuid_parse(text, len, out);
    for (size_t i = 0; i < 16; i++) {
        int hi = s_nibble(text[2 * i]), lo = s_nibble(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
