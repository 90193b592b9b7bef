/* Keyset pages: limits, cursors this service issued (round trip through a page's JSON) and the
 * ones it did not. The page JSON is built from a PGresult made in memory, no server. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "worker/wk_page.h"

static proto_request_t s_query(const char *limit, const char *cursor)
{
    proto_request_t req = {0};
    if (limit)
        req.query[req.nquery++] = (proto_kv_t){mem_strdup("limit"), mem_strdup(limit)};
    if (cursor)
        req.query[req.nquery++] = (proto_kv_t){mem_strdup("cursor"), mem_strdup(cursor)};
    return req;
}

/* Parses limit/cursor: the status (OK or BAD_REQUEST). */
static proto_status_t s_parse(const char *limit, const char *cursor, wk_page_t *page)
{
    proto_request_t req = s_query(limit, cursor);
    proto_reply_t rep = {0};
    int rc = wk_page_parse(&req, page, &rep);
    proto_status_t st = rc == 0 ? PROTO_STATUS_OK : rep.status;
    cr_expect(rc == 0 || rep.status == PROTO_STATUS_BAD_REQUEST);
    proto_reply_clear(&rep);
    proto_request_clear(&req);
    return st;
}

static char *s_b64(const char *text)
{
    static char out[200];
    sodium_bin2base64(out, sizeof out, (const unsigned char *)text, strlen(text),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

/* A list query's result in memory: rows of (item JSON, micros, id). */
static PGresult *s_rows(int n, const char *const rows[][3])
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc cols[3] = {
        {"item", 0, 0, 0, 25, -1, -1}, {"micros", 0, 0, 0, 20, 8, -1}, {"id", 0, 0, 0, 25, -1, -1}};
    cr_assert(PQsetResultAttrs(res, 3, cols));
    for (int r = 0; r < n; r++)
        for (int c = 0; c < 3; c++)
            cr_assert(PQsetvalue(res, r, c, (char *)rows[r][c], (int)strlen(rows[r][c])));
    return res;
}

Test(page, limits)
{
    wk_page_t page;
    cr_assert_eq(s_parse(NULL, NULL, &page), PROTO_STATUS_OK);
    cr_expect_eq(page.limit, WK_PAGE_DEFAULT);
    cr_expect_not(page.has_cursor);
    cr_expect_str_eq(page.fetch, "21"); /* one more row tells whether a next page exists */
    cr_assert_eq(s_parse("1", NULL, &page), PROTO_STATUS_OK);
    cr_expect_str_eq(page.fetch, "2");
    cr_assert_eq(s_parse("100", NULL, &page), PROTO_STATUS_OK);
    cr_expect_eq(page.limit, 100);
    const char *bad[] = {"0", "101", "-1", "", "ten", "10x", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(s_parse(bad[i], NULL, &page), PROTO_STATUS_BAD_REQUEST, "limit \"%s\"",
                     bad[i]);
}

Test(page, a_cursor_from_a_page_reads_back_as_its_last_row)
{
    const char *const rows[][3] = {
        {"{\"n\":1}", "1700000000000003", "123e4567-e89b-42d3-a456-426614174003"},
        {"{\"n\":2}", "1700000000000002", "123e4567-e89b-42d3-a456-426614174002"},
        {"{\"n\":3}", "1700000000000001", "123e4567-e89b-42d3-a456-426614174001"},
    };
    wk_page_t page;
    cr_assert_eq(s_parse("2", NULL, &page), PROTO_STATUS_OK);
    PGresult *res = s_rows(3, rows); /* limit + 1 rows: there is a next page */
    char *json = wk_page_json(res, &page);
    PQclear(res);
    json_t *doc = json_loads(json, 0, NULL);
    cr_assert(doc, "not JSON: %s", json);
    cr_expect_eq(json_array_size(json_object_get(doc, "items")), 2);
    const char *cursor = json_string_value(json_object_get(doc, "next_cursor"));
    cr_assert(cursor, "no next_cursor in %s", json);

    wk_page_t next;
    cr_assert_eq(s_parse("2", cursor, &next), PROTO_STATUS_OK);
    cr_expect(next.has_cursor);
    cr_expect_str_eq(next.micros, "1700000000000002");
    cr_expect_str_eq(next.id, "123e4567-e89b-42d3-a456-426614174002");
    const char *values[3];
    wk_page_params(&next, values);
    cr_expect_str_eq(values[0], "1700000000000002");
    cr_expect_str_eq(values[2], "3");
    json_decref(doc);
    free(json);
}

Test(page, the_last_page_has_no_cursor)
{
    const char *const rows[][3] = {{"{\"n\":1}", "5", "17"}};
    wk_page_t page;
    cr_assert_eq(s_parse(NULL, NULL, &page), PROTO_STATUS_OK);
    PGresult *res = s_rows(1, rows);
    char *json = wk_page_json(res, &page);
    PQclear(res);
    cr_expect_str_eq(json, "{\"items\":[{\"n\":1}],\"next_cursor\":null}");
    free(json);
    wk_page_t none;
    cr_assert_eq(s_parse(NULL, NULL, &none), PROTO_STATUS_OK);
    res = s_rows(0, NULL);
    json = wk_page_json(res, &none);
    PQclear(res);
    cr_expect_str_eq(json, "{\"items\":[],\"next_cursor\":null}");
    free(json);
}

Test(page, cursors_it_did_not_issue_are_refused)
{
    wk_page_t page;
    /* A bigserial id (the audit log) is a cursor too. */
    cr_expect_eq(s_parse(NULL, s_b64("12:345"), &page), PROTO_STATUS_OK);
    cr_expect_str_eq(page.id, "345");
    const char *bad[] = {
        "12:345", /* not base64url */
        "!!!!",   /* not base64 at all */
        "12:0x1", /* (encoded below) */
    };
    cr_expect_eq(s_parse(NULL, bad[0], &page), PROTO_STATUS_BAD_REQUEST);
    cr_expect_eq(s_parse(NULL, bad[1], &page), PROTO_STATUS_BAD_REQUEST);
    const char *raw[] = {
        "12:0x1",                                 /* id neither UUID nor digits */
        ":345",                                   /* no time */
        "1a:345",                                 /* time not digits */
        "-5:345",                                 /* negative time */
        "12:",                                    /* no id */
        "12345",                                  /* no colon */
        "12:1234567890123456789",                 /* id too long for a bigint */
        "12:123e4567-e89b-42d3-a456-42661417400", /* a UUID one digit short */
        "123456789012345678901234:1",             /* time too long */
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
        cr_expect_eq(s_parse(NULL, s_b64(raw[i]), &page), PROTO_STATUS_BAD_REQUEST, "cursor %s",
                     raw[i]);
    char longer[160];
    memset(longer, 'A', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    cr_expect_eq(s_parse(NULL, longer, &page), PROTO_STATUS_BAD_REQUEST, "a 159-byte cursor");
    /* An empty cursor is the first page. */
    cr_expect_eq(s_parse(NULL, "", &page), PROTO_STATUS_OK);
    cr_expect_not(page.has_cursor);
}
