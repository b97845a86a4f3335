/* gcsweep.c: the sweep (Go's mspan.sweep), with the world stopped.
 *
 * In one pass over a span's words, as Go's sweep does with allocBits =
 * gcmarkBits: what was allocated (alloc_bits, or below freeindex) and is
 * marked and not freed by gm_gc_free stays; the rest is free again; the
 * mark word and the free word are cleared; freeindex goes back to 0 and
 * the allocCache is reloaded. malloc spans fold their free bitmaps the
 * same way (span.c); this is that loop with the mark word in it, kept
 * apart so the malloc sweep is untouched.
 *
 * v1 sweeps every GC span inside the pause, those cached by threads too
 * (Go sweeps lazily and in the background and keeps cached spans apart
 * with sweepgen): the allocation fast path then never meets an unswept
 * span. Its cost is a few instructions per 64 slots. Spans left empty
 * (and not cached) go on a list the collector gives back to the heap once
 * the world runs again. */
#include "gc.h"

#include "error.h"

static unsigned sweep_span(gm_mspan_t *s, uint64_t *freed_objects) {
  uint64_t *mark = s->gcmark_bits;
  unsigned fi = s->freeindex, nw = s->nwords, nalloc = 0, nfreed = 0;
  bool uncoll = gm_gc_kind(s) == GM_GC_UNCOLL;
  for (unsigned w = 0; w < nw; w++) {
    uint64_t *a = gm_span_abits(s, w), *r = gm_span_rfree(s, w);
    uint64_t slots = gm_span_slot_mask(s, w);
    uint64_t was = *a;
    unsigned lo = w * 64;
    if (fi >= lo + 64)
      was = ~0ULL;
    else if (fi > lo)
      was |= (1ULL << (fi - lo)) - 1;
    was &= slots;
    uint64_t keep = was & ~*r & (uncoll ? ~0ULL : mark[w]);
    *a = keep | ~slots;
    *r = 0;
    *gm_span_lfree(s, w) = 0;
    mark[w] = 0;
    nalloc += gm_popcount64(keep);
    nfreed += gm_popcount64(was & ~keep);
  }
#if GM_DEBUG
  /* The invariants the next cycle's mark relies on. */
  for (unsigned w = 0; w < nw; w++)
    if (mark[w] || (~*gm_span_abits(s, w) & ~gm_span_slot_mask(s, w)) || *gm_span_rfree(s, w))
      gm_fatal("gm_gc: span inconsistent after sweep", (void *)s->base, "mark/alloc/free words");
  if (gm_load_relaxed(&s->state) != GM_SPAN_GC || gm_load_relaxed(&s->small_bytes) != 0)
    gm_fatal("gm_gc: not a GC span in a GC list", (void *)s->base, "state");
#endif
  s->alloc_count = (uint16_t)nalloc;
  if (nfreed)
    s->needzero = 1;
  *freed_objects += nfreed;
  s->alloc_cache = ~gm_span_abits(s, 0)[0];
  gm_store_release(&s->freeindex, (uint16_t)0);
  return nalloc;
}

static void retire(gm_mspan_t *s, gm_mspan_t **dead) {
  gm_fixalloc_free(&gm_gc.markalloc, s->gcmark_bits);
  s->gcmark_bits = NULL;
  gm_gc.heap_bytes -= s->npages << GM_PAGE_SHIFT;
  gm_store_release(&s->state, (uint8_t)GM_SPAN_DEAD); /* out of any later mark's sight */
  s->next = *dead;
  *dead = s;
}

size_t gm_gc_sweep_all(gm_mspan_t **dead, uint64_t *freed_objects) {
  size_t kept = 0;
  for (unsigned k = 0; k < GM_GC_KINDS; k++)
    for (unsigned c = 1; c < GM_NUM_CLASSES; c++) {
      gm_mspan_t *list = gm_gc.partial[k][c], *full = gm_gc.full[k][c], *next;
      gm_gc.partial[k][c] = gm_gc.full[k][c] = NULL;
      for (unsigned pass = 0; pass < 2; pass++, list = full)
        for (gm_mspan_t *s = list; s; s = next) {
          next = s->next;
          unsigned n = sweep_span(s, freed_objects);
          kept += (size_t)n * s->elemsize;
          if (n == 0)
            retire(s, dead);
          else
            gm_gc_list_push(n < s->nelems ? &gm_gc.partial[k][c] : &gm_gc.full[k][c], s);
        }
    }
  for (gm_gc_thread_t *t = gm_gc.threads; t; t = t->next)
    for (unsigned k = 0; k < GM_GC_KINDS; k++)
      for (unsigned c = 1; c < GM_NUM_CLASSES; c++)
        if (t->alloc[k][c])
          kept += (size_t)sweep_span(t->alloc[k][c], freed_objects) * t->alloc[k][c]->elemsize;
  gm_mspan_t *next;
  for (gm_mspan_t *s = gm_gc.large; s; s = next) {
    next = s->next;
    GM_ASSERT(gm_load_relaxed(&s->state) == GM_SPAN_GC_LARGE && s->gcmark_bits);
    if (gm_gc_kind(s) == GM_GC_UNCOLL || (s->gcmark_bits[0] & 1)) {
      s->gcmark_bits[0] = 0;
      kept += s->elemsize;
    } else {
      gm_gc_list_remove(&gm_gc.large, s);
      (*freed_objects)++;
      retire(s, dead);
    }
  }
  return kept;
}
