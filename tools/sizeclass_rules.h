/* sizeclass_rules.h: the rules of Go's mksizeclasses.go, shared by the
 * generator (mksizeclasses.c, which derives Go's 68 classes from them) and
 * `gomalloc sizeclasses --fit` (sizeclass_fit.c, which chooses other classes
 * under the same rules). Host-side code: plain ints, no allocator. */
#ifndef GM_SIZECLASS_RULES_H
#define GM_SIZECLASS_RULES_H

#include "config.h"

#include <stdbool.h>

struct sclass {
  int size;   /* bytes per object; 0 for class 0 */
  int npages; /* 8 KiB pages per span; 0 for class 0 */
};

static inline bool rules_is_pow2(int x) { return x > 0 && (x & (x - 1)) == 0; }

/* Step 2: the fewest 8 KiB pages whose tail waste is at most 12.5%. */
static inline int rules_npages(int size) {
  int allocsize = (int)GM_PAGE_SIZE;
  while (allocsize % size > allocsize / 8)
    allocsize += (int)GM_PAGE_SIZE;
  return allocsize / (int)GM_PAGE_SIZE;
}

/* Step 1's alignment step after size (a power of two, so the step
 * changes): Go's widens to 16 from 32, to size/8 from 128 and to 256 from
 * 2048, keeping the rounding loss under about 1/8 while bounding the class
 * count. small is the step below 128: 16 in Go from 32 on; 8 lets a fit
 * use 8-byte aligned classes (GOMALLOC_ALIGN8). */
static inline int rules_widen(int size, int align, int small) {
  if (size >= 2048)
    return 256;
  if (size >= 128)
    return size / 8;
  if (size >= 32)
    return small;
  return align;
}

/* Step 1's candidate sizes for a fit, ascending, into out (room for cap):
 * Go's steps with the given step below 128 (8 or 16; 8 and 16 themselves
 * are always candidates), or with fine that step at every size. Returns the
 * count, or -1 if cap is too small. */
static inline int rules_candidates(int *out, int cap, int small, bool fine) {
  int n = 0, align = 8;
  for (int size = align; size <= GM_MAX_SMALL_SIZE; size += align) {
    if (rules_is_pow2(size))
      align = fine && size >= 16 ? small : rules_widen(size, align, small);
    if (size > 16 && size < 32 && small == 16)
      continue; /* 24: only 8-byte aligned */
    if (n == cap)
      return -1;
    out[n++] = size;
  }
  return n;
}

/* Steps 1-4 of Go's generator: Go's classes, class 0 included, into c
 * (room for cap). Returns the count, or -1 if cap is too small. */
static inline int rules_derive_go(struct sclass *c, int cap) {
  int n = 0;
  c[n++] = (struct sclass){0, 0};
  int align = 8;
  for (int size = align; size <= GM_MAX_SMALL_SIZE; size += align) {
    if (rules_is_pow2(size))
      align = rules_widen(size, align, 16);
    int npages = rules_npages(size);
    int allocsize = npages * (int)GM_PAGE_SIZE;

    /* Two sizes with the same span geometry would only differ in waste:
     * keep the larger one. Class 0 is a placeholder and never merges. */
    struct sclass *prev = &c[n - 1];
    if (n > 1 && prev->npages == npages && allocsize / prev->size == allocsize / size) {
      prev->size = size;
      continue;
    }
    if (n == cap)
      return -1;
    c[n++] = (struct sclass){size, npages};
  }

  /* Step 4: objects that fit the same count per span may as well use the space. */
  for (int i = 1; i < n; i++) {
    int psize = c[i].npages * (int)GM_PAGE_SIZE;
    int stretched = (psize / (psize / c[i].size)) & ~127;
    if (stretched > c[i].size)
      c[i].size = stretched;
  }
  return n;
}

#endif /* GM_SIZECLASS_RULES_H */
