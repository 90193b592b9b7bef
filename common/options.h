/* Command-line options from one table per daemon: each row names an option, its kind, its
 * bounds and where its value goes, so parsing and bounds are in one place (pgbouncer's CfKey
 * idea, for getopt_long). */
#ifndef COMMON_OPTIONS_H
#define COMMON_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

typedef enum {
    OPTION_FLAG,  /* no value: sets *(bool *)target */
    OPTION_INT,   /* an integer in min..max into *(int *)target */
    OPTION_TEXT,  /* the argument itself (borrowed from argv) into *(const char **)target */
    OPTION_INDEX, /* repeatable: an integer in min..max sets ((bool *)target)[value] */
    OPTION_CALL,  /* fn(target, argument), which returns 0 or -1 for a bad value */
} option_kind_t;

typedef struct {
    const char *name; /* without the leading "--" */
    option_kind_t kind;
    void *target;
    long min, max;                            /* OPTION_INT, OPTION_INDEX */
    int (*fn)(void *target, const char *arg); /* OPTION_CALL */
} option_t;

/* Rows of the table. */
#define OPT_FLAG(n, p)                                  \
    {                                                   \
        .name = (n), .kind = OPTION_FLAG, .target = (p) \
    }
#define OPT_TEXT(n, p)                                  \
    {                                                   \
        .name = (n), .kind = OPTION_TEXT, .target = (p) \
    }
#define OPT_INT(n, p, lo, hi)                                                    \
    {                                                                            \
        .name = (n), .kind = OPTION_INT, .target = (p), .min = (lo), .max = (hi) \
    }
#define OPT_INDEX(n, p, lo, hi)                                                    \
    {                                                                              \
        .name = (n), .kind = OPTION_INDEX, .target = (p), .min = (lo), .max = (hi) \
    }
#define OPT_CALL(n, p, f)                                          \
    {                                                              \
        .name = (n), .kind = OPTION_CALL, .target = (p), .fn = (f) \
    }

typedef enum {
    OPTIONS_OK,
    OPTIONS_HELP, /* --help: usage printed to stdout; exit 0 */
    OPTIONS_BAD,  /* named on stderr with the usage; exit 2 */
} options_result_t;

/* Parses argv against the n rows of opts (plus --help). usage prints the daemon's usage. */
options_result_t options_parse(int argc, char **argv, const char *prog, const option_t *opts, int n,
                               void (*usage)(FILE *out));
/* A config file (--config): one option per line, "name value" or "name" for a flag, as on
 * the command line without the dashes; blank lines and lines starting with # are skipped. */
#define OPTIONS_FILE_MAX (64 * 1024)
typedef struct {
    int argc;
    char **argv; /* argv[0] = prog, then "--name" [value] ...: for options_parse */
    char *text;  /* the values point into it: keep it while they are used */
    char **names;
    int nnames;
} options_file_t;
/* Reads path into out. 0, or -1 (named on stderr). */
int options_file_read(const char *path, const char *prog, options_file_t *out)
    __attribute__((warn_unused_result));
void options_file_free(options_file_t *f);

/* An integer of min..max written in full in decimal: 0 with *out set, else -1. */
int options_int(const char *text, long min, long max, long *out)
    __attribute__((warn_unused_result));

#endif
