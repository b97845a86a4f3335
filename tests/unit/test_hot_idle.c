/* Hot stacks of classes the program no longer allocates (mcache_hot.c,
 * gm_mcache_hot_drop_idle).
 *
 *   idle    one block in each of 40 spans of one class is freed first, so
 *           the class's stack ends up naming 15 spans whose other slots
 *           are all free, freed after; the program then only allocates another class
 *           and the heap grows. The idle class's stack gives its entries
 *           up and its empty spans go back to the heap: at most 3 spans of
 *           it are left in use (the current one and one kept empty), not
 *           the 15 or more its stack held before the change.
 *   active  a class freed and allocated again between the growing refills
 *           keeps its stack: each malloc returns the block just freed
 *           (unless GOMALLOC_HOT=off). */
#include "unit.h"

#include "arena.h"
#include "gomalloc-stats.h"
#include "gomalloc.h"
#include "options.h"
#include "sizeclass.h"
#include "span.h"

#include <stdint.h>
#include <string.h>

enum { IDLE_SIZE = 256, NSPANS = 40, GROW_SIZE = 1024, GROW_BLOCKS = 8192 };

static uint64_t class_spans(size_t size) {
  static struct gm_stats st;
  st.size = sizeof st;
  CHECK(gm_stats(&st) == 0, "gm_stats failed");
  return st.classes[gm_size_to_class(size)].spans;
}

int main(void) {
  check_section("idle");
  size_t per_span = gm_class_to_nelems[gm_size_to_class(IDLE_SIZE)];
  size_t n = per_span * NSPANS;
  void **b = gm_malloc(n * sizeof *b);
  void **first = gm_malloc(n * sizeof *first);
  CHECK(b && first, "no memory for the test's arrays");
  for (size_t i = 0; i < n; i++) {
    b[i] = gm_malloc(IDLE_SIZE);
    CHECK(b[i] != NULL, "malloc(%d) failed", IDLE_SIZE);
    memset(b[i], 0x5a, IDLE_SIZE);
  }
  /* Free one block of each span first: a stack that is never popped keeps
   * its first 15 pushes (a push onto a full stack is counted at once), so
   * it names 15 spans whose other slots, freed next, are all counted. */
  size_t nfirst = 0;
  for (size_t i = 0; i < n; i++) {
    gm_mspan_t *s = gm_span_of((uintptr_t)b[i]);
    bool seen = false;
    for (size_t k = 0; k < nfirst && !seen; k++)
      seen = gm_span_of((uintptr_t)first[k]) == s;
    if (!seen) {
      first[nfirst++] = b[i];
      gm_free(b[i]);
      b[i] = NULL;
    }
  }
  CHECK(nfirst >= NSPANS, "blocks in %zu spans, expected %d or more", nfirst, NSPANS);
  for (size_t i = 0; i < n; i++)
    gm_free(b[i]);
  uint64_t before = class_spans(IDLE_SIZE);

  /* Only another class from now on, until the heap has grown; one block
   * of a third class is freed and allocated again all along. */
  check_section("active");
  void *act = gm_malloc(48);
  bool lifo = true;
  void **g = gm_malloc(GROW_BLOCKS * sizeof *g);
  CHECK(act && g, "no memory for the test's arrays");
  for (size_t i = 0; i < GROW_BLOCKS; i++) {
    gm_free(act); /* on its stack while the refill below grows the heap */
    g[i] = gm_malloc(GROW_SIZE);
    CHECK(g[i] != NULL, "malloc(%d) failed", GROW_SIZE);
    memset(g[i], 0xa5, GROW_SIZE);
    void *again = gm_malloc(48);
    lifo &= again == act;
    act = again;
  }
  CHECK(lifo || !gm_options.hot, "a class in use lost its hot stack while the heap grew");

  check_section("idle");
  uint64_t after = class_spans(IDLE_SIZE);
  CHECK(after <= 3, "%llu spans of the idle %d-byte class still in use (%llu before the heap grew)",
        (unsigned long long)after, IDLE_SIZE, (unsigned long long)before);

  for (size_t i = 0; i < GROW_BLOCKS; i++)
    gm_free(g[i]);
  gm_free(g);
  gm_free(act);
  gm_free(b);
  gm_free(first);
  return check_summary();
}
