/* check.h: the one check harness of the unit and API tests (tests/unit,
 * tests/api). Header-only; C11, and C++ for tests/api/cxx_new_delete.cpp.
 *
 *   CHECK(cond, fmt, ...)  counts a pass, or counts a failure and prints
 *                          "FAIL file:line: [section] cond: <fmt...>"; the
 *                          message says what was expected and what came, and
 *                          its arguments are evaluated only on failure.
 *                          Evaluates to 1 if cond held, 0 otherwise (so a test
 *                          can stop early: if (!CHECK(...)) return).
 *   CHECK_EQ_SZ(got, exp)  the same with the expected/got text built in.
 *   check_section(name)    labels the failures that follow ("" for none).
 *   check_summary()        prints the closing line, exactly
 *                          "N passed, M failed", and returns the exit code
 *                          (1 if M > 0). CI reads that line.
 *   check_failures()       failures counted so far.
 *   check_reset()          zeroes the counts (a forked child counts its own).
 *
 * Counters are atomic: checks may run in several threads. Failure lines go to
 * stdout, flushed at once, so they stay in order with the test's own output;
 * at most CHECK_MAX_PRINT of them are printed, all are counted. */
#ifndef GM_TEST_CHECK_H
#define GM_TEST_CHECK_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#define CHECK_MAX_PRINT 200

/* __atomic builtins rather than <stdatomic.h>: the same code serves C++. */
__attribute__((unused)) static long check_passed_;
__attribute__((unused)) static long check_failed_;
__attribute__((unused)) static const char *check_section_ = "";

static inline void check_section(const char *name) { check_section_ = name; }

static inline int check_pass_(void) {
  __atomic_fetch_add(&check_passed_, 1, __ATOMIC_RELAXED);
  return 1;
}

__attribute__((format(printf, 4, 5))) static inline int check_fail_(const char *file, int line,
                                                                    const char *expr,
                                                                    const char *fmt, ...) {
  long n = __atomic_add_fetch(&check_failed_, 1, __ATOMIC_RELAXED);
  int saved = errno;
  if (n <= CHECK_MAX_PRINT) {
    va_list ap;
    va_start(ap, fmt);
    flockfile(stdout);
    fprintf(stdout, "FAIL %s:%d: %s%s%s%s: ", file, line, *check_section_ ? "[" : "",
            check_section_, *check_section_ ? "] " : "", expr);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    funlockfile(stdout);
    va_end(ap);
  } else if (n == CHECK_MAX_PRINT + 1) {
    fprintf(stdout, "(further failures are counted but not printed)\n");
  }
  fflush(stdout);
  errno = saved;
  return 0;
}

#define CHECK(cond, ...)                                                                           \
  ((cond) ? check_pass_() : check_fail_(__FILE__, __LINE__, #cond, __VA_ARGS__))

#define CHECK_EQ_SZ(got, exp)                                                                      \
  do {                                                                                             \
    size_t g_ = (size_t)(got), e_ = (size_t)(exp);                                                 \
    CHECK(g_ == e_, "expected %s == %zu (0x%zx), got %zu (0x%zx)", #got, e_, e_, g_, g_);          \
  } while (0)

static inline long check_failures(void) {
  return __atomic_load_n(&check_failed_, __ATOMIC_RELAXED);
}

static inline void check_reset(void) {
  __atomic_store_n(&check_passed_, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&check_failed_, 0, __ATOMIC_RELAXED);
}

static inline int check_summary(void) {
  long p = __atomic_load_n(&check_passed_, __ATOMIC_RELAXED), f = check_failures();
  fflush(stderr);
  printf("%ld passed, %ld failed\n", p, f);
  fflush(stdout);
  return f > 0 ? 1 : 0;
}

#endif /* GM_TEST_CHECK_H */
