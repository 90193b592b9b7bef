/* Shell commands from integration tests (see cmd.h). */
#include "tests/helpers/cmd.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/wait.h>

int cmd_run(const char *cmd, char *out, size_t len, json_t **doc)
{
    FILE *p = popen(cmd, "r");
    cr_assert(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    if (doc) {
        *doc = json_loads(out, 0, NULL);
        cr_assert(*doc, "not JSON: %.2000s", out);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
