/* The platform token (see platform.h). */
#include "common/platform.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int platform_token_set(platform_token_t *out, const char *token)
{
    size_t len = token ? strnlen(token, PLATFORM_TOKEN_MAX + 1) : 0;
    if (len < PLATFORM_TOKEN_MIN || len > PLATFORM_TOKEN_MAX)
        return -1;
    crypto_generichash(out->digest, sizeof out->digest, (const unsigned char *)token, len, NULL, 0);
    return 0;
}

int platform_token_load(platform_token_t *out, const char *path)
{
    const char *env = getenv("QUIZ_PLATFORM_TOKEN");
    if (env && *env)
        return platform_token_set(out, env);
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return -1;
    char line[PLATFORM_TOKEN_MAX + 8] = "";
    char *ok = fgets(line, sizeof line, f);
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    int rc = ok ? platform_token_set(out, line) : -1;
    sodium_memzero(line, sizeof line);
    return rc;
}

bool platform_token_matches(const platform_token_t *t, const char *token)
{
    if (!token)
        return false;
    size_t len = strnlen(token, PLATFORM_TOKEN_MAX + 1);
    if (len > PLATFORM_TOKEN_MAX)
        return false;
    unsigned char digest[sizeof t->digest];
    crypto_generichash(digest, sizeof digest, (const unsigned char *)token, len, NULL, 0);
    return sodium_memcmp(digest, t->digest, sizeof digest) == 0;
}
