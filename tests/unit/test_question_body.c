/* A question's body, validated whole: every field's rule, with the 400 naming the field, and
 * the query parameters of a valid one. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "worker/wk_question_body.h"

struct body_case {
    char body[200];
    char field[16]; /* "" = valid; else the field the 400 must name */
};

ParameterizedTestParameters(question_body, rules)
{
    static struct body_case cases[] = {
        {"{\"kind\":\"single_choice\",\"prompt\":\"P\",\"choices\":[\"a\",\"b\"],\"correct\":1}",
         ""},
        {"{\"kind\":\"true_false\",\"prompt\":\"P\",\"correct\":true}", ""},
        {"{\"kind\":\"true_false\",\"prompt\":\"P\",\"choices\":[],\"correct\":true}", ""},
        {"{\"kind\":\"short_answer\",\"prompt\":\"P\",\"correct\":[\"x\"],\"points\":0}", ""},
        {"{\"kind\":\"essay\",\"prompt\":\"P\",\"correct\":true}", "kind"},
        {"{\"prompt\":\"P\",\"correct\":true}", "kind"},
        {"{\"kind\":\"true_false\",\"correct\":true}", "prompt"},
        {"{\"kind\":\"true_false\",\"prompt\":\"\",\"correct\":true}", "prompt"},
        {"{\"kind\":\"true_false\",\"prompt\":\"P\"}", "correct"},
        {"{\"kind\":\"true_false\",\"prompt\":\"P\",\"correct\":1}", "correct"},
        {"{\"kind\":\"true_false\",\"prompt\":\"P\",\"choices\":[\"a\",\"b\"],\"correct\":true}",
         "choices"},
        {"{\"kind\":\"single_choice\",\"prompt\":\"P\",\"choices\":[\"a\"],\"correct\":0}",
         "choices"},
        {"{\"kind\":\"single_choice\",\"prompt\":\"P\",\"choices\":[\"a\",\"\"],\"correct\":0}",
         "choices"},
        {"{\"kind\":\"single_choice\",\"prompt\":\"P\",\"choices\":[\"a\",\"b\"],\"correct\":2}",
         "correct"},
        {"{\"kind\":\"true_false\",\"prompt\":\"P\",\"correct\":true,\"points\":1001}", "points"},
        {"{\"kind\":\"true_false\",\"prompt\":\"P\",\"correct\":true,\"points\":-1}", "points"},
        {"{\"kind\":\"true_false\",\"prompt\":\"P\",\"correct\":true,\"points\":1.5}", "points"},
        {"{\"kind\":\"true_false\",\"prompt\":\"P\",\"correct\":true,\"explanation\":7}",
         "explanation"},
    };
    return cr_make_param_array(struct body_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct body_case *c, question_body, rules)
{
    json_t *q = json_loads(c->body, 0, NULL);
    cr_assert(q, "bad test JSON");
    wk_question_body_t out;
    proto_reply_t rep = {0};
    int rc = wk_question_body_parse(q, &out, &rep);
    if (!c->field[0]) {
        cr_expect_eq(rc, 0, "%s refused: %s", c->body, rep.detail ? rep.detail : "");
        if (rc == 0)
            wk_question_body_clear(&out);
    } else {
        char quoted[24];
        snprintf(quoted, sizeof quoted, "\"%s\"", c->field);
        cr_expect_eq(rc, -1, "%s accepted", c->body);
        cr_expect_eq(rep.status, PROTO_STATUS_BAD_REQUEST);
        cr_expect(rep.detail && strstr(rep.detail, quoted), "%s: detail \"%s\" names no %s",
                  c->body, rep.detail ? rep.detail : "", quoted);
    }
    proto_reply_clear(&rep);
    json_decref(q);
}

Test(question_body, a_valid_question_becomes_its_query_parameters)
{
    json_t *q = json_loads("{\"kind\":\"multiple_choice\",\"prompt\":\"Pick\","
                           "\"choices\":[\"a\",\"b\",\"c\"],\"correct\":[2,0]}",
                           0, NULL);
    wk_question_body_t out;
    proto_reply_t rep = {0};
    cr_assert_eq(wk_question_body_parse(q, &out, &rep), 0);
    cr_expect_str_eq(out.kind, "multiple_choice");
    cr_expect_str_eq(out.prompt, "Pick");
    cr_expect_str_eq(out.explanation, ""); /* absent: empty */
    cr_expect_str_eq(out.choices, "[\"a\",\"b\",\"c\"]");
    cr_expect_str_eq(out.correct, "[2,0]");
    cr_expect_str_eq(out.points, "1"); /* the default */
    wk_question_body_clear(&out);
    json_decref(q);
}

Test(question_body, short_answers_store_no_choices)
{
    json_t *q =
        json_loads("{\"kind\":\"short_answer\",\"prompt\":\"Capital?\",\"correct\":[\"Paris\"],"
                   "\"points\":5,\"explanation\":\"It is.\"}",
                   0, NULL);
    wk_question_body_t out;
    proto_reply_t rep = {0};
    cr_assert_eq(wk_question_body_parse(q, &out, &rep), 0);
    cr_expect_str_eq(out.choices, "[]");
    cr_expect_str_eq(out.points, "5");
    cr_expect_str_eq(out.explanation, "It is.");
    wk_question_body_clear(&out);
    json_decref(q);
}
