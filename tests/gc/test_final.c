/* test_final.c: disappearing links held outside the collected heap.
 * Links in malloc memory, allocated between the collected heap's spans
 * (the two kinds of spans share the arena), to blocks that die: every one
 * is cleared by the next collection (those inside the collected heap's
 * address bounds were forgotten without being cleared). */
#include "gc_test.h"

#define N 64

static __attribute__((noinline)) void **make_links(void ***keep) {
  void **slots[N];
  for (int i = 0; i < N; i++) {
    keep[i] = gm_gc_malloc(8192); /* a span of the collected heap, kept */
    slots[i] = malloc(4096);      /* malloc spans between them: not roots */
    *slots[i] = gm_gc_malloc(64); /* dies */
    if (gm_gc_register_link(slots[i], *slots[i], i & 1) != 0)
      return NULL;
  }
  void **all = malloc(N * sizeof *all);
  for (int i = 0; i < N; i++)
    all[i] = slots[i];
  memset(slots, 0, sizeof slots);
  return all;
}

void **volatile kept[N]; /* a root: data */

int main(void) {
  gm_gc_set_percent(-1);
  void **all = make_links((void ***)kept);
  CHECK(all != NULL, "register_link failed");
  if (!all)
    return check_summary();
  gc_clear_stack();
  gm_gc_collect();
  gm_gc_collect();
  int left = 0;
  for (int i = 0; i < N; i++)
    left += *(void **)all[i] != NULL;
  CHECK(left == 0, "%d of %d links in malloc memory to dead blocks not cleared", left, N);
  for (int i = 0; i < N; i++)
    free(all[i]);
  free(all);
  return check_summary();
}
