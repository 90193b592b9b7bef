/* The wire contract between gateway and worker: operations, roles, statuses, the request and
 * reply envelopes, and their msgpack codec. Described in prose in proto/PROTOCOL.md; both
 * daemons use this one codec. Knows nothing of HTTP, SQL or sockets. */
#ifndef PROTO_PROTO_H
#define PROTO_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION        2
#define PROTO_MAX_PARAMS     4          /* path parameters, each a UUID */
#define PROTO_MAX_QUERY      16         /* query-string pairs */
#define PROTO_MAX_QUERY_LEN  1024       /* bytes of one query key or value */
#define PROTO_MAX_BODY       (1u << 20) /* request and reply body bytes */
#define PROTO_MAX_DETAIL     1024       /* bytes of an error detail */
#define PROTO_MAX_CLIENT     64         /* bytes of the client address */
#define PROTO_MAX_HEADERS    4          /* request or reply headers (Idempotency-Key, ETag, ...) */
#define PROTO_MAX_HEADER_LEN 256        /* bytes of one reply header name or value */
#define PROTO_MAX_CREDENTIAL 2048       /* bytes of the forwarded bearer token */
#define PROTO_MAX_FRAME      (PROTO_MAX_BODY + 64 * 1024)

/* A tenant's own request rate, named by its worker in replies to the gateway (PROTOCOL.md);
 * also the registry's and the API's bound on it (sql/shared/013_tenant_rate.sql). */
#define PROTO_TENANT_RATE_HEADER "Quiz-Tenant-Rate"
#define PROTO_TENANT_RATE_MAX    1000000

/* Operations: one per route; the gateway's route table and the worker's handler table are both
 * indexed by this enum. Values are on the wire: append, never renumber. */
typedef enum {
    PROTO_OP_PING = 0,
    PROTO_OP_TENANT_CREATE = 1,
    PROTO_OP_TENANT_LIST = 2,
    PROTO_OP_TENANT_GET = 3,
    PROTO_OP_TENANT_DELETE = 4,
    PROTO_OP_TENANT_STATS = 5,
    PROTO_OP_TENANT_USER_CREATE = 6,
    PROTO_OP_AUTH_LOGIN = 7,
    PROTO_OP_AUTH_REFRESH = 8,
    PROTO_OP_AUTH_LOGOUT = 9,
    PROTO_OP_USER_ME = 10,
    PROTO_OP_USER_PASSWORD = 11,
    PROTO_OP_USER_LIST = 12,
    PROTO_OP_USER_GET = 13,
    PROTO_OP_USER_CREATE = 14,
    PROTO_OP_USER_UPDATE = 15,
    PROTO_OP_USER_DELETE = 16,
    PROTO_OP_AUDIT_LIST = 17,
    PROTO_OP_QUIZ_CREATE = 18,
    PROTO_OP_QUIZ_LIST = 19,
    PROTO_OP_QUIZ_GET = 20,
    PROTO_OP_QUIZ_UPDATE = 21,
    PROTO_OP_QUIZ_DELETE = 22,
    PROTO_OP_QUIZ_STATS = 23,
    PROTO_OP_QUESTION_CREATE = 24,
    PROTO_OP_QUESTION_UPDATE = 25,
    PROTO_OP_QUESTION_DELETE = 26,
    PROTO_OP_QUESTION_REORDER = 27,
    PROTO_OP_ATTEMPT_CREATE = 28,
    PROTO_OP_ATTEMPT_LIST = 29,
    PROTO_OP_ATTEMPT_GET = 30,
    PROTO_OP_TENANT_MOVE = 31,
    PROTO_OP_OPERATION_GET = 32,
    PROTO_OP_OPERATION_LIST = 33,
    PROTO_OP_SHARD_LIST = 34,
    PROTO_OP_SHARD_REBALANCE = 35,
    PROTO_OP_TENANT_SUSPEND = 36,
    PROTO_OP_TENANT_RESUME = 37,
    PROTO_OP_TENANT_RESTORE = 38,
    PROTO_OP_TENANT_RATE_SET = 39,
    PROTO_OP__COUNT
} proto_op_t;

/* Who is calling, as established by the gateway. On the wire. */
typedef enum {
    PROTO_ROLE_NONE = 0,     /* unauthenticated (ping, login) */
    PROTO_ROLE_PLATFORM = 1, /* platform token holder */
    PROTO_ROLE_MEMBER = 2,   /* tenant user */
    PROTO_ROLE_ADMIN = 3,    /* tenant administrator */
    PROTO_ROLE__COUNT
} proto_role_t;

/* Outcome of a request; the gateway maps each to one HTTP status in one table. On the wire. */
typedef enum {
    PROTO_STATUS_OK = 0,
    PROTO_STATUS_CREATED = 1,
    PROTO_STATUS_NO_CONTENT = 2,
    PROTO_STATUS_BAD_REQUEST = 3,
    PROTO_STATUS_UNAUTHORIZED = 4,
    PROTO_STATUS_FORBIDDEN = 5,
    PROTO_STATUS_NOT_FOUND = 6,
    PROTO_STATUS_CONFLICT = 7,
    PROTO_STATUS_TOO_LARGE = 8,
    PROTO_STATUS_RATE_LIMITED = 9,
    PROTO_STATUS_UNAVAILABLE = 10, /* database down, draining, no worker */
    PROTO_STATUS_TIMEOUT = 11,     /* deadline passed */
    PROTO_STATUS_MISROUTED = 12,   /* tenant is not on this worker's shard */
    PROTO_STATUS_INTERNAL = 13,
    PROTO_STATUS_PRECONDITION_FAILED = 14, /* If-Match does not match the current ETag */
    PROTO_STATUS_UNPROCESSABLE = 15,       /* Idempotency-Key reused with another request */
    PROTO_STATUS_ACCEPTED = 16,            /* queued: an operation will do it (202) */
    PROTO_STATUS_NOT_MODIFIED = 17,        /* If-None-Match names the current ETag (304) */
    PROTO_STATUS_TENANT_SUSPENDED = 18,    /* the tenant is suspended (403) */
    PROTO_STATUS__COUNT
} proto_status_t;

typedef struct {
    char *key;   /* owned */
    char *value; /* owned */
} proto_kv_t;

/* A request. Decoded requests own their strings; free with proto_request_clear. */
typedef struct {
    uint8_t request_id[16];
    uint64_t deadline_ms; /* Unix time in ms after which the answer is useless */
    bool has_tenant;
    uint8_t tenant[16];
    proto_role_t role;
    bool has_user;
    uint8_t user_id[16];
    proto_op_t op;
    int nparams;
    uint8_t params[PROTO_MAX_PARAMS][16];
    int nquery;
    proto_kv_t query[PROTO_MAX_QUERY];
    char *body; /* owned, NUL-terminated for convenience; body_len excludes the NUL */
    size_t body_len;
    char client[PROTO_MAX_CLIENT + 1]; /* client address, for audit */
    int nheaders;
    proto_kv_t headers[PROTO_MAX_HEADERS]; /* forwarded HTTP headers (Idempotency-Key, If-Match) */
    /* The bearer token the gateway verified (platform token or access token; owned, NULL when
       none), so the worker can check the caller itself. Wiped when the request is cleared. */
    char *credential;
} proto_request_t;

/* A reply. Decoded replies own body and detail; free with proto_reply_clear. */
typedef struct {
    uint8_t request_id[16];
    proto_status_t status;
    char *body; /* JSON, owned, NUL-terminated; may be NULL */
    size_t body_len;
    char *detail; /* human-readable error detail, owned; may be NULL */
    int nheaders;
    proto_kv_t headers[PROTO_MAX_HEADERS]; /* HTTP headers to add (owned), e.g. Retry-After */
} proto_reply_t;

/* Encoders return a malloc'd buffer the caller owns (free()) and set *len. */
void *proto_request_encode(const proto_request_t *req, size_t *len);
void *proto_reply_encode(const proto_reply_t *rep, size_t *len);

/* Decoders fill *out (which the caller clears afterwards) and return 0, or return -1 and set
 * *why to a static reason for the log when the frame is truncated, oversized, of another version
 * or wrongly typed. They never read outside buf. */
int proto_request_decode(const void *buf, size_t len, proto_request_t *out, const char **why)
    __attribute__((warn_unused_result));
int proto_reply_decode(const void *buf, size_t len, proto_reply_t *out, const char **why)
    __attribute__((warn_unused_result));

/* Sets a header of a reply (copies both strings), replacing an earlier value of that name;
 * ignored past PROTO_MAX_HEADERS. */
void proto_reply_header(proto_reply_t *rep, const char *name, const char *value);
/* The operation of an encoded request without decoding the rest (for routing inside a worker),
 * its request id if request_id is not NULL and its tenant if tenant is not NULL (all zero when
 * the request names none); -1 if the frame is malformed. */
int proto_request_peek(const void *buf, size_t len, uint8_t request_id[16], uint8_t tenant[16]);
/* Looks up a query value by key (borrowed), or NULL. */
const char *proto_request_query(const proto_request_t *req, const char *key);
/* Adds a forwarded header to a request (copies); ignored past PROTO_MAX_HEADERS. */
void proto_request_header(proto_request_t *req, const char *name, const char *value);
/* Looks up a forwarded header by exact name (borrowed), or NULL. */
const char *proto_request_get_header(const proto_request_t *req, const char *name);

void proto_request_clear(proto_request_t *req);
void proto_reply_clear(proto_reply_t *rep);

/* Whether an operation hashes a password (Argon2id, ~30 ms of one core): workers run these in their
 * paced password lane, gateways bound how many are in flight. */
bool proto_op_hashes_password(proto_op_t op);

/* Names for logs. */
const char *proto_op_str(proto_op_t op);
const char *proto_status_str(proto_status_t status);
const char *proto_role_str(proto_role_t role);

#endif
