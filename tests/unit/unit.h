/* unit.h: what the unit tests share. The checks (CHECK, check_summary, ...)
 * are tests/common/check.h's; here are the unit tests' own helpers. */
#ifndef GM_UNIT_H
#define GM_UNIT_H

#include "../common/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

#endif
