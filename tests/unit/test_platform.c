/* The platform token: kept as a digest, matched only in full, bounded in length. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/platform.h"

Test(platform, matches_only_the_whole_token)
{
    cr_assert_geq(sodium_init(), 0);
    platform_token_t t;
    cr_assert_eq(platform_token_set(&t, "0123456789abcdef-platform"), 0);
    cr_expect(platform_token_matches(&t, "0123456789abcdef-platform"));
    cr_expect(!platform_token_matches(&t, "0123456789abcdef-platforM"));
    cr_expect(!platform_token_matches(&t, "0123456789abcdef-platfor"));
    cr_expect(!platform_token_matches(&t, "0123456789abcdef-platform "));
    cr_expect(!platform_token_matches(&t, ""));
    cr_expect(!platform_token_matches(&t, NULL));
}

Test(platform, length_is_bounded)
{
    cr_assert_geq(sodium_init(), 0);
    platform_token_t t;
    char big[PLATFORM_TOKEN_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_expect_eq(platform_token_set(&t, "too-short"), -1);
    cr_expect_eq(platform_token_set(&t, big), -1);
    cr_expect_eq(platform_token_set(&t, NULL), -1);
    big[PLATFORM_TOKEN_MAX] = '\0';
    cr_expect_eq(platform_token_set(&t, big), 0);
    big[PLATFORM_TOKEN_MAX] = 'x';
    cr_expect(!platform_token_matches(&t, big), "an over-long token never matches");
}

Test(platform, loads_from_the_environment_before_the_file)
{
    cr_assert_geq(sodium_init(), 0);
    char path[] = "/tmp/test-platform.XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "file-token-0123456789\nsecond line\n", 34), 34);
    close(fd);
    platform_token_t t;
    unsetenv("QUIZ_PLATFORM_TOKEN");
    cr_assert_eq(platform_token_load(&t, path), 0);
    cr_expect(platform_token_matches(&t, "file-token-0123456789"));
    setenv("QUIZ_PLATFORM_TOKEN", "env-token-0123456789", 1);
    cr_assert_eq(platform_token_load(&t, path), 0);
    cr_expect(platform_token_matches(&t, "env-token-0123456789"));
    unsetenv("QUIZ_PLATFORM_TOKEN");
    cr_expect_eq(platform_token_load(&t, NULL), -1);
    unlink(path);
}
