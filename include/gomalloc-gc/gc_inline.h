/* gc_inline.h: Boehm's inline allocation macros, as calls (gomalloc's
 * allocation fast path is already a few instructions). */
#ifndef GOMALLOC_GC_INLINE_H
#define GOMALLOC_GC_INLINE_H

#include "gc_mark.h"

#define GC_GRANULE_BYTES 16
#define GC_GRANULE_WORDS (GC_GRANULE_BYTES / sizeof(GC_word))
#define GC_TINY_FREELISTS 25
#define GC_RAW_BYTES_FROM_INDEX(i) ((i)*GC_GRANULE_BYTES)
/* A list of objects of kind k linked through their first word, in
 * *result (objects of a pointer-free kind are scanned: see gc_boehm_ext.c). */
GC_API void GC_CALL GC_generic_malloc_many(size_t lb, int k, void **result);
/* The tiny free list is not used: one call per object. */
#define GC_FAST_MALLOC_GRANS(result, granules, tiny_fl, num_direct, kind, default_expr, init)     \
  do {                                                                                             \
    (void)(tiny_fl), (void)(num_direct);                                                           \
    if ((granules) >= GC_TINY_FREELISTS) {                                                         \
      (result) = (default_expr);                                                                   \
    } else {                                                                                       \
      (result) = GC_generic_malloc(                                                                \
          (granules) == 0 ? GC_GRANULE_BYTES : GC_RAW_BYTES_FROM_INDEX(granules), kind);           \
      if ((result) != 0) {                                                                         \
        init;                                                                                      \
      }                                                                                            \
    }                                                                                              \
  } while (0)
#define GC_MALLOC_WORDS_KIND(result, n, tiny_fl, kind, init)                                       \
  do {                                                                                             \
    (void)(tiny_fl);                                                                               \
    (result) = GC_generic_malloc((n) * sizeof(GC_word), kind);                                     \
    if ((result) != 0) {                                                                           \
      init;                                                                                        \
    }                                                                                              \
  } while (0)
#define GC_MALLOC_WORDS(result, n, tiny_fl)                                                        \
  GC_MALLOC_WORDS_KIND(result, n, tiny_fl, GC_I_NORMAL, (void)0)
#define GC_MALLOC_ATOMIC_WORDS(result, n, tiny_fl)                                                 \
  GC_MALLOC_WORDS_KIND(result, n, tiny_fl, GC_I_PTRFREE, (void)0)
#define GC_CONS(result, first, second, tiny_fl)                                                    \
  do {                                                                                             \
    void *gc_l_ = (void *)(first), *gc_r_ = (void *)(second);                                      \
    GC_MALLOC_WORDS_KIND(result, 2, tiny_fl, GC_I_NORMAL, (void)0);                                \
    if ((result) != 0) {                                                                           \
      ((void **)(result))[0] = gc_l_;                                                              \
      ((void **)(result))[1] = gc_r_;                                                              \
    }                                                                                              \
  } while (0)

#endif /* GOMALLOC_GC_INLINE_H */
