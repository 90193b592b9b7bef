/* Platform token check: common/platform compares digests in constant time. User tokens:
 * common/jwt does the cryptography; here the tenant must match the header. */
#include "gateway/gw_auth.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/mem.h"

struct gw_auth {
    platform_token_t platform; /* digest of the platform token */
    jwt_keyring_t *ring;       /* keys that verify user tokens */
};

gw_auth_t *gw_auth_new(const platform_token_t *platform, jwt_keyring_t **ring_p)
{
    gw_auth_t *auth = mem_zalloc(sizeof *auth);
    if (ring_p) {
        auth->ring = *ring_p;
        *ring_p = NULL;
    }
    auth->platform = *platform;
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

const char *gw_auth_bearer(const char *authorization)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NULL;
    return authorization + 7;
}

bool gw_auth_is_platform(const gw_auth_t *auth, const char *authorization)
{
    return platform_token_matches(&auth->platform, gw_auth_bearer(authorization));
}

gw_auth_result_t gw_auth_user(const gw_auth_t *auth, const char *authorization,
                              const uint8_t tenant[16], jwt_claims_t *claims)
{
    const char *token = gw_auth_bearer(authorization);
    if (!token || !*token)
        return GW_AUTH_MISSING;
    if (!auth->ring || jwt_verify(auth->ring, token, (int64_t)time(NULL), claims) != JWT_OK)
        return GW_AUTH_INVALID;
    if (memcmp(claims->tenant, tenant, 16) != 0)
        return GW_AUTH_WRONG_TENANT;
    return GW_AUTH_OK;
}

int gw_auth_reload_keys(gw_auth_t *auth, const char *dir, char *err, size_t errlen)
{
    return jwt_keyring_reload(auth->ring, dir, err, errlen);
}
