/* unit.h: minimal check harness for the unit tests. Every CHECK prints
 * what failed; the program ends with "NAME: N passed, M failed". */
#ifndef GM_UNIT_H
#define GM_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static unsigned long unit_passed, unit_failed;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (cond) {                                                                                    \
      unit_passed++;                                                                               \
    } else {                                                                                       \
      unit_failed++;                                                                               \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                              \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
    }                                                                                              \
  } while (0)

static inline int unit_done(const char *name) {
  printf("%s: %lu passed, %lu failed\n", name, unit_passed, unit_failed);
  return unit_failed ? 1 : 0;
}

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
