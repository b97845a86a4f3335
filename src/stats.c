/* stats.c: the heap census (see stats.h). */
#include "stats.h"

#include "arena.h"
#include "mcache.h"
#include "mcentral.h"
#include "mheap.h"

#include <string.h>

/* Live objects of a small span: allocated (alloc_bits, or below freeindex)
 * minus those freed but not yet swept. */
static size_t span_live(gm_mspan_t *s) {
  const uint64_t *a = gm_span_alloc_bits(s), *l = gm_span_local_free(s), *r = gm_span_remote_free(s);
  size_t fi = s->freeindex, n = 0;
  for (unsigned w = 0; w < s->nwords; w++) {
    uint64_t m = a[w];
    size_t lo = (size_t)w * 64;
    if (fi >= lo + 64)
      m = ~0ULL;
    else if (fi > lo)
      m |= (1ULL << (fi - lo)) - 1;
    unsigned tail = (unsigned)s->nelems & 63;
    if (w == (unsigned)s->nwords - 1u && tail)
      m &= ~(~0ULL << tail);
    m &= ~(l[w] | gm_load_relaxed(&r[w]));
    n += gm_popcount64(m);
  }
  return n;
}

static void census_arena(gm_heaparena_t *ha, void *arg) {
  gm_census_t *c = arg;
  c->arenas++;
  for (size_t w = 0; w < GM_PAGES_PER_ARENA / 64; w++) {
    uint64_t bits = ha->page_in_use[w];
    while (bits) {
      size_t i = w * 64 + gm_ctz64(bits);
      bits &= bits - 1;
      gm_mspan_t *s = ha->spans[i];
      uintptr_t page = ha->base + (i << GM_PAGE_SHIFT);
      if (!s || s->base != page) {
        if (!c->error)
          c->error = "page_in_use bit without a span starting there";
        continue;
      }
      c->span_pages += s->npages;
      uint8_t st = s->state;
      if (st == GM_SPAN_LARGE) {
        c->large_spans++;
        c->live_objects++;
        c->live_bytes += s->elemsize;
        c->live_by_class[0]++;
        continue;
      }
      c->small_spans++;
      if (st == GM_SPAN_CACHED)
        c->cached_spans++;
      else if (st == GM_SPAN_PARTIAL)
        c->partial_spans++;
      else if (st == GM_SPAN_FULL)
        c->full_spans++;
      else if (!c->error)
        c->error = "in-use page bit on a dead span";
      size_t live = span_live(s);
      c->live_objects += live;
      c->live_bytes += live * s->elemsize;
      c->live_by_class[gm_spanclass_sizeclass(s->spanclass)] += live;
      const char *err = gm_span_check(s);
      if (err && !c->error)
        c->error = err;
    }
  }
}

void gm_heap_census(gm_census_t *c) {
  memset(c, 0, sizeof *c);
  if (gm_load_acquire(&gm_init_state) != 2)
    gm_init();
  c->mcaches = gm_mcache_count();
  gm_mcentral_lock_all();
  gm_lock(&gm_heap.lock);
  gm_arena_for_each(census_arena, c);
  c->total_pages = gm_pagealloc_total_pages(&gm_heap.pages);
  c->free_pages = gm_pagealloc_free_pages(&gm_heap.pages);
  c->scav_pages = gm_pagealloc_scavenged_pages(&gm_heap.pages);
  if (!c->error && c->span_pages + c->free_pages != c->total_pages)
    c->error = "span pages + free pages != pages in the heap";
  if (!c->error && c->span_pages != gm_heap.small_pages + gm_heap.large_pages)
    c->error = "span pages disagree with the heap counters";
  if (!c->error)
    c->error = gm_pagealloc_check(&gm_heap.pages);
  gm_unlock(&gm_heap.lock);
  gm_mcentral_unlock_all();
}
