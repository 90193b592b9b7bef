/* A question's body: the object a client sends (after a PATCH, merged into the stored question)
 * validated as a whole so kind, choices and correct always agree, into query parameters. Pure
 * but for the 400 it writes into the reply. */
#ifndef WORKER_WK_QUESTION_BODY_H
#define WORKER_WK_QUESTION_BODY_H

#include <jansson.h>

#include "proto/proto.h"

/* The members a question body may have (NULL-terminated, for wk_json_object). */
extern const char *const wk_question_body_fields[];

/* A validated question, as query parameters: kind, prompt and explanation borrowed from the
 * object; choices and correct as JSON text, owned (wk_question_body_clear). */
typedef struct {
    const char *kind, *prompt, *explanation;
    char *choices, *correct;
    char points[12];
} wk_question_body_t;

/* Validates the whole question object q into *out. 0, or -1 with a 400 naming the field (and
 * nothing to clear). */
int wk_question_body_parse(json_t *q, wk_question_body_t *out, proto_reply_t *rep)
    __attribute__((warn_unused_result));
void wk_question_body_clear(wk_question_body_t *q);

#endif
