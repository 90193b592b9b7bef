/* The wire codec: every field survives a round trip, and every malformed frame (truncated,
 * oversized, wrong version, wrong types, absurd counts) is an error value, never a crash. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "proto/proto.h"

static void s_fill(proto_request_t *r)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < 16; i++) {
        r->request_id[i] = (uint8_t)i;
        r->tenant[i] = (uint8_t)(0xa0 + i);
        r->user_id[i] = (uint8_t)(0x50 + i);
    }
    r->deadline_ms = 1790000000123ULL;
    r->has_tenant = true;
    r->has_user = true;
    r->role = PROTO_ROLE_ADMIN;
    r->op = PROTO_OP_TENANT_STATS;
    r->nparams = 2;
    memset(r->params[0], 1, 16);
    memset(r->params[1], 2, 16);
    r->nquery = 2;
    r->query[0] = (proto_kv_t){mem_strdup("limit"), mem_strdup("20")};
    r->query[1] = (proto_kv_t){mem_strdup("cursor"), mem_strdup("")};
    r->body = mem_strdup("{\"a\":1}");
    r->body_len = 7;
    strcpy(r->client, "127.0.0.1");
    proto_request_header(r, "Idempotency-Key", "k-1");
    r->credential = mem_strdup("eyJhbGciOiJIUzI1NiJ9.e30.sig");
}

Test(proto, request_round_trip)
{
    proto_request_t in, out;
    s_fill(&in);
    size_t len;
    void *buf = proto_request_encode(&in, &len);
    const char *why = NULL;
    cr_assert_eq(proto_request_decode(buf, len, &out, &why), 0, "%s", why);
    cr_expect_arr_eq(out.request_id, in.request_id, 16);
    cr_expect_eq(out.deadline_ms, in.deadline_ms);
    cr_expect(out.has_tenant && out.has_user);
    cr_expect_arr_eq(out.tenant, in.tenant, 16);
    cr_expect_arr_eq(out.user_id, in.user_id, 16);
    cr_expect_eq(out.role, PROTO_ROLE_ADMIN);
    cr_expect_eq(out.op, PROTO_OP_TENANT_STATS);
    cr_expect_eq(out.nparams, 2);
    cr_expect_arr_eq(out.params[1], in.params[1], 16);
    cr_expect_eq(out.nquery, 2);
    cr_expect_str_eq(proto_request_query(&out, "limit"), "20");
    cr_expect_str_eq(proto_request_query(&out, "cursor"), "");
    cr_expect_null(proto_request_query(&out, "other"));
    cr_expect_eq(out.body_len, 7);
    cr_expect_str_eq(out.body, "{\"a\":1}");
    cr_expect_str_eq(out.client, "127.0.0.1");
    cr_expect_str_eq(proto_request_get_header(&out, "Idempotency-Key"), "k-1");
    cr_expect_null(proto_request_get_header(&out, "If-Match"));
    cr_expect_str_eq(out.credential, "eyJhbGciOiJIUzI1NiJ9.e30.sig");
    free(buf);
    proto_request_clear(&in);
    cr_expect_null(in.credential);
    proto_request_clear(&out);
}

Test(proto, request_without_tenant_or_user)
{
    proto_request_t in = {.op = PROTO_OP_PING}, out;
    size_t len;
    void *buf = proto_request_encode(&in, &len);
    const char *why = NULL;
    cr_assert_eq(proto_request_decode(buf, len, &out, &why), 0, "%s", why);
    cr_expect(!out.has_tenant && !out.has_user);
    cr_expect_eq(out.body_len, 0);
    cr_expect_null(out.credential, "an empty credential decodes as none");
    free(buf);
    proto_request_clear(&out);
}

Test(proto, reply_round_trip)
{
    proto_reply_t in = {.status = PROTO_STATUS_CONFLICT,
                        .body = (char *)"{\"x\":[1,2]}",
                        .body_len = 11,
                        .detail = (char *)"email taken"},
                  out;
    memset(in.request_id, 7, 16);
    proto_reply_header(&in, "Retry-After", "42");
    size_t len;
    void *buf = proto_reply_encode(&in, &len);
    const char *why = NULL;
    cr_assert_eq(proto_reply_decode(buf, len, &out, &why), 0, "%s", why);
    cr_expect_arr_eq(out.request_id, in.request_id, 16);
    cr_expect_eq(out.status, PROTO_STATUS_CONFLICT);
    cr_expect_str_eq(out.body, "{\"x\":[1,2]}");
    cr_expect_str_eq(out.detail, "email taken");
    cr_expect_eq(out.nheaders, 1);
    cr_expect_str_eq(out.headers[0].key, "Retry-After");
    cr_expect_str_eq(out.headers[0].value, "42");
    free(buf);
    proto_reply_clear(&out);
    free(in.headers[0].key);
    free(in.headers[0].value);
}

Test(proto, every_truncation_of_a_request_fails_cleanly)
{
    proto_request_t in, out;
    s_fill(&in);
    size_t len;
    char *buf = proto_request_encode(&in, &len);
    for (size_t cut = 0; cut < len; cut++) {
        /* A fresh heap copy of exactly `cut` bytes lets ASan catch any read past the end. */
        char *part = mem_alloc(cut ? cut : 1);
        memcpy(part, buf, cut);
        const char *why = NULL;
        cr_expect_eq(proto_request_decode(part, cut, &out, &why), -1, "cut at %zu", cut);
        cr_expect_not_null(why);
        free(part);
    }
    free(buf);
    proto_request_clear(&in);
}

Test(proto, every_truncation_of_a_reply_fails_cleanly)
{
    proto_reply_t in = {.status = PROTO_STATUS_OK, .body = (char *)"{}", .body_len = 2}, out;
    size_t len;
    char *buf = proto_reply_encode(&in, &len);
    for (size_t cut = 0; cut < len; cut++) {
        char *part = mem_alloc(cut ? cut : 1);
        memcpy(part, buf, cut);
        const char *why = NULL;
        cr_expect_eq(proto_reply_decode(part, cut, &out, &why), -1, "cut at %zu", cut);
        free(part);
    }
    free(buf);
}

/* Wrong-kind values to put in place of one envelope field. Parameters are plain values, not
 * pointers: Criterion runs each case in a fresh process. */
typedef enum { NIL, STR, BIG, NEG, BIN15, ARR5, MAP_NUL, MAP_INTVAL } bad_kind_t;

static void s_bad_value(msgpack_packer *pk, bad_kind_t kind)
{
    switch (kind) {
    case NIL: msgpack_pack_nil(pk); break;
    case STR: msgpack_pack_str_with_body(pk, "x", 1); break;
    case BIG: msgpack_pack_uint64(pk, 1ULL << 40); break;
    case NEG: msgpack_pack_int64(pk, -1); break;
    case BIN15: msgpack_pack_bin_with_body(pk, "123456789012345", 15); break;
    case ARR5:
        msgpack_pack_array(pk, 5);
        for (int i = 0; i < 5; i++)
            msgpack_pack_bin_with_body(pk, "1234567890123456", 16);
        break;
    case MAP_NUL:
        msgpack_pack_map(pk, 1);
        msgpack_pack_str_with_body(pk, "a\0b", 3);
        msgpack_pack_str_with_body(pk, "v", 1);
        break;
    case MAP_INTVAL:
        msgpack_pack_map(pk, 1);
        msgpack_pack_str_with_body(pk, "k", 1);
        msgpack_pack_int(pk, 3);
        break;
    }
}

struct bad_field {
    int field;
    bad_kind_t value;
};

/* A valid request envelope, except field `bad` (if >= 0) holds a value of kind `value`. */
static void *s_envelope(int bad, bad_kind_t value, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 13);
    for (int f = 0; f < 13; f++) {
        if (f == bad) {
            s_bad_value(&pk, value);
            continue;
        }
        switch (f) {
        case 0: msgpack_pack_uint32(&pk, PROTO_VERSION); break;
        case 1: msgpack_pack_bin_with_body(&pk, "1234567890123456", 16); break;
        case 2: msgpack_pack_uint64(&pk, 1); break;
        case 3:
        case 5: msgpack_pack_nil(&pk); break;
        case 4:
        case 6: msgpack_pack_uint32(&pk, 0); break;
        case 7: msgpack_pack_array(&pk, 0); break;
        case 8:
        case 11: msgpack_pack_map(&pk, 0); break;
        case 9: msgpack_pack_bin_with_body(&pk, "", 0); break;
        case 10:
        case 12: msgpack_pack_str_with_body(&pk, "", 0); break;
        }
    }
    *len = sb.size;
    return sb.data;
}

ParameterizedTestParameters(proto, wrong_field_types)
{
    static struct bad_field cases[] = {
        {0, BIG},         {0, STR},  {1, BIN15},  {1, NIL},     {2, NEG},        {2, STR},
        {3, BIN15},       {3, STR},  {4, BIG},    {4, NIL},     {5, BIN15},      {6, BIG},
        {6, NEG},         {7, ARR5}, {7, NIL},    {8, MAP_NUL}, {8, MAP_INTVAL}, {8, STR},
        {9, STR},         {9, NIL},  {10, NIL},   {10, BIN15},  {11, STR},       {11, MAP_NUL},
        {11, MAP_INTVAL}, {12, NIL}, {12, BIN15}, {12, BIG},
    };
    return cr_make_param_array(struct bad_field, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct bad_field *c, proto, wrong_field_types)
{
    size_t len;
    void *buf = s_envelope(c->field, c->value, &len);
    proto_request_t out;
    const char *why = NULL;
    cr_expect_eq(proto_request_decode(buf, len, &out, &why), -1, "field %d accepted", c->field);
    cr_expect_not_null(why);
    free(buf);
}

Test(proto, control_envelope_is_valid)
{
    size_t len;
    void *buf = s_envelope(-1, NIL, &len);
    proto_request_t out;
    const char *why = NULL;
    cr_expect_eq(proto_request_decode(buf, len, &out, &why), 0, "%s", why);
    proto_request_clear(&out);
    free(buf);
}

struct raw_frame {
    char bytes[8];
    size_t len;
};

ParameterizedTestParameters(proto, garbage_frames)
{
    static struct raw_frame cases[] = {
        {"", 0},
        {"\xc1", 1},                 /* never-used byte */
        {"\x90", 1},                 /* empty array */
        {"\x9d", 1},                 /* array of 13, no elements */
        {"\xdd\xff\xff\xff\xff", 5}, /* array claiming 4 billion elements */
        {"\xdf\xff\xff\xff\xff", 5}, /* map claiming 4 billion pairs */
        {"\xc6\xff\xff\xff\xff", 5}, /* bin claiming 4 GiB */
        {"\x9d\x02\xc4\x10", 4},     /* request id cut short */
        {"\x01", 1},                 /* a bare integer */
        {"\x92\x01\x02\x03", 4},     /* trailing byte */
    };
    return cr_make_param_array(struct raw_frame, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct raw_frame *c, proto, garbage_frames)
{
    char *copy = mem_alloc(c->len ? c->len : 1);
    memcpy(copy, c->bytes, c->len);
    proto_request_t req;
    proto_reply_t rep;
    const char *why = NULL;
    cr_expect_eq(proto_request_decode(copy, c->len, &req, &why), -1);
    cr_expect_eq(proto_reply_decode(copy, c->len, &rep, &why), -1);
    free(copy);
}

Test(proto, oversized_body_is_refused)
{
    proto_request_t in = {.op = PROTO_OP_PING}, out;
    in.body_len = PROTO_MAX_BODY + 1;
    in.body = mem_zalloc(in.body_len);
    size_t len;
    void *buf = proto_request_encode(&in, &len);
    const char *why = NULL;
    cr_expect_eq(proto_request_decode(buf, len, &out, &why), -1);
    free(buf);
    free(in.body);
}

Test(proto, names_cover_every_value)
{
    for (int i = 0; i < PROTO_OP__COUNT; i++)
        cr_expect_str_neq(proto_op_str(i), "unknown");
    for (int i = 0; i < PROTO_STATUS__COUNT; i++)
        cr_expect_str_neq(proto_status_str(i), "unknown");
    cr_expect_str_eq(proto_op_str(PROTO_OP__COUNT), "unknown");
}

Test(proto, peek_finds_the_operation_and_id_without_decoding)
{
    proto_request_t in;
    s_fill(&in);
    for (int op = 0; op < PROTO_OP__COUNT; op++) {
        in.op = (proto_op_t)op;
        size_t len;
        void *buf = proto_request_encode(&in, &len);
        uint8_t id[16] = {0}, tenant[16] = {0};
        cr_expect_eq(proto_request_peek(buf, len, id, tenant), op);
        cr_expect_arr_eq(id, in.request_id, 16);
        cr_expect_arr_eq(tenant, in.tenant, 16);
        /* Truncated anywhere before the operation: -1, never a read past the end. */
        for (size_t cut = 0; cut < 40 && cut < len; cut++) {
            char *part = mem_alloc(cut ? cut : 1);
            memcpy(part, buf, cut);
            int got = proto_request_peek(part, cut, NULL, NULL);
            cr_expect(got == -1 || got == op, "cut %zu gave %d", cut, got);
            free(part);
        }
        free(buf);
    }
    /* A request about no tenant peeks as all zero. */
    in.has_tenant = false;
    size_t len;
    void *buf = proto_request_encode(&in, &len);
    uint8_t tenant[16], zero[16] = {0};
    memset(tenant, 0xff, sizeof tenant);
    cr_expect_eq(proto_request_peek(buf, len, NULL, tenant), (int)in.op);
    cr_expect_arr_eq(tenant, zero, 16);
    free(buf);
    proto_request_clear(&in);
    cr_expect_eq(proto_request_peek("\x9d\xc1", 2, NULL, NULL), -1);
    cr_expect_eq(proto_request_peek(NULL, 0, NULL, NULL), -1);
}

Test(proto, overlong_credential_is_refused)
{
    proto_request_t in = {.op = PROTO_OP_PING}, out;
    in.credential = mem_alloc(PROTO_MAX_CREDENTIAL + 2);
    memset(in.credential, 'a', PROTO_MAX_CREDENTIAL + 1);
    in.credential[PROTO_MAX_CREDENTIAL + 1] = '\0';
    size_t len;
    void *buf = proto_request_encode(&in, &len);
    const char *why = NULL;
    cr_expect_eq(proto_request_decode(buf, len, &out, &why), -1);
    cr_expect_str_eq(why, "credential is not a string of at most 2048 bytes");
    free(buf);
    proto_request_clear(&in);
}
