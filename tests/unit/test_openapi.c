/* The OpenAPI document and the gateway's route table must describe the same API: every route
 * is documented and every documented tenant/platform path is routed. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "gateway/gw_openapi.h"
#include "gateway/gw_route.h"

/* Served by the gateway itself, not through the route table. */
static const char *const s_gateway_own[] = {"GET /healthz",
                                            "GET /readyz",
                                            "GET /metrics",
                                            "GET /api/openapi.json",
                                            "GET /api/gateway/samples",
                                            NULL};

/* "METHOD /path/{}" with parameter names replaced by {} and no trailing slash. */
static void s_key(const char *method, const char *path, char *out, size_t len)
{
    size_t n = (size_t)snprintf(out, len, "%s ", method);
    for (size_t i = 0; n < len - 3 && path[i]; i++) {
        if (path[i] == '{') {
            out[n++] = '{';
            out[n++] = '}';
            while (path[i] && path[i] != '}')
                i++;
            continue;
        }
        out[n++] = path[i];
    }
    if (n > 1 && out[n - 1] == '/')
        n--;
    out[n] = '\0';
    for (size_t i = 0; i < strlen(method); i++)
        out[i] = (char)toupper((unsigned char)out[i]);
}

static json_t *s_documented(void)
{
    json_error_t err;
    json_t *doc = json_loads(gw_openapi_json, 0, &err);
    cr_assert_not_null(doc, "openapi.json does not parse: %s (line %d)", err.text, err.line);
    json_t *set = json_object();
    const char *path, *method;
    json_t *item, *o;
    json_object_foreach (json_object_get(doc, "paths"), path, item) {
        json_object_foreach (item, method, o) {
            char key[256];
            s_key(method, path, key, sizeof key);
            json_object_set_new(set, key, json_true());
        }
    }
    json_decref(doc);
    return set;
}

Test(openapi, is_openapi_3_1_with_problem_responses)
{
    json_t *doc = json_loads(gw_openapi_json, 0, NULL);
    cr_assert_not_null(doc);
    cr_expect_str_eq(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    cr_expect_not_null(
        json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), "Problem"));
    json_decref(doc);
}

Test(openapi, every_route_is_documented)
{
    json_t *documented = s_documented();
    for (const gw_route_t *r = gw_route_table; r->method; r++) {
        char key[256];
        s_key(r->method, r->pattern, key, sizeof key);
        cr_expect_not_null(json_object_get(documented, key), "route %s is not in openapi.json",
                           key);
    }
    json_decref(documented);
}

Test(openapi, every_documented_path_is_routed)
{
    json_t *documented = s_documented(), *routed = json_object();
    for (const gw_route_t *r = gw_route_table; r->method; r++) {
        char key[256];
        s_key(r->method, r->pattern, key, sizeof key);
        json_object_set_new(routed, key, json_true());
    }
    for (const char *const *own = s_gateway_own; *own; own++)
        json_object_set_new(routed, *own, json_true());
    const char *key;
    json_t *v;
    json_object_foreach (documented, key, v) {
        cr_expect_not_null(json_object_get(routed, key),
                           "openapi.json documents %s, which no route serves", key);
    }
    json_decref(documented);
    json_decref(routed);
}
