/* Access-token edge cases: everything but a correctly signed, unexpired HS256 token from a key we
 * hold must be refused, and the refusal must name the right reason. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ident.h"
#include "common/jwt.h"
#include "common/mem.h"

#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1eff"
#define NOW   1800000000

static jwt_claims_t s_claims(void)
{
    jwt_claims_t c = {.admin = true, .iat = NOW, .exp = NOW + 900};
    cr_assert_eq(ident_uuid_parse("123e4567-e89b-42d3-a456-426614174000", 36, c.user), 0);
    cr_assert_eq(ident_uuid_parse("00000000-1111-4222-8333-444444444444", 36, c.tenant), 0);
    return c;
}

static char *s_b64(const char *text)
{
    size_t cap = sodium_base64_ENCODED_LEN(strlen(text), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = mem_alloc(cap);
    sodium_bin2base64(out, cap, (const unsigned char *)text, strlen(text),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

Test(jwt, round_trip)
{
    jwt_keyring_t *ring = jwt_keyring_from_hex("k1", KEY_A);
    jwt_claims_t in = s_claims(), out;
    in.pwd_change = true;
    char *tok = jwt_sign(ring, &in);
    cr_assert_eq(jwt_verify(ring, tok, NOW + 1, &out), JWT_OK);
    cr_expect_arr_eq(out.user, in.user, 16);
    cr_expect_arr_eq(out.tenant, in.tenant, 16);
    cr_expect(out.admin);
    cr_expect(out.pwd_change);
    cr_expect_eq(out.exp, NOW + 900);
    free(tok);
    jwt_keyring_destroy(&ring);
    cr_expect_null(ring);
}

Test(jwt, expired_is_refused)
{
    jwt_keyring_t *ring = jwt_keyring_from_hex("k1", KEY_A);
    jwt_claims_t in = s_claims(), out;
    char *tok = jwt_sign(ring, &in);
    cr_expect_eq(jwt_verify(ring, tok, NOW + 900, &out), JWT_EXPIRED);
    cr_expect_eq(jwt_verify(ring, tok, NOW + 5000, &out), JWT_EXPIRED);
    free(tok);
    jwt_keyring_destroy(&ring);
}

/* Found by tests/fuzz/fuzz_token.c: an iat after exp, or far ahead of the clock, verified. */
Test(jwt, issued_after_expiry_or_in_the_future_is_refused)
{
    jwt_keyring_t *ring = jwt_keyring_from_hex("k1", KEY_A);
    jwt_claims_t in = s_claims(), out;
    in.iat = in.exp + 1;
    char *tok = jwt_sign(ring, &in);
    cr_expect_eq(jwt_verify(ring, tok, NOW, &out), JWT_BAD_CLAIMS);
    free(tok);
    in = s_claims();
    in.iat = NOW + JWT_CLOCK_SKEW_S + 1;
    in.exp = in.iat + 900;
    tok = jwt_sign(ring, &in);
    cr_expect_eq(jwt_verify(ring, tok, NOW, &out), JWT_BAD_CLAIMS);
    cr_expect_eq(jwt_verify(ring, tok, NOW + 2, &out), JWT_OK, "within the skew");
    free(tok);
    jwt_keyring_destroy(&ring);
}

Test(jwt, tampering_with_any_part_is_refused)
{
    jwt_keyring_t *ring = jwt_keyring_from_hex("k1", KEY_A);
    jwt_claims_t in = s_claims(), out;
    in.admin = false;
    char *tok = jwt_sign(ring, &in);
    size_t len = strlen(tok);
    /* Flip one character at every position: never JWT_OK. */
    for (size_t i = 0; i < len; i++) {
        if (tok[i] == '.')
            continue;
        char *t = mem_strdup(tok);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        cr_expect_neq(jwt_verify(ring, t, NOW, &out), JWT_OK, "flipped position %zu", i);
        free(t);
    }
    /* Promote the member to admin by swapping the claims and keeping the signature. */
    char *claims = s_b64("{\"exp\":1800000900,\"iat\":1800000000,\"role\":\"admin\","
                         "\"sub\":\"123e4567-e89b-42d3-a456-426614174000\","
                         "\"tid\":\"00000000-1111-4222-8333-444444444444\"}");
    char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
    char *forged = mem_printf("%.*s.%s%s", (int)(dot1 - tok), tok, claims, dot2);
    cr_expect_eq(jwt_verify(ring, forged, NOW, &out), JWT_BAD_SIGNATURE);
    free(forged);
    free(claims);
    free(tok);
    jwt_keyring_destroy(&ring);
}

Test(jwt, alg_none_and_other_algorithms_are_refused)
{
    jwt_keyring_t *ring = jwt_keyring_from_hex("k1", KEY_A);
    jwt_claims_t out;
    const char *heads[] = {"{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"k1\"}",
                           "{\"alg\":\"None\",\"kid\":\"k1\"}",
                           "{\"alg\":\"HS512\",\"kid\":\"k1\"}",
                           "{\"alg\":\"RS256\",\"kid\":\"k1\"}",
                           "{\"kid\":\"k1\"}",
                           "{\"alg\":5,\"kid\":\"k1\"}"};
    char *claims = s_b64("{\"exp\":1800000900,\"iat\":1800000000,\"role\":\"admin\","
                         "\"sub\":\"123e4567-e89b-42d3-a456-426614174000\","
                         "\"tid\":\"00000000-1111-4222-8333-444444444444\"}");
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        char *h = s_b64(heads[i]);
        char *unsigned_tok = mem_printf("%s.%s.", h, claims);
        char *junk_sig = mem_printf("%s.%s.AAAA", h, claims);
        cr_expect_eq(jwt_verify(ring, unsigned_tok, NOW, &out), JWT_BAD_ALG, "%s", heads[i]);
        cr_expect_eq(jwt_verify(ring, junk_sig, NOW, &out), JWT_BAD_ALG, "%s", heads[i]);
        free(unsigned_tok);
        free(junk_sig);
        free(h);
    }
    free(claims);
    jwt_keyring_destroy(&ring);
}

Test(jwt, wrong_key_is_refused)
{
    jwt_keyring_t *a = jwt_keyring_from_hex("k1", KEY_A), *b = jwt_keyring_from_hex("k1", KEY_B),
                  *c = jwt_keyring_from_hex("k2", KEY_A);
    jwt_claims_t in = s_claims(), out;
    char *tok = jwt_sign(a, &in);
    cr_expect_eq(jwt_verify(b, tok, NOW, &out), JWT_BAD_SIGNATURE, "same kid, other key");
    cr_expect_eq(jwt_verify(c, tok, NOW, &out), JWT_UNKNOWN_KID, "kid we do not hold");
    free(tok);
    jwt_keyring_destroy(&a);
    jwt_keyring_destroy(&b);
    jwt_keyring_destroy(&c);
}

Test(jwt, malformed_tokens)
{
    jwt_keyring_t *ring = jwt_keyring_from_hex("k1", KEY_A);
    jwt_claims_t out;
    const char *bad[] = {"", "abc", "a.b", "a.b.c.d", "..", "!!!.???.***", "e30.e30.e30"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_neq(jwt_verify(ring, bad[i], NOW, &out), JWT_OK, "\"%s\"", bad[i]);
    cr_expect_eq(jwt_verify(ring, NULL, NOW, &out), JWT_MALFORMED);
    char *huge = mem_alloc(JWT_MAX_TOKEN + 10);
    memset(huge, 'a', JWT_MAX_TOKEN + 9);
    huge[JWT_MAX_TOKEN + 9] = '\0';
    cr_expect_eq(jwt_verify(ring, huge, NOW, &out), JWT_MALFORMED);
    free(huge);
    jwt_keyring_destroy(&ring);
}

Test(jwt, bad_claims_with_a_valid_signature)
{
    /* Sign odd claims by hand with the right key: the signature is fine, the claims are not. */
    const char *claims[] = {
        "{\"exp\":1800000900,\"iat\":1,\"role\":\"root\",\"sub\":\"123e4567-e89b-42d3-a456-"
        "426614174000\",\"tid\":\"00000000-1111-4222-8333-444444444444\"}",
        "{\"exp\":\"never\",\"iat\":1,\"role\":\"admin\",\"sub\":\"123e4567-e89b-42d3-a456-"
        "426614174000\",\"tid\":\"00000000-1111-4222-8333-444444444444\"}",
        "{\"exp\":1800000900,\"iat\":1,\"role\":\"admin\",\"sub\":\"not-a-uuid\",\"tid\":"
        "\"00000000-1111-4222-8333-444444444444\"}",
        "{\"exp\":1800000900,\"iat\":1,\"role\":\"admin\",\"sub\":\"123e4567-e89b-42d3-a456-"
        "426614174000\"}",
    };
    unsigned char key[32];
    size_t kl;
    cr_assert_eq(sodium_hex2bin(key, 32, KEY_A, 64, NULL, &kl, NULL), 0);
    jwt_keyring_t *ring = jwt_keyring_from_hex("k1", KEY_A);
    char *h = s_b64("{\"alg\":\"HS256\",\"kid\":\"k1\"}");
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        char *c = s_b64(claims[i]);
        char *input = mem_printf("%s.%s", h, c);
        unsigned char mac[32];
        crypto_auth_hmacsha256(mac, (unsigned char *)input, strlen(input), key);
        char sig[64];
        sodium_bin2base64(sig, sizeof sig, mac, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        char *tok = mem_printf("%s.%s", input, sig);
        jwt_claims_t out;
        cr_expect_eq(jwt_verify(ring, tok, NOW, &out), JWT_BAD_CLAIMS, "%s", claims[i]);
        free(tok);
        free(input);
        free(c);
    }
    free(h);
    jwt_keyring_destroy(&ring);
}

Test(jwt, key_directory_rotation)
{
    char dir[] = "/tmp/quiz-jwt-keys.XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/2026-01.key", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "%s\n", KEY_A);
    fclose(f);
    snprintf(path, sizeof path, "%s/2026-06.key", dir);
    f = fopen(path, "w");
    fprintf(f, "%s\n", KEY_B);
    fclose(f);
    jwt_keyring_t *both = jwt_keyring_load(dir, err, sizeof err);
    cr_assert_not_null(both, "%s", err);
    cr_expect_eq(jwt_keyring_count(both), 2);
    /* Tokens signed with the old key still verify; new tokens use the newest key. */
    jwt_keyring_t *old = jwt_keyring_from_hex("2026-01", KEY_A),
                  *newest = jwt_keyring_from_hex("2026-06", KEY_B);
    jwt_claims_t in = s_claims(), out;
    char *t_old = jwt_sign(old, &in), *t_new = jwt_sign(both, &in);
    cr_expect_eq(jwt_verify(both, t_old, NOW, &out), JWT_OK);
    cr_expect_eq(jwt_verify(newest, t_new, NOW, &out), JWT_OK, "signed with the greatest kid");
    free(t_old);
    free(t_new);
    jwt_keyring_destroy(&old);
    jwt_keyring_destroy(&newest);
    jwt_keyring_destroy(&both);

    snprintf(path, sizeof path, "%s/bad.key", dir);
    f = fopen(path, "w");
    fprintf(f, "not hex\n");
    fclose(f);
    cr_expect_null(jwt_keyring_load(dir, err, sizeof err),
                   "a malformed key file must stop the load");
    cr_expect_null(jwt_keyring_load("/nonexistent/dir", err, sizeof err));
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}
