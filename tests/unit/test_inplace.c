/* test_inplace.c: sweeping a thread's spans in place must never hand out a
 * live block, whatever the live blocks' pattern.
 *
 * For every class whose spans hold more than one bitmap word (over 64
 * objects), the test fills four spans' worth of blocks and frees every
 * block but those in the first 65 slots of its span, so that after a sweep
 * the first allocCache word of each span has no free slot and the next one
 * starts with a live block. Then it allocates as many blocks again, and
 * then once more after freeing those: each new block must be distinct from
 * every live one, whose contents must be intact. (Classes of up to 170
 * objects per span free enough of each span to be swept in place.) A
 * sweep in place that took the first cache word as the whole story handed
 * out slot 64, which is live: real programs crashed. */
#include "unit.h"

#include "arena.h"
#include "gomalloc.h"
#include "mheap.h"
#include "sizeclasses.h"

#include <string.h>

#define KEEP 65 /* slots 0..64 of each span stay live */

static unsigned char pat(size_t k, size_t i) { return (unsigned char)(k * 131 + i * 7 + 1); }

static size_t slot_of(const void *p) {
  gm_mspan_t *s = gm_span_of((uintptr_t)p);
  return s ? ((uintptr_t)p - s->base) / s->elemsize : (size_t)-1;
}

static void test_class(unsigned cls) {
  size_t size = gm_class_to_size[cls], n = 4u * gm_class_to_nelems[cls];
  unsigned char **b = malloc(n * sizeof *b), **nb = malloc(n * sizeof *nb);
  bool *live = calloc(n, sizeof *live);
  for (size_t k = 0; k < n; k++) {
    b[k] = gm_malloc(size);
    memset(b[k], pat(k, 0), size);
  }
  size_t nlive = 0, nfree = 0;
  for (size_t k = 0; k < n; k++) {
    if (slot_of(b[k]) < KEEP) {
      live[k] = true;
      nlive++;
    } else {
      gm_free(b[k]);
      nfree++;
    }
  }
  for (int pass = 0; pass < 2; pass++) {
    size_t same = 0, dup = 0;
    for (size_t k = 0; k < nfree; k++) {
      nb[k] = gm_malloc(size);
      memset(nb[k], 0xee, size);
      for (size_t j = 0; j < n; j++)
        if (live[j] && b[j] == nb[k])
          same++;
    }
    for (size_t k = 0; k < n; k++)
      if (live[k] && (b[k][0] != pat(k, 0) || b[k][size - 1] != pat(k, 0)))
        dup++;
    CHECK(dup == 0, "class %u (%zu B), pass %d: %zu of %zu live blocks overwritten", cls, size,
          pass, dup, nlive);
    CHECK(same == 0, "class %u, pass %d: %zu new blocks are live ones", cls, pass, same);
    for (size_t k = 0; k < nfree; k++)
      gm_free(nb[k]);
  }
  for (size_t k = 0; k < n; k++)
    if (live[k])
      gm_free(b[k]);
  free(b);
  free(nb);
  free(live);
}

int main(void) {
  for (unsigned cls = 1; cls < GM_NUM_CLASSES; cls++)
    if (gm_class_to_nelems[cls] > 64)
      test_class(cls);
  return check_summary();
}
