/* Table-driven getopt_long (see options.h). */
#include "common/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

#define OPTIONS_MAX 40

int options_int(const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!*text || *end || errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Applies one option's argument to its target: 0, or -1 for a bad value. */
static int s_apply(const option_t *o, const char *arg)
{
    long v;
    switch (o->kind) {
    case OPTION_FLAG: *(bool *)o->target = true; return 0;
    case OPTION_TEXT: *(const char **)o->target = arg; return 0;
    case OPTION_INT:
        if (options_int(arg, o->min, o->max, &v) < 0)
            return -1;
        *(int *)o->target = (int)v;
        return 0;
    case OPTION_INDEX:
        if (options_int(arg, o->min, o->max, &v) < 0)
            return -1;
        ((bool *)o->target)[v] = true;
        return 0;
    case OPTION_CALL: return o->fn(o->target, arg);
    }
    return -1;
}

options_result_t options_parse(int argc, char **argv, const char *prog, const option_t *opts, int n,
                               void (*usage)(FILE *out))
{
    struct option longs[OPTIONS_MAX + 2] = {{0}};
    if (n > OPTIONS_MAX)
        abort(); /* a programming error: grow OPTIONS_MAX */
    for (int i = 0; i < n; i++)
        longs[i] = (struct option){
            opts[i].name, opts[i].kind == OPTION_FLAG ? no_argument : required_argument, NULL, i};
    longs[n] = (struct option){"help", no_argument, NULL, n};
    int c, index;
    while ((c = getopt_long(argc, argv, "", longs, &index)) != -1) {
        if (c == n) {
            usage(stdout);
            return OPTIONS_HELP;
        }
        if (c < 0 || c > n) { /* getopt_long has named the unknown option */
            usage(stderr);
            return OPTIONS_BAD;
        }
        if (s_apply(&opts[c], optarg) < 0) {
            fprintf(stderr, "%s: invalid value \"%s\" for --%s\n", prog, optarg ? optarg : "",
                    opts[c].name);
            return OPTIONS_BAD;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument \"%s\"\n", prog, argv[optind]);
        usage(stderr);
        return OPTIONS_BAD;
    }
    return OPTIONS_OK;
}
