/* Request-body validation: the body must be a JSON object with only known members, and each
 * member is checked for type and bounds, with a 400 naming the offending field. */
#ifndef WORKER_WK_JSON_H
#define WORKER_WK_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "proto/proto.h"

/* Parses the body into an object whose keys are all in `allowed` (NULL-terminated). Returns a
 * new reference, or NULL with a 400 reply set. */
json_t *wk_json_object(const proto_request_t *req, const char *const *allowed, proto_reply_t *rep);
/* A string member of min..max characters (code points, after rejecting control characters).
 * Absent and not required: 0 with *out = NULL. -1 with a 400 reply set otherwise. */
int wk_json_string(json_t *obj, const char *key, bool required, size_t min, size_t max,
                   const char **out, proto_reply_t *rep) __attribute__((warn_unused_result));
/* 0 if v is a string of min..max characters without control characters, else -1. */
int wk_json_check_text(const json_t *v, size_t min, size_t max);
/* A required email address (one '@', non-empty parts, a dot in the domain, <= 254 bytes). */
int wk_json_email(json_t *obj, const char *key, const char **out, proto_reply_t *rep)
    __attribute__((warn_unused_result));

#endif
