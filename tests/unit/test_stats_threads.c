/* gm_stats with several threads: randomized workloads with cross-thread
 * frees, checked while the workers are parked at a barrier (their caches
 * still hold spans with allocations no sweep has counted yet), and again
 * after they exit. Also gm_stats racing a running workload: the sums
 * still add up. */
#include "stats_check.h"

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#define THREADS 4
#define SLOTS 8000
#define SHARED 1024
#define ROUNDS 4

static pthread_barrier_t bar;
static void *shared[SHARED]; /* blocks handed between threads */
static uint64_t live_bytes, live_objs, mallocs, frees;
static volatile int racing;

static size_t random_size(unsigned long long *rs) {
  unsigned long long r = unit_rand(rs);
  if (r % 40 == 0)
    return 32769 + (size_t)(unit_rand(rs) % (1u << 19));
  if (r % 5 == 0)
    return 1025 + (size_t)(unit_rand(rs) % 31743);
  return (size_t)(unit_rand(rs) % 1025);
}

static void account_alloc(void *p) {
  __atomic_fetch_add(&live_bytes, block_bytes(p), __ATOMIC_RELAXED);
  __atomic_fetch_add(&live_objs, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&mallocs, 1, __ATOMIC_RELAXED);
}

static void release(void *p) {
  __atomic_fetch_sub(&live_bytes, block_bytes(p), __ATOMIC_RELAXED);
  __atomic_fetch_sub(&live_objs, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&frees, 1, __ATOMIC_RELAXED);
  gm_free(p);
}

static void *worker(void *arg) {
  unsigned long long rs = unit_seed() + (unsigned long long)(uintptr_t)arg * 7919;
  void **mine = calloc(SLOTS, sizeof *mine);
  for (int round = 0; round < ROUNDS; round++) {
    for (int n = 0; n < 30000; n++) {
      int i = (int)(unit_rand(&rs) % SLOTS);
      if (mine[i]) {
        void *p = mine[i];
        mine[i] = NULL;
        if (unit_rand(&rs) % 3 == 0) {
          /* Hand it to whoever frees it next: a remote free, usually. */
          p = __atomic_exchange_n(&shared[unit_rand(&rs) % SHARED], p, __ATOMIC_ACQ_REL);
          if (!p)
            continue;
        }
        release(p);
      } else {
        void *p = gm_malloc(random_size(&rs));
        CHECK(p != NULL, "malloc failed");
        account_alloc(p);
        mine[i] = p;
      }
    }
    pthread_barrier_wait(&bar); /* main checks the parked heap */
    pthread_barrier_wait(&bar);
  }
  for (int i = 0; i < SLOTS; i++)
    if (mine[i])
      release(mine[i]);
  free(mine);
  return NULL;
}

static void check_model(const struct gm_stats *base, const struct gm_stats *st, const char *when) {
  check_quiescent(st, when);
  CHECK(st->object_bytes - base->object_bytes == live_bytes,
        "%s: in-use bytes grew by %llu, live blocks' sizes sum to %llu", when,
        (unsigned long long)(st->object_bytes - base->object_bytes),
        (unsigned long long)live_bytes);
  CHECK(st->objects - base->objects == live_objs, "%s: objects %llu, expected %llu", when,
        (unsigned long long)(st->objects - base->objects), (unsigned long long)live_objs);
  CHECK(st->allocs - base->allocs == mallocs, "%s: allocs %llu, made %llu", when,
        (unsigned long long)(st->allocs - base->allocs), (unsigned long long)mallocs);
  CHECK(st->frees - base->frees == frees, "%s: frees %llu, made %llu", when,
        (unsigned long long)(st->frees - base->frees), (unsigned long long)frees);
}

static void *racer(void *arg) {
  (void)arg;
  struct gm_stats *st = malloc(sizeof *st);
  while (__atomic_load_n(&racing, __ATOMIC_ACQUIRE)) {
    take_stats(st);
    check_sums(st, "racing");
    usleep(100); /* let the workers get on between walks */
  }
  free(st);
  return NULL;
}

/* gm_stats reads the bitmaps of spans other threads own while they sweep
 * them with plain stores: by design the numbers are then only approximate
 * (the sums still hold). ThreadSanitizer rightly calls that a race, so
 * under it the racing phase is left out. */
#if defined(__SANITIZE_THREAD__)
#define RACE_STATS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RACE_STATS 0
#endif
#endif
#ifndef RACE_STATS
#define RACE_STATS 1
#endif

static struct gm_stats base, st;

int main(void) {
  take_stats(&base);
  pthread_barrier_init(&bar, NULL, THREADS + 1);
  pthread_t t[THREADS], r;
  racing = RACE_STATS;
  pthread_create(&r, NULL, racer, NULL);
  for (int i = 0; i < THREADS; i++)
    pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
  for (int round = 0; round < ROUNDS; round++) {
    pthread_barrier_wait(&bar);
    if (round == 0) {
      __atomic_store_n(&racing, 0, __ATOMIC_RELEASE);
      pthread_join(r, NULL);
    }
    char when[32];
    snprintf(when, sizeof when, "parked round %d", round);
    take_stats(&st);
    check_model(&base, &st, when);
    CHECK(st.threads >= THREADS, "%s: %llu threads with caches", when,
          (unsigned long long)st.threads);
    CHECK(st.cached_spans > 0, "%s: no cached spans", when);
    pthread_barrier_wait(&bar);
  }
  for (int i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
  for (int i = 0; i < SHARED; i++)
    if (shared[i])
      release(shared[i]);
  take_stats(&st);
  check_model(&base, &st, "joined");
  CHECK(st.objects == base.objects, "objects left %llu", (unsigned long long)st.objects);
  CHECK(st.threads == base.threads, "threads %llu, at start %llu", (unsigned long long)st.threads,
        (unsigned long long)base.threads);
  return check_summary();
}
