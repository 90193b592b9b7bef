/* Placement operations from integration tests (see ops.h). */
#include "tests/helpers/ops.h"

#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "tests/helpers/http.h"

long ops_start(const qstack_t *s, const char *path, const char *body, char *op_id)
{
    char url[256];
    http_resp_t r;
    http_url(url, sizeof url, s->url, "%s", path);
    const char *headers[] = {s->auth, NULL};
    long st = http_do(&r, "POST", url, body, headers);
    if (st == 202) {
        json_t *j = http_json(&r);
        const char *id = json_string_value(json_object_get(j, "operation_id"));
        cr_assert_not_null(id, "%s", r.body);
        snprintf(op_id, 37, "%s", id);
        char location[128];
        cr_expect_eq(http_header(&r, "Location", location, sizeof location), 0);
        cr_expect(strstr(location, id) != NULL, "Location: %s", location);
        json_decref(j);
    }
    http_resp_clear(&r);
    return st;
}

json_t *ops_wait_json(const qstack_t *s, const char *op_id)
{
    char url[256];
    http_url(url, sizeof url, s->url, "/api/operations/%s", op_id);
    const char *headers[] = {s->auth, NULL};
    for (int i = 0; i < 600; i++) {
        http_resp_t r;
        cr_assert_eq(http_do(&r, "GET", url, NULL, headers), 200, "%s", r.body);
        json_t *j = http_json(&r);
        http_resp_clear(&r);
        const char *state = json_string_value(json_object_get(j, "state"));
        if (state && (strcmp(state, "done") == 0 || strcmp(state, "failed") == 0)) {
            if (strcmp(state, "failed") == 0)
                fprintf(stderr, "operation %s failed: %s\n", op_id,
                        json_string_value(json_object_get(j, "error")));
            return j;
        }
        json_decref(j);
        usleep(100 * 1000);
    }
    cr_assert_fail("operation %s did not end within 60 s", op_id);
    return NULL;
}

char *ops_wait(const qstack_t *s, const char *op_id)
{
    json_t *j = ops_wait_json(s, op_id);
    char *state = mem_strdup(json_string_value(json_object_get(j, "state")));
    json_decref(j);
    return state;
}
