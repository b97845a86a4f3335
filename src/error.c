/* error.c: fatal errors and warnings, written without malloc or stdio so
 * they work when the heap itself is what failed. */
#include "error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void gm_write_stderr(const char *s, size_t n) {
  int saved = errno;
  while (n > 0) {
    ssize_t w = write(2, s, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    s += w;
    n -= (size_t)w;
  }
  errno = saved;
}

size_t gm_fmt_hex(char *buf, size_t v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  buf[0] = '0';
  buf[1] = 'x';
  for (size_t i = 0; i < n; i++)
    buf[2 + i] = tmp[n - 1 - i];
  return n + 2;
}

size_t gm_fmt_dec(char *buf, size_t v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++)
    buf[i] = tmp[n - 1 - i];
  return n;
}

void gm_fatal(const char *fault, const void *ptr, const char *detail) {
  char line[512];
  size_t n = 0;
#define PUT(s)                                                                                     \
  do {                                                                                             \
    size_t l_ = strlen(s);                                                                         \
    if (l_ > sizeof line - n - 2)                                                                  \
      l_ = sizeof line - n - 2;                                                                    \
    memcpy(line + n, s, l_);                                                                       \
    n += l_;                                                                                       \
  } while (0)
  PUT("gomalloc: fatal: ");
  PUT(fault);
  PUT(" ");
  char hex[24];
  size_t hl = gm_fmt_hex(hex, (size_t)ptr);
  hex[hl] = 0;
  PUT(hex);
  if (detail && *detail) {
    PUT(" (");
    PUT(detail);
    PUT(")");
  }
#undef PUT
  line[n++] = '\n';
  gm_write_stderr(line, n);
  abort();
}

void gm_fatal_double_free(const void *ptr, const char *detail) {
  gm_fatal("double free", ptr, detail);
}

void gm_warn(const char *msg) {
  gm_write_stderr("gomalloc: ", 10);
  gm_write_stderr(msg, strlen(msg));
  gm_write_stderr("\n", 1);
}
