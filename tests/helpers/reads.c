/* Worker-direct quiz reads for the tests (see reads.h). */
#include "tests/helpers/reads.h"

#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/clock.h"

reads_caller_t reads_caller(const api_tenant_t *t, const char *user_id, proto_role_t role,
                            const char *token)
{
    reads_caller_t c = {.role = role, .token = token};
    cr_assert_eq(ident_uuid_parse(t->id, strlen(t->id), c.tenant), 0);
    cr_assert_eq(ident_uuid_parse(user_id, strlen(user_id), c.user), 0);
    return c;
}

void *reads_worker(const qstack_t *s, void *zctx, int shard)
{
    char key[300];
    snprintf(key, sizeof key, "%s/gateway.secret", s->curve);
    return stack_dealer(s, zctx, shard, key);
}

/* The request to one worker, answered: the parsed body of a 200, or NULL. */
static json_t *s_call(void *sock, const reads_caller_t *c, proto_op_t op, const char *quiz,
                      proto_status_t *st)
{
    proto_request_t req = {.op = op,
                           .role = c->role,
                           .has_tenant = true,
                           .has_user = true,
                           .credential = (char *)c->token,
                           .nparams = quiz ? 1 : 0,
                           .deadline_ms = clock_now_ms() + 5000};
    randombytes_buf(req.request_id, 16);
    memcpy(req.tenant, c->tenant, 16);
    memcpy(req.user_id, c->user, 16);
    if (quiz)
        cr_assert_eq(ident_uuid_parse(quiz, strlen(quiz), req.params[0]), 0);
    size_t len;
    void *frame = proto_request_encode(&req, &len);
    cr_assert_eq(zmq_send(sock, frame, len, 0), (int)len);
    free(frame);
    int timeout = 5000;
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    static char buf[1 << 20];
    int n = zmq_recv(sock, buf, sizeof buf, 0);
    cr_assert_gt(n, 0, "the worker did not answer");
    proto_reply_t rep;
    const char *why;
    cr_assert_eq(proto_reply_decode(buf, (size_t)n, &rep, &why), 0, "%s", why);
    *st = rep.status;
    json_t *doc = rep.status == PROTO_STATUS_OK ? json_loads(rep.body, 0, NULL) : NULL;
    proto_reply_clear(&rep);
    return doc;
}

json_t *reads_get(void *sock, const reads_caller_t *c, const char *quiz, proto_status_t *st)
{
    return s_call(sock, c, PROTO_OP_QUIZ_GET, quiz, st);
}

json_t *reads_list(void *sock, const reads_caller_t *c, proto_status_t *st)
{
    return s_call(sock, c, PROTO_OP_QUIZ_LIST, NULL, st);
}

json_t *reads_me(void *sock, const reads_caller_t *c, proto_status_t *st)
{
    return s_call(sock, c, PROTO_OP_USER_ME, NULL, st);
}

void reads_expect_string(const json_t *obj, const char *key, const char *want, const char *when)
{
    const char *got = json_string_value(json_object_get(obj, key));
    cr_expect(got && strcmp(got, want) == 0, "%s: %s %s, want %s", when, key, got ? got : "(none)",
              want);
}

void reads_expect_title(void *sock, const reads_caller_t *c, const char *quiz, const char *want,
                        const char *when)
{
    proto_status_t st;
    json_t *doc = reads_get(sock, c, quiz, &st);
    cr_assert_eq(st, PROTO_STATUS_OK, "%s: status %d", when, st);
    reads_expect_string(doc, "title", want, when);
    json_decref(doc);
}

void reads_table(const api_tenant_t *t, char out[IDENT_SCHEMA_LEN + 16])
{
    uint8_t u[16];
    char schema[IDENT_SCHEMA_LEN + 1];
    cr_assert_eq(ident_uuid_parse(t->id, strlen(t->id), u), 0);
    ident_schema_name(u, schema);
    snprintf(out, IDENT_SCHEMA_LEN + 16, "%s.quizzes", schema);
}
