/* Checked allocation. Out of memory is not recoverable for these daemons: abort loudly rather
 * than thread NULL checks through every caller (STYLE: one checked allocator in common/). */
#include "common/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *s_check(void *p)
{
    if (!p) {
        fputs("<2>out of memory\n", stderr);
        abort();
    }
    return p;
}

void *mem_alloc(size_t size)
{
    return s_check(malloc(size ? size : 1));
}
void *mem_zalloc(size_t size)
{
    return s_check(calloc(1, size ? size : 1));
}
void *mem_realloc(void *ptr, size_t size)
{
    return s_check(realloc(ptr, size ? size : 1));
}
char *mem_strdup(const char *s)
{
    return s_check(strdup(s));
}
char *mem_strndup(const char *s, size_t n)
{
    return s_check(strndup(s, n));
}

char *mem_printf(const char *fmt, ...)
{
    va_list ap;
    char *out = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    if (n < 0)
        s_check(NULL);
    return out;
}
