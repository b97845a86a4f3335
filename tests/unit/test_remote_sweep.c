/* test_remote_sweep.c: the owner's sweeps of spans other threads freed
 * into (mcache.c).
 *
 * 1. In place: the main thread exhausts its current span of one class; a
 *    second thread frees every other block of it (half the span, all
 *    remote). The next malloc must sweep the span in place and keep
 *    allocating from it: the new block lies in it, it is still the
 *    cache's current span, and mcentral never swept it (its sweeps count
 *    into the shared class counters, the owner's into its own cache).
 *    It used to go to mcentral, which swept it under its lock, and come
 *    back swept again.
 * 2. Emptied: the span swept so (half its slots allocated in alloc_bits)
 *    is exhausted again and every block freed by the other thread, which
 *    the owner sweeps with plain loads and stores (sweep_emptied): every
 *    slot must come back exactly once (the span hands out each of its
 *    slots again, then runs out), the counters must add up (census), and
 *    a second free of a block freed remotely and swept, not yet handed
 *    out again, is still reported as a double free, from the owner and
 *    from another thread alike. */
#include "unit.h"

#include "gomalloc.h"
#include "mcache.h"
#include "span.h"
#include "stats.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIZE 1024 /* 8 objects a span */
#define MAXN 512

static void *blk[MAXN];
static int nblk, from, step;

static void *free_some(void *arg) {
  (void)arg;
  for (int i = from; i < nblk; i += step)
    gm_free(blk[i]);
  return NULL;
}
static void remote_free(int first, int stride) {
  from = first;
  step = stride;
  pthread_t t;
  pthread_create(&t, NULL, free_some, NULL);
  pthread_join(t, NULL);
}

static size_t spc_of(size_t size) { return gm_size_to_spanclass(size); }

/* Fill the current span of SIZE's class to the end; its blocks in blk. */
static gm_mspan_t *exhaust(void) {
  size_t spc = spc_of(SIZE);
  gm_free(gm_malloc(SIZE)); /* a cache and a span of the class */
  gm_mcache_t *c = gm_tls_mcache;
  gm_mspan_t *s = c->alloc[spc];
  nblk = 0;
  /* The freed block sits on the hot stack: take it first. */
  for (;;) {
    void *p = gm_malloc(SIZE);
    if ((uintptr_t)p < s->base || (uintptr_t)p >= gm_span_limit(s)) {
      gm_free(p); /* a new span: start again from it */
      return NULL;
    }
    blk[nblk++] = p;
    if (s->alloc_cache == 0 && s->freeindex == s->nelems)
      return s;
  }
}

static int in_span(const gm_mspan_t *s, const void *p) {
  return (uintptr_t)p >= s->base && (uintptr_t)p < gm_span_limit(s);
}

static void test_in_place(void) {
  gm_mspan_t *s = NULL;
  for (int k = 0; k < 4 && !s; k++)
    s = exhaust();
  CHECK(s != NULL, "could not exhaust a span of %d-byte blocks", SIZE);
  if (!s)
    return;
  size_t spc = spc_of(SIZE);
  CHECK(nblk == s->nelems, "exhausted span: %d blocks of %u", nblk, (unsigned)s->nelems);
  remote_free(0, 2); /* half the span */
  uint64_t shared_before = gm_load_relaxed(&gm_class_counts[spc].nfree);
  void *p = gm_malloc(SIZE);
  CHECK(in_span(s, p), "in place: the next block %p is not in the half-freed span", p);
  CHECK(gm_tls_mcache->alloc[spc] == s, "in place: the span is no longer current");
  CHECK(s->state == GM_SPAN_CACHED && s->owner == gm_tls_mcache, "in place: span state %u",
        (unsigned)s->state);
  CHECK(gm_load_relaxed(&gm_class_counts[spc].nfree) == shared_before,
        "in place: mcentral swept the span (shared free count %llu -> %llu)",
        (unsigned long long)shared_before,
        (unsigned long long)gm_load_relaxed(&gm_class_counts[spc].nfree));
  gm_free(p);
  for (int i = 1; i < nblk; i += 2)
    gm_free(blk[i]);
  gm_thread_flush();
}

static gm_mspan_t *emptied;
static void *again[MAXN];
static int nagain;

/* Exhaust a span; have another thread free its odd slots, which the next
 * mallocs take back after a sweep in place (the even ones are allocated
 * in alloc_bits now); then have it free every block. Slot i's block is
 * blk[i]. */
static int setup_emptied(void) {
  gm_mspan_t *s = NULL;
  for (int k = 0; k < 4 && !s; k++)
    s = exhaust();
  if (!s)
    return 0;
  remote_free(1, 2);
  for (int i = 1; i < nblk; i += 2) {
    void *p = gm_malloc(SIZE);
    if (!in_span(s, p))
      return 0;
    blk[((uintptr_t)p - s->base) / s->elemsize] = p;
  }
  if (s->alloc_cache || s->freeindex != s->nelems)
    return 0;
  remote_free(0, 1);
  emptied = s;
  return 1;
}

static void test_emptied(void) {
  if (!setup_emptied()) {
    CHECK(0, "could not exhaust, half free and refill a span of %d-byte blocks", SIZE);
    return;
  }
  gm_mspan_t *s = emptied;
  /* Every slot once, lowest first, then the span runs out. */
  nagain = 0;
  for (int i = 0; i < s->nelems; i++)
    again[nagain++] = gm_malloc(SIZE);
  int same = 1;
  for (int i = 0; i < nagain; i++)
    same &= again[i] == (void *)(s->base + (size_t)i * s->elemsize);
  CHECK(same, "emptied: the swept span did not hand out each slot once, in order");
  CHECK(s->alloc_cache == 0 && s->freeindex == s->nelems, "emptied: span not exhausted again");
  CHECK(gm_span_check(s) == NULL, "emptied: %s", gm_span_check(s));
  void *extra = gm_malloc(SIZE);
  CHECK(!in_span(s, extra), "emptied: a slot came out twice");
  gm_free(extra);
  for (int i = 0; i < nagain; i++)
    gm_free(again[i]);
  gm_thread_flush();
  gm_census_t c;
  gm_heap_census(&c);
  CHECK(c.error == NULL, "census: %s", c.error ? c.error : "");
}

/* Runs fn in a child that must die of SIGABRT with "double free" on stderr. */
static void expect_double_free(const char *what, void (*fn)(void)) {
  unit_expect_abort(what, fn, "double free");
}

/* The span emptied by the other thread is swept by the next malloc, which
 * takes slot 0: slot 1's block was freed and is free now. */
static void swept_then_owner_frees(void) {
  if (!setup_emptied())
    _exit(3);
  void *p = gm_malloc(SIZE);
  if (p != blk[0])
    _exit(4);
  gm_free(blk[1]);
}
static void swept_then_remote_frees(void) {
  if (!setup_emptied())
    _exit(3);
  void *p = gm_malloc(SIZE);
  if (p != blk[0])
    _exit(4);
  remote_free(1, MAXN); /* blk[1] only */
}

int main(void) {
#if GM_DEBUG
  /* The tests follow slots by address; the debug heap moves each block
   * inside a larger slot (debugheap.c). */
  printf("skipped: debug build\n");
  return check_summary();
#endif
  test_in_place();
  test_emptied();
  expect_double_free("owner's free of a block freed remotely and swept", swept_then_owner_frees);
  expect_double_free("remote free of a block freed remotely and swept", swept_then_remote_frees);
  gm_thread_flush();
  gm_census_t c;
  gm_heap_census(&c);
  CHECK(c.error == NULL, "census: %s", c.error ? c.error : "");
  CHECK(c.live_objects == 0, "live objects %zu at the end", c.live_objects);
  return check_summary();
}
