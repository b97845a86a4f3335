/* error.h: fatal errors and messages that never allocate.
 * A fault aborts with one line on stderr:
 *   gomalloc: fatal: <fault> <pointer> (<detail>)
 * written with write(2), so it works with the heap in any state. */
#ifndef GM_ERROR_H
#define GM_ERROR_H

#include <stddef.h>

__attribute__((noreturn, cold, noinline)) void gm_fatal(const char *fault, const void *ptr,
                                                         const char *detail);

/* A block freed twice: the one wording of that fault, for free (free.c)
 * and for the sweep (span.c), which catches what no single free can see. */
__attribute__((noreturn, cold, noinline)) void gm_fatal_double_free(const void *ptr,
                                                                    const char *detail);

/* A warning line "gomalloc: <msg>" on stderr; never allocates. */
__attribute__((cold)) void gm_warn(const char *msg);

/* Small formatting helpers for messages written without stdio. Each writes
 * into buf (at least 24 bytes) and returns the length. */
size_t gm_fmt_hex(char *buf, size_t v);
size_t gm_fmt_dec(char *buf, size_t v);

/* Write a whole string to fd 2, retrying on EINTR. */
void gm_write_stderr(const char *s, size_t n);

#endif
