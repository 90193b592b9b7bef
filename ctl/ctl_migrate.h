/* quizctl migrate: fleet migrations (worker/wk_fleet.h) from the command line. */
#ifndef CTL_CTL_MIGRATE_H
#define CTL_CTL_MIGRATE_H

int ctl_migrate(int argc, char **argv);

#endif
