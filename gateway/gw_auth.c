/* Platform token check. Both the configured and the presented token are hashed to 32 bytes with
 * BLAKE2b and compared with sodium_memcmp, so neither content nor length leaks through timing. */
#include "gateway/gw_auth.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

#define TOKEN_MIN 16
#define TOKEN_MAX 512

struct gw_auth {
    unsigned char platform[crypto_generichash_BYTES]; /* BLAKE2b of the platform token */
};

gw_auth_t *gw_auth_new(const char *platform_token)
{
    size_t len = platform_token ? strlen(platform_token) : 0;
    if (len < TOKEN_MIN || len > TOKEN_MAX)
        return NULL;
    gw_auth_t *auth = mem_zalloc(sizeof *auth);
    crypto_generichash(auth->platform, sizeof auth->platform,
                       (const unsigned char *)platform_token, len, NULL, 0);
    return auth;
}

void gw_auth_destroy(gw_auth_t **auth_p)
{
    if (!auth_p || !*auth_p)
        return;
    sodium_memzero(*auth_p, sizeof **auth_p);
    free(*auth_p);
    *auth_p = NULL;
}

bool gw_auth_is_platform(const gw_auth_t *auth, const char *authorization)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return false;
    const char *token = authorization + 7;
    size_t len = strnlen(token, TOKEN_MAX + 1);
    if (len > TOKEN_MAX)
        return false;
    unsigned char digest[crypto_generichash_BYTES];
    crypto_generichash(digest, sizeof digest, (const unsigned char *)token, len, NULL, 0);
    return sodium_memcmp(digest, auth->platform, sizeof digest) == 0;
}
