/* Platform token check: both the configured and the presented token are hashed to 32 bytes with
 * BLAKE2b and compared with sodium_memcmp, so neither content nor length leaks through timing.
 * User tokens: common/jwt does the cryptography; here the tenant must match the header. */
#include "gateway/gw_auth.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/mem.h"

#define TOKEN_MIN 16
#define TOKEN_MAX 512

struct gw_auth {
    unsigned char platform[crypto_generichash_BYTES]; /* BLAKE2b of the platform token */
    jwt_keyring_t *ring;                              /* keys that verify user tokens */
};

gw_auth_t *gw_auth_new(const char *platform_token, jwt_keyring_t **ring_p)
{
    size_t len = platform_token ? strlen(platform_token) : 0;
    if (len < TOKEN_MIN || len > TOKEN_MAX)
        return NULL;
    gw_auth_t *auth = mem_zalloc(sizeof *auth);
    if (ring_p) {
        auth->ring = *ring_p;
        *ring_p = NULL;
    }
    crypto_generichash(auth->platform, sizeof auth->platform, (const unsigned char *)platform_token,
                       len, NULL, 0);
    return auth;
}

void gw_auth_destroy(gw_auth_t **auth_p)
{
    if (!auth_p || !*auth_p)
        return;
    jwt_keyring_destroy(&(*auth_p)->ring);
    sodium_memzero(*auth_p, sizeof **auth_p);
    free(*auth_p);
    *auth_p = NULL;
}

/* The token of a "Bearer <token>" header value, or NULL. */
static const char *s_bearer(const char *authorization)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    return authorization + 7;
}

bool gw_auth_is_platform(const gw_auth_t *auth, const char *authorization)
{
    const char *token = s_bearer(authorization);
    if (!token)
        return false;
    size_t len = strnlen(token, TOKEN_MAX + 1);
    if (len > TOKEN_MAX)
        return false;
    unsigned char digest[crypto_generichash_BYTES];
    crypto_generichash(digest, sizeof digest, (const unsigned char *)token, len, NULL, 0);
    return sodium_memcmp(digest, auth->platform, sizeof digest) == 0;
}

gw_auth_result_t gw_auth_user(const gw_auth_t *auth, const char *authorization,
                              const uint8_t tenant[16], jwt_claims_t *claims)
{
    const char *token = s_bearer(authorization);
    if (!token || !*token)
        return GW_AUTH_MISSING;
    if (!auth->ring || jwt_verify(auth->ring, token, (int64_t)time(NULL), claims) != JWT_OK)
        return GW_AUTH_INVALID;
    if (memcmp(claims->tenant, tenant, 16) != 0)
        return GW_AUTH_WRONG_TENANT;
    return GW_AUTH_OK;
}
