/* test_reclaim_signal.c: the idle-cache reclaim (mcache_reclaim.c) against
 * a thread interrupted by a signal inside its allocator fast path (issue 15
 * item 7). Calling malloc from a signal handler is undefined, but common.
 *
 * 1. Nest: a worker mallocs and frees 64-byte blocks in a tight loop and is
 *    sent signals as fast as it takes them. When a signal lands inside a
 *    fast path (the thread's busy count is not 0), the handler mallocs and
 *    frees a block of another class (its own fast path enters and leaves
 *    the busy section), then has a second thread reclaim every cache by
 *    force and take 256 64-byte blocks from mcentral, and waits for it. A
 *    busy flag that does not nest was cleared by the handler's free, so the
 *    reclaim took the span the interrupted malloc or free was still using,
 *    and the second thread got it: a block handed out twice, or a free that
 *    landed in the other thread's block (a pattern check, or the double-free
 *    abort). The reclaim must instead leave that cache alone.
 * 2. Stuck: a signal handler that blocks while its thread was inside a fast
 *    path (a stop-the-world collector parks threads so); a reclaim, a trim
 *    and gm_release from another thread must each return within a second
 *    instead of waiting for the busy section to end (alarm() kills a hang).
 *    Then the handler returns, and the worker's cache, which the reclaim
 *    gave back, is whole: its blocks check, a later reclaim takes it, and
 *    the heap census is clean.
 * (Not under ThreadSanitizer: the membarrier handshake is invisible to it.) */
#include "unit.h"

#include "gomalloc.h"
#include "mcache.h"
#include "os.h"
#include "stats.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static unsigned char pat(const void *p, size_t i, unsigned char key) {
  return (unsigned char)((((uintptr_t)p >> 4) * 31 + i * 7 + 1) ^ key);
}
static void fill(void *p, size_t n, unsigned char key) {
  for (size_t i = 0; i < n; i++)
    ((unsigned char *)p)[i] = pat(p, i, key);
}
static int intact(const void *p, size_t n, unsigned char key) {
  for (size_t i = 0; i < n; i++)
    if (((const unsigned char *)p)[i] != pat(p, i, key))
      return 0;
  return 1;
}

static void sem_wait_intr(sem_t *s) {
  while (sem_wait(s) != 0 && errno == EINTR) {
  }
}

static bool in_fast_path(void) { return gm_load_relaxed(&gm_tls.busy) != 0; }

/* The worker: 64-byte blocks through a ring of 16, each filled and checked. */
enum { RING = 16, SZ = 64 };
static volatile int stop;
static int worker_bad;

static void *worker(void *arg) {
  (void)arg;
  void *ring[RING] = {0};
  for (unsigned long i = 0; !stop; i++) {
    void **slot = &ring[i % RING];
    if (*slot) {
      if (!intact(*slot, SZ, 0))
        __atomic_store_n(&worker_bad, 1, __ATOMIC_RELAXED);
      gm_free(*slot);
    }
    *slot = gm_malloc(SZ);
    if (!*slot) {
      __atomic_store_n(&worker_bad, 2, __ATOMIC_RELAXED);
      break;
    }
    fill(*slot, SZ, 0);
  }
  for (int i = 0; i < RING; i++)
    if (ring[i]) {
      if (!intact(ring[i], SZ, 0))
        __atomic_store_n(&worker_bad, 1, __ATOMIC_RELAXED);
      gm_free(ring[i]);
    }
  return NULL;
}

/* Send sig to t until flag is set or secs pass. */
static void pester(pthread_t t, int sig, volatile int *flag, double secs) {
  double t0 = unit_now();
  while (!*flag && unit_now() - t0 < secs) {
    pthread_kill(t, sig);
    usleep(50);
  }
}

static bool heap_clean(const char *what) {
  gm_thread_flush();
  gm_census_t c;
  gm_heap_census(&c);
  CHECK(c.error == NULL, "%s: census: %s", what, c.error ? c.error : "");
  CHECK(c.live_objects == 0, "%s: live objects %zu after everything was freed", what,
        c.live_objects);
  return c.error == NULL && c.live_objects == 0;
}

/* ---- 1. nest ------------------------------------------------------------ */

enum { TAKE = 256, MAX_HITS = 300 };
static sem_t req, done;
static volatile int hits, taker_stop;
static int taker_bad;

static void nest_handler(int sig) {
  (void)sig;
  int saved = errno;
  if (in_fast_path() && !stop && hits < MAX_HITS) {
    void *q = gm_malloc(256); /* another class: its own busy section */
    gm_free(q);
    hits++;
    sem_post(&req);
    sem_wait_intr(&done);
  }
  errno = saved;
}

/* Reclaim every cache, then take blocks from mcentral (this thread's own
 * cache flushed first), where a span taken from the interrupted fast path
 * would be. */
static void *taker(void *arg) {
  (void)arg;
  static void *got[TAKE];
  for (;;) {
    sem_wait_intr(&req);
    if (taker_stop)
      break;
    gm_thread_flush();
    gm_mcache_reclaim_idle(true);
    for (int i = 0; i < TAKE; i++) {
      got[i] = gm_malloc(SZ);
      if (got[i])
        fill(got[i], SZ, 0x5a);
    }
    sem_post(&done);
    usleep(1000); /* the interrupted malloc or free finishes meanwhile */
    for (int i = 0; i < TAKE; i++) {
      if (!got[i] || !intact(got[i], SZ, 0x5a))
        __atomic_store_n(&taker_bad, 1, __ATOMIC_RELAXED);
      gm_free(got[i]);
    }
  }
  return NULL;
}

static void test_nest(void) {
  sem_init(&req, 0, 0);
  sem_init(&done, 0, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = nest_handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
  stop = 0;
  pthread_t w, tk;
  CHECK(pthread_create(&tk, NULL, taker, NULL) == 0, "pthread_create");
  CHECK(pthread_create(&w, NULL, worker, NULL) == 0, "pthread_create");
  volatile int enough = 0;
  double t0 = unit_now();
  while (!enough && unit_now() - t0 < 4.0) {
    pester(w, SIGUSR1, &enough, 0.01);
    enough = hits >= MAX_HITS;
  }
  stop = 1;
  pthread_join(w, NULL);
  taker_stop = 1;
  sem_post(&req);
  pthread_join(tk, NULL);
  printf("nest: %d signals landed inside a fast path and were answered by a reclaim\n", hits);
  CHECK(hits >= 20, "only %d signals landed inside a fast path: the race was not exercised",
        hits);
  CHECK(worker_bad == 0, "a worker block was damaged or malloc failed (%d)", worker_bad);
  CHECK(taker_bad == 0, "a block the reclaiming thread took from mcentral was damaged: the "
                        "interrupted fast path kept using a span the reclaim had taken");
  heap_clean("nest");
}

/* ---- 2. stuck ----------------------------------------------------------- */

static sem_t stuck, release_sem;
static volatile int parked;

static void stuck_handler(int sig) {
  (void)sig;
  int saved = errno;
  if (in_fast_path() && !parked) {
    parked = 1;
    sem_post(&stuck);
    sem_wait_intr(&release_sem);
  }
  errno = saved;
}

static void test_stuck(void) {
  sem_init(&stuck, 0, 0);
  sem_init(&release_sem, 0, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = stuck_handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR2, &sa, NULL);
  stop = 0;
  worker_bad = 0;
  pthread_t w;
  CHECK(pthread_create(&w, NULL, worker, NULL) == 0, "pthread_create");
  pester(w, SIGUSR2, &parked, 5.0);
  CHECK(parked, "no signal landed inside a fast path in 5 s");
  if (!parked) {
    stop = 1;
    pthread_join(w, NULL);
    return;
  }
  sem_wait_intr(&stuck);
  alarm(10); /* a reclaim that waits for the parked thread never returns */
  double t0 = unit_now();
  unsigned n = gm_mcache_reclaim_idle(true);
  double t1 = unit_now();
  gm_mcache_trim(0);
  double t2 = unit_now();
  gm_release();
  double t3 = unit_now();
  alarm(0);
  printf("stuck: with a thread parked in a fast path: reclaim %.3f s (%u caches), trim %.3f s, "
         "gm_release %.3f s\n",
         t1 - t0, n, t2 - t1, t3 - t2);
  CHECK(t1 - t0 < 1.0, "the reclaim took %.2f s", t1 - t0);
  CHECK(t2 - t1 < 1.0, "the trim took %.2f s", t2 - t1);
  CHECK(t3 - t2 < 1.0, "gm_release took %.2f s", t3 - t2);
  sem_post(&release_sem);

  /* The cache the reclaim gave back works, and is taken once its owner
   * leaves the fast path. */
  usleep(20000);
  unsigned later = 0;
  t0 = unit_now();
  while (!later && unit_now() - t0 < 5.0)
    later = gm_mcache_reclaim_idle(true);
  CHECK(later > 0, "no cache was reclaimed in 5 s after the handler returned");
  stop = 1;
  pthread_join(w, NULL);
  CHECK(worker_bad == 0, "a worker block was damaged or malloc failed (%d)", worker_bad);
  heap_clean("stuck");
}

/* argv[1] "nest" or "stuck" runs one part. */
int main(int argc, char **argv) {
  const char *only = argc > 1 ? argv[1] : "";
  if (UNDER_TSAN) {
    printf("skipped: the membarrier handshake is invisible to ThreadSanitizer\n");
    return check_summary();
  }
  if (!gm_sys_membarrier()) {
    printf("skipped: membarrier(2) is not available here, so nothing is reclaimed\n");
    return check_summary();
  }
  if (!*only || !strcmp(only, "stuck"))
    test_stuck();
  if (!*only || !strcmp(only, "nest"))
    test_nest();
  return check_summary();
}
