/* Keyset pagination: stable under concurrent inserts (no OFFSET), one index range scan per page.
 * The cursor is base64url("<micros>:<uuid>"); it is opaque to clients and validated here. */
#include "worker/wk_page.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"
#include "common/mem.h"
#include "worker/wk_reply.h"

static int s_parse_limit(const char *text, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < 1 || v > WK_PAGE_MAX)
        return -1;
    *out = (int)v;
    return 0;
}

static int s_parse_cursor(const char *text, wk_page_t *page)
{
    char raw[80];
    size_t len = 0;
    if (strlen(text) > 100 ||
        sodium_base642bin((unsigned char *)raw, sizeof raw - 1, text, strlen(text), NULL, &len,
                          NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    raw[len] = '\0';
    char *colon = memchr(raw, ':', len);
    if (!colon || colon == raw || (size_t)(colon - raw) >= sizeof page->micros)
        return -1;
    for (char *p = raw; p < colon; p++)
        if (*p < '0' || *p > '9')
            return -1;
    /* The row id is a UUID, or a bigserial for the audit log. */
    const char *id = colon + 1;
    size_t id_len = strlen(id);
    uint8_t uuid[16];
    if (ident_uuid_parse(id, id_len, uuid) == 0) {
        ident_uuid_format(uuid, page->id);
    } else {
        if (id_len == 0 || id_len > 18 || strspn(id, "0123456789") != id_len)
            return -1;
        memcpy(page->id, id, id_len + 1);
    }
    memcpy(page->micros, raw, (size_t)(colon - raw));
    page->micros[colon - raw] = '\0';
    page->has_cursor = true;
    return 0;
}

int wk_page_parse(const proto_request_t *req, wk_page_t *page, proto_reply_t *rep)
{
    memset(page, 0, sizeof *page);
    page->limit = WK_PAGE_DEFAULT;
    const char *limit = proto_request_query(req, "limit");
    if (limit && s_parse_limit(limit, &page->limit) < 0) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "limit must be an integer from 1 to %d",
                       WK_PAGE_MAX);
        return -1;
    }
    const char *cursor = proto_request_query(req, "cursor");
    if (cursor && *cursor && s_parse_cursor(cursor, page) < 0) {
        wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "cursor is not one this service issued");
        return -1;
    }
    snprintf(page->fetch, sizeof page->fetch, "%d", page->limit + 1);
    return 0;
}

void wk_page_params(const wk_page_t *page, const char *values[3])
{
    values[0] = page->has_cursor ? page->micros : NULL;
    values[1] = page->has_cursor ? page->id : NULL;
    values[2] = page->fetch;
}

char *wk_page_json(const PGresult *res, const wk_page_t *page)
{
    int rows = PQntuples(res);
    int shown = rows > page->limit ? page->limit : rows;
    size_t cap = 64;
    for (int i = 0; i < shown; i++)
        cap += (size_t)PQgetlength(res, i, 0) + 1;
    char *out = mem_alloc(cap + 128);
    size_t n = 0;
    n += (size_t)sprintf(out + n, "{\"items\":[");
    for (int i = 0; i < shown; i++) {
        if (i)
            out[n++] = ',';
        size_t len = (size_t)PQgetlength(res, i, 0);
        memcpy(out + n, PQgetvalue(res, i, 0), len);
        n += len;
    }
    if (rows > page->limit) {
        char raw[80], enc[128];
        int rl = snprintf(raw, sizeof raw, "%s:%s", PQgetvalue(res, shown - 1, 1),
                          PQgetvalue(res, shown - 1, 2));
        sodium_bin2base64(enc, sizeof enc, (const unsigned char *)raw, (size_t)rl,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        n += (size_t)sprintf(out + n, "],\"next_cursor\":\"%s\"}", enc);
    } else {
        n += (size_t)sprintf(out + n, "],\"next_cursor\":null}");
    }
    return out;
}
