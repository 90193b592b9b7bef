/* Request bodies: only objects with known members; strings counted in characters, control
 * characters refused; email addresses. Every refusal is a 400 naming the field. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/mem.h"
#include "worker/wk_json.h"

static const char *const s_allowed[] = {"name", "email", NULL};

/* Parses body against s_allowed: the object, or NULL with *detail the 400's (owned). */
static json_t *s_object(const char *body, char **detail)
{
    proto_request_t req = {0};
    req.body = mem_strdup(body);
    req.body_len = strlen(body);
    proto_reply_t rep = {0};
    json_t *obj = wk_json_object(&req, s_allowed, &rep);
    cr_expect(obj || rep.status == PROTO_STATUS_BAD_REQUEST);
    *detail = rep.detail ? mem_strdup(rep.detail) : NULL;
    proto_reply_clear(&rep);
    proto_request_clear(&req);
    return obj;
}

Test(json, bodies_must_be_objects_with_known_members)
{
    char *detail;
    json_t *obj = s_object("{\"name\":\"x\"}", &detail);
    cr_expect_not_null(obj);
    json_decref(obj);
    const struct {
        const char *body, *says;
    } bad[] = {
        {"", "not valid JSON"},
        {"{\"name\":", "not valid JSON"},
        {"[1]", "must be a JSON object"},
        {"\"name\"", "not valid JSON"}, /* not an object (and not decoded as one) */
        {"{\"name\":\"x\",\"role\":\"admin\"}", "unknown field \"role\""},
        {"{\"name\":\"a\",\"name\":\"b\"}", "not valid JSON"}, /* duplicate keys */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        obj = s_object(bad[i].body, &detail);
        cr_expect_null(obj, "%s accepted", bad[i].body);
        cr_expect(detail && strstr(detail, bad[i].says), "%s: \"%s\"", bad[i].body,
                  detail ? detail : "");
        json_decref(obj);
        free(detail);
    }
}

Test(json, strings_count_characters_not_bytes)
{
    json_t *v = json_string("\xc3\xa9t\xc3\xa9"); /* "été": 3 characters, 5 bytes */
    cr_expect_eq(wk_json_check_text(v, 3, 3), 0);
    cr_expect_eq(wk_json_check_text(v, 4, 10), -1);
    cr_expect_eq(wk_json_check_text(v, 0, 2), -1);
    json_decref(v);
    const char *controls[] = {"a\tb", "a\nb", "a\x7f", "\x01"};
    for (size_t i = 0; i < sizeof controls / sizeof controls[0]; i++) {
        v = json_string(controls[i]);
        cr_expect_eq(wk_json_check_text(v, 0, 100), -1, "control character %zu accepted", i);
        json_decref(v);
    }
    v = json_integer(3);
    cr_expect_eq(wk_json_check_text(v, 0, 100), -1);
    json_decref(v);
}

Test(json, string_members_name_the_field)
{
    json_t *obj = json_pack("{s:s, s:i, s:s}", "name", "abcdef", "n", 1, "c", "x\ny");
    const char *out;
    proto_reply_t rep = {0};
    cr_expect_eq(wk_json_string(obj, "name", true, 1, 6, &out, &rep), 0);
    cr_expect_str_eq(out, "abcdef");
    cr_expect_eq(wk_json_string(obj, "absent", false, 1, 6, &out, &rep), 0);
    cr_expect_null(out);
    struct {
        const char *key;
        bool required;
        size_t max;
        const char *says;
    } bad[] = {
        {"name", true, 5, "\"name\" must be 1 to 5 characters"},
        {"absent", true, 5, "\"absent\" must be a string"},
        {"n", false, 5, "\"n\" must be a string"},
        {"c", true, 5, "\"c\" contains a control character"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(wk_json_string(obj, bad[i].key, bad[i].required, 1, bad[i].max, &out, &rep),
                     -1);
        cr_expect_eq(rep.status, PROTO_STATUS_BAD_REQUEST);
        cr_expect_str_eq(rep.detail, bad[i].says);
    }
    proto_reply_clear(&rep);
    json_decref(obj);
}

Test(json, email_addresses)
{
    const char *good[] = {"a@b.co", "first.last+tag@example.org", "X@sub.example.com"};
    const char *bad[] = {"ab.co",   "@b.co",    "a@b",     "a@@b.co",    "a@b@c.co",    "a@.b.co",
                         "a@b.co.", "a b@c.co", "a@b.co;", "\"a\"@b.co", "a@[1.2.3.4]", "a@"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        json_t *obj = json_pack("{s:s}", "email", good[i]);
        const char *out;
        proto_reply_t rep = {0};
        cr_expect_eq(wk_json_email(obj, "email", &out, &rep), 0, "%s refused", good[i]);
        proto_reply_clear(&rep);
        json_decref(obj);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *obj = json_pack("{s:s}", "email", bad[i]);
        const char *out;
        proto_reply_t rep = {0};
        cr_expect_eq(wk_json_email(obj, "email", &out, &rep), -1, "%s accepted", bad[i]);
        cr_expect_eq(rep.status, PROTO_STATUS_BAD_REQUEST);
        proto_reply_clear(&rep);
        json_decref(obj);
    }
}
