/* The platform token: the operator's credential for tenant management. Both daemons hold only a
 * BLAKE2b digest of it and compare presented tokens by digest with sodium_memcmp, so neither the
 * content nor the length of the token leaks through timing, and it is never kept in memory. */
#ifndef COMMON_PLATFORM_H
#define COMMON_PLATFORM_H

#include <stdbool.h>

#define PLATFORM_TOKEN_MIN 16
#define PLATFORM_TOKEN_MAX 512

typedef struct {
    unsigned char digest[32]; /* BLAKE2b-256 of the token */
} platform_token_t;

/* Takes $QUIZ_PLATFORM_TOKEN, else the first line of the file at path (may be NULL). 0, or -1
 * when there is none or it is shorter than 16 or longer than 512 bytes. */
int platform_token_load(platform_token_t *out, const char *path);
/* Digests a token given in full (tests, and the loader). 0 or -1 as above. */
int platform_token_set(platform_token_t *out, const char *token);
/* Whether token (NUL-terminated, possibly NULL) is the platform token. Constant time. */
bool platform_token_matches(const platform_token_t *t, const char *token);

#endif
