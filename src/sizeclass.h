/* sizeclass.h: size -> size class -> span class, inline for the malloc
 * fast path. The tables are Go's, generated into sizeclasses.h by
 * tools/mksizeclasses.c.
 *
 * Where we differ from Go: malloc must return 16-byte aligned memory for
 * every request of 16 bytes or more (glibc's MALLOC_ALIGNMENT on x86-64),
 * and Go's 24-byte class is only 8-byte aligned. So the table that malloc
 * reads, gm_size_class8, is a mutable copy that starts as the "align16"
 * variant (17..24 -> 32 B class); GOMALLOC_ALIGN8=1 swaps in Go's exact
 * table at start. Sizes above 1024 use Go's 128-step table unchanged:
 * every class from 32 B up is 16-byte aligned. */
#ifndef GM_SIZECLASS_H
#define GM_SIZECLASS_H

#include "internal.h"
#include "sizeclasses.h"

/* spanClass = sizeclass << 1 | noscan (Go's makeSpanClass). Plain malloc
 * allocates "scan" objects (noscan = 0): a future conservative GC must scan
 * memory whose contents it does not know. */
typedef uint8_t gm_spanclass_t;
GM_INLINE gm_spanclass_t gm_make_spanclass(unsigned sizeclass, bool noscan) {
  return (gm_spanclass_t)((sizeclass << 1) | (noscan ? 1u : 0u));
}
GM_INLINE unsigned gm_spanclass_sizeclass(gm_spanclass_t sc) { return sc >> 1; }
GM_INLINE bool gm_spanclass_noscan(gm_spanclass_t sc) { return sc & 1; }

extern uint8_t gm_size_class8[GM_SIZE_TO_CLASS8_LEN];

/* Size class for a request of size <= GM_MAX_SMALL_SIZE (0 maps to class 1). */
GM_INLINE unsigned gm_size_to_class(size_t size) {
  if (GM_LIKELY(size <= GM_SMALL_SIZE_MAX))
    return gm_size_class8[(size + GM_SMALL_SIZE_DIV - 1) / GM_SMALL_SIZE_DIV];
  return gm_size_to_class128[(size - GM_SMALL_SIZE_MAX + GM_LARGE_SIZE_DIV - 1) /
                             GM_LARGE_SIZE_DIV];
}

/* Select the lookup table from the options (init.c, before any allocation). */
void gm_sizeclass_init(bool align8);

/* Smallest class >= size whose objects are all aligned to align
 * (align <= GM_PAGE_SIZE), or 0 if none: aligned_alloc's small path. */
unsigned gm_size_to_class_aligned(size_t size, size_t align);

/* Number of 64-bit words in a span's bitmaps for a size class (1 for large). */
GM_INLINE unsigned gm_class_bitmap_words(unsigned sizeclass) {
  unsigned n = sizeclass ? gm_class_to_nelems[sizeclass] : 1;
  return (n + 63) / 64;
}

#endif /* GM_SIZECLASS_H */
