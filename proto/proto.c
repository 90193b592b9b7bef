/* msgpack codec for the gateway<->worker envelopes (see PROTOCOL.md). Encoding uses msgpack-c's
 * packer into an sbuffer; decoding uses msgpack_unpack_next and then checks every field's type
 * and bound before copying it out, so a malformed frame is an error value, never a crash. */
#include "proto/proto.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

#define REQUEST_FIELDS 13
#define REPLY_FIELDS   6

static const char *const s_op_names[PROTO_OP__COUNT] = {
    [PROTO_OP_PING] = "ping",
    [PROTO_OP_TENANT_CREATE] = "tenant_create",
    [PROTO_OP_TENANT_LIST] = "tenant_list",
    [PROTO_OP_TENANT_GET] = "tenant_get",
    [PROTO_OP_TENANT_DELETE] = "tenant_delete",
    [PROTO_OP_TENANT_STATS] = "tenant_stats",
    [PROTO_OP_TENANT_USER_CREATE] = "tenant_user_create",
    [PROTO_OP_AUTH_LOGIN] = "auth_login",
    [PROTO_OP_AUTH_REFRESH] = "auth_refresh",
    [PROTO_OP_AUTH_LOGOUT] = "auth_logout",
    [PROTO_OP_USER_ME] = "user_me",
    [PROTO_OP_USER_PASSWORD] = "user_password",
    [PROTO_OP_USER_LIST] = "user_list",
    [PROTO_OP_USER_GET] = "user_get",
    [PROTO_OP_USER_CREATE] = "user_create",
    [PROTO_OP_USER_UPDATE] = "user_update",
    [PROTO_OP_USER_DELETE] = "user_delete",
    [PROTO_OP_AUDIT_LIST] = "audit_list",
    [PROTO_OP_QUIZ_CREATE] = "quiz_create",
    [PROTO_OP_QUIZ_LIST] = "quiz_list",
    [PROTO_OP_QUIZ_GET] = "quiz_get",
    [PROTO_OP_QUIZ_UPDATE] = "quiz_update",
    [PROTO_OP_QUIZ_DELETE] = "quiz_delete",
    [PROTO_OP_QUIZ_STATS] = "quiz_stats",
    [PROTO_OP_QUESTION_CREATE] = "question_create",
    [PROTO_OP_QUESTION_UPDATE] = "question_update",
    [PROTO_OP_QUESTION_DELETE] = "question_delete",
    [PROTO_OP_QUESTION_REORDER] = "question_reorder",
    [PROTO_OP_ATTEMPT_CREATE] = "attempt_create",
    [PROTO_OP_ATTEMPT_LIST] = "attempt_list",
    [PROTO_OP_ATTEMPT_GET] = "attempt_get",
    [PROTO_OP_TENANT_MOVE] = "tenant_move",
    [PROTO_OP_OPERATION_GET] = "operation_get",
    [PROTO_OP_OPERATION_LIST] = "operation_list",
    [PROTO_OP_SHARD_LIST] = "shard_list",
    [PROTO_OP_SHARD_REBALANCE] = "shard_rebalance",
    [PROTO_OP_TENANT_SUSPEND] = "tenant_suspend",
    [PROTO_OP_TENANT_RATE_SET] = "tenant_rate_set",
    [PROTO_OP_TENANT_RESUME] = "tenant_resume",
    [PROTO_OP_TENANT_RESTORE] = "tenant_restore",
};

static const char *const s_status_names[PROTO_STATUS__COUNT] = {
    [PROTO_STATUS_OK] = "ok",
    [PROTO_STATUS_CREATED] = "created",
    [PROTO_STATUS_NO_CONTENT] = "no_content",
    [PROTO_STATUS_BAD_REQUEST] = "bad_request",
    [PROTO_STATUS_UNAUTHORIZED] = "unauthorized",
    [PROTO_STATUS_FORBIDDEN] = "forbidden",
    [PROTO_STATUS_NOT_FOUND] = "not_found",
    [PROTO_STATUS_CONFLICT] = "conflict",
    [PROTO_STATUS_TOO_LARGE] = "too_large",
    [PROTO_STATUS_RATE_LIMITED] = "rate_limited",
    [PROTO_STATUS_UNAVAILABLE] = "unavailable",
    [PROTO_STATUS_TIMEOUT] = "timeout",
    [PROTO_STATUS_MISROUTED] = "misrouted",
    [PROTO_STATUS_INTERNAL] = "internal",
    [PROTO_STATUS_PRECONDITION_FAILED] = "precondition_failed",
    [PROTO_STATUS_UNPROCESSABLE] = "unprocessable",
    [PROTO_STATUS_ACCEPTED] = "accepted",
    [PROTO_STATUS_NOT_MODIFIED] = "not_modified",
    /* The problem type DESIGN.md names (the others predate it). */
    [PROTO_STATUS_TENANT_SUSPENDED] = "tenant-suspended",
};

static const char *const s_role_names[PROTO_ROLE__COUNT] = {
    [PROTO_ROLE_NONE] = "none",
    [PROTO_ROLE_PLATFORM] = "platform",
    [PROTO_ROLE_MEMBER] = "member",
    [PROTO_ROLE_ADMIN] = "admin",
};

bool proto_op_hashes_password(proto_op_t op)
{
    switch (op) {
    case PROTO_OP_TENANT_CREATE:      /* the admin's temporary password */
    case PROTO_OP_TENANT_USER_CREATE: /* the new user's */
    case PROTO_OP_USER_CREATE:
    case PROTO_OP_AUTH_LOGIN:
    case PROTO_OP_USER_PASSWORD: return true;
    default: return false;
    }
}

const char *proto_op_str(proto_op_t op)
{
    return (unsigned)op < PROTO_OP__COUNT ? s_op_names[op] : "unknown";
}

const char *proto_status_str(proto_status_t status)
{
    return (unsigned)status < PROTO_STATUS__COUNT ? s_status_names[status] : "unknown";
}

const char *proto_role_str(proto_role_t role)
{
    return (unsigned)role < PROTO_ROLE__COUNT ? s_role_names[role] : "unknown";
}

/* ---- encoding ---- */

static void s_pack_bin(msgpack_packer *pk, const void *data, size_t len)
{
    msgpack_pack_bin(pk, len);
    msgpack_pack_bin_body(pk, data, len);
}

static void s_pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

static void s_pack_opt_uuid(msgpack_packer *pk, bool present, const uint8_t uuid[16])
{
    if (present)
        s_pack_bin(pk, uuid, 16);
    else
        msgpack_pack_nil(pk);
}

static void s_pack_kvs(msgpack_packer *pk, const proto_kv_t *kvs, int n)
{
    msgpack_pack_map(pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        s_pack_str(pk, kvs[i].key);
        s_pack_str(pk, kvs[i].value);
    }
}

static void *s_finish(msgpack_sbuffer *sb, size_t *len)
{
    *len = sb->size;
    return sb->data; /* the sbuffer's storage becomes the caller's */
}

void *proto_request_encode(const proto_request_t *req, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, REQUEST_FIELDS);
    msgpack_pack_uint32(&pk, PROTO_VERSION);
    s_pack_bin(&pk, req->request_id, 16);
    msgpack_pack_uint64(&pk, req->deadline_ms);
    s_pack_opt_uuid(&pk, req->has_tenant, req->tenant);
    msgpack_pack_uint32(&pk, (uint32_t)req->role);
    s_pack_opt_uuid(&pk, req->has_user, req->user_id);
    msgpack_pack_uint32(&pk, (uint32_t)req->op);
    msgpack_pack_array(&pk, (size_t)req->nparams);
    for (int i = 0; i < req->nparams; i++)
        s_pack_bin(&pk, req->params[i], 16);
    s_pack_kvs(&pk, req->query, req->nquery);
    s_pack_bin(&pk, req->body ? req->body : "", req->body ? req->body_len : 0);
    s_pack_str(&pk, req->client);
    s_pack_kvs(&pk, req->headers, req->nheaders);
    s_pack_str(&pk, req->credential ? req->credential : "");
    return s_finish(&sb, len);
}

void *proto_reply_encode(const proto_reply_t *rep, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, REPLY_FIELDS);
    msgpack_pack_uint32(&pk, PROTO_VERSION);
    s_pack_bin(&pk, rep->request_id, 16);
    msgpack_pack_uint32(&pk, (uint32_t)rep->status);
    s_pack_bin(&pk, rep->body ? rep->body : "", rep->body ? rep->body_len : 0);
    s_pack_str(&pk, rep->detail ? rep->detail : "");
    s_pack_kvs(&pk, rep->headers, rep->nheaders);
    return s_finish(&sb, len);
}

/* ---- decoding ---- */

/* Reads a big-endian length of n bytes at p. */
static size_t s_be(const uint8_t *p, int n)
{
    size_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Walks one msgpack object at *off_p without allocating (advancing *off_p past it) and checks that
 * every length fits in the bytes that remain and every container count could be backed by them
 * (each element takes at least one byte), nesting at most 8 deep. msgpack_unpack_next allocates
 * count * 24 bytes for a container before reading its elements, so without this a 5-byte frame
 * claiming 2^32 elements would ask for 96 GiB. */
static int s_walk(const uint8_t *p, size_t len, size_t *off_p)
{
    size_t todo[9] = {1}; /* items left per nesting level */
    int depth = 0;
    size_t off = *off_p;
    while (depth >= 0) {
        if (todo[depth] == 0) {
            depth--;
            continue;
        }
        todo[depth]--;
        if (off >= len)
            return -1;
        uint8_t b = p[off++];
        size_t head = 0, body = 0, count = 0;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* single-byte value */
        } else if (b >= 0x80 && b <= 0x8f) {
            count = 2 * (size_t)(b & 0x0f);
        } else if (b >= 0x90 && b <= 0x9f) {
            count = b & 0x0f;
        } else if (b >= 0xa0 && b <= 0xbf) {
            body = b & 0x1f;
        } else if (b == 0xc4 || b == 0xd9) {
            head = 1;
        } else if (b == 0xc5 || b == 0xda) {
            head = 2;
        } else if (b == 0xc6 || b == 0xdb) {
            head = 4;
        } else if (b >= 0xc7 && b <= 0xc9) {
            head = (size_t)1 << (b - 0xc7); /* ext: length, then a type byte */
        } else if (b == 0xca || b == 0xcb) {
            body = b == 0xca ? 4 : 8;
        } else if (b >= 0xcc && b <= 0xd3) {
            body = (size_t)1 << ((b - 0xcc) & 3);
        } else if (b >= 0xd4 && b <= 0xd8) {
            body = 1 + ((size_t)1 << (b - 0xd4));
        } else if (b == 0xdc || b == 0xde) {
            head = 2;
        } else if (b == 0xdd || b == 0xdf) {
            head = 4;
        } else {
            return -1; /* 0xc1 is never used */
        }
        if (head) {
            if (len - off < head)
                return -1;
            size_t n = s_be(p + off, (int)head);
            off += head;
            if (b >= 0xdc)
                count = b >= 0xde ? 2 * n : n;
            else
                body = n + (b >= 0xc7 && b <= 0xc9);
        }
        if (len - off < body || count > len - off - body)
            return -1;
        off += body;
        if (count) {
            if (depth == 8)
                return -1;
            todo[++depth] = count;
        }
    }
    *off_p = off;
    return 0;
}

static int s_precheck(const uint8_t *p, size_t len)
{
    size_t off = 0;
    return s_walk(p, len, &off);
}

/* Unpacks one whole top-level array of exactly `fields` elements. */
static int s_unpack(const void *buf, size_t len, size_t fields, msgpack_unpacked *up,
                    const char **why)
{
    if (!buf || len == 0) {
        *why = "empty frame";
        return -1;
    }
    if (len > PROTO_MAX_FRAME) {
        *why = "frame too large";
        return -1;
    }
    if (s_precheck(buf, len) < 0) {
        *why = "truncated or inconsistent msgpack";
        return -1;
    }
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack_next(up, buf, len, &off);
    if (rc != MSGPACK_UNPACK_SUCCESS) {
        *why = rc == MSGPACK_UNPACK_CONTINUE ? "truncated frame" : "invalid msgpack";
        return -1;
    }
    if (off != len) {
        *why = "trailing bytes after envelope";
        return -1;
    }
    const msgpack_object *root = &up->data;
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size != fields) {
        *why = "envelope is not an array of the expected size";
        return -1;
    }
    const msgpack_object *v = &root->via.array.ptr[0];
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 != PROTO_VERSION) {
        *why = "unsupported protocol version";
        return -1;
    }
    return 0;
}

static int s_uint(const msgpack_object *o, uint64_t max, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
        return -1;
    *out = o->via.u64;
    return 0;
}

static int s_uuid(const msgpack_object *o, uint8_t out[16])
{
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != 16)
        return -1;
    memcpy(out, o->via.bin.ptr, 16);
    return 0;
}

static int s_opt_uuid(const msgpack_object *o, bool *present, uint8_t out[16])
{
    *present = false;
    if (o->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (s_uuid(o, out) < 0)
        return -1;
    *present = true;
    return 0;
}

/* Copies a str into a fresh NUL-terminated string, refusing embedded NULs and over-long ones. */
static int s_str(const msgpack_object *o, size_t max, char **out)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > max ||
        memchr(o->via.str.ptr, '\0', o->via.str.size))
        return -1;
    *out = mem_strndup(o->via.str.ptr, o->via.str.size);
    return 0;
}

static int s_bin(const msgpack_object *o, size_t max, char **out, size_t *out_len)
{
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size > max)
        return -1;
    *out = mem_alloc(o->via.bin.size + 1);
    memcpy(*out, o->via.bin.ptr, o->via.bin.size);
    (*out)[o->via.bin.size] = '\0';
    *out_len = o->via.bin.size;
    return 0;
}

/* Decodes a str -> str map of at most max pairs, each side at most len bytes, into kvs. Counts
 * into *n as it goes so a failure midway still frees what was copied. */
static int s_kvs(const msgpack_object *o, int max, size_t len, proto_kv_t *kvs, int *n)
{
    if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size > (uint32_t)max)
        return -1;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        if (s_str(&o->via.map.ptr[i].key, len, &kvs[*n].key) < 0)
            return -1;
        (*n)++;
        if (s_str(&o->via.map.ptr[i].val, len, &kvs[*n - 1].value) < 0)
            return -1;
    }
    return 0;
}

#define FAIL(reason)   \
    do {               \
        *why = reason; \
        goto out;      \
    } while (0)

int proto_request_decode(const void *buf, size_t len, proto_request_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = -1;
    if (s_unpack(buf, len, REQUEST_FIELDS, &up, why) < 0)
        goto out;
    const msgpack_object *f = up.data.via.array.ptr;
    uint64_t u;
    if (s_uuid(&f[1], out->request_id) < 0)
        FAIL("request_id is not 16 bytes");
    if (s_uint(&f[2], UINT64_MAX, &out->deadline_ms) < 0)
        FAIL("deadline is not an unsigned integer");
    if (s_opt_uuid(&f[3], &out->has_tenant, out->tenant) < 0)
        FAIL("tenant is neither nil nor 16 bytes");
    if (s_uint(&f[4], PROTO_ROLE__COUNT - 1, &u) < 0)
        FAIL("unknown role");
    out->role = (proto_role_t)u;
    if (s_opt_uuid(&f[5], &out->has_user, out->user_id) < 0)
        FAIL("user is neither nil nor 16 bytes");
    if (s_uint(&f[6], PROTO_OP__COUNT - 1, &u) < 0)
        FAIL("unknown operation");
    out->op = (proto_op_t)u;
    if (f[7].type != MSGPACK_OBJECT_ARRAY || f[7].via.array.size > PROTO_MAX_PARAMS)
        FAIL("params is not an array of at most 4");
    for (uint32_t i = 0; i < f[7].via.array.size; i++) {
        if (s_uuid(&f[7].via.array.ptr[i], out->params[i]) < 0)
            FAIL("param is not 16 bytes");
        out->nparams++;
    }
    if (s_kvs(&f[8], PROTO_MAX_QUERY, PROTO_MAX_QUERY_LEN, out->query, &out->nquery) < 0)
        FAIL("query is not a map of at most 16 short strings");
    if (s_bin(&f[9], PROTO_MAX_BODY, &out->body, &out->body_len) < 0)
        FAIL("body is not binary within the size limit");
    char *client = NULL;
    if (s_str(&f[10], PROTO_MAX_CLIENT, &client) < 0)
        FAIL("client is not a short string");
    memcpy(out->client, client, strlen(client) + 1);
    free(client);
    if (s_kvs(&f[11], PROTO_MAX_HEADERS, PROTO_MAX_HEADER_LEN, out->headers, &out->nheaders) < 0)
        FAIL("headers is not a map of at most 4 short strings");
    if (s_str(&f[12], PROTO_MAX_CREDENTIAL, &out->credential) < 0)
        FAIL("credential is not a string of at most 2048 bytes");
    if (!*out->credential) {
        free(out->credential);
        out->credential = NULL;
    }
    rc = 0;
out:
    msgpack_unpacked_destroy(&up);
    if (rc < 0)
        proto_request_clear(out);
    return rc;
}

int proto_reply_decode(const void *buf, size_t len, proto_reply_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = -1;
    if (s_unpack(buf, len, REPLY_FIELDS, &up, why) < 0)
        goto out;
    const msgpack_object *f = up.data.via.array.ptr;
    uint64_t u;
    if (s_uuid(&f[1], out->request_id) < 0)
        FAIL("request_id is not 16 bytes");
    if (s_uint(&f[2], PROTO_STATUS__COUNT - 1, &u) < 0)
        FAIL("unknown status");
    out->status = (proto_status_t)u;
    if (s_bin(&f[3], PROTO_MAX_BODY, &out->body, &out->body_len) < 0)
        FAIL("body is not binary within the size limit");
    if (s_str(&f[4], PROTO_MAX_DETAIL, &out->detail) < 0)
        FAIL("detail is not a short string");
    if (s_kvs(&f[5], PROTO_MAX_HEADERS, PROTO_MAX_HEADER_LEN, out->headers, &out->nheaders) < 0)
        FAIL("headers is not a map of at most 4 short strings");
    rc = 0;
out:
    msgpack_unpacked_destroy(&up);
    if (rc < 0)
        proto_reply_clear(out);
    return rc;
}

static void s_add_kv(proto_kv_t *kvs, int *n, const char *name, const char *value)
{
    if (*n == PROTO_MAX_HEADERS)
        return;
    kvs[*n].key = mem_strdup(name);
    kvs[*n].value = mem_strdup(value);
    (*n)++;
}

static void s_clear_kvs(proto_kv_t *kvs, int *n)
{
    for (int i = 0; i < *n; i++) {
        free(kvs[i].key);
        free(kvs[i].value);
    }
    *n = 0;
}

int proto_request_peek(const void *buf, size_t len, uint8_t request_id[16], uint8_t tenant[16])
{
    /* Reads the request id and skips the fields before the operation with the allocation-free
       walker: the broker routes every request by this, so it must cost far less than a
       decode. */
    const uint8_t *p = buf;
    if (!p || len < 8 || p[0] != (0x90 | REQUEST_FIELDS))
        return -1;
    size_t off = 1;
    if (s_walk(p, len, &off) < 0) /* version */
        return -1;
    if (off + 18 > len || p[off] != 0xc4 || p[off + 1] != 16) /* request id: bin 16 */
        return -1;
    if (request_id)
        memcpy(request_id, p + off + 2, 16);
    if (tenant)
        memset(tenant, 0, 16);
    for (int field = 1; field < 6; field++) {
        if (field == 3 && tenant && off + 18 <= len && p[off] == 0xc4 && p[off + 1] == 16)
            memcpy(tenant, p + off + 2, 16);
        if (s_walk(p, len, &off) < 0)
            return -1;
    }
    if (off >= len)
        return -1;
    uint8_t b = p[off];
    int op = b <= 0x7f ? b : b == 0xcc && off + 1 < len ? p[off + 1] : -1;
    return op < PROTO_OP__COUNT ? op : -1;
}

const char *proto_request_query(const proto_request_t *req, const char *key)
{
    for (int i = 0; i < req->nquery; i++)
        if (strcmp(req->query[i].key, key) == 0)
            return req->query[i].value;
    return NULL;
}

void proto_request_clear(proto_request_t *req)
{
    s_clear_kvs(req->query, &req->nquery);
    s_clear_kvs(req->headers, &req->nheaders);
    free(req->body);
    req->body = NULL;
    req->body_len = 0;
    if (req->credential) {
        explicit_bzero(req->credential, strlen(req->credential));
        free(req->credential);
        req->credential = NULL;
    }
}

void proto_reply_header(proto_reply_t *rep, const char *name, const char *value)
{
    for (int i = 0; i < rep->nheaders; i++) {
        if (strcmp(rep->headers[i].key, name) == 0) {
            free(rep->headers[i].value);
            rep->headers[i].value = mem_strdup(value);
            return;
        }
    }
    s_add_kv(rep->headers, &rep->nheaders, name, value);
}

void proto_request_header(proto_request_t *req, const char *name, const char *value)
{
    s_add_kv(req->headers, &req->nheaders, name, value);
}

const char *proto_request_get_header(const proto_request_t *req, const char *name)
{
    for (int i = 0; i < req->nheaders; i++)
        if (strcmp(req->headers[i].key, name) == 0)
            return req->headers[i].value;
    return NULL;
}

void proto_reply_clear(proto_reply_t *rep)
{
    s_clear_kvs(rep->headers, &rep->nheaders);
    free(rep->body);
    free(rep->detail);
    rep->body = NULL;
    rep->detail = NULL;
    rep->body_len = 0;
}
