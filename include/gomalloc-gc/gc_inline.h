/* gc_inline.h: Boehm's inline allocation macros, as calls (gomalloc's
 * allocation fast path is already a few instructions). */
#ifndef GOMALLOC_GC_INLINE_H
#define GOMALLOC_GC_INLINE_H

#include "gc_mark.h"

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
