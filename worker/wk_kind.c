/* The question kinds' table and their rules (see wk_kind.h). */
#include "worker/wk_kind.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "worker/wk_json.h"

/* An index into n choices. */
static bool s_index(const json_t *v, size_t n)
{
    return json_is_integer(v) && json_integer_value(v) >= 0 && (size_t)json_integer_value(v) < n;
}

static const char *s_single_check(const json_t *correct, size_t n)
{
    return s_index(correct, n) ? NULL
                               : "\"correct\" must be one index into \"choices\" for single_choice";
}

static const char *s_multiple_check(const json_t *correct, size_t n)
{
    if (!json_is_array(correct) || json_array_size(correct) == 0 || json_array_size(correct) > n)
        return "\"correct\" must be a non-empty array of indexes for multiple_choice";
    unsigned char seen[WK_KIND_CHOICES_MAX] = {0};
    size_t i;
    const json_t *v;
    json_array_foreach (correct, i, v) {
        if (!s_index(v, n) || n > WK_KIND_CHOICES_MAX || seen[json_integer_value(v)]++)
            return "\"correct\" must hold distinct indexes into \"choices\"";
    }
    return NULL;
}

static const char *s_true_false_check(const json_t *correct, size_t n)
{
    return json_is_boolean(correct) ? NULL : "\"correct\" must be a boolean for true_false";
}

static const char *s_short_check(const json_t *correct, size_t n)
{
    if (!json_is_array(correct) || json_array_size(correct) == 0 ||
        json_array_size(correct) > WK_KIND_CHOICES_MAX)
        return "\"correct\" must be 1 to 20 accepted strings for short_answer";
    size_t i;
    const json_t *v;
    json_array_foreach (correct, i, v) {
        if (wk_json_check_text(v, 1, 200) < 0)
            return "\"correct\" answers must be strings of 1 to 200 characters";
    }
    return NULL;
}

static bool s_multiple_shape(const json_t *a)
{
    if (!json_is_array(a) || json_array_size(a) > WK_KIND_CHOICES_MAX)
        return false;
    size_t i;
    const json_t *v;
    json_array_foreach (a, i, v) {
        if (!json_is_integer(v))
            return false;
    }
    return true;
}

static bool s_short_shape(const json_t *a)
{
    return wk_json_check_text(a, 0, 500) == 0;
}

static bool s_single_score(const json_t *correct, const json_t *a)
{
    return json_is_integer(a) && json_integer_value(a) == json_integer_value(correct);
}

/* The same set of indexes, all of them and nothing else. */
static bool s_multiple_score(const json_t *correct, const json_t *a)
{
    if (!json_is_array(a) || json_array_size(a) != json_array_size(correct))
        return false;
    unsigned long long want = 0, got = 0;
    size_t i;
    const json_t *v;
    json_array_foreach (correct, i, v)
        want |= 1ULL << (json_integer_value(v) & 63);
    json_array_foreach (a, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 63)
            return false;
        got |= 1ULL << json_integer_value(v);
    }
    return want == got;
}

static bool s_true_false_score(const json_t *correct, const json_t *a)
{
    return json_is_boolean(a) && json_is_true(a) == json_is_true(correct);
}

/* Two strings equal after trimming whitespace and folding ASCII case. */
static bool s_same_text(const char *a, const char *b)
{
    while (isspace((unsigned char)*a))
        a++;
    while (isspace((unsigned char)*b))
        b++;
    size_t la = strlen(a), lb = strlen(b);
    while (la && isspace((unsigned char)a[la - 1]))
        la--;
    while (lb && isspace((unsigned char)b[lb - 1]))
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

static bool s_short_score(const json_t *correct, const json_t *a)
{
    if (!json_is_string(a))
        return false;
    size_t i;
    const json_t *v;
    json_array_foreach (correct, i, v) {
        if (json_is_string(v) && s_same_text(json_string_value(a), json_string_value(v)))
            return true;
    }
    return false;
}

static bool s_integer_shape(const json_t *a)
{
    return json_is_integer(a);
}

static bool s_boolean_shape(const json_t *a)
{
    return json_is_boolean(a);
}

static const struct {
    const char *name;
    bool choices;
    const char *(*check)(const json_t *correct, size_t n);
    bool (*shape)(const json_t *answer);
    bool (*score)(const json_t *correct, const json_t *answer);
} s_kinds[WK_KIND__COUNT] = {
    [WK_KIND_SINGLE_CHOICE] = {"single_choice", true, s_single_check, s_integer_shape,
                               s_single_score},
    [WK_KIND_MULTIPLE_CHOICE] = {"multiple_choice", true, s_multiple_check, s_multiple_shape,
                                 s_multiple_score},
    [WK_KIND_TRUE_FALSE] = {"true_false", false, s_true_false_check, s_boolean_shape,
                            s_true_false_score},
    [WK_KIND_SHORT_ANSWER] = {"short_answer", false, s_short_check, s_short_shape, s_short_score},
};

int wk_kind_parse(const char *name, wk_kind_t *out)
{
    for (int k = 0; k < WK_KIND__COUNT; k++) {
        if (name && strcmp(name, s_kinds[k].name) == 0) {
            *out = (wk_kind_t)k;
            return 0;
        }
    }
    return -1;
}

const char *wk_kind_name(wk_kind_t kind)
{
    return s_kinds[kind].name;
}

bool wk_kind_has_choices(wk_kind_t kind)
{
    return s_kinds[kind].choices;
}

const char *wk_kind_check_correct(wk_kind_t kind, const json_t *correct, size_t n)
{
    return s_kinds[kind].check(correct, n);
}

bool wk_kind_answer_ok(wk_kind_t kind, const json_t *answer)
{
    return s_kinds[kind].shape(answer);
}

bool wk_kind_is_correct(wk_kind_t kind, const json_t *correct, const json_t *answer)
{
    return s_kinds[kind].score(correct, answer);
}
