/* Argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): about 30 ms of one core on
 * our 2-core machines, and it keeps a worker within its 64 MiB resident budget even with several
 * hashes running at once (libsodium's "interactive" preset would take 64 MiB each). */
#include "worker/wk_password.h"

#include <string.h>

#define OPSLIMIT 2
#define MEMLIMIT (19u * 1024 * 1024)

int wk_password_hash(const char *password, char out[WK_PASSWORD_HASH_LEN])
{
    return crypto_pwhash_str_alg(out, password, strlen(password), OPSLIMIT, MEMLIMIT,
                                 crypto_pwhash_ALG_ARGON2ID13);
}

bool wk_password_verify(const char *hash, const char *password)
{
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

void wk_password_temp(char out[WK_PASSWORD_TEMP_LEN + 1])
{
    unsigned char raw[15];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, WK_PASSWORD_TEMP_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}
