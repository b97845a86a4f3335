/* mcentral lists and mcache refill/flush, observed through the heap
 * census: full spans that get remote frees become partial, spans whose
 * objects are all freed go back to the heap, a thread's cached spans are
 * returned when it exits, and the heap ends with no live object. */
#include "unit.h"

#include "gomalloc.h"
#include "stats.h"

#include <pthread.h>
#include <string.h>

#define N 20000
static void *blocks[N];

static void *alloc_thread(void *arg) {
  size_t size = (size_t)arg;
  for (int i = 0; i < N; i++)
    blocks[i] = gm_malloc(size);
  return NULL;
}

typedef struct {
  int from, to, step;
} range_t;

static void *free_thread(void *arg) {
  range_t *r = arg;
  for (int i = r->from; i < r->to; i += r->step) {
    gm_free(blocks[i]);
    blocks[i] = NULL;
  }
  return NULL;
}

static void run(void *(*fn)(void *), void *arg) {
  pthread_t t;
  pthread_create(&t, NULL, fn, arg);
  pthread_join(t, NULL);
}

int main(void) {
  gm_census_t c0, c;
  gm_heap_census(&c0);
  CHECK(c0.error == NULL, "%s", c0.error);

  /* One thread fills many 48 B spans and exits: its cache is flushed, so
   * every span but none cached sits on the central lists, full. */
  run(alloc_thread, (void *)48);
  gm_heap_census(&c);
  CHECK(c.error == NULL, "%s", c.error);
  CHECK(c.cached_spans == c0.cached_spans, "exited thread left %zu cached spans",
        c.cached_spans - c0.cached_spans);
  CHECK(c.live_objects == c0.live_objects + N, "live objects %zu, expected %zu", c.live_objects,
        c0.live_objects + N);
  size_t spans = (N + 169) / 170;
  CHECK(c.full_spans >= spans - 1, "full spans %zu, expected about %zu", c.full_spans, spans);
  CHECK(c.mcaches == c0.mcaches, "mcache of exited thread still registered");

  /* Another thread frees every other block: all those spans become partial. */
  range_t odd = {1, N, 2};
  run(free_thread, &odd);
  gm_heap_census(&c);
  CHECK(c.error == NULL, "%s", c.error);
  CHECK(c.full_spans <= 1, "full spans after remote frees: %zu", c.full_spans);
  CHECK(c.partial_spans >= spans - 1, "partial spans %zu", c.partial_spans);
  CHECK(c.live_objects == c0.live_objects + N / 2, "live objects %zu", c.live_objects);

  /* Freeing the rest empties the spans: they go back to the heap at once. */
  range_t even = {0, N, 2};
  run(free_thread, &even);
  gm_heap_census(&c);
  CHECK(c.error == NULL, "%s", c.error);
  CHECK(c.live_objects == c0.live_objects, "live objects %zu", c.live_objects);
  CHECK(c.small_spans <= c0.small_spans + 1, "empty spans not returned: %zu small spans",
        c.small_spans);

  /* The freed slots are reused: allocating the same again does not grow
   * the heap. */
  size_t total = c.total_pages;
  run(alloc_thread, (void *)48);
  range_t all = {0, N, 1};
  run(free_thread, &all);
  gm_heap_census(&c);
  CHECK(c.total_pages == total, "heap grew from %zu to %zu pages on reuse", total, c.total_pages);
  CHECK(c.live_objects == c0.live_objects, "live objects %zu", c.live_objects);

  /* Owner-local churn: the cached span is swept in place and reused. */
  void *p[64];
  for (int round = 0; round < 1000; round++) {
    for (int i = 0; i < 64; i++)
      p[i] = gm_malloc(100);
    for (int i = 0; i < 64; i++)
      gm_free(p[i]);
  }
  gm_heap_census(&c);
  CHECK(c.total_pages == total, "churn grew the heap: %zu -> %zu pages", total, c.total_pages);

  /* Large objects: freed straight back, pages coalesce for a bigger one. */
  void *l1 = gm_malloc(1 << 20), *l2 = gm_malloc(1 << 20);
  CHECK(l1 && l2, "large allocation failed");
  gm_free(l1);
  gm_free(l2);
  gm_heap_census(&c);
  CHECK(c.large_spans == 0, "large spans after freeing: %zu", c.large_spans);
  CHECK(c.error == NULL, "%s", c.error);

  gm_thread_flush();
  gm_heap_census(&c);
  CHECK(c.cached_spans == 0, "cached spans after flush: %zu", c.cached_spans);
  CHECK(c.live_objects == 0, "live objects at the end: %zu", c.live_objects);
  return check_summary();
}
