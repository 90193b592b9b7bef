/* Authentication decisions of the gateway: the only place that decides 401. For now the
 * platform token; tenant user tokens come with the authentication issue. */
#ifndef GATEWAY_GW_AUTH_H
#define GATEWAY_GW_AUTH_H

#include <stdbool.h>

typedef struct gw_auth gw_auth_t;

/* Keeps only a hash of the platform token. NULL if the token is shorter than 16 bytes. */
gw_auth_t *gw_auth_new(const char *platform_token);
void gw_auth_destroy(gw_auth_t **auth_p);
/* True if the Authorization header value is "Bearer <platform token>". Constant time in the
 * token's content and length. */
bool gw_auth_is_platform(const gw_auth_t *auth, const char *authorization);

#endif
