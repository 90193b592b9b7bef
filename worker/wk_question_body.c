/* A question's body, validated as a whole (see wk_question_body.h). */
#include "worker/wk_question_body.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "worker/wk_json.h"
#include "worker/wk_kind.h"
#include "worker/wk_reply.h"

const char *const wk_question_body_fields[] = {"kind",        "prompt", "choices", "correct",
                                               "explanation", "points", NULL};

void wk_question_body_clear(wk_question_body_t *q)
{
    free(q->choices);
    free(q->correct);
}

static int s_bad(proto_reply_t *rep, const char *msg)
{
    wk_reply_error(rep, PROTO_STATUS_BAD_REQUEST, "%s", msg);
    return -1;
}

int wk_question_body_parse(json_t *q, wk_question_body_t *out, proto_reply_t *rep)
{
    memset(out, 0, sizeof *out);
    const char *kind;
    if (wk_json_string(q, "kind", true, 1, 20, &kind, rep) < 0)
        return -1;
    wk_kind_t k;
    if (wk_kind_parse(kind, &k) < 0)
        return s_bad(rep,
                     "\"kind\" must be single_choice, multiple_choice, true_false or short_answer");
    bool choice = wk_kind_has_choices(k);
    if (wk_json_string(q, "prompt", true, 1, 2000, &out->prompt, rep) < 0 ||
        wk_json_string(q, "explanation", false, 0, 2000, &out->explanation, rep) < 0)
        return -1;
    json_t *choices = json_object_get(q, "choices");
    size_t n = 0;
    if (choice) {
        if (!json_is_array(choices) || json_array_size(choices) < 2 ||
            json_array_size(choices) > 20)
            return s_bad(rep, "\"choices\" must be an array of 2 to 20 strings");
        size_t i;
        json_t *v;
        json_array_foreach (choices, i, v) {
            if (wk_json_check_text(v, 1, 500) < 0)
                return s_bad(rep, "\"choices\" must hold strings of 1 to 500 characters");
        }
        n = json_array_size(choices);
    } else if (choices && !json_is_null(choices) &&
               !(json_is_array(choices) && json_array_size(choices) == 0)) {
        return s_bad(rep, "\"choices\" must be empty for true_false and short_answer");
    }
    json_t *correct = json_object_get(q, "correct");
    if (!correct)
        return s_bad(rep, "\"correct\" is required");
    const char *wrong = wk_kind_check_correct(k, correct, n);
    if (wrong)
        return s_bad(rep, wrong);
    json_t *points = json_object_get(q, "points");
    if (points && (!json_is_integer(points) || json_integer_value(points) < 0 ||
                   json_integer_value(points) > 1000))
        return s_bad(rep, "\"points\" must be an integer from 0 to 1000");
    out->kind = kind;
    out->choices = choice ? json_dumps(choices, JSON_COMPACT) : mem_strdup("[]");
    out->correct = json_dumps(correct, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(out->points, sizeof out->points, "%lld",
             points ? (long long)json_integer_value(points) : 1LL);
    if (!out->explanation)
        out->explanation = "";
    return 0;
}
