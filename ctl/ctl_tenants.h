/* quizctl tenants: list, show, create, delete, move and rebalance through the platform API of a
 * gateway (see ctl_tenants.c). */
#ifndef CTL_CTL_TENANTS_H
#define CTL_CTL_TENANTS_H

/* The subcommand: argv[0] is "tenants". The exit status. */
int ctl_tenants(int argc, char **argv);

#endif
