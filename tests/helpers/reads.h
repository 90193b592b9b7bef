/* Quiz reads sent straight to one worker process, as a gateway sends them: for tests that must
 * know which worker (and so which cache) answered. */
#ifndef TESTS_HELPERS_READS_H
#define TESTS_HELPERS_READS_H

#include <jansson.h>
#include <stdint.h>

#include "common/ident.h"
#include "proto/proto.h"
#include "tests/helpers/api.h"
#include "tests/helpers/stack.h"

/* A user of a tenant as the worker sees the caller: ids and the access token. */
typedef struct {
    uint8_t tenant[16], user[16];
    proto_role_t role;
    const char *token;
} reads_caller_t;

reads_caller_t reads_caller(const api_tenant_t *t, const char *user_id, proto_role_t role,
                            const char *token);
/* A DEALER in zctx to shard's worker, with the stack's gateway key, as a gateway. */
void *reads_worker(const qstack_t *s, void *zctx, int shard);
/* GET of the quiz from the worker on sock: the parsed body, or NULL if the status (in *st) was
 * not OK. Asserts that the worker answered within 5 s. */
json_t *reads_get(void *sock, const reads_caller_t *c, const char *quiz, proto_status_t *st);
/* GET of the tenant's quiz list (first page) from that worker, the same way. */
json_t *reads_list(void *sock, const reads_caller_t *c, proto_status_t *st);
/* GET /api/users/me from that worker, the same way. */
json_t *reads_me(void *sock, const reads_caller_t *c, proto_status_t *st);
/* Expects obj's string member key to be want; when says which step. */
void reads_expect_string(const json_t *obj, const char *key, const char *want, const char *when);
/* Expects the quiz's title from that worker to be want (asserts a 200); when says which step. */
void reads_expect_title(void *sock, const reads_caller_t *c, const char *quiz, const char *want,
                        const char *when);
/* The tenant's quizzes table, schema-qualified (from its id). */
void reads_table(const api_tenant_t *t, char out[IDENT_SCHEMA_LEN + 16]);

#endif
