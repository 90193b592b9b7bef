/* libFuzzer target: access-token parsing (common/jwt.c). With the first byte even, the input is
 * a whole token as a client sends it; odd, it is the payload of a token that is then signed
 * with the ring's key, so the claims parser behind the signature check is reached too. Only a
 * token this ring signed may verify, and then with claims in range. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/jwt.h"

#define KEY_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static jwt_keyring_t *s_ring;

/* base64url without padding of in into out (NUL-terminated). */
static void s_b64(const uint8_t *in, size_t n, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_ring) {
        if (sodium_init() < 0 || !(s_ring = jwt_keyring_from_hex("1", KEY_HEX)))
            abort();
    }
    if (size < 1 || size > 8192)
        return 0;
    char *token;
    if (data[0] % 2 == 0) {
        token = malloc(size);
        memcpy(token, data + 1, size - 1);
        token[size - 1] = '\0';
    } else {
        static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"1\"}";
        size_t cap = sodium_base64_ENCODED_LEN(size + sizeof header,
                                               sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        token = malloc(3 * cap + 8);
        char *p = token;
        s_b64((const uint8_t *)header, sizeof header - 1, p, cap);
        p += strlen(p);
        *p++ = '.';
        s_b64(data + 1, size - 1, p, cap);
        p += strlen(p);
        uint8_t key[32], mac[crypto_auth_hmacsha256_BYTES];
        sodium_hex2bin(key, sizeof key, KEY_HEX, 64, NULL, NULL, NULL);
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, key, sizeof key);
        crypto_auth_hmacsha256_update(&st, (const uint8_t *)token, (size_t)(p - token));
        crypto_auth_hmacsha256_final(&st, mac);
        *p++ = '.';
        s_b64(mac, sizeof mac, p, cap);
    }
    jwt_claims_t claims;
    if (jwt_verify(s_ring, token, 1700000000, &claims) == JWT_OK && claims.exp < claims.iat)
        abort(); /* accepted a token that expired before it was issued */
    free(token);
    return 0;
}
