/* prof.h: shared by the two files of libgomalloc_prof.so (prof_preload.c:
 * the wrappers and counters; prof_sampler.c: the sampler thread and the
 * files) and by `gomalloc report`, which reads what they write (the
 * format is in docs/profile-format.md). */
#ifndef GM_PROF_H
#define GM_PROF_H

#include <stddef.h>
#include <stdint.h>

#define PROF_FORMAT "gomalloc-profile 1"
/* Every request size up to the largest small class has its own counter. */
#define PROF_SMALL_MAX 32768u
/* Above it, four buckets per power of two: (2^k, 2^(k+1)] for k = 15..63. */
#define PROF_LARGE_BUCKETS ((64 - 15) * 4)

typedef struct prof_block {
  struct prof_block *next_all, *next_free;
  uint64_t small[PROF_SMALL_MAX + 1];
  uint64_t large_count[PROF_LARGE_BUCKETS];
  uint64_t large_bytes[PROF_LARGE_BUCKETS];
} prof_block_t;

/* The bucket of a request n > PROF_SMALL_MAX, and a bucket's bounds
 * (inclusive). */
static inline unsigned prof_bucket(size_t n) {
  unsigned k = 63u - (unsigned)__builtin_clzll((unsigned long long)(n - 1));
  return (k - 15) * 4 + (unsigned)(((n - 1) >> (k - 2)) & 3);
}
static inline void prof_bucket_bounds(unsigned i, uint64_t *lo, uint64_t *hi) {
  unsigned k = i / 4 + 15, q = i % 4;
  uint64_t step = 1ull << (k - 2);
  *lo = (1ull << k) + q * step + 1;
  *hi = (1ull << k) + (q + 1) * step; /* wraps to 0 for the last: read as 2^64 - 1 */
  if (*hi == 0)
    *hi = UINT64_MAX;
}

/* prof_preload.c */
void prof_counters_init(void);
void prof_counters_sum(prof_block_t *out); /* every thread's counts, summed */
void prof_resolve_new(void);

/* prof_sampler.c: whether this process profiles (environment only). */
int prof_decide(void);

#endif
