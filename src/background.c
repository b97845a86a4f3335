/* background.c: the allocator's one background thread and its loop, in
 * the manner of tcmalloc's background.cc.
 *
 * Each tick (every 100 ms) it advances the scavenger's clock
 * (gm_scav_epoch, in which mcache and mcentral count span ages) and
 * samples the retained target (scavenger.c; every tick, so its window has
 * no holes). Then, within its CPU budget: twice a second, mcache takes back
 * the caches of threads idle for two rounds (gm_mcache_reclaim_idle) and
 * mcentral releases the free pages inside cold partial spans
 * (gm_mcentral_scavenge, class by class); then the scavenger releases free
 * heap pages above the target (gm_scavenge_heap): from chunks the program
 * has not used for half a second, and from any chunk above the limit.
 *
 * Why one thread: all of this is the same kind of work (give back what the
 * program no longer uses), paced by one clock and one budget, so a tick can
 * order it (span interiors before heap pages, see below) and the whole
 * costs what one budget says. The tick only calls down, into mcache,
 * mcentral, the scavenger's policy and mheap. Nothing below calls into
 * this file but the poke that starts the thread, which the allocation slow
 * paths (malloc.c, mcache.c) make after the heap has returned, with no lock
 * held; the heap itself never does: the poke reads mapped_bytes.
 *
 * Who does it. A background thread, started lazily once the heap has
 * mapped 16 MiB (small programs never get one), because the memory of a
 * program whose threads all sleep must still come back, and work done on
 * allocation slow paths would never run then. It wakes every 100 ms and
 * is paced by a token bucket: it earns 1% of a core of work time and may
 * spend it in bursts of up to 200 ms (of its own CPU time), so it costs
 * about 1% of one core on average, yet a large drop in the heap goes back
 * within a second or two (releasing free heap pages costs about 80-250 us
 * per MiB here, span interiors about 1 ms per MiB).
 *
 * The work budget is counted in this thread's CPU time, not wall time: on
 * a busy machine the thread is preempted in the middle of a release, and
 * charging that wait to the budget starved the scavenger for seconds after
 * one unlucky tick. The madvise calls run on this thread, so their kernel
 * time is counted. */
#include "background.h"

#include "internal.h"
#include "mcache.h"
#include "mcentral.h"
#include "mheap.h"
#include "options.h"
#include "os.h"
#include "scavenger.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

#define TICK_NS 100000000ULL      /* 100 ms between wake-ups */
#define CREDIT_PER_TICK_NS 1000000ULL /* 1% of TICK_NS */
#define CREDIT_MAX_NS 200000000ULL    /* burst: up to 200 ms of work */
#define START_BYTES ((size_t)16 << 20)

static int started;

/* Release free slots of cold partial spans. A pass cut short by the
 * deadline resumes at the class where it stopped, so the last classes are
 * not starved. Only this thread uses the cursor (gm_release's forced pass,
 * gm_mcentral_scavenge_all, starts from 0 and leaves it alone). */
static size_t scavenge_spans(uint64_t deadline) {
  static unsigned cursor;
  size_t total = 0;
  uint32_t epoch = gm_load_relaxed(&gm_scav_epoch);
  unsigned first = cursor;
  for (unsigned k = 0; k < GM_NUM_SPAN_CLASSES; k++) {
    unsigned i = (first + k) % GM_NUM_SPAN_CLASSES;
    gm_mcentral_t *mc = &gm_central[i];
    if (!gm_mcentral_has_partial(mc))
      continue;
    total += gm_mcentral_scavenge(mc, false, epoch);
    if (gm_sys_thread_cpu_ns() > deadline) {
      cursor = (i + 1) % GM_NUM_SPAN_CLASSES;
      return total;
    }
  }
  cursor = 0;
  return total;
}

static void *background_main(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  gm_scav_window_t window = {{0}};
  uint64_t credit = CREDIT_MAX_NS;
  for (uint32_t tick = 0;; tick++) {
    struct timespec ts = {0, (long)TICK_NS};
    nanosleep(&ts, NULL);
    gm_store_relaxed(&gm_scav_epoch, tick + 1);
    credit += CREDIT_PER_TICK_NS;
    if (credit > CREDIT_MAX_NS)
      credit = CREDIT_MAX_NS;
    if (!gm_load_relaxed(&gm_options.scavenger))
      continue;

    size_t retained, limit, target = gm_scavenger_target(&window, tick, &retained, &limit);

    if (credit == 0)
      continue;
    uint64_t t0 = gm_sys_thread_cpu_ns(), deadline = t0 + credit;
    /* Caches of threads idle for two rounds, then cold partial spans
     * first, twice a second: their free pages can only be reused by their
     * own size class, so they are the memory least likely to be needed
     * again soon, whereas free heap pages are the first any growth reuses.
     * Then free heap pages above the target. */
    if (tick % GM_SCAV_COLD_TICKS == 0) {
      gm_mcache_reclaim_idle(false);
      scavenge_spans(deadline);
      gm_lock(&gm_heap.lock);
      retained = gm_mheap_retained_locked();
      gm_unlock(&gm_heap.lock);
    }
    if (retained > target && retained - target > (1u << 20) && gm_sys_thread_cpu_ns() < deadline) {
      size_t n = gm_scavenge_heap(retained - target, GM_SCAV_HOT_TICKS, deadline);
      retained -= n < retained ? n : retained;
      if (retained > limit && gm_sys_thread_cpu_ns() < deadline)
        gm_scavenge_heap(retained - limit, 0, deadline);
    }
    uint64_t spent = gm_sys_thread_cpu_ns() - t0;
    credit = spent < credit ? credit - spent : 0;
  }
  return NULL;
}

void gm_background_poke(void) {
  if (!gm_options.scavenger || gm_load_relaxed(&started))
    return;
  if (gm_load_relaxed(&gm_heap.mapped_bytes) < START_BYTES)
    return;
  int expected = 0;
  if (!__atomic_compare_exchange_n(&started, &expected, 1, false, __ATOMIC_ACQ_REL,
                                   __ATOMIC_RELAXED))
    return;
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 << 10);
  if (pthread_create(&t, &attr, background_main, NULL) != 0)
    gm_store_relaxed(&started, 0); /* try again at the next poke */
  else
    pthread_setname_np(t, "gomalloc-scav");
  pthread_attr_destroy(&attr);
}

void gm_background_fork_child(void) {
  /* The thread did not survive the fork; the next growth restarts it. */
  gm_store_relaxed(&started, 0);
}
