/* Question kinds: parsing, what `correct` must hold, the shape of an answer, and scoring. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "worker/wk_kind.h"

static json_t *s_json(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    cr_assert(v, "bad test JSON %s", text);
    return v;
}

Test(kind, names_round_trip_and_unknown_names_are_refused)
{
    for (int k = 0; k < WK_KIND__COUNT; k++) {
        wk_kind_t back;
        cr_assert_eq(wk_kind_parse(wk_kind_name((wk_kind_t)k), &back), 0);
        cr_expect_eq(back, (wk_kind_t)k);
    }
    wk_kind_t k;
    cr_expect_eq(wk_kind_parse("essay", &k), -1);
    cr_expect_eq(wk_kind_parse("Single_Choice", &k), -1);
    cr_expect_eq(wk_kind_parse("", &k), -1);
    cr_expect_eq(wk_kind_parse(NULL, &k), -1);
    cr_expect(wk_kind_has_choices(WK_KIND_SINGLE_CHOICE));
    cr_expect(wk_kind_has_choices(WK_KIND_MULTIPLE_CHOICE));
    cr_expect_not(wk_kind_has_choices(WK_KIND_TRUE_FALSE));
    cr_expect_not(wk_kind_has_choices(WK_KIND_SHORT_ANSWER));
}

struct correct_case {
    wk_kind_t kind;
    char correct[96];
    size_t choices;
    bool valid;
};

ParameterizedTestParameters(kind, correct)
{
    static struct correct_case cases[] = {
        {WK_KIND_SINGLE_CHOICE, "0", 2, true},
        {WK_KIND_SINGLE_CHOICE, "1", 2, true},
        {WK_KIND_SINGLE_CHOICE, "2", 2, false}, /* past the last choice */
        {WK_KIND_SINGLE_CHOICE, "-1", 2, false},
        {WK_KIND_SINGLE_CHOICE, "[0]", 2, false},
        {WK_KIND_SINGLE_CHOICE, "true", 2, false},
        {WK_KIND_MULTIPLE_CHOICE, "[0, 2]", 3, true},
        {WK_KIND_MULTIPLE_CHOICE, "[2]", 3, true},
        {WK_KIND_MULTIPLE_CHOICE, "[]", 3, false},
        {WK_KIND_MULTIPLE_CHOICE, "[0, 0]", 3, false}, /* repeated */
        {WK_KIND_MULTIPLE_CHOICE, "[3]", 3, false},
        {WK_KIND_MULTIPLE_CHOICE, "[0, 1, 2, 0]", 3, false}, /* more than the choices */
        {WK_KIND_MULTIPLE_CHOICE, "[\"0\"]", 3, false},
        {WK_KIND_MULTIPLE_CHOICE, "1", 3, false},
        {WK_KIND_TRUE_FALSE, "true", 0, true},
        {WK_KIND_TRUE_FALSE, "false", 0, true},
        {WK_KIND_TRUE_FALSE, "1", 0, false},
        {WK_KIND_TRUE_FALSE, "\"true\"", 0, false},
        {WK_KIND_SHORT_ANSWER, "[\"Paris\"]", 0, true},
        {WK_KIND_SHORT_ANSWER, "[\"Paris\", \"paris, France\"]", 0, true},
        {WK_KIND_SHORT_ANSWER, "[]", 0, false},
        {WK_KIND_SHORT_ANSWER, "[\"\"]", 0, false},
        {WK_KIND_SHORT_ANSWER, "\"Paris\"", 0, false},
        {WK_KIND_SHORT_ANSWER, "[1]", 0, false},
        {WK_KIND_SHORT_ANSWER, "[\"a\\u0001b\"]", 0, false}, /* control character */
    };
    return cr_make_param_array(struct correct_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct correct_case *c, kind, correct)
{
    json_t *correct = s_json(c->correct);
    const char *why = wk_kind_check_correct(c->kind, correct, c->choices);
    if (c->valid)
        cr_expect_null(why, "%s %s: %s", wk_kind_name(c->kind), c->correct, why);
    else
        cr_expect(why && strstr(why, "\"correct\""), "%s %s accepted", wk_kind_name(c->kind),
                  c->correct);
    json_decref(correct);
}

Test(kind, short_answers_accept_up_to_twenty_strings)
{
    json_t *many = json_array();
    for (int i = 0; i < 21; i++)
        json_array_append_new(many, json_string("x"));
    cr_expect_not_null(wk_kind_check_correct(WK_KIND_SHORT_ANSWER, many, 0));
    json_array_remove(many, 0);
    cr_expect_null(wk_kind_check_correct(WK_KIND_SHORT_ANSWER, many, 0));
    json_decref(many);
}

struct score_case {
    wk_kind_t kind;
    char correct[64], answer[64];
    bool shape_ok, right;
};

ParameterizedTestParameters(kind, scoring)
{
    static struct score_case cases[] = {
        {WK_KIND_SINGLE_CHOICE, "1", "1", true, true},
        {WK_KIND_SINGLE_CHOICE, "1", "0", true, false},
        {WK_KIND_SINGLE_CHOICE, "1", "\"1\"", false, false},
        {WK_KIND_SINGLE_CHOICE, "1", "[1]", false, false},
        {WK_KIND_MULTIPLE_CHOICE, "[0, 2]", "[2, 0]", true, true},     /* order does not matter */
        {WK_KIND_MULTIPLE_CHOICE, "[0, 2]", "[0]", true, false},       /* all of them */
        {WK_KIND_MULTIPLE_CHOICE, "[0, 2]", "[0, 1, 2]", true, false}, /* nothing else */
        {WK_KIND_MULTIPLE_CHOICE, "[0, 2]", "[0, 0]", true, false},
        {WK_KIND_MULTIPLE_CHOICE, "[0, 2]", "[0, 64]", true, false}, /* out of any range */
        {WK_KIND_MULTIPLE_CHOICE, "[0, 2]", "[-1, 2]", true, false},
        {WK_KIND_MULTIPLE_CHOICE, "[0]", "0", false, false},
        {WK_KIND_MULTIPLE_CHOICE, "[0]", "[\"0\"]", false, false},
        {WK_KIND_TRUE_FALSE, "false", "false", true, true},
        {WK_KIND_TRUE_FALSE, "false", "true", true, false},
        {WK_KIND_TRUE_FALSE, "true", "1", false, false},
        {WK_KIND_SHORT_ANSWER, "[\"Paris\"]", "\"Paris\"", true, true},
        {WK_KIND_SHORT_ANSWER, "[\"Paris\"]", "\"  pARIS \"", true, true}, /* trim, case */
        /* a tab is refused as an answer (control character), though scoring would trim it */
        {WK_KIND_SHORT_ANSWER, "[\"Paris\"]", "\"Paris\\t\"", false, true},
        {WK_KIND_SHORT_ANSWER, "[\"Paris\", \"Lutetia\"]", "\"lutetia\"", true, true},
        {WK_KIND_SHORT_ANSWER, "[\"Paris\"]", "\"Pari\"", true, false},
        {WK_KIND_SHORT_ANSWER, "[\"Paris\"]", "\"Par is\"", true, false},
        {WK_KIND_SHORT_ANSWER, "[\"Paris\"]", "\"\"", true, false},
        {WK_KIND_SHORT_ANSWER, "[\"Paris\"]", "[\"Paris\"]", false, false},
    };
    return cr_make_param_array(struct score_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct score_case *c, kind, scoring)
{
    json_t *correct = s_json(c->correct), *answer = s_json(c->answer);
    cr_expect_eq(wk_kind_answer_ok(c->kind, answer), c->shape_ok, "shape of %s for %s", c->answer,
                 wk_kind_name(c->kind));
    cr_expect_eq(wk_kind_is_correct(c->kind, correct, answer), c->right, "%s against %s (%s)",
                 c->answer, c->correct, wk_kind_name(c->kind));
    json_decref(correct);
    json_decref(answer);
}
