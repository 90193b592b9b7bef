/* Shell commands from integration tests (the operator's tool, as an operator runs it). */
#ifndef TESTS_HELPERS_CMD_H
#define TESTS_HELPERS_CMD_H

#include <jansson.h>
#include <stddef.h>

/* Runs the shell command cmd: its exit status, its output in out; with doc, that output
 * parsed as JSON into *doc (caller decrefs; asserts it parses). */
int cmd_run(const char *cmd, char *out, size_t len, json_t **doc);

#endif
