/* CurveZMQ key files, shared by the gateway, the worker, quizctl and the tests. A key is 40 Z85
 * characters on one line: NAME.pub holds a public key, NAME.secret the matching secret key (the
 * public half is derived from it). A secret file open to other users is refused, as ssh refuses
 * such keys: a key the whole host can read is no credential. Keys are never logged. */
#ifndef COMMON_CURVE_H
#define COMMON_CURVE_H

#include <stddef.h>

#define CURVE_KEY_LEN 40 /* Z85 characters of a 32-byte key */

typedef struct {
    char public_key[CURVE_KEY_LEN + 1];
    char secret_key[CURVE_KEY_LEN + 1];
} curve_keypair_t;

/* Reads a secret key file and derives its public key. 0, or -1 with a reason in err (missing,
 * malformed, or open to other users). */
int curve_keypair_load(const char *path, curve_keypair_t *out, char *err, size_t errlen);
/* Reads a public key file into out (CURVE_KEY_LEN + 1 bytes). 0, or -1 with a reason in err. */
int curve_public_load(const char *path, char *out, char *err, size_t errlen);
/* Makes a fresh keypair and writes DIR/NAME.secret (0600) and DIR/NAME.pub (0644), refusing to
 * overwrite either. NAME is letters, digits, '-', '_' and '.'. 0, or -1 with a reason in err. */
int curve_keypair_generate(const char *dir, const char *name, curve_keypair_t *out, char *err,
                           size_t errlen);
/* Makes a ZeroMQ socket a CURVE client of server_key with keypair kp, or a CURVE server with
 * kp. Call before the socket connects or binds. 0, or -1 (errno from libzmq). */
int curve_socket_client(void *sock, const curve_keypair_t *kp, const char *server_key);
int curve_socket_server(void *sock, const curve_keypair_t *kp);
/* Wipes the secret half. */
void curve_keypair_clear(curve_keypair_t *kp);

#endif
