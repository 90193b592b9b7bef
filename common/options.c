/* Table-driven getopt_long (see options.h). */
#include "common/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

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
    optind = 0; /* glibc: start afresh, so a reload can parse again */
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

int options_file_read(const char *path, const char *prog, options_file_t *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: could not read the config file \"%s\"\n", prog, path);
        return -1;
    }
    size_t cap = 0, len = 0;
    char chunk[4096];
    for (size_t n; (n = fread(chunk, 1, sizeof chunk, f)) > 0;) {
        if (len + n + 1 > OPTIONS_FILE_MAX) {
            fclose(f);
            free(out->text);
            fprintf(stderr, "%s: config file \"%s\" is over %d bytes\n", prog, path,
                    OPTIONS_FILE_MAX);
            return -1;
        }
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            out->text = mem_realloc(out->text, cap);
        }
        memcpy(out->text + len, chunk, n);
        len += n;
    }
    fclose(f);
    out->text = mem_realloc(out->text, len + 1);
    out->text[len] = '\0';
    /* Two words per line at most: "--name" and the rest of the line, trimmed. */
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += out->text[i] == '\n';
    out->argv = mem_zalloc((2 * lines + 2) * sizeof *out->argv);
    out->names = mem_zalloc(lines * sizeof *out->names);
    out->argv[out->argc++] = (char *)prog;
    char *save = NULL;
    for (char *line = strtok_r(out->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line += strspn(line, " \t\r");
        char *end = line + strlen(line);
        while (end > line && strchr(" \t\r", end[-1]))
            *--end = '\0';
        if (!*line || *line == '#')
            continue;
        char *value = line + strcspn(line, " \t");
        if (*value) {
            *value++ = '\0';
            value += strspn(value, " \t");
        }
        size_t nlen = strlen(line);
        char *name = mem_alloc(nlen + 3);
        snprintf(name, nlen + 3, "--%s", line);
        out->names[out->nnames++] = name;
        out->argv[out->argc++] = name;
        if (*value)
            out->argv[out->argc++] = value;
    }
    return 0;
}

void options_file_free(options_file_t *f)
{
    for (int i = 0; i < f->nnames; i++)
        free(f->names[i]);
    free(f->names);
    free(f->argv);
    free(f->text);
    memset(f, 0, sizeof *f);
}
