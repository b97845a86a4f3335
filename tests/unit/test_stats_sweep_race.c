/* gm_stats while another thread sweeps central spans (the background
 * thread's scavenger and reclaim passes do, under the central locks).
 *
 * With every allocating thread idle, allocs - frees must equal the live
 * objects exactly: a sweep moves a span's pending frees into the counters,
 * and gm_stats must see either both sides of that move or neither. It read
 * the counters before taking the central locks, so a sweep in between
 * counted the frees in neither place (found by the fuzzer on CI: "gm_stats:
 * allocs - frees != objects").
 *
 * Here the main thread allocates, hands its spans to the central lists
 * (gm_thread_flush) and then only reads statistics, while a second thread
 * frees the blocks remotely and sweeps the central lists after every few
 * frees, over and over. */
#include "stats_check.h"

#include "mcentral.h"

#include <pthread.h>
#include <stdatomic.h>

enum { NBLOCKS = 6000, ROUNDS = 200, SWEEP_EVERY = 16 };

static void *blocks[NBLOCKS];
static atomic_int phase; /* 0: wait, 1: free and sweep, 2: done */

static void *sweeper(void *arg) {
  (void)arg;
  for (int r = 0; r < ROUNDS; r++) {
    while (atomic_load(&phase) != 1)
      ;
    for (int i = 0; i < NBLOCKS; i++) {
      gm_free(blocks[i]);
      if (i % SWEEP_EVERY == SWEEP_EVERY - 1)
        for (unsigned spc = 2; spc < GM_NUM_SPAN_CLASSES; spc++)
          gm_mcentral_reclaim(&gm_central[spc]);
    }
    atomic_store(&phase, 2);
  }
  return NULL;
}

int main(void) {
  unsigned long long rs = 42;
  pthread_t t;
  pthread_create(&t, NULL, sweeper, NULL);
  unsigned long checks = 0;
  int bad = 0;
  for (int r = 0; r < ROUNDS; r++) {
    for (int i = 0; i < NBLOCKS; i++) {
      size_t n = 8 + (size_t)(unit_rand(&rs) % 2000);
      blocks[i] = gm_malloc(n);
      CHECK(blocks[i] != NULL, "malloc(%zu)", n);
    }
    gm_thread_flush(); /* our spans go to the central lists */
    atomic_store(&phase, 1);
    while (atomic_load(&phase) != 2) {
      struct gm_stats st = {.size = sizeof st};
      CHECK(gm_stats(&st) == 0, "gm_stats");
      checks++;
      if (st.allocs - st.frees != st.objects && bad++ < 5)
        CHECK(0, "round %d: allocs %llu - frees %llu != objects %llu", r,
              (unsigned long long)st.allocs, (unsigned long long)st.frees,
              (unsigned long long)st.objects);
      check_sums(&st, "during sweeps");
    }
    atomic_store(&phase, 0);
  }
  pthread_join(t, NULL);
  CHECK(bad == 0, "%d of %lu gm_stats calls were inconsistent", bad, checks);
  printf("%lu gm_stats calls during sweeps, %d inconsistent\n", checks, bad);
  return check_summary();
}
