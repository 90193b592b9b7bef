/* quizctl backup --all --dir D: every tenant the registry has (any status: a deleted one can
 * still be restored until it is purged) exported (ctl_export.h) to D/<id>.tenant.gz, --jobs at
 * once. Each file is written beside under a temporary name and renamed when complete, so a
 * file that exists is whole: a run that is interrupted and started again exports only the
 * tenants it had not finished. A fresh backup goes to a fresh directory. D/backup.json says
 * what the last run did. */
#ifndef CTL_CTL_BACKUP_H
#define CTL_CTL_BACKUP_H

int ctl_backup(int argc, char **argv);

#endif
