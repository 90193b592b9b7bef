/* quizctl check: every configured cluster reachable and set up right, each problem with the
 * command that fixes it (see ctl_check.c). */
#ifndef CTL_CTL_CHECK_H
#define CTL_CTL_CHECK_H

/* The subcommand: argv[0] is "check". The exit status. */
int ctl_check(int argc, char **argv);

#endif
