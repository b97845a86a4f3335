/* check.h: the tiny harness shared by the black-box API tests.
 *
 *   CHECK(cond, fmt, ...)  counts a pass, or counts a failure and prints
 *                          "FAIL file:line [section] cond: <fmt...>"; the
 *                          message must say what was expected and what came.
 *   CHECK_EQ_SZ / CHECK_ERRNO  the same with the expected/got text built in.
 *   errno_sentinel()       sets errno to 1789 (glibc's sentinel), so a test
 *                          can see whether a call touched errno.
 *   check_summary()        prints exactly "N passed, M failed" and returns the
 *                          exit code (non-zero if M > 0).
 *
 * Counters are atomic: checks may run in several threads. Failure lines are
 * written with stdio to stdout (flushed at once); at most CHECK_MAX_PRINT of
 * them are printed, all are counted. */
#ifndef GM_TEST_CHECK_H
#define GM_TEST_CHECK_H

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_MAX_PRINT 200
#define ERRNO_SENTINEL 1789

__attribute__((unused)) static atomic_long check_passed_;
__attribute__((unused)) static atomic_long check_failed_;
__attribute__((unused)) static const char *check_section_ = "";

/* Label printed with every failure until the next call. */
static inline void check_section(const char *name) { check_section_ = name; }

__attribute__((format(printf, 5, 6))) static inline int check_at(int ok, const char *file, int line,
                                                                 const char *expr, const char *fmt,
                                                                 ...) {
  if (ok) {
    atomic_fetch_add(&check_passed_, 1);
    return 1;
  }
  long n = atomic_fetch_add(&check_failed_, 1) + 1;
  if (n <= CHECK_MAX_PRINT) {
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    flockfile(stdout);
    fprintf(stdout, "FAIL %s:%d [%s] %s: ", file, line, check_section_, expr);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    funlockfile(stdout);
    fflush(stdout);
    va_end(ap);
    errno = saved;
  } else if (n == CHECK_MAX_PRINT + 1) {
    fprintf(stdout, "(further failures are counted but not printed)\n");
    fflush(stdout);
  }
  return 0;
}

/* Evaluates to 1 if cond held, 0 otherwise (so a test can stop early). */
#define CHECK(cond, ...) check_at((cond) ? 1 : 0, __FILE__, __LINE__, #cond, __VA_ARGS__)

static inline const char *errno_name(int e) {
  switch (e) {
  case 0: return "0";
  case ENOMEM: return "ENOMEM";
  case EINVAL: return "EINVAL";
  case EOVERFLOW: return "EOVERFLOW";
  case EFAULT: return "EFAULT";
  case EAGAIN: return "EAGAIN";
  case ERRNO_SENTINEL: return "sentinel 1789 (unchanged)";
  default: return "other";
  }
}

#define CHECK_EQ_SZ(got, exp)                                                                      \
  do {                                                                                             \
    size_t g_ = (size_t)(got), e_ = (size_t)(exp);                                                 \
    CHECK(g_ == e_, "expected %s == %zu (0x%zx), got %zu (0x%zx)", #got, e_, e_, g_, g_);          \
  } while (0)

#define CHECK_ERRNO_IS(got, exp)                                                                   \
  do {                                                                                             \
    int ge_ = (got), ee_ = (exp);                                                                  \
    CHECK(ge_ == ee_, "errno: expected %s (%d), got %s (%d)", errno_name(ee_), ee_,                \
          errno_name(ge_), ge_);                                                                   \
  } while (0)

static inline void errno_sentinel(void) { errno = ERRNO_SENTINEL; }

/* Hides a value from the optimiser (so sizes like SIZE_MAX are not folded
 * into compile-time warnings, and malloc/free pairs are not elided). */
static inline size_t opaque_size(size_t x) {
  __asm__ volatile("" : "+r"(x));
  return x;
}
static inline void *opaque_ptr(void *p) {
  __asm__ volatile("" : "+r"(p)::"memory");
  return p;
}

/* First offset in p[0..n) that is not zero, or n. */
static inline size_t first_nonzero(const void *p, size_t n) {
  const unsigned char *b = (const unsigned char *)p;
  size_t i = 0;
  while (i < n && ((uintptr_t)(b + i) & 7))
    if (b[i++])
      return i - 1;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    __builtin_memcpy(&w, b + i, 8);
    if (w)
      break;
  }
  for (; i < n; i++)
    if (b[i])
      return i;
  return n;
}

/* Deterministic per-position pattern byte for block contents. */
static inline unsigned char pattern_byte(size_t seed, size_t i) {
  return (unsigned char)((i * 131u + seed * 7u + (i >> 8)) ^ 0x5a);
}
static inline void pattern_fill(void *p, size_t n, size_t seed) {
  unsigned char *b = (unsigned char *)p;
  for (size_t i = 0; i < n; i++)
    b[i] = pattern_byte(seed, i);
}
/* First offset in p[0..n) that does not hold the pattern, or n. */
static inline size_t pattern_find_bad(const void *p, size_t n, size_t seed) {
  const unsigned char *b = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != pattern_byte(seed, i))
      return i;
  return n;
}

static inline int check_summary(void) {
  long p = atomic_load(&check_passed_), f = atomic_load(&check_failed_);
  fflush(stderr);
  printf("%ld passed, %ld failed\n", p, f);
  fflush(stdout);
  return f > 0 ? 1 : 0;
}

static inline long check_failures(void) { return atomic_load(&check_failed_); }

#endif /* GM_TEST_CHECK_H */
