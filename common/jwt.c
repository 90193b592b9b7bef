/* HS256 JWTs with libsodium (HMAC-SHA256, base64url, constant-time compare) and jansson. Both the
 * header and the claims are parsed as JSON and type-checked; the signature is checked before the
 * claims are trusted. */
#include "common/jwt.h"

#include <dirent.h>
#include <pthread.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ident.h"
#include "common/mem.h"

#define MAX_KEYS 16

typedef struct {
    char kid[JWT_KID_MAX + 1];
    unsigned char key[crypto_auth_hmacsha256_KEYBYTES];
} key_t_;

struct jwt_keyring {
    key_t_ keys[MAX_KEYS]; /* every key that verifies */
    int count;
    int signing;           /* index of the key that signs: the greatest kid */
    pthread_rwlock_t lock; /* the keys, against a reload (jwt_keyring_reload) */
};

/* The ring is const to its users; its lock is not. */
static pthread_rwlock_t *s_lock(const jwt_keyring_t *ring)
{
    return (pthread_rwlock_t *)&ring->lock;
}

static bool s_kid_ok(const char *kid, size_t len)
{
    if (len == 0 || len > JWT_KID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = kid[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static int s_add(jwt_keyring_t *ring, const char *kid, size_t kid_len, const char *hex)
{
    if (ring->count == MAX_KEYS || !s_kid_ok(kid, kid_len))
        return -1;
    key_t_ *k = &ring->keys[ring->count];
    size_t bin_len = 0;
    const char *end = NULL;
    if (sodium_hex2bin(k->key, sizeof k->key, hex, strlen(hex), " \r\n", &bin_len, &end) != 0 ||
        bin_len != sizeof k->key || (end && *end && strspn(end, " \r\n") != strlen(end)))
        return -1;
    memcpy(k->kid, kid, kid_len);
    k->kid[kid_len] = '\0';
    if (ring->count == 0 || strcmp(k->kid, ring->keys[ring->signing].kid) > 0)
        ring->signing = ring->count;
    ring->count++;
    return 0;
}

jwt_keyring_t *jwt_keyring_from_hex(const char *kid, const char *key_hex)
{
    jwt_keyring_t *ring = mem_zalloc(sizeof *ring);
    pthread_rwlock_init(&ring->lock, NULL);
    if (s_add(ring, kid, strlen(kid), key_hex) < 0)
        jwt_keyring_destroy(&ring);
    return ring;
}

jwt_keyring_t *jwt_keyring_load(const char *dir, char *err, size_t errlen)
{
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d) {
        snprintf(err, errlen, "could not open key directory \"%s\"", dir ? dir : "(none)");
        return NULL;
    }
    jwt_keyring_t *ring = mem_zalloc(sizeof *ring);
    pthread_rwlock_init(&ring->lock, NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".key") != 0)
            continue;
        char path[4096], hex[200] = "";
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(hex, 1, sizeof hex - 1, f) : 0;
        if (f)
            fclose(f);
        hex[n] = '\0';
        int bad = s_add(ring, e->d_name, len - 4, hex);
        sodium_memzero(hex, sizeof hex);
        if (bad) {
            snprintf(err, errlen, "key file \"%s\" is not 64 hex digits with a valid name", path);
            jwt_keyring_destroy(&ring);
            break;
        }
    }
    closedir(d);
    if (ring && ring->count == 0) {
        snprintf(err, errlen, "no *.key files in \"%s\"", dir);
        jwt_keyring_destroy(&ring);
    }
    return ring;
}

void jwt_keyring_destroy(jwt_keyring_t **ring_p)
{
    if (!ring_p || !*ring_p)
        return;
    pthread_rwlock_destroy(&(*ring_p)->lock);
    sodium_memzero(*ring_p, sizeof **ring_p);
    free(*ring_p);
    *ring_p = NULL;
}

int jwt_keyring_count(const jwt_keyring_t *ring)
{
    pthread_rwlock_rdlock(s_lock(ring));
    int n = ring->count;
    pthread_rwlock_unlock(s_lock(ring));
    return n;
}

int jwt_keyring_reload(jwt_keyring_t *ring, const char *dir, char *err, size_t errlen)
{
    jwt_keyring_t *fresh = jwt_keyring_load(dir, err, errlen);
    if (!fresh)
        return -1;
    pthread_rwlock_wrlock(&ring->lock);
    memcpy(ring->keys, fresh->keys, sizeof ring->keys);
    ring->count = fresh->count;
    ring->signing = fresh->signing;
    pthread_rwlock_unlock(&ring->lock);
    jwt_keyring_destroy(&fresh);
    return 0;
}

/* base64url of a JSON value; the caller frees. */
static char *s_b64_json(json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(value);
    size_t len = strlen(text),
           cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = mem_alloc(cap);
    sodium_bin2base64(out, cap, (unsigned char *)text, len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    free(text);
    return out;
}

static char *s_sign(const jwt_keyring_t *ring, const jwt_claims_t *c)
{
    const key_t_ *k = &ring->keys[ring->signing];
    char sub[37], tid[37];
    ident_uuid_format(c->user, sub);
    ident_uuid_format(c->tenant, tid);
    char *head =
        s_b64_json(json_pack("{s:s, s:s, s:s}", "alg", "HS256", "typ", "JWT", "kid", k->kid));
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I}", "sub", sub, "tid", tid, "role",
                               c->admin ? "admin" : "member", "iat", (json_int_t)c->iat, "exp",
                               (json_int_t)c->exp);
    if (c->pwd_change)
        json_object_set_new(claims, "pcr", json_true());
    char *body = s_b64_json(claims);
    char *signing_input = mem_printf("%s.%s", head, body);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, (unsigned char *)signing_input, strlen(signing_input), k->key);
    char sig[sodium_base64_ENCODED_LEN(sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(sig, sizeof sig, mac, sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *token = mem_printf("%s.%s", signing_input, sig);
    free(head);
    free(body);
    free(signing_input);
    return token;
}

/* Decodes one base64url part into a JSON object (new reference) or NULL. */
static json_t *s_part_json(const char *part, size_t len)
{
    unsigned char buf[1024];
    size_t out = 0;
    if (len == 0 || sodium_base642bin(buf, sizeof buf, part, len, NULL, &out, NULL,
                                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return NULL;
    json_t *j = json_loadb((const char *)buf, out, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int s_uuid_claim(json_t *claims, const char *name, uint8_t out[16])
{
    json_t *v = json_object_get(claims, name);
    return json_is_string(v) ? ident_uuid_parse(json_string_value(v), json_string_length(v), out)
                             : -1;
}

static jwt_result_t s_verify(const jwt_keyring_t *ring, const char *token, int64_t now,
                             jwt_claims_t *out)
{
    size_t len = token ? strnlen(token, JWT_MAX_TOKEN + 1) : 0;
    if (len == 0 || len > JWT_MAX_TOKEN)
        return JWT_MALFORMED;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
        return JWT_MALFORMED;
    json_t *head = s_part_json(token, (size_t)(dot1 - token));
    if (!head)
        return JWT_MALFORMED;
    const char *alg = json_string_value(json_object_get(head, "alg"));
    const char *kid = json_string_value(json_object_get(head, "kid"));
    jwt_result_t r = JWT_OK;
    const key_t_ *key = NULL;
    if (!alg || strcmp(alg, "HS256") != 0)
        r = JWT_BAD_ALG;
    else if (!kid)
        r = JWT_UNKNOWN_KID;
    for (int i = 0; r == JWT_OK && i < ring->count && !key; i++)
        if (strcmp(ring->keys[i].kid, kid) == 0)
            key = &ring->keys[i];
    json_decref(head);
    if (r != JWT_OK)
        return r;
    if (!key)
        return JWT_UNKNOWN_KID;

    unsigned char mac[crypto_auth_hmacsha256_BYTES + 8];
    size_t mac_len = 0;
    const char *sig = dot2 + 1;
    if (sodium_base642bin(mac, sizeof mac, sig, len - (size_t)(sig - token), NULL, &mac_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        mac_len != crypto_auth_hmacsha256_BYTES)
        return JWT_BAD_SIGNATURE;
    if (crypto_auth_hmacsha256_verify(mac, (const unsigned char *)token, (size_t)(dot2 - token),
                                      key->key) != 0)
        return JWT_BAD_SIGNATURE;

    json_t *claims = s_part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!claims)
        return JWT_MALFORMED;
    memset(out, 0, sizeof *out);
    json_t *exp = json_object_get(claims, "exp"), *iat = json_object_get(claims, "iat");
    const char *role = json_string_value(json_object_get(claims, "role"));
    json_t *pcr = json_object_get(claims, "pcr");
    if (s_uuid_claim(claims, "sub", out->user) < 0 ||
        s_uuid_claim(claims, "tid", out->tenant) < 0 || !json_is_integer(exp) ||
        !json_is_integer(iat) || !role ||
        (strcmp(role, "admin") != 0 && strcmp(role, "member") != 0) ||
        (pcr && !json_is_boolean(pcr)) ||
        /* Issued after it expires, or later than clocks drift apart: not one of ours. */
        json_integer_value(iat) > json_integer_value(exp) ||
        json_integer_value(iat) > now + JWT_CLOCK_SKEW_S)
        r = JWT_BAD_CLAIMS;
    else if (json_integer_value(exp) <= now)
        r = JWT_EXPIRED;
    else {
        out->admin = strcmp(role, "admin") == 0;
        out->pwd_change = json_is_true(pcr);
        out->exp = json_integer_value(exp);
        out->iat = json_integer_value(iat);
    }
    json_decref(claims);
    return r;
}

const char *jwt_result_str(jwt_result_t r)
{
    static const char *const names[] = {"ok",          "malformed",     "bad algorithm",
                                        "unknown key", "bad signature", "expired",
                                        "bad claims"};
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "unknown";
}

char *jwt_sign(const jwt_keyring_t *ring, const jwt_claims_t *claims)
{
    pthread_rwlock_rdlock(s_lock(ring));
    char *token = s_sign(ring, claims);
    pthread_rwlock_unlock(s_lock(ring));
    return token;
}

jwt_result_t jwt_verify(const jwt_keyring_t *ring, const char *token, int64_t now,
                        jwt_claims_t *out)
{
    pthread_rwlock_rdlock(s_lock(ring));
    jwt_result_t r = s_verify(ring, token, now, out);
    pthread_rwlock_unlock(s_lock(ring));
    return r;
}
