/* quizctl init [--shards S] [--sample-tenants N] [--json]: a database made ready for the
 * service, and shown to keep tenants apart. The shared schema, service roles and shard map
 * brought up to date on every cluster (what `quiz-worker --migrate` does); N sample tenants with
 * their admins, created by the worker's own tenant-creation handler (only those of the N
 * missing, so a re-run adds nothing); then the isolation self-test: two throwaway tenants with a
 * user each, on one shard, where each tenant's role reads its own users and is refused the
 * other's, after which they are dropped again. */
#ifndef CTL_CTL_INIT_H
#define CTL_CTL_INIT_H

int ctl_init(int argc, char **argv);

#endif
