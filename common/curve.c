/* CurveZMQ key files (see curve.h). libzmq does the cryptography: zmq_curve_keypair and
 * zmq_curve_public; here are only the files and their checks. */
#include "common/curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

/* Reads the one key line of path into out. With secret, the file must be private. */
static int s_read_key(const char *path, bool secret, char out[CURVE_KEY_LEN + 1], char *err,
                      size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(err, errlen, "cannot read key file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    /* Others must have no access; the group may read, as Kubernetes' fsGroup makes a mounted
       secret group-readable for the pod's own user. */
    if (secret && (st.st_mode & 007)) {
        snprintf(err, errlen, "secret key file %s is open to other users (chmod 600 it)", path);
        close(fd);
        return -1;
    }
    char buf[CURVE_KEY_LEN + 3] = "";
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    size_t len = n > 0 ? strcspn(buf, "\r\n") : 0;
    uint8_t raw[32];
    bool ok = len == CURVE_KEY_LEN; /* the first line, ending at a newline or the file's end */
    if (ok) {
        buf[len] = '\0';
        ok = zmq_z85_decode(raw, buf) != NULL;
    }
    if (!ok) {
        snprintf(err, errlen, "key file %s does not hold one %d-character Z85 key", path,
                 CURVE_KEY_LEN);
        explicit_bzero(buf, sizeof buf);
        return -1;
    }
    memcpy(out, buf, CURVE_KEY_LEN + 1);
    explicit_bzero(buf, sizeof buf);
    explicit_bzero(raw, sizeof raw);
    return 0;
}

int curve_keypair_load(const char *path, curve_keypair_t *out, char *err, size_t errlen)
{
    if (s_read_key(path, true, out->secret_key, err, errlen) < 0)
        return -1;
    if (zmq_curve_public(out->public_key, out->secret_key) < 0) {
        snprintf(err, errlen, "cannot derive the public key of %s: %s", path, zmq_strerror(errno));
        curve_keypair_clear(out);
        return -1;
    }
    return 0;
}

int curve_public_load(const char *path, char *out, char *err, size_t errlen)
{
    return s_read_key(path, false, out, err, errlen);
}

static bool s_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 || name[0] == '.')
        return false;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

/* Writes text + "\n" to a new file of the given mode; refuses an existing one. */
static int s_write_new(const char *path, const char *text, mode_t mode, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    char line[CURVE_KEY_LEN + 2];
    snprintf(line, sizeof line, "%s\n", text);
    bool ok = write(fd, line, strlen(line)) == (ssize_t)strlen(line) && fchmod(fd, mode) == 0;
    explicit_bzero(line, sizeof line);
    if (close(fd) < 0 || !ok) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

int curve_keypair_generate(const char *dir, const char *name, curve_keypair_t *out, char *err,
                           size_t errlen)
{
    if (!s_name_ok(name)) {
        snprintf(err, errlen, "key name \"%s\" must be 1-64 letters, digits, '-', '_' or '.'",
                 name);
        return -1;
    }
    if (zmq_curve_keypair(out->public_key, out->secret_key) < 0) {
        snprintf(err, errlen, "cannot make a CURVE keypair: %s", zmq_strerror(errno));
        return -1;
    }
    char sec[4096], pub[4096];
    snprintf(sec, sizeof sec, "%s/%s.secret", dir, name);
    snprintf(pub, sizeof pub, "%s/%s.pub", dir, name);
    if (access(pub, F_OK) == 0) {
        snprintf(err, errlen, "%s exists already", pub);
        curve_keypair_clear(out);
        return -1;
    }
    if (s_write_new(sec, out->secret_key, 0600, err, errlen) < 0) {
        curve_keypair_clear(out);
        return -1;
    }
    if (s_write_new(pub, out->public_key, 0644, err, errlen) < 0) {
        unlink(sec);
        curve_keypair_clear(out);
        return -1;
    }
    return 0;
}

int curve_socket_client(void *sock, const curve_keypair_t *kp, const char *server_key)
{
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server_key, CURVE_KEY_LEN) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, kp->public_key, CURVE_KEY_LEN) < 0)
        return -1;
    return zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kp->secret_key, CURVE_KEY_LEN);
}

int curve_socket_server(void *sock, const curve_keypair_t *kp)
{
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) < 0)
        return -1;
    return zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, kp->secret_key, CURVE_KEY_LEN);
}

void curve_keypair_clear(curve_keypair_t *kp)
{
    explicit_bzero(kp->secret_key, sizeof kp->secret_key);
}
