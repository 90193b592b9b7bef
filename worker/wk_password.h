/* Password hashing (Argon2id via libsodium) and random temporary passwords. */
#ifndef WORKER_WK_PASSWORD_H
#define WORKER_WK_PASSWORD_H

#include <sodium.h>
#include <stdbool.h>

#define WK_PASSWORD_HASH_LEN crypto_pwhash_STRBYTES
#define WK_PASSWORD_TEMP_LEN 20
#define WK_PASSWORD_MIN      8
#define WK_PASSWORD_MAX      128

/* Writes the encoded Argon2id hash (with its parameters and salt) into out. 0 or -1. */
int wk_password_hash(const char *password, char out[WK_PASSWORD_HASH_LEN])
    __attribute__((warn_unused_result));
/* Constant-time check of password against an encoded hash. */
bool wk_password_verify(const char *hash, const char *password);
/* A random password of WK_PASSWORD_TEMP_LEN URL-safe characters (120 bits) plus a NUL. */
void wk_password_temp(char out[WK_PASSWORD_TEMP_LEN + 1]);

#endif
