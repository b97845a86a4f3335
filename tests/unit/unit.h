/* unit.h: what the unit tests share. The checks (CHECK, check_summary, ...)
 * are tests/common/check.h's; here are the unit tests' own helpers. */
#ifndef GM_UNIT_H
#define GM_UNIT_H

#include "../common/check.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* 1 in a ThreadSanitizer build (gcc defines the macro, clang has the
 * feature), for tests that skip or slow down there. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

/* The old closing call, for tests written against it: the name is no longer
 * printed (CTest names the test), only check_summary's line. */
#define unit_done(name) ((void)(name), check_summary())

/* splitmix64: deterministic per-thread random numbers. */
static inline unsigned long long unit_rand(unsigned long long *state) {
  unsigned long long z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Monotonic seconds, for tests that wait on the allocator's clock. */
static inline double unit_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline unsigned long long unit_seed(void) {
  const char *s = getenv("GM_SEED");
  return s ? strtoull(s, NULL, 0) : 0x5eed1234ULL;
}

/* Run fn in a forked child (stderr to a pipe, 20 s alarm) and check that it
 * aborts with SIGABRT and a message containing needle. */
static inline void unit_expect_abort(const char *what, void (*fn)(void), const char *needle) {
  int fds[2];
  if (pipe(fds) != 0) {
    CHECK(0, "%s: pipe failed", what);
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20);
    dup2(fds[1], 2);
    close(fds[0]);
    fn();
    _exit(0); /* survived: the test fails */
  }
  close(fds[1]);
  char buf[512] = {0};
  size_t n = 0;
  ssize_t r;
  while (n < sizeof buf - 1 && (r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0)
    n += (size_t)r;
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "%s: expected SIGABRT, got status 0x%x", what,
        st);
  CHECK(strstr(buf, needle) != NULL, "%s: expected \"%s\", got \"%s\"", what, needle, buf);
}

#endif
