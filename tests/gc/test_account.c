/* test_account.c MODE: the collected heap's byte counts (gm_gc_stats).
 *   marked  a heap whose blocks fill their spans exactly, marked by however
 *           many markers GOMALLOC_GC_MARKERS says (CMake runs 1, 2 and 4):
 *           the bytes marked must be the heap's bytes, every cycle (markers
 *           racing to mark one block counted it twice).
 * The collector is paced off (gm_gc_collect alone runs cycles). */
#include "gc_test.h"

#define U(x) ((unsigned long long)(x))

/* ---- marked ------------------------------------------------------------------- */

#define NODES (1 << 18) /* 16-byte blocks: 512 to a span, none left over */
#define TABLES 8        /* each a 2 MiB block of pointers to every node */
#define CYCLES 40  /* a race between markers shows in one cycle of ten or so */

void **volatile tables[TABLES]; /* a root: data */

static __attribute__((noinline)) void build(void) {
  void **t = gm_gc_malloc(NODES * sizeof *t);
  for (int i = 0; i < NODES; i++)
    t[i] = gm_gc_malloc(16);
  tables[0] = t;
  for (int k = 1; k < TABLES; k++) {
    tables[k] = gm_gc_malloc(NODES * sizeof *t);
    memcpy(tables[k], t, NODES * sizeof *t);
  }
}

static void mode_marked(void) {
  build();
  gc_clear_stack();
  uint64_t want = (uint64_t)TABLES * NODES * sizeof(void *) + (uint64_t)NODES * 16;
  int bad = 0;
  for (int r = 0; r < CYCLES; r++) {
    gm_gc_collect();
    struct gm_gc_stats st = gc_stats();
    /* Every block lives, and nothing else is in the heap: the heap's
     * bytes are the exact answer (a stale pointer cannot add to it). */
    if (st.live_after_mark != want || st.heap_bytes != want) {
      if (bad++ < 3)
        printf("cycle %d: marked %llu bytes, heap %llu, want %llu\n", r, U(st.live_after_mark),
               U(st.heap_bytes), U(want));
    }
  }
  CHECK(bad == 0, "%d of %d cycles marked other than the heap's %llu bytes (GOMALLOC_GC_MARKERS=%s)",
        bad, CYCLES, U(want), getenv("GOMALLOC_GC_MARKERS") ? getenv("GOMALLOC_GC_MARKERS") : "default");
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "marked";
  gm_gc_set_percent(-1);
  if (!strcmp(mode, "marked"))
    mode_marked();
  else
    CHECK(0, "unknown mode %s", mode);
  return check_summary();
}
