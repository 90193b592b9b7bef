/* Process management for integration tests (see stack.h). */
#include "tests/helpers/stack.h"

#include <criterion/criterion.h>
#include <sodium.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "common/curve.h"

#define READY_TIMEOUT_MS 30000

void stack_endpoint(const qstack_t *s, int shard, char *out, size_t len)
{
    snprintf(out, len, "ipc://%s/shard%d", s->dir, shard);
}

/* The endpoint of a shard's second worker. */
static void s_replica_endpoint(const qstack_t *s, int shard, char *out, size_t len)
{
    snprintf(out, len, "ipc://%s/shard%d-b", s->dir, shard);
}

static void *s_dealer(const qstack_t *s, void *zctx, const char *endpoint, const char *secret)
{
    void *sock = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    if (secret) {
        curve_keypair_t kp;
        char server[CURVE_KEY_LEN + 1], path[256], err[4200];
        snprintf(path, sizeof path, "%s/worker.pub", s->curve);
        cr_assert_eq(curve_keypair_load(secret, &kp, err, sizeof err), 0, "%s", err);
        cr_assert_eq(curve_public_load(path, server, err, sizeof err), 0, "%s", err);
        cr_assert_eq(curve_socket_client(sock, &kp, server), 0);
        curve_keypair_clear(&kp);
    }
    cr_assert_eq(zmq_connect(sock, endpoint), 0);
    return sock;
}

void *stack_dealer(const qstack_t *s, void *zctx, int shard, const char *secret)
{
    char ep[200];
    stack_endpoint(s, shard, ep, sizeof ep);
    return s_dealer(s, zctx, ep, secret);
}

void *stack_dealer_replica(const qstack_t *s, void *zctx, int shard, const char *secret)
{
    char ep[200];
    s_replica_endpoint(s, shard, ep, sizeof ep);
    return s_dealer(s, zctx, ep, secret);
}

/* The worker link's keys: a worker keypair, a gateway keypair, and the allowed directory
 * holding the gateway's public key. 0 or -1. */
static int s_make_curve_keys(qstack_t *s)
{
    curve_keypair_t kp;
    char err[4200], from[256], to[256];
    snprintf(s->curve, sizeof s->curve, "%s/curve", s->dir);
    snprintf(to, sizeof to, "%s/allowed", s->curve);
    if (mkdir(s->curve, 0700) < 0 || mkdir(to, 0700) < 0 ||
        curve_keypair_generate(s->curve, "worker", &kp, err, sizeof err) < 0 ||
        curve_keypair_generate(s->curve, "gateway", &kp, err, sizeof err) < 0)
        return -1;
    curve_keypair_clear(&kp);
    snprintf(from, sizeof from, "%s/gateway.pub", s->curve);
    snprintf(to, sizeof to, "%s/allowed/gateway.pub", s->curve);
    return link(from, to);
}

/* Binds a datagram socket for one process's notifications. */
static int s_notify_socket(const qstack_t *s, const char *name, char *path, size_t len)
{
    snprintf(path, len, "%s/notify-%s", s->dir, name);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Waits for READY=1 on fd; copies the STATUS= text into status. 0 or -1. */
static int s_wait_ready(int fd, pid_t pid, char *status, size_t len)
{
    for (int waited = 0; waited < READY_TIMEOUT_MS; waited += 100) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) > 0) {
            char msg[512];
            ssize_t n = recv(fd, msg, sizeof msg - 1, 0);
            if (n <= 0)
                continue;
            msg[n] = '\0';
            char *st = strstr(msg, "STATUS=");
            if (st && status)
                snprintf(status, len, "%s", st + 7);
            if (strstr(msg, "READY=1"))
                return 0;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1; /* it died before becoming ready */
    }
    return -1;
}

/* fork+exec with NOTIFY_SOCKET set and output appended to DIR/NAME.log. */
static pid_t s_spawn(const qstack_t *s, const char *name, const char *notify, char *const argv[])
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* A test that crashes takes its daemons with it instead of leaving them running. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    char log[256];
    snprintf(log, sizeof log, "%s/%s.log", s->dir, name);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
    }
    struct stat st;
    if (s->journal && fstat(STDERR_FILENO, &st) == 0) { /* as systemd says its stream is ours */
        char stream[64];
        snprintf(stream, sizeof stream, "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino);
        setenv("JOURNAL_STREAM", stream, 1);
    }
    setenv("NOTIFY_SOCKET", notify, 1);
    setenv("QUIZ_DATABASE_URL", s->dsn, 1);
    setenv("QUIZ_PLATFORM_TOKEN", s->token, 1);
    char keys[200];
    snprintf(keys, sizeof keys, "%s/keys", s->dir);
    setenv("QUIZ_KEYS_DIR", keys, 1);
    const char *clusters = getenv("QUIZ_TEST_CLUSTER_URLS"); /* tests of several clusters */
    if (clusters && *clusters)
        setenv("QUIZ_CLUSTER_URLS", clusters, 1);
    execv(argv[0], argv);
    _exit(127);
}

static void s_dump_log(const qstack_t *s, const char *name)
{
    char path[256], line[512];
    snprintf(path, sizeof path, "%s/%s.log", s->dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fprintf(stderr, "--- %s ---\n", path);
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

/* Appends "--dedicated K" for each dedicated shard (texts kept in buf). The new argc. */
static int s_dedicated_args(const qstack_t *s, char **argv, int argc,
                            char buf[STACK_MAX_SHARDS][12])
{
    for (int k = 0; k < s->nshards && argc < 36; k++)
        if (s->dedicated[k]) {
            snprintf(buf[k], sizeof buf[k], "%d", k);
            argv[argc++] = "--dedicated";
            argv[argc++] = buf[k];
        }
    return argc;
}

/* Starts a shard's worker (replica 0) or its second one (replica 1) and waits for READY=1. */
static int s_start_worker(qstack_t *s, int shard, int replica)
{
    char name[32], notify[200], ep[200], k[12], n[12], bin[512];
    snprintf(name, sizeof name, replica ? "worker%d-b" : "worker%d", shard);
    snprintf(k, sizeof k, "%d", shard);
    snprintf(n, sizeof n, "%d", s->nshards);
    snprintf(bin, sizeof bin, "%s/quiz-worker", getenv("QUIZ_BIN_DIR"));
    if (replica)
        s_replica_endpoint(s, shard, ep, sizeof ep);
    else
        stack_endpoint(s, shard, ep, sizeof ep);
    int fd = s_notify_socket(s, name, notify, sizeof notify);
    if (fd < 0)
        return -1;
    /* No spare schemas unless a test asks: their background DDL would load every other test. */
    char secret[200], allowed[200];
    snprintf(secret, sizeof secret, "%s/worker.secret", s->curve);
    snprintf(allowed, sizeof allowed, "%s/allowed", s->curve);
    char *argv[40] = {bin,    "--shard",
                      k,      "--shards",
                      n,      "--endpoint",
                      ep,     "--threads",
                      "3",    "--spare-schemas",
                      "0",    "--curve-secret",
                      secret, "--allowed-gateways",
                      allowed};
    int argc = 15;
    char dedicated[STACK_MAX_SHARDS][12];
    argc = s_dedicated_args(s, argv, argc, dedicated);
    for (const char *const *a = s->worker_args; a && *a && argc < 38; a++)
        argv[argc++] = (char *)*a;
    argv[argc] = NULL;
    pid_t *pid = replica ? &s->replicas[shard] : &s->workers[shard];
    *pid = s_spawn(s, name, notify, argv);
    char status[300] = "";
    int rc = s_wait_ready(fd, *pid, status, sizeof status);
    close(fd);
    if (rc < 0)
        s_dump_log(s, name);
    const char *port = strstr(status, "metrics on port ");
    if (!replica)
        s->metrics_port[shard] = port ? atoi(port + strlen("metrics on port ")) : 0;
    return rc;
}

int stack_start_worker(qstack_t *s, int shard)
{
    return s_start_worker(s, shard, 0);
}

int stack_start_replica_worker(qstack_t *s, int shard)
{
    return s_start_worker(s, shard, 1);
}

void stack_replica_endpoint(const qstack_t *s, int shard, char *out, size_t len)
{
    s_replica_endpoint(s, shard, out, len);
}

int stack_start_replica(qstack_t *s, int shard)
{
    s->has_replica[shard] = true;
    if (s_start_worker(s, shard, 1) < 0 || stack_stop_gateway(s) < 0)
        return -1;
    return stack_start_gateway(s);
}

void stack_kill_replica(qstack_t *s, int shard)
{
    if (s->replicas[shard] > 0) {
        kill(s->replicas[shard], SIGKILL);
        waitpid(s->replicas[shard], NULL, 0);
        s->replicas[shard] = 0;
    }
}

int stack_start(qstack_t *s, int nshards)
{
    return stack_start_with(s, nshards, NULL);
}

int stack_start_with(qstack_t *s, int nshards, const char *const *gateway_args)
{
    return stack_start_opts(s, nshards, gateway_args, NULL);
}

int stack_start_opts(qstack_t *s, int nshards, const char *const *gateway_args,
                     const char *const *worker_args)
{
    const char *config = s->gateway_config; /* the fields set before the start */
    bool journal = s->journal;
    memset(s, 0, sizeof *s);
    s->gateway_config = config;
    s->journal = journal;
    s->worker_args = worker_args;
    const char *dsn = getenv("QUIZ_TEST_DATABASE_URL");
    if (!dsn || !getenv("QUIZ_BIN_DIR")) {
        fprintf(stderr, "stack: QUIZ_TEST_DATABASE_URL and QUIZ_BIN_DIR must be set\n");
        return -1;
    }
    snprintf(s->dir, sizeof s->dir, "/tmp/quiz-stack.XXXXXX");
    if (!mkdtemp(s->dir))
        return -1;
    s->nshards = nshards;
    s->deadline_ms = 5000;
    /* A name of our own lets a test find (and kill) exactly this stack's backends. */
    snprintf(s->app, sizeof s->app, "quizstack_%d_%ld", (int)getpid(), random() % 100000);
    /* The workers' database: through a pooler when the run has one (tests/run.sh's second pass,
       tests/pooler/pgbouncer.sh); tests reach the database itself directly. */
    const char *pooled = getenv("QUIZ_TEST_POOLER_URL");
    if (pooled && *pooled)
        dsn = pooled;
    snprintf(s->dsn, sizeof s->dsn, "%s%sapplication_name=%s", dsn, strchr(dsn, '?') ? "&" : "?",
             s->app);
    snprintf(s->token, sizeof s->token, "test-platform-token-%d-%ld", (int)getpid(), random());
    snprintf(s->auth, sizeof s->auth, "Authorization: Bearer %s", s->token);
    /* One signing key, shared by this stack's workers (sign) and gateway (verify). */
    char path[256];
    snprintf(path, sizeof path, "%s/keys", s->dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/keys/test.key", s->dir);
    FILE *key = fopen(path, "w");
    if (!key)
        return -1;
    unsigned char raw[32];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (unsigned char)random();
    for (size_t i = 0; i < sizeof raw; i++)
        fprintf(key, "%02x", raw[i]);
    fclose(key);
    snprintf(s->key_hex, sizeof s->key_hex, "%.64s", "");
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(s->key_hex + 2 * i, 3, "%02x", raw[i]);
    if (s_make_curve_keys(s) < 0)
        return -1;
    for (int i = 0; i < nshards; i++)
        if (stack_start_worker(s, i) < 0)
            return -1;
    s->gateway_args = gateway_args;
    return stack_start_gateway(s);
}

static int s_start_gateway(qstack_t *s, int which);

int stack_start_gateway(qstack_t *s)
{
    return s_start_gateway(s, 0);
}

int stack_start_second_gateway(qstack_t *s)
{
    return s_start_gateway(s, 1);
}

/* Starts gateway 0 (s->gateway, s->url) or a second one (s->gateway2, s->url2). */
static int s_start_gateway(qstack_t *s, int which)
{
    const char *name = which ? "gateway2" : "gateway";
    pid_t *pid = which ? &s->gateway2 : &s->gateway;
    char *url = which ? s->url2 : s->url;
    char bin[512], notify[200], deadline[16], status[256] = "";
    char eps[STACK_MAX_SHARDS][420];
    snprintf(bin, sizeof bin, "%s/quiz-gateway", getenv("QUIZ_BIN_DIR"));
    snprintf(deadline, sizeof deadline, "%d", s->deadline_ms);
    char secret[200], worker_key[200];
    snprintf(secret, sizeof secret, "%s/gateway.secret", s->curve);
    snprintf(worker_key, sizeof worker_key, "%s/worker.pub", s->curve);
    /* The tests hammer single tenants: the per-tenant rate is lifted but where a test sets it
       (test_fairness); later options win. */
    char *argv[40] = {bin,
                      "--listen",
                      "127.0.0.1:0",
                      "--threads",
                      "16",
                      "--deadline-ms",
                      deadline,
                      "--max-body",
                      "16384",
                      "--curve-secret",
                      secret,
                      "--worker-key",
                      worker_key,
                      "--tenant-rate",
                      "0"};
    int argc = 15;
    FILE *config = s->gateway_config ? fopen(s->gateway_config, "w") : NULL;
    for (int i = 0; i < s->nshards; i++) {
        stack_endpoint(s, i, eps[i], sizeof eps[i]);
        if (s->has_replica[i]) {
            size_t len = strlen(eps[i]);
            eps[i][len++] = ',';
            s_replica_endpoint(s, i, eps[i] + len, sizeof eps[i] - len);
        }
        if (config) {
            fprintf(config, "shard %s\n", eps[i]);
            continue;
        }
        argv[argc++] = "--shard";
        argv[argc++] = eps[i];
    }
    if (config) {
        fclose(config);
        argv[argc++] = "--config";
        argv[argc++] = (char *)s->gateway_config;
    }
    char dedicated[STACK_MAX_SHARDS][12];
    argc = s_dedicated_args(s, argv, argc, dedicated);
    for (const char *const *a = s->gateway_args; a && *a && argc < 38; a++)
        argv[argc++] = (char *)*a;
    argv[argc] = NULL;
    int fd = s_notify_socket(s, name, notify, sizeof notify);
    if (fd < 0)
        return -1;
    *pid = s_spawn(s, name, notify, argv);
    int rc = s_wait_ready(fd, *pid, status, sizeof status);
    close(fd);
    const char *colon = strrchr(status, ':');
    int port = colon ? atoi(colon + 1) : 0;
    if (rc < 0 || port <= 0) {
        s_dump_log(s, name);
        return -1;
    }
    if (!which)
        s->port = port;
    snprintf(url, sizeof s->url, "http://127.0.0.1:%d", port);
    return 0;
}

void stack_term_worker(qstack_t *s, int shard)
{
    if (s->workers[shard] > 0)
        kill(s->workers[shard], SIGTERM);
}

void stack_kill_worker(qstack_t *s, int shard)
{
    if (s->workers[shard] > 0) {
        kill(s->workers[shard], SIGKILL);
        waitpid(s->workers[shard], NULL, 0);
        s->workers[shard] = 0;
    }
}

/* SIGTERM and wait; 0 if it exited with status 0. */
static int s_stop(pid_t pid)
{
    if (pid <= 0)
        return 0;
    kill(pid, SIGTERM);
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int stack_migrate(int nshards, const bool *dedicated)
{
    const char *clusters = getenv("QUIZ_TEST_CLUSTER_URLS");
    char cmd[2048];
    int n = snprintf(cmd, sizeof cmd,
                     "QUIZ_DATABASE_URL='%s' QUIZ_CLUSTER_URLS='%s' '%s/quiz-worker' --migrate"
                     " --shards %d",
                     getenv("QUIZ_TEST_DATABASE_URL"), clusters ? clusters : "",
                     getenv("QUIZ_BIN_DIR"), nshards);
    for (int k = 0; k < nshards && n < (int)sizeof cmd - 20; k++)
        if (dedicated && dedicated[k])
            n += snprintf(cmd + n, sizeof cmd - (size_t)n, " --dedicated %d", k);
    return system(cmd) == 0 ? 0 : -1;
}

int stack_restart(qstack_t *s, int nshards, const bool *dedicated)
{
    if (nshards > STACK_MAX_SHARDS || stack_stop_gateway(s) < 0)
        return -1;
    for (int i = 0; i < s->nshards; i++) {
        if (s_stop(s->workers[i]) < 0)
            return -1;
        s->workers[i] = 0;
    }
    s->nshards = nshards;
    for (int k = 0; k < nshards; k++)
        s->dedicated[k] = dedicated && dedicated[k];
    if (stack_migrate(nshards, s->dedicated) < 0)
        return -1;
    for (int i = 0; i < nshards; i++)
        if (stack_start_worker(s, i) < 0)
            return -1;
    return stack_start_gateway(s);
}

int stack_stop_gateway(qstack_t *s)
{
    int rc = s_stop(s->gateway);
    s->gateway = 0;
    return rc;
}

int stack_stop_second_gateway(qstack_t *s)
{
    int rc = s_stop(s->gateway2);
    s->gateway2 = 0;
    return rc;
}

int stack_wait_worker(qstack_t *s, int shard)
{
    int st = 0;
    pid_t pid = s->workers[shard];
    s->workers[shard] = 0;
    if (pid <= 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

int stack_stop(qstack_t *s)
{
    int rc = 0;
    if (s_stop(s->gateway) < 0) {
        s_dump_log(s, "gateway");
        rc = -1;
    }
    if (s_stop(s->gateway2) < 0) {
        s_dump_log(s, "gateway2");
        rc = -1;
    }
    for (int i = 0; i < s->nshards; i++) {
        char name[32];
        snprintf(name, sizeof name, "worker%d", i);
        if (s_stop(s->workers[i]) < 0) {
            s_dump_log(s, name);
            rc = -1;
        }
        snprintf(name, sizeof name, "worker%d-b", i);
        if (s_stop(s->replicas[i]) < 0) {
            s_dump_log(s, name);
            rc = -1;
        }
    }
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (rc == 0 && system(cmd) != 0)
        rc = -1;
    return rc;
}

void stack_suite_init(qstack_t *s)
{
    cr_assert_geq(sodium_init(), 0);
    srandom((unsigned)randombytes_random());
    cr_assert_eq(stack_start(s, 2), 0, "stack did not start");
}

void stack_suite_fini(qstack_t *s)
{
    cr_expect_eq(stack_stop(s), 0, "a process did not exit cleanly (crash or leak?)");
}
