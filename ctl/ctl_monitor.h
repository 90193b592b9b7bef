/* quizctl monitor: tenant schemas, drift, sizes, relations and catalog per cluster (see
 * ctl_monitor.c). */
#ifndef CTL_CTL_MONITOR_H
#define CTL_CTL_MONITOR_H

/* The subcommand: argv[0] is "monitor". The exit status. */
int ctl_monitor(int argc, char **argv);

#endif
