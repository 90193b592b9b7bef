/* Question kinds: the one list of them, and per kind the rules that follow from it — what
 * `correct` must hold, the shape of an answer, and scoring. Pure (jansson only): a new kind is
 * one row of the table in wk_kind.c (and the CHECK in sql/tenant/001_init.sql).
 *   single_choice   correct: one index into choices      answer: an index
 *   multiple_choice correct: distinct indexes (all must match)   answer: an array of indexes
 *   true_false      correct: a boolean                    answer: a boolean
 *   short_answer    correct: 1..20 accepted strings       answer: a string (trim, ASCII case) */
#ifndef WORKER_WK_KIND_H
#define WORKER_WK_KIND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    WK_KIND_SINGLE_CHOICE,
    WK_KIND_MULTIPLE_CHOICE,
    WK_KIND_TRUE_FALSE,
    WK_KIND_SHORT_ANSWER,
    WK_KIND__COUNT
} wk_kind_t;

#define WK_KIND_CHOICES_MAX 20 /* choices of a question, and accepted short answers */

/* The kind named `name`: 0, or -1 for a name that is not a kind. */
int wk_kind_parse(const char *name, wk_kind_t *out) __attribute__((warn_unused_result));
const char *wk_kind_name(wk_kind_t kind);
/* True for the kinds whose question lists choices (and whose answers index into them). */
bool wk_kind_has_choices(wk_kind_t kind);
/* NULL if `correct` is right for a question of kind with n choices; else the 400's message. */
const char *wk_kind_check_correct(wk_kind_t kind, const json_t *correct, size_t n);
/* True if answer has the shape kind asks for (what a client can fix; it may still be wrong). */
bool wk_kind_answer_ok(wk_kind_t kind, const json_t *answer);
/* Scoring: true if `answer` is right for a question of kind whose stored answer is `correct`
 * (one that passed wk_kind_check_correct). */
bool wk_kind_is_correct(wk_kind_t kind, const json_t *correct, const json_t *answer);

#endif
