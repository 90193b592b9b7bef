/* The quiz document cache (worker/wk_cache.c): each caller gets the view it may see, a fill that
 * began before a drop is not kept, a drop of a quiz, a tenant or everything takes exactly that,
 * a view read under another role oid is not served, and the byte budget evicts the oldest. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "worker/wk_cache.h"

static uint8_t T1[16] = {1}, T2[16] = {2}, Q1[16] = {1, 1}, Q2[16] = {1, 2};
static uint8_t AUTHOR[16] = {9}, MEMBER[16] = {8};

static void s_put(wk_cache_t *c, const uint8_t *tenant, const uint8_t *quiz, bool full,
                  const char *doc, long long version)
{
    wk_cache_put(c, wk_cache_epoch(c),
                 &(wk_cache_fill_t){.tenant = tenant,
                                    .quiz = quiz,
                                    .author = AUTHOR,
                                    .role_oid = 42,
                                    .version = version,
                                    .full = full,
                                    .doc = doc,
                                    .len = strlen(doc)});
}

/* The document the caller gets, or NULL (caller frees). */
static char *s_get(wk_cache_t *c, const uint8_t *tenant, const uint8_t *quiz, const uint8_t *user,
                   bool admin, uint32_t oid)
{
    wk_cache_hit_t hit;
    return wk_cache_get(c, tenant, quiz, user, admin, oid, &hit) ? hit.doc : NULL;
}

static void s_expect(wk_cache_t *c, const uint8_t *tenant, const uint8_t *quiz, const uint8_t *user,
                     bool admin, const char *want)
{
    char *got = s_get(c, tenant, quiz, user, admin, 42);
    if (want)
        cr_assert(got && strcmp(got, want) == 0, "got %s, want %s", got ? got : "nothing", want);
    else
        cr_assert_null(got, "got %s, want nothing", got);
    free(got);
}

Test(cache, each_caller_gets_the_view_it_may_see)
{
    wk_cache_t *c = wk_cache_new(1 << 20);
    s_put(c, T1, Q1, false, "member view", 3);
    s_expect(c, T1, Q1, MEMBER, false, "member view");
    s_expect(c, T1, Q1, AUTHOR, false, NULL); /* the author's view is not held yet */
    s_expect(c, T1, Q1, MEMBER, true, NULL);  /* nor for an admin */
    s_put(c, T1, Q1, true, "full view", 3);
    s_expect(c, T1, Q1, AUTHOR, false, "full view");
    s_expect(c, T1, Q1, MEMBER, true, "full view");
    s_expect(c, T1, Q1, MEMBER, false, "member view");
    s_expect(c, T2, Q1, MEMBER, false, NULL); /* another tenant's quiz of the same id */
    wk_cache_hit_t hit;
    cr_assert(wk_cache_get(c, T1, Q1, AUTHOR, false, 42, &hit));
    cr_assert_eq(hit.version, 3);
    cr_assert(hit.full);
    free(hit.doc);
    wk_cache_destroy(&c);
}

Test(cache, a_new_version_replaces_both_views)
{
    wk_cache_t *c = wk_cache_new(1 << 20);
    s_put(c, T1, Q1, false, "member v3", 3);
    s_put(c, T1, Q1, true, "full v3", 3);
    s_put(c, T1, Q1, false, "member v4", 4);
    s_expect(c, T1, Q1, MEMBER, false, "member v4");
    s_expect(c, T1, Q1, AUTHOR, false, NULL);
    wk_cache_destroy(&c);
}

Test(cache, a_fill_that_began_before_a_drop_is_not_kept)
{
    wk_cache_t *c = wk_cache_new(1 << 20);
    uint64_t before = wk_cache_epoch(c);
    wk_cache_drop(c, T2, Q2); /* any drop: the fill may be older than what it accounted */
    wk_cache_put(
        c, before,
        &(wk_cache_fill_t){.tenant = T1, .quiz = Q1, .role_oid = 42, .doc = "old", .len = 3});
    s_expect(c, T1, Q1, MEMBER, false, NULL);
    wk_cache_destroy(&c);
}

Test(cache, drops_take_a_quiz_a_tenant_or_everything)
{
    wk_cache_t *c = wk_cache_new(1 << 20);
    s_put(c, T1, Q1, false, "t1q1", 1);
    s_put(c, T1, Q2, false, "t1q2", 1);
    s_put(c, T2, Q1, false, "t2q1", 1);
    wk_cache_drop(c, T1, Q1);
    s_expect(c, T1, Q1, MEMBER, false, NULL);
    s_expect(c, T1, Q2, MEMBER, false, "t1q2");
    wk_cache_drop(c, T1, NULL);
    s_expect(c, T1, Q2, MEMBER, false, NULL);
    s_expect(c, T2, Q1, MEMBER, false, "t2q1");
    wk_cache_drop(c, NULL, NULL);
    s_expect(c, T2, Q1, MEMBER, false, NULL);
    size_t entries, bytes;
    wk_cache_size(c, &entries, &bytes);
    cr_assert_eq(entries, 0);
    cr_assert_eq(bytes, 0);
    wk_cache_destroy(&c);
}

Test(cache, a_view_read_under_another_role_is_not_served)
{
    wk_cache_t *c = wk_cache_new(1 << 20);
    s_put(c, T1, Q1, false, "doc", 1);
    char *got = s_get(c, T1, Q1, MEMBER, false, 43); /* the role was dropped and made again */
    cr_assert_null(got);
    wk_cache_destroy(&c);
}

Test(cache, the_budget_evicts_the_oldest_and_holds_many)
{
    wk_cache_t *c = wk_cache_new(2 << 20);
    char doc[1000];
    memset(doc, 'x', sizeof doc - 1);
    doc[sizeof doc - 1] = '\0';
    uint8_t quiz[16] = {0};
    for (int i = 0; i < 5000; i++) { /* past the first table size: it grows */
        memcpy(quiz, &i, sizeof i);
        s_put(c, T1, quiz, false, doc, 1);
    }
    size_t entries, bytes;
    wk_cache_size(c, &entries, &bytes);
    cr_assert_leq(bytes, 2 << 20);
    cr_assert_gt(entries, 1500, "%zu entries", entries); /* past the first 1024 buckets */
    int last = 4999, first = 0;
    memcpy(quiz, &last, sizeof last);
    s_expect(c, T1, quiz, MEMBER, false, doc);
    memcpy(quiz, &first, sizeof first);
    s_expect(c, T1, quiz, MEMBER, false, NULL);
    wk_cache_destroy(&c);
    wk_cache_t *none = wk_cache_new(0); /* --cache-mb 0 holds nothing */
    s_put(none, T1, Q1, false, "doc", 1);
    s_expect(none, T1, Q1, MEMBER, false, NULL);
    wk_cache_destroy(&none);
}

Test(cache, a_list_holds_until_a_quiz_of_its_tenant_is_dropped)
{
    wk_cache_t *c = wk_cache_new(1 << 20);
    static const uint8_t page[16] = {7};
    wk_cache_put_doc(c, wk_cache_epoch(c), WK_CACHE_LIST, T1, page, 42, "page", 4);
    wk_cache_put_doc(c, wk_cache_epoch(c), WK_CACHE_LIST, T2, page, 42, "other", 5);
    char *got = wk_cache_get_doc(c, WK_CACHE_LIST, T1, page, 42);
    cr_assert(got && strcmp(got, "page") == 0);
    free(got);
    cr_expect_null(wk_cache_get_doc(c, WK_CACHE_LIST, T1, page, 43), "read under another role");
    wk_cache_drop(c, T1, Q2); /* a quiz the cache did not even hold */
    cr_expect_null(wk_cache_get_doc(c, WK_CACHE_LIST, T1, page, 42),
                   "a list outlived a change of its tenant");
    got = wk_cache_get_doc(c, WK_CACHE_LIST, T2, page, 42);
    cr_expect(got && strcmp(got, "other") == 0, "another tenant's list was voided");
    free(got);
    wk_cache_put_doc(c, wk_cache_epoch(c), WK_CACHE_LIST, T1, page, 42, "again",
                     5); /* read after the drop */
    got = wk_cache_get_doc(c, WK_CACHE_LIST, T1, page, 42);
    cr_expect(got && strcmp(got, "again") == 0);
    free(got);
    wk_cache_drop(c, NULL, NULL);
    cr_expect_null(wk_cache_get_doc(c, WK_CACHE_LIST, T1, page, 42));
    wk_cache_destroy(&c);
}

Test(cache, a_tenant_seen_logging_is_remembered_until_everything_is_dropped)
{
    wk_cache_t *c = wk_cache_new(1 << 20);
    cr_expect_not(wk_cache_tenant_logs(c, T1, WK_LOGS_QUIZZES));
    wk_cache_note_logs(c, T1, WK_LOGS_QUIZZES);
    wk_cache_drop(c, T1, Q1); /* a drop's mark keeps it */
    cr_expect(wk_cache_tenant_logs(c, T1, WK_LOGS_QUIZZES));
    cr_expect_not(wk_cache_tenant_logs(c, T2, WK_LOGS_QUIZZES));
    wk_cache_drop(c, NULL, NULL); /* a new connection, perhaps another server: look again */
    cr_expect_not(wk_cache_tenant_logs(c, T1, WK_LOGS_QUIZZES));
    wk_cache_destroy(&c);
}
