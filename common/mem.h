/* Checked allocation: out-of-memory aborts here, in one place, so callers never test for NULL.
 * Used by every module of both daemons and the tests. */
#ifndef COMMON_MEM_H
#define COMMON_MEM_H

#include <stddef.h>

/* Each returns memory owned by the caller (free() it); never NULL. */
void *mem_alloc(size_t size);
void *mem_zalloc(size_t size);
void *mem_realloc(void *ptr, size_t size);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);
/* printf into a fresh string owned by the caller. */
char *mem_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
