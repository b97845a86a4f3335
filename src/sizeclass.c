/* sizeclass.c: the mutable size -> class table malloc reads (see sizeclass.h). */
#include "sizeclass.h"

uint8_t gm_size_spc8[GM_SIZE_SPC8_LEN];

void gm_sizeclass_init(bool align8) {
  const uint8_t *small = align8 ? gm_size_to_class8 : gm_size_to_class8_align16;
  for (size_t i = 0; i < GM_SIZE_SPC8_LEN; i++) {
    size_t size = i * GM_SMALL_SIZE_DIV; /* the largest size at index i */
    unsigned c = size <= GM_SMALL_SIZE_MAX
                     ? small[i]
                     : gm_size_to_class128[(size - GM_SMALL_SIZE_MAX + GM_LARGE_SIZE_DIV - 1) /
                                           GM_LARGE_SIZE_DIV];
    if (c == 0)
      c = 1; /* malloc(0): the smallest class, a unique pointer */
    gm_size_spc8[i] = gm_make_spanclass(c, false);
  }
}

unsigned gm_size_to_class_aligned(size_t size, size_t align) {
  if (size > GM_MAX_SMALL_SIZE || align > GM_PAGE_SIZE)
    return 0;
  unsigned c = size <= GM_SMALL_SIZE_MAX ? gm_size_to_class8[(size + 7) / 8]
                                         : gm_size_to_class128[(size - GM_SMALL_SIZE_MAX + 127) / 128];
  if (c == 0)
    c = 1;
  for (; c < GM_NUM_CLASSES; c++)
    if (gm_class_to_minalign[c] >= align)
      return c;
  return 0;
}
