/* Hot reuse (mcache_hot.c): an owner's free is handed out again by its
 * next malloc of the class, and nothing about the bitmaps or the checks
 * gives way for it.
 *
 *   lifo       free then malloc of one class returns the same block; k
 *              frees come back in reverse order; the slot's local_free bit
 *              is set while it waits and clear once handed out.
 *   double     a second free of a slot waiting on a hot stack, and a free
 *              by another thread of such a slot, abort naming "double
 *              free" (forked children with an alarm).
 *   model      randomized: one thread allocates, fills each block with a
 *              pattern of its address and size, frees at random, hands
 *              some blocks to a second thread that frees them (remote
 *              frees), flushes its cache now and then (the stacks are
 *              dropped, the spans swept by mcentral), and lets the
 *              reclaimer take its spans; every block is checked on free,
 *              no two live blocks overlap, and the heap census holds.
 *   exit       threads that free into their stacks and exit: nothing is
 *              lost, the census finds no live object afterwards.
 *   calloc     blocks dirtied and freed onto the stacks of classes whose
 *              spans are fresh (known zero): calloc of those classes still
 *              returns zeroes (a hot slot is always dirty; calloc takes
 *              none, and popping does not mark the span).
 *   footprint  a cache's stacks are set up class by class as it takes its
 *              first span of each: the main thread's stacks, after a few
 *              classes were used, have few resident pages (mincore), not
 *              all 17 of them (each class's bottom entry written when the
 *              cache was made: 70 KiB a thread).
 * GM_OPS scales the model, GM_SEED picks its seed. */
#include "unit.h"

#include "gomalloc.h"
#include "mcache.h"
#include "span.h"
#include "stats.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t pattern(const void *p, size_t size, size_t i) {
  uint64_t x = ((uint64_t)(uintptr_t)p ^ (size * 0x9e3779b97f4a7c15ULL)) + i * 0xbf58476d1ce4e5b9ULL;
  return x ^ (x >> 29);
}
static void fill(void *p, size_t size) {
  for (size_t i = 0; i + 8 <= size; i += 8) {
    uint64_t w = pattern(p, size, i);
    memcpy((char *)p + i, &w, 8);
  }
}
static int intact(const void *p, size_t size) {
  for (size_t i = 0; i + 8 <= size; i += 8) {
    uint64_t w;
    memcpy(&w, (const char *)p + i, 8);
    if (w != pattern(p, size, i))
      return 0;
  }
  return 1;
}

/* Is p's slot marked freed by its owner (local_free)? */
static int local_free_bit(void *p) {
  gm_mspan_t *s = gm_span_of((uintptr_t)p);
  size_t idx = ((uintptr_t)p - s->base) / s->elemsize;
  return (int)((*gm_span_lfree(s, idx / 64) >> (idx % 64)) & 1);
}

/* First, while the classes' spans are fresh (needzero clear). */
static void test_calloc(void) {
  check_section("calloc");
  for (size_t size = 16; size <= 2048; size *= 2) {
    enum { K = 4 };
    void *b[K];
    for (int i = 0; i < K; i++) {
      b[i] = gm_malloc(size);
      memset(b[i], 0xa5, size);
    }
    for (int i = 0; i < K; i++)
      gm_free(b[i]);
    for (int i = 0; i < K; i++) {
      unsigned char *q = gm_calloc(1, size);
      size_t dirty = 0;
      for (size_t k = 0; k < size; k++)
        dirty += q[k] != 0;
      CHECK(dirty == 0, "calloc(1, %zu) after frees of dirty blocks: %zu bytes not zero", size,
            dirty);
      b[i] = q;
    }
    for (int i = 0; i < K; i++)
      gm_free(b[i]);
  }
}

static void test_lifo(void) {
  check_section("lifo");
  void *warm = gm_malloc(48); /* the thread's cache exists */
  void *p = gm_malloc(48);
  gm_free(p);
  CHECK(local_free_bit(p), "a freed slot waiting on the stack has its local_free bit set");
  void *q = gm_malloc(48);
  CHECK(q == p, "free then malloc of one class: expected %p again, got %p", p, q);
  CHECK(!local_free_bit(q), "a slot handed out again has its local_free bit clear");
  enum { K = 8 };
  void *b[K];
  for (int i = 0; i < K; i++)
    b[i] = gm_malloc(100);
  for (int i = 0; i < K; i++)
    gm_free(b[i]);
  void *r[K];
  for (int i = K - 1; i >= 0; i--) {
    r[i] = gm_malloc(100);
    CHECK(r[i] == b[i], "LIFO: expected block %d (%p), got %p", i, b[i], r[i]);
  }
  for (int i = 0; i < K; i++)
    gm_free(r[i]);
  gm_free(q);
  gm_free(warm);
}

/* Runs fn in a child that must die of SIGABRT with "double free" on stderr. */
static void expect_double_free(const char *what, void (*fn)(void)) {
  unit_expect_abort(what, fn, "double free");
}

static void *victim;
static void twice(void) {
  void *p = gm_malloc(64);
  gm_free(p); /* on the hot stack now */
  gm_free(p);
}
static void twice_after_others(void) {
  void *a = gm_malloc(64), *b = gm_malloc(64);
  gm_free(a);
  gm_free(b); /* a is below b on the stack */
  gm_free(a);
}
static void *remote_free(void *arg) {
  (void)arg;
  gm_free(victim);
  return NULL;
}
static void remote_after_hot(void) {
  victim = gm_malloc(64);
  gm_free(victim); /* on the owner's hot stack */
  pthread_t t;
  pthread_create(&t, NULL, remote_free, NULL);
  pthread_join(t, NULL);
}

static void test_double(void) {
  check_section("double free of a hot slot");
  expect_double_free("free twice", twice);
  expect_double_free("free twice, another free between", twice_after_others);
  expect_double_free("owner frees, another thread frees", remote_after_hot);
}

/* ---- the randomized model ---------------------------------------------- */

enum { LIVE = 2048, HANDOFF = 256 };
typedef struct {
  unsigned char *p;
  size_t size;
} blk_t;

static blk_t live[LIVE];
static blk_t handoff[HANDOFF];
static int nhandoff;
static pthread_mutex_t hlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hcond = PTHREAD_COND_INITIALIZER;
static int done;
static unsigned long bad_remote;

static void *remote_worker(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&hlock);
    while (nhandoff == 0 && !done)
      pthread_cond_wait(&hcond, &hlock);
    if (nhandoff == 0 && done) {
      pthread_mutex_unlock(&hlock);
      return NULL;
    }
    blk_t b = handoff[--nhandoff];
    pthread_cond_signal(&hcond);
    pthread_mutex_unlock(&hlock);
    if (!intact(b.p, b.size))
      __atomic_fetch_add(&bad_remote, 1, __ATOMIC_RELAXED);
    gm_free(b.p);
  }
}

static void hand_off(blk_t b) {
  pthread_mutex_lock(&hlock);
  while (nhandoff == HANDOFF)
    pthread_cond_wait(&hcond, &hlock);
  handoff[nhandoff++] = b;
  pthread_cond_signal(&hcond);
  pthread_mutex_unlock(&hlock);
}

static size_t pick_size(unsigned long long *rs) {
  unsigned long long r = unit_rand(rs);
  switch (r % 8) {
  case 0: return 8 + (r >> 8) % 24;            /* the many-slot classes */
  case 1: return 1024 + (r >> 8) % 8192;       /* few slots per span */
  case 2: return 16384 + (r >> 8) % 16384;     /* one or two per span */
  default: return 8 + (r >> 8) % 520;          /* the working set */
  }
}

static void check_no_overlap(void) {
  /* Sort-free check: each live block's span says its slot is allocated
   * (usable size works) and no other live block starts inside it. */
  unsigned long bad = 0;
  for (int i = 0; i < LIVE; i++) {
    if (!live[i].p)
      continue;
    size_t u = gm_usable_size(live[i].p);
    for (int j = i + 1; j < LIVE; j++)
      if (live[j].p && live[j].p >= live[i].p && live[j].p < live[i].p + u)
        bad++;
  }
  CHECK(bad == 0, "model: %lu live blocks overlap", bad);
}

static void test_model(void) {
  check_section("model");
  unsigned long long rs = unit_seed();
  const char *o = getenv("GM_OPS");
  long ops = o ? atol(o) : 400000;
  pthread_t t;
  done = 0;
  bad_remote = 0;
  pthread_create(&t, NULL, remote_worker, NULL);
  unsigned long bad = 0, flushes = 0, reclaims = 0;
  for (long k = 0; k < ops; k++) {
    unsigned long long r = unit_rand(&rs);
    int i = (int)(r % LIVE);
    if (live[i].p) {
      if (!intact(live[i].p, live[i].size))
        bad++;
      if ((r >> 20) % 8 == 0)
        hand_off(live[i]); /* a remote free, maybe of a slot next to hot ones */
      else
        gm_free(live[i].p);
      live[i].p = NULL;
    }
    if ((r >> 24) % 4 != 0) {
      size_t size = pick_size(&rs);
      live[i].p = gm_malloc(size);
      live[i].size = size;
      if (!live[i].p) {
        CHECK(0, "model: malloc(%zu) failed", size);
        break;
      }
      fill(live[i].p, size);
    }
    if ((r >> 32) % 20000 == 0) {
      gm_thread_flush(); /* every span back to mcentral; the stacks go */
      flushes++;
    }
    if ((r >> 32) % 50000 == 1) {
      /* Let another thread's reclaim take this cache's spans: the owner
       * keeps freeing into its stacks' spans meanwhile. */
      gm_mcache_reclaim_idle(true);
      reclaims++;
    }
    if (k % 100000 == 99999)
      check_no_overlap();
  }
  pthread_mutex_lock(&hlock);
  done = 1;
  pthread_cond_broadcast(&hcond);
  pthread_mutex_unlock(&hlock);
  pthread_join(t, NULL);
  CHECK(bad == 0, "model: %lu blocks lost their pattern", bad);
  CHECK(bad_remote == 0, "model: %lu blocks freed remotely lost their pattern", bad_remote);
  check_no_overlap();
  for (int i = 0; i < LIVE; i++) {
    if (live[i].p && !intact(live[i].p, live[i].size))
      bad++;
    gm_free(live[i].p);
    live[i].p = NULL;
  }
  CHECK(bad == 0, "model: %lu blocks lost their pattern at the end", bad);
  (void)flushes;
  (void)reclaims;
}

/* ---- thread exit with full stacks ------------------------------------ */

static void *exiter(void *arg) {
  unsigned long long rs = (unsigned long long)(uintptr_t)arg;
  void *b[64];
  for (int round = 0; round < 50; round++) {
    for (int i = 0; i < 64; i++) {
      size_t size = pick_size(&rs);
      b[i] = gm_malloc(size);
      fill(b[i], size);
      if (!intact(b[i], size))
        return (void *)1;
    }
    for (int i = 0; i < 64; i++)
      gm_free(b[i]); /* into the stacks, which exit drops */
  }
  return NULL;
}

static void test_exit(void) {
  check_section("thread exit");
  for (int k = 0; k < 20; k++) {
    pthread_t t[2];
    void *r[2];
    for (int i = 0; i < 2; i++)
      pthread_create(&t[i], NULL, exiter, (void *)(uintptr_t)(k * 2 + i + 1));
    for (int i = 0; i < 2; i++) {
      pthread_join(t[i], &r[i]);
      CHECK(r[i] == NULL, "exit: a thread's block lost its pattern");
    }
  }
  gm_thread_flush();
  gm_census_t c;
  gm_heap_census(&c);
  CHECK(c.error == NULL, "census: %s", c.error ? c.error : "");
  CHECK(c.live_objects == 0, "census: %zu live objects after every block was freed",
        (size_t)c.live_objects);
}

static void *footprint(void *arg) {
  (void)arg;
  for (size_t n = 16; n <= 256; n *= 2) /* a few classes in use */
    gm_free(gm_malloc(n));
  gm_mcache_t *c = gm_tls_mcache;
  long pg = sysconf(_SC_PAGESIZE);
  uintptr_t lo = (uintptr_t)c->hot & ~(uintptr_t)(pg - 1);
  uintptr_t hi = (uintptr_t)c->hot + GM_HOT_ALL_BYTES;
  size_t npages = (hi - lo + (size_t)pg - 1) / (size_t)pg, resident = 0;
  unsigned char vec[64];
  CHECK(c->hot_on, "a new thread's cache has no stacks");
  if (npages > sizeof vec || mincore((void *)lo, hi - lo, vec) != 0) {
    CHECK(0, "mincore of %zu pages failed", npages);
    return NULL;
  }
  for (size_t i = 0; i < npages; i++)
    resident += vec[i] & 1;
  CHECK(resident <= npages / 2, "%zu of %zu pages of a new thread's hot stacks resident", resident,
        npages);
  return NULL;
}

/* In a new thread, the first test to make one: its cache is a fresh
 * block (no thread has exited yet, so no spare and no freed cache). */
static void test_footprint(void) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, footprint, NULL) == 0, "pthread_create");
  pthread_join(t, NULL);
}

int main(void) {
  test_footprint(); /* first: before other tests use many classes */
  test_calloc();
  test_lifo();
  test_double();
  test_model();
  test_exit();
  return check_summary();
}
