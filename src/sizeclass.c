/* sizeclass.c: the mutable size -> class table malloc reads (see sizeclass.h). */
#include "sizeclass.h"

#include <string.h>

uint8_t gm_size_class8[GM_SIZE_TO_CLASS8_LEN];

void gm_sizeclass_init(bool align8) {
  memcpy(gm_size_class8, align8 ? gm_size_to_class8 : gm_size_to_class8_align16,
         sizeof gm_size_class8);
  gm_size_class8[0] = 1; /* malloc(0): the smallest class, a unique pointer */
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
