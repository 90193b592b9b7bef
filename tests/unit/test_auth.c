/* The gateway's token checks: the platform token, and user access tokens checked for
 * signature, expiry and tenant (401 missing/invalid, 403 another tenant's). */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ident.h"
#include "gateway/gw_auth.h"

#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1eff"
#define TOKEN "platform-token-of-at-least-16-bytes"

static uint8_t s_tenant[16], s_other[16];

static gw_auth_t *s_auth(void)
{
    cr_assert_geq(sodium_init(), 0);
    cr_assert_eq(ident_uuid_parse("00000000-1111-4222-8333-444444444444", 36, s_tenant), 0);
    cr_assert_eq(ident_uuid_parse("00000000-1111-4222-8333-555555555555", 36, s_other), 0);
    platform_token_t p;
    cr_assert_eq(platform_token_set(&p, TOKEN), 0);
    jwt_keyring_t *ring = jwt_keyring_from_hex("k1", KEY_A);
    gw_auth_t *auth = gw_auth_new(&p, &ring);
    cr_assert_null(ring, "the keyring was not taken over");
    return auth;
}

/* "Bearer <token>" for a user of tenant, signed with key, expiring in ttl seconds. */
static char *s_bearer(const uint8_t tenant[16], const char *key, int64_t ttl)
{
    jwt_keyring_t *ring = jwt_keyring_from_hex("k1", key);
    jwt_claims_t c = {.admin = false, .iat = (int64_t)time(NULL) - 10};
    c.exp = c.iat + 10 + ttl;
    cr_assert_eq(ident_uuid_parse("123e4567-e89b-42d3-a456-426614174000", 36, c.user), 0);
    memcpy(c.tenant, tenant, 16);
    char *token = jwt_sign(ring, &c);
    jwt_keyring_destroy(&ring);
    size_t n = strlen(token) + 8;
    char *out = malloc(n);
    snprintf(out, n, "Bearer %s", token);
    free(token);
    return out;
}

Test(auth, the_platform_token)
{
    gw_auth_t *auth = s_auth();
    cr_expect(gw_auth_is_platform(auth, "Bearer " TOKEN));
    cr_expect(gw_auth_is_platform(auth, "bearer " TOKEN)); /* the scheme is case-insensitive */
    cr_expect_not(gw_auth_is_platform(auth, TOKEN));       /* no scheme */
    cr_expect_not(gw_auth_is_platform(auth, "Bearer " TOKEN "x"));
    cr_expect_not(gw_auth_is_platform(auth, "Bearer platform-token-of-at-least-16-byte"));
    cr_expect_not(gw_auth_is_platform(auth, "Bearer "));
    cr_expect_not(gw_auth_is_platform(auth, "Basic " TOKEN));
    cr_expect_not(gw_auth_is_platform(auth, NULL));
    cr_expect_str_eq(gw_auth_bearer("Bearer abc"), "abc");
    cr_expect_null(gw_auth_bearer("Bearerabc"));
    gw_auth_destroy(&auth);
    cr_expect_null(auth);
}

Test(auth, user_tokens)
{
    gw_auth_t *auth = s_auth();
    jwt_claims_t claims;
    char *good = s_bearer(s_tenant, KEY_A, 600);
    cr_expect_eq(gw_auth_user(auth, good, s_tenant, &claims), GW_AUTH_OK);
    cr_expect_eq(memcmp(claims.tenant, s_tenant, 16), 0);
    cr_expect_eq(gw_auth_user(auth, good, s_other, &claims), GW_AUTH_WRONG_TENANT);
    char *forged = s_bearer(s_tenant, KEY_B, 600);
    cr_expect_eq(gw_auth_user(auth, forged, s_tenant, &claims), GW_AUTH_INVALID);
    char *expired = s_bearer(s_tenant, KEY_A, -120);
    cr_expect_eq(gw_auth_user(auth, expired, s_tenant, &claims), GW_AUTH_INVALID);
    cr_expect_eq(gw_auth_user(auth, NULL, s_tenant, &claims), GW_AUTH_MISSING);
    cr_expect_eq(gw_auth_user(auth, "Bearer ", s_tenant, &claims), GW_AUTH_MISSING);
    cr_expect_eq(gw_auth_user(auth, "Basic abc", s_tenant, &claims), GW_AUTH_MISSING);
    cr_expect_eq(gw_auth_user(auth, "Bearer not.a.jwt", s_tenant, &claims), GW_AUTH_INVALID);
    /* The platform token is no user token. */
    cr_expect_eq(gw_auth_user(auth, "Bearer " TOKEN, s_tenant, &claims), GW_AUTH_INVALID);
    free(good);
    free(forged);
    free(expired);
    gw_auth_destroy(&auth);
}

Test(auth, without_keys_no_user_token_verifies)
{
    cr_assert_geq(sodium_init(), 0);
    platform_token_t p;
    cr_assert_eq(platform_token_set(&p, TOKEN), 0);
    gw_auth_t *auth = gw_auth_new(&p, NULL);
    char *good = s_bearer(s_tenant, KEY_A, 600);
    jwt_claims_t claims;
    cr_expect_eq(gw_auth_user(auth, good, s_tenant, &claims), GW_AUTH_INVALID);
    cr_expect(gw_auth_is_platform(auth, "Bearer " TOKEN));
    free(good);
    gw_auth_destroy(&auth);
}
