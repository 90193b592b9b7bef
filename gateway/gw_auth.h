/* Authentication decisions of the gateway, the only place that decides 401 (and the 403 of a
 * token used against another tenant): the platform token, and tenant users' access tokens
 * verified locally (signature, algorithm, key id, expiry) without a database round trip. */
#ifndef GATEWAY_GW_AUTH_H
#define GATEWAY_GW_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "common/jwt.h"
#include "common/platform.h"

typedef struct gw_auth gw_auth_t;

/* Copies the platform token's digest and takes ownership of *ring_p (may be NULL: then no user
 * token verifies). Caller owns the result. */
gw_auth_t *gw_auth_new(const platform_token_t *platform, jwt_keyring_t **ring_p);
void gw_auth_destroy(gw_auth_t **auth_p);
/* Reads the access-token keys again (SIGHUP). 0, or -1 with err and the old keys kept. */
int gw_auth_reload_keys(gw_auth_t *auth, const char *dir, char *err, size_t errlen);
/* The token of a "Bearer <token>" header value (borrowed from it), or NULL. */
const char *gw_auth_bearer(const char *authorization);
/* True if the Authorization header value is "Bearer <platform token>". Constant time in the
 * token's content and length. */
bool gw_auth_is_platform(const gw_auth_t *auth, const char *authorization);

typedef enum {
    GW_AUTH_OK,
    GW_AUTH_MISSING,      /* no Bearer token: 401 */
    GW_AUTH_INVALID,      /* bad signature, algorithm, key, claims, or expired: 401 */
    GW_AUTH_WRONG_TENANT, /* a valid token of another tenant: 403 */
} gw_auth_result_t;

/* Verifies a user's access token against the tenant named by X-Tenant-ID. */
gw_auth_result_t gw_auth_user(const gw_auth_t *auth, const char *authorization,
                              const uint8_t tenant[16], jwt_claims_t *claims);

#endif
