/* test_owned.c: spans a thread has exhausted stay owned by its cache
 * (mcache.c: full and ready lists), and go back when it stops coming back
 * for them.
 *
 * 1. Reuse: the main thread fills many spans of one class and frees every
 *    block itself, in random order. Its frees must move the spans to its
 *    ready list (notify), and a second fill must take them from there:
 *    every new block lies in a span the first fill used, and the heap does
 *    not grow.
 * 2. Remote: a second thread frees everything the main thread allocated;
 *    the main thread's next fill finds those spans through the remote hint
 *    and reuses them.
 * 3. Trim: after the frees, the thread allocates only another class for a
 *    while. Its slow path must hand the first class's spans back (about
 *    half a second of scavenger ticks), with no call into the library:
 *    none is left on its lists, and their pages are free in the heap.
 * 4. Empty spans: the thread fills and frees the first class again, then at
 *    once fills another class with as many bytes. Before that class turns
 *    to mcentral, the cache must hand back its empty spans, so the heap
 *    does not grow beside them. */
#include "unit.h"

#include "arena.h"
#include "gomalloc.h"
#include "mcache.h"
#include "mheap.h"
#include "pagealloc.h"
#include "stats.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#define N 100000 /* 20 MiB: enough for the scavenger's clock to start */
#define SIZE 200 /* one size class, 8 KiB spans of 40 objects */
#define OTHER 1000

static void *blk[N];

static unsigned char pat(const void *p, size_t i) {
  return (unsigned char)(((uintptr_t)p >> 4) * 13 + i * 5 + 3);
}

static void fill_all(void) {
  for (size_t i = 0; i < N; i++) {
    unsigned char *p = gm_malloc(SIZE);
    CHECK(p != NULL, "malloc(%d) failed", SIZE);
    if (!p)
      exit(1);
    for (size_t k = 0; k < SIZE; k++)
      p[k] = pat(p, k);
    blk[i] = p;
  }
}

static void free_all_shuffled(unsigned long long *rng) {
  for (size_t i = N - 1; i > 0; i--) {
    size_t j = (size_t)(unit_rand(rng) % (i + 1));
    void *t = blk[i];
    blk[i] = blk[j];
    blk[j] = t;
  }
  size_t bad = 0;
  for (size_t i = 0; i < N; i++) {
    const unsigned char *p = blk[i];
    for (size_t k = 0; k < SIZE; k++)
      if (p[k] != pat(p, k)) {
        bad++;
        break;
      }
    gm_free(blk[i]);
  }
  CHECK(bad == 0, "%zu blocks changed while live", bad);
}

/* Spans of the first fill, to tell where later blocks land. */
static gm_mspan_t *first_spans[N];
static size_t nfirst;

static int cmp_ptr(const void *a, const void *b) {
  uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
  return x < y ? -1 : x > y;
}

static void record_spans(void) {
  nfirst = 0;
  for (size_t i = 0; i < N; i++) {
    gm_mspan_t *s = gm_span_of((uintptr_t)blk[i]);
    if (nfirst == 0 || first_spans[nfirst - 1] != s)
      first_spans[nfirst++] = s;
  }
  qsort(first_spans, nfirst, sizeof first_spans[0], cmp_ptr);
}

static size_t blocks_outside_first_spans(void) {
  size_t out = 0;
  for (size_t i = 0; i < N; i++) {
    gm_mspan_t *s = gm_span_of((uintptr_t)blk[i]);
    out += bsearch(&s, first_spans, nfirst, sizeof first_spans[0], cmp_ptr) == NULL;
  }
  return out;
}

static size_t list_len(gm_mspan_t *s, gm_mcache_t *c, unsigned which, size_t *bad) {
  size_t n = 0;
  for (; s; s = s->next, n++)
    if (s->owner != c || s->state != GM_SPAN_CACHED || s->cache_list != which)
      (*bad)++;
  return n;
}

static size_t heap_pages(void) {
  gm_census_t cen;
  gm_heap_census(&cen);
  CHECK(cen.error == NULL, "heap inconsistent: %s", cen.error ? cen.error : "");
  return cen.total_pages;
}

static void *remote_free_all(void *arg) {
  (void)arg;
  for (size_t i = 0; i < N; i++)
    gm_free(blk[i]);
  return NULL;
}

int main(void) {
  unsigned long long rng = unit_seed();
  gm_spanclass_t spc = gm_make_spanclass(gm_size_to_class(SIZE), false);

  /* 1. Reuse after the owner's own frees. */
  fill_all();
  gm_mcache_t *c = gm_tls_mcache;
  record_spans();
  size_t bad = 0;
  size_t nfull = list_len(c->full[spc], c, GM_CLIST_FULL, &bad);
  CHECK(bad == 0, "a listed span is not this cache's");
  CHECK(nfull + 1 >= nfirst, "after the fill, %zu of %zu spans are on the full list", nfull,
        nfirst);
  size_t pages0 = heap_pages();
  free_all_shuffled(&rng);
  size_t nready = list_len(c->ready[spc], c, GM_CLIST_READY, &bad);
  CHECK(bad == 0, "a listed span is not this cache's");
  CHECK(nready + 1 >= nfirst, "after freeing, only %zu of %zu spans are ready", nready, nfirst);
  fill_all();
  CHECK(blocks_outside_first_spans() == 0, "%zu blocks of the second fill in new spans",
        blocks_outside_first_spans());
  CHECK(heap_pages() == pages0, "heap grew from %zu to %zu pages on a refill", pages0,
        heap_pages());

  /* 2. Reuse after another thread's frees. */
  record_spans();
  pthread_t t;
  pthread_create(&t, NULL, remote_free_all, NULL);
  pthread_join(t, NULL);
  fill_all();
  CHECK(blocks_outside_first_spans() == 0,
        "%zu blocks in new spans after remote frees (remote hint not followed)",
        blocks_outside_first_spans());
  free_all_shuffled(&rng);

  /* 3. Trim: the scavenger's clock runs once the heap is big enough, which
   * the fills above made it. Allocate only another class for a while. */
  nready = list_len(c->ready[spc], c, GM_CLIST_READY, &bad) +
           list_len(c->full[spc], c, GM_CLIST_FULL, &bad);
  CHECK(nready > 0, "nothing listed before the trim: the test is not testing");
  void *keep[64] = {0};
  double end = unit_now() + 3.0;
  while (unit_now() < end && (c->ready[spc] || c->full[spc])) {
    for (int i = 0; i < 100000; i++) {
      unsigned k = (unsigned)(unit_rand(&rng) % 64);
      gm_free(keep[k]);
      keep[k] = gm_malloc(OTHER);
    }
  }
  CHECK(c->ready[spc] == NULL && c->full[spc] == NULL,
        "spans of a class the thread stopped using are still listed after 3 s");
  for (int k = 0; k < 64; k++)
    gm_free(keep[k]);
  /* With hot reuse the loop above never reaches a slow path, so the
   * background trimmer, not the owner, takes the spans off the lists and
   * hands them on a moment later: wait (bounded) for them to arrive. */
  gm_census_t cen;
  size_t want = nfirst * gm_class_to_allocnpages[gm_spanclass_sizeclass(spc)];
  end = unit_now() + 5.0;
  do {
    gm_heap_census(&cen);
    if (cen.error != NULL || cen.free_pages + 64 >= want)
      break;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  } while (unit_now() < end);
  CHECK(cen.error == NULL, "heap inconsistent: %s", cen.error ? cen.error : "");
  CHECK(cen.free_pages + 64 >= nfirst * gm_class_to_allocnpages[gm_spanclass_sizeclass(spc)],
        "trimmed spans did not reach the heap: %zu free pages", cen.free_pages);
  /* 4. Empty spans go back before the heap grows. */
  fill_all();
  free_all_shuffled(&rng);
  nready = list_len(c->ready[spc], c, GM_CLIST_READY, &bad);
  CHECK(nready > 0, "no ready span after freeing: the test is not testing");
  size_t pages1 = heap_pages();
  static void *other[N / 2];
  for (size_t i = 0; i < N / 2; i++) {
    other[i] = gm_malloc(2 * SIZE);
    CHECK(other[i] != NULL, "malloc(%d) failed", 2 * SIZE);
  }
  CHECK(heap_pages() == pages1, "heap grew from %zu to %zu pages beside %zu empty spans", pages1,
        heap_pages(), nready);
  for (size_t i = 0; i < N / 2; i++)
    gm_free(other[i]);
  return check_summary();
}
