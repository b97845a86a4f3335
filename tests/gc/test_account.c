/* test_account.c MODE: the collected heap's byte counts (gm_gc_stats).
 *   exit    threads that allocate a few blocks and exit, one after the
 *           other, each taking the span the last one left (its cache goes
 *           back to the central list): heap_live grows by the bytes they
 *           allocated, exactly, not by a span's free space per thread; a
 *           thread that exits after a collection it lived through leaves
 *           heap_live above what that collection marked; a freed large
 *           block leaves heap_live.
 *   marked  a heap whose blocks fill their spans exactly, marked by however
 *           many markers GOMALLOC_GC_MARKERS says (CMake runs 1, 2 and 4):
 *           the bytes marked must be the heap's bytes, every cycle (markers
 *           racing to mark one block counted it twice).
 * The collector is paced off (gm_gc_collect alone runs cycles). */
#include "gc_test.h"

#include <pthread.h>

#define U(x) ((unsigned long long)(x))

/* ---- exit --------------------------------------------------------------------- */

#define EXIT_THREADS 40
#define PER_THREAD 3
#define BLOCK 1024 /* a size class: 8 blocks per 8 KiB span */

void *volatile kept[EXIT_THREADS * PER_THREAD]; /* a root: data */

static void *alloc_and_exit(void *arg) {
  int i = (int)(intptr_t)arg;
  for (int j = 0; j < PER_THREAD; j++)
    kept[i * PER_THREAD + j] = gm_gc_malloc(BLOCK);
  return NULL;
}

static void run_thread(void *(*fn)(void *), void *arg) {
  pthread_t th;
  pthread_create(&th, NULL, fn, arg);
  pthread_join(th, NULL);
}

static volatile int phase;

/* Allocates (taking a span), waits while main collects, exits. */
static void *live_through_cycle(void *arg) {
  (void)arg;
  void *volatile p = gm_gc_malloc(BLOCK);
  __atomic_store_n(&phase, 1, __ATOMIC_SEQ_CST);
  while (__atomic_load_n(&phase, __ATOMIC_SEQ_CST) != 2)
    gm_gc_register_thread(); /* a call TSan delivers the stop signal in */
  (void)p;
  return NULL;
}

static void mode_exit(void) {
  gm_gc_collect();
  struct gm_gc_stats a = gc_stats();
  for (int i = 0; i < EXIT_THREADS; i++)
    run_thread(alloc_and_exit, (void *)(intptr_t)i);
  struct gm_gc_stats b = gc_stats();
  uint64_t want = (uint64_t)EXIT_THREADS * PER_THREAD * BLOCK;
  CHECK(b.heap_live - a.heap_live == want,
        "%d exited threads allocated %llu bytes; heap_live grew by %llu", EXIT_THREADS, U(want),
        U(b.heap_live - a.heap_live));
  CHECK(b.heap_live <= b.heap_bytes, "heap_live %llu above the heap's %llu bytes", U(b.heap_live),
        U(b.heap_bytes));

  /* A thread whose cached span was swept in the pause: what it leaves
   * unused at exit is no more than the cycle counted. */
  pthread_t th;
  pthread_create(&th, NULL, live_through_cycle, NULL);
  while (__atomic_load_n(&phase, __ATOMIC_SEQ_CST) != 1)
    ;
  gm_gc_collect();
  __atomic_store_n(&phase, 2, __ATOMIC_SEQ_CST);
  pthread_join(th, NULL);
  struct gm_gc_stats c = gc_stats();
  CHECK(c.heap_live >= c.live_after_mark && c.heap_live <= c.heap_bytes,
        "after a thread exit: heap_live %llu, marked %llu, heap %llu bytes", U(c.heap_live),
        U(c.live_after_mark), U(c.heap_bytes));

  /* A large block freed explicitly is no longer live. */
  void *big = gm_gc_malloc(1 << 20);
  uint64_t l0 = gc_stats().heap_live;
  gm_gc_free(big);
  struct gm_gc_stats d = gc_stats();
  CHECK(l0 - d.heap_live >= (1u << 20) && d.heap_live <= d.heap_bytes,
        "a freed 1 MiB block: heap_live %llu -> %llu, heap %llu bytes", U(l0), U(d.heap_live),
        U(d.heap_bytes));
}

/* ---- marked ------------------------------------------------------------------- */

#define NODES (1 << 18) /* 16-byte blocks: 512 to a span, none left over */
#define TABLES 8        /* each a 2 MiB block of pointers to every node */
#if defined(__SANITIZE_THREAD__)
#define CYCLES 12 /* TSan runs the mark ten times slower */
#else
#define CYCLES 40 /* a race between markers shows in one cycle of ten or so */
#endif

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
  if (!strcmp(mode, "exit"))
    mode_exit();
  else if (!strcmp(mode, "marked"))
    mode_marked();
  else
    CHECK(0, "unknown mode %s", mode);
  return check_summary();
}
