/* test_cache_lock.c: the cache lock (mcache_internal.h) against takers.
 *
 * The owner takes its cache's lock on every slow path with two plain
 * stores and a load; a taker (the idle-cache reclaim, the trim) announces
 * itself, fences every thread with membarrier() and then looks at the
 * owner's flag. Here two workers allocate, half the time, blocks of
 * classes whose spans hold one to three objects, so that such a malloc
 * is nearly always a slow path that moves spans between the cache's
 * lists, and free half of each other's blocks (remote frees, which the
 * lists wait for); meanwhile the main thread reclaims every cache by
 * force and trims every list, over and over. A taker and an owner both
 * inside the lists (the owner not looking at the taker's flag: 5 runs of
 * 5) broke a list or handed a span out twice: a damaged block, an invalid
 * or double free, or a census error. (test_reclaim's race catches the
 * taker that does not look at the owner's, 2 runs of 4.) (Not under
 * ThreadSanitizer: the handshake is invisible to it, and it builds the
 * lock from an exchange there.) */
#include "unit.h"

#include "gomalloc.h"
#include "mcache.h"
#include "os.h"
#include "stats.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>

enum { WORKERS = 2, HOLD = 24, MAIL = 32 };
/* Classes of 1 to 3 objects a span (8 KiB, 9472 B, 12 KiB, 16 KiB, ...). */
static const size_t sizes[] = {8192, 9000, 12288, 13000, 16384, 6144, 20000};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static volatile int stop;
static int bad;
static unsigned long ops_total, progress;
static void *mail[WORKERS][MAIL];
static pthread_mutex_t mailmu[WORKERS];

/* The first and last 32 bytes carry the block's address and size (at 32). */
static void mark(unsigned char *p, size_t n) {
  for (size_t i = 0; i < 32; i++) {
    p[i] = (unsigned char)(((uintptr_t)p >> 4) + i * 7 + n);
    p[n - 1 - i] = (unsigned char)(((uintptr_t)p >> 5) + i * 3 + n);
  }
  memcpy(p + 32, &n, sizeof n);
}
static void check_free(unsigned char *p) {
  size_t n;
  memcpy(&n, p + 32, sizeof n);
  int ok = n >= 80 && n <= 20000;
  for (size_t i = 0; ok && i < 32; i++)
    ok = p[i] == (unsigned char)(((uintptr_t)p >> 4) + i * 7 + n) &&
         p[n - 1 - i] == (unsigned char)(((uintptr_t)p >> 5) + i * 3 + n);
  if (!ok)
    __atomic_store_n(&bad, 1, __ATOMIC_RELAXED);
  gm_free(p);
}

static void *worker(void *arg) {
  int me = (int)(intptr_t)arg, to = (me + 1) % WORKERS;
  unsigned long long rs = 0x51ed27a1ULL * (unsigned long long)(me + 3);
  unsigned char *hold[HOLD] = {0};
  unsigned long ops = 0;
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
    unsigned k = (unsigned)(unit_rand(&rs) % HOLD);
    if (hold[k]) {
      unsigned char *p = hold[k];
      hold[k] = NULL;
      if (unit_rand(&rs) & 1) {
        check_free(p);
      } else { /* the other worker frees it */
        unsigned m = (unsigned)(unit_rand(&rs) % MAIL);
        pthread_mutex_lock(&mailmu[to]);
        unsigned char *old = mail[to][m];
        mail[to][m] = p;
        pthread_mutex_unlock(&mailmu[to]);
        if (old)
          check_free(old);
      }
    }
    /* Half the time a small block, mostly fast paths: a cache whose owner
     * is always in its slow path is never taken. */
    size_t n = unit_rand(&rs) & 1 ? 80 + unit_rand(&rs) % 1000 : sizes[unit_rand(&rs) % NSIZES];
    unsigned char *p = gm_malloc(n);
    if (!p) {
      __atomic_store_n(&bad, 2, __ATOMIC_RELAXED);
      break;
    }
    mark(p, n);
    hold[k] = p;
    /* Mail for me: its blocks were allocated by the other worker. */
    unsigned m = (unsigned)(unit_rand(&rs) % MAIL);
    pthread_mutex_lock(&mailmu[me]);
    unsigned char *q = mail[me][m];
    mail[me][m] = NULL;
    pthread_mutex_unlock(&mailmu[me]);
    if (q)
      check_free(q);
    if ((++ops & 63) == 0)
      __atomic_fetch_add(&progress, 1ul, __ATOMIC_RELAXED);
  }
  for (unsigned k = 0; k < HOLD; k++)
    if (hold[k])
      check_free(hold[k]);
  __atomic_fetch_add(&ops_total, ops, __ATOMIC_RELAXED);
  return NULL;
}

int main(void) {
  if (UNDER_TSAN || !gm_sys_membarrier()) {
    printf("skipped: %s\n", UNDER_TSAN ? "ThreadSanitizer" : "no membarrier(2), nothing is taken");
    return check_summary();
  }
  for (int w = 0; w < WORKERS; w++)
    pthread_mutex_init(&mailmu[w], NULL);
  pthread_t t[WORKERS];
  for (int w = 0; w < WORKERS; w++)
    CHECK(pthread_create(&t[w], NULL, worker, (void *)(intptr_t)w) == 0, "pthread_create");
  /* A count of takes, not a time (a second or two on an idle machine),
   * once the workers are under way. */
  while (__atomic_load_n(&progress, __ATOMIC_RELAXED) < 4)
    sched_yield();
  unsigned long reclaimed = 0, trimmed = 0;
  for (int round = 0; round < 50000 && (reclaimed < 1000 || trimmed < 1000) &&
                      !__atomic_load_n(&bad, __ATOMIC_RELAXED);
       round++) {
    reclaimed += gm_mcache_reclaim_idle(true);
    sched_yield(); /* let the workers refill what was taken */
    trimmed += gm_mcache_trim(0);
    sched_yield();
  }
  stop = 1;
  for (int w = 0; w < WORKERS; w++)
    pthread_join(t[w], NULL);
  for (int w = 0; w < WORKERS; w++)
    for (int m = 0; m < MAIL; m++)
      if (mail[w][m]) {
        check_free(mail[w][m]);
        mail[w][m] = NULL;
      }
  printf("%lu caches reclaimed and %lu listed spans trimmed by force while the workers made %lu "
         "mallocs\n",
         reclaimed, trimmed, ops_total);
  CHECK(bad == 0, "a block was damaged or malloc failed (%d) while takers took the caches", bad);
  /* A loaded machine runs the workers little and finds them in their slow
   * paths often (a cache then is not taken): ask for a take of each kind. */
  CHECK(reclaimed > 0 && trimmed > 0, "no take (%lu, %lu): the race was not exercised", reclaimed,
        trimmed);
  gm_thread_flush();
  gm_mcache_flush_spares(true); /* the exited workers' caches */
  gm_census_t c;
  gm_heap_census(&c);
  CHECK(c.error == NULL, "census: %s", c.error ? c.error : "");
  CHECK(c.live_objects == 0, "live objects %zu after everything was freed", c.live_objects);
  CHECK(c.cached_spans == 0, "%zu cached spans after the workers exited", c.cached_spans);
  return check_summary();
}
