/* Placement operations from integration tests: start a move or a rebalance over the API and
 * wait for its operation to end. Assertions inside fail the calling test. */
#ifndef TESTS_HELPERS_OPS_H
#define TESTS_HELPERS_OPS_H

#include <jansson.h>

#include "tests/helpers/stack.h"

/* POSTs path (platform token) with body; returns the status and, on 202, copies the operation
 * id (37 bytes) to op_id. */
long ops_start(const qstack_t *s, const char *path, const char *body, char *op_id);
/* Polls GET /api/operations/{id} until its state is done or failed (up to 60 s); returns the
 * final state as a new string (caller frees). */
char *ops_wait(const qstack_t *s, const char *op_id);
/* The same, returning the final operation document (a new reference). */
json_t *ops_wait_json(const qstack_t *s, const char *op_id);

#endif
