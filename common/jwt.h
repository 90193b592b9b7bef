/* Access tokens: compact JWS (RFC 7515/7519) signed with HMAC-SHA256, issued by workers at login
 * and verified by gateways without a database round trip. Keys live in a directory of files
 * `<kid>.key` (64 hex digits); every key there verifies, the greatest kid signs, so a new key is
 * rolled out everywhere first (reload: SIGHUP) and then signs: nobody is logged out.
 * Only "HS256" is accepted; "none" and every other algorithm are refused. */
#ifndef COMMON_JWT_H
#define COMMON_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JWT_MAX_TOKEN 2048
#define JWT_KID_MAX   32
/* How far a token's iat may be ahead of the verifier's clock (servers' clocks drift). */
#define JWT_CLOCK_SKEW_S 300

typedef struct jwt_keyring jwt_keyring_t;

/* Loads every *.key file of dir. NULL with a reason in err when none is usable or one is
 * malformed (a half-valid key directory is a deployment mistake worth stopping for). */
jwt_keyring_t *jwt_keyring_load(const char *dir, char *err, size_t errlen);
/* A ring of exactly one key (tests). key_hex is 64 hex digits. NULL if malformed. */
jwt_keyring_t *jwt_keyring_from_hex(const char *kid, const char *key_hex);
void jwt_keyring_destroy(jwt_keyring_t **ring_p);
/* Number of keys held. */
int jwt_keyring_count(const jwt_keyring_t *ring);
/* Reads dir again (SIGHUP) and, if it loads, replaces the ring's keys: a new key verifies at
 * once and, as the greatest kid, signs. 0, or -1 with err set and the old keys kept. Safe
 * while other threads sign and verify. */
int jwt_keyring_reload(jwt_keyring_t *ring, const char *dir, char *err, size_t errlen);

typedef struct {
    uint8_t user[16];   /* sub */
    uint8_t tenant[16]; /* tid */
    bool admin;         /* role: "admin" or "member" */
    bool pwd_change;    /* pcr: the password must be changed before anything else */
    int64_t iat, exp;   /* seconds since the epoch */
} jwt_claims_t;

/* A signed token for claims with the ring's signing key; the caller frees it. */
char *jwt_sign(const jwt_keyring_t *ring, const jwt_claims_t *claims);

typedef enum {
    JWT_OK,
    JWT_MALFORMED,     /* not three base64url parts of JSON, or too long */
    JWT_BAD_ALG,       /* alg is not exactly "HS256" (this includes "none") */
    JWT_UNKNOWN_KID,   /* signed with a key we do not hold */
    JWT_BAD_SIGNATURE, /* signature does not verify */
    JWT_EXPIRED,       /* exp is not in the future */
    JWT_BAD_CLAIMS,    /* claims missing or of the wrong type */
} jwt_result_t;

/* Verifies signature, algorithm, key id and expiry at `now`; fills *out on JWT_OK. */
jwt_result_t jwt_verify(const jwt_keyring_t *ring, const char *token, int64_t now,
                        jwt_claims_t *out);
const char *jwt_result_str(jwt_result_t r);

#endif
