/* Starts the real quiz-worker and quiz-gateway binaries for an integration test: workers on
 * ipc:// endpoints in a private temp dir, the gateway on an ephemeral 127.0.0.1 port. Readiness
 * is the processes' own sd_notify READY=1, received on a socket we pass as NOTIFY_SOCKET, so
 * tests never sleep. Needs QUIZ_TEST_DATABASE_URL and QUIZ_BIN_DIR (tests/run.sh sets both). */
#ifndef TESTS_HELPERS_STACK_H
#define TESTS_HELPERS_STACK_H

#include <stdbool.h>
#include <sys/types.h>

#define STACK_MAX_SHARDS 4

typedef struct {
    char dir[128]; /* private temp directory */
    int nshards;
    pid_t workers[STACK_MAX_SHARDS];    /* 0 when not running */
    pid_t replicas[STACK_MAX_SHARDS];   /* a shard's second worker, 0 when not running */
    bool has_replica[STACK_MAX_SHARDS]; /* the gateway lists the second worker's endpoint */
    pid_t gateway;
    pid_t gateway2; /* a second gateway, when a test starts one */
    int port;       /* gateway's HTTP port */
    char url[64];   /* "http://127.0.0.1:PORT" */
    char url2[64];  /* the second gateway's */
    char token[80]; /* platform token */
    char auth[128]; /* "Authorization: Bearer <token>" */
    char dsn[512];  /* the test database, tagged with application_name */
    char app[64];   /* this stack's application_name, to find its backends */
    int deadline_ms;
    char key_hex[65];                   /* the signing key (kid "test"), for forging tests */
    const char *const *worker_args;     /* extra worker options (NULL-terminated), or NULL */
    char curve[160];                    /* DIR/curve: worker.*, gateway.*, allowed/gateway.pub */
    const char *const *gateway_args;    /* extra gateway options (NULL-terminated), or NULL */
    bool dedicated[STACK_MAX_SHARDS];   /* passed to every process as --dedicated */
    int metrics_port[STACK_MAX_SHARDS]; /* a worker's /metrics, with --metrics-listen (else 0) */
    /* A file for the gateway's --config: its shard lines are written there (the first
       endpoint of each shard) instead of --shard options, so a test can change them and
       reload. NULL: --shard options. Set before stack_start (which keeps it). */
    const char *gateway_config;
    /* Daemons are told their stderr is the journal's stream ($JOURNAL_STREAM), so they log to
       the journal socket. Set before stack_start (which keeps it). */
    bool journal;
} qstack_t;

/* Starts nshards workers and a gateway. 0, or -1 (the test should fail). */
int stack_start(qstack_t *s, int nshards);
/* The same, with extra gateway options appended (NULL-terminated), e.g. "--threads", "4". */
int stack_start_with(qstack_t *s, int nshards, const char *const *gateway_args);
/* The same, with extra worker options too, e.g. "--spare-schemas", "2" (workers keep none
 * unless asked). The arrays must outlive the stack. */
int stack_start_opts(qstack_t *s, int nshards, const char *const *gateway_args,
                     const char *const *worker_args);
/* (Re)starts one shard's worker and waits for READY=1. */
int stack_start_worker(qstack_t *s, int shard);
/* Runs quiz-worker --migrate on $QUIZ_TEST_DATABASE_URL (and $QUIZ_TEST_CLUSTER_URLS). 0 or -1. */
int stack_migrate(int nshards, const bool *dedicated);
/* Stops every process, migrates the test database to `nshards` shards (dedicated: the shards
 * that take no hashed tenants, or NULL) and starts them all again with the same keys, as an
 * operator adding a shard would. 0 or -1. */
int stack_restart(qstack_t *s, int nshards, const bool *dedicated);
/* (Re)starts the gateway (on a new port: s->url changes) and waits for READY=1. */
int stack_start_gateway(qstack_t *s);
/* Starts a second gateway with the same options (s->gateway2, s->url2), as behind a load
 * balancer. 0 or -1. */
int stack_start_second_gateway(qstack_t *s);
/* Stops the second gateway (SIGTERM, wait); 0 if it exited with status 0. */
int stack_stop_second_gateway(qstack_t *s);
/* Stops the gateway (SIGTERM, wait); 0 if it exited with status 0. */
int stack_stop_gateway(qstack_t *s);
/* Starts a second worker for a shard (as on a second host) and restarts the gateway with both
 * endpoints for that shard. 0 or -1. */
int stack_start_replica(qstack_t *s, int shard);
/* Starts a second worker for a shard without telling the gateway. 0 or -1. */
int stack_start_replica_worker(qstack_t *s, int shard);
/* The endpoint of a shard's second worker. */
void stack_replica_endpoint(const qstack_t *s, int shard, char *out, size_t len);
/* Kills a shard's second worker with SIGKILL. */
void stack_kill_replica(qstack_t *s, int shard);
/* Kills a worker with SIGKILL, as a crash would. */
void stack_kill_worker(qstack_t *s, int shard);
/* Sends SIGTERM to one worker without waiting. */
void stack_term_worker(qstack_t *s, int shard);
/* Waits for a worker that was told to stop; 0 if it exited with status 0. */
int stack_wait_worker(qstack_t *s, int shard);
/* SIGTERM to everything; 0 if every process exited with status 0 (no leaks, no crash). */
int stack_stop(qstack_t *s);
/* Criterion .init/.fini bodies: a fresh two-shard stack for each test, and the check that every
 * process then exits cleanly (a leak or crash under ASan makes the exit status non-zero). */
void stack_suite_init(qstack_t *s);
void stack_suite_fini(qstack_t *s);
/* The ZeroMQ endpoint of a shard's worker. */
void stack_endpoint(const qstack_t *s, int shard, char *out, size_t len);
/* A DEALER in zctx connected to a shard's worker, speaking CURVE with the keypair of the secret
 * key file `secret` (e.g. the stack's own gateway key, "<curve>/gateway.secret"), or plaintext
 * with NULL. Caller closes it. */
void *stack_dealer(const qstack_t *s, void *zctx, int shard, const char *secret);
/* The same, connected to the shard's second worker (stack_start_replica). */
void *stack_dealer_replica(const qstack_t *s, void *zctx, int shard, const char *secret);

#endif
