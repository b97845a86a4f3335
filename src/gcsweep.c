/* gcsweep.c: the sweep (Go's mgcsweep.go and mspan.sweep).
 *
 * Sweeping a span is one pass over its words, as Go's sweep does with
 * allocBits = gcmarkBits: what was allocated (alloc_bits, or below
 * freeindex) and is marked and not freed by gm_gc_free stays; the rest is
 * free again; the mark word and the free word are cleared; freeindex goes
 * back to 0 and the allocCache is reloaded. malloc spans fold their free
 * bitmaps the same way (span.c); this is that loop with the mark word in
 * it, kept apart so the malloc sweep is untouched.
 *
 * When. Inside the pause only the spans cached by threads (a few per
 * thread), so that the allocation fast path, which runs unlocked, never
 * meets an unswept span; Go keeps cached spans apart with sweepgen + 1/+3
 * instead. Every other span moves, in O(classes), onto an unswept list,
 * and is swept after the world restarts, as in Go:
 *   - by a thread about to take a span of its class (mcentral.cacheSpan:
 *     the sweep runs just before the span is used, while it is hot, and
 *     an empty span is kept for the taker instead of round-tripping
 *     through the heap);
 *   - by a thread about to grow the heap, until as many pages came back
 *     (mheap.reclaim), so that unswept garbage does not make the heap grow;
 *   - by a reader (free, realloc, size, base) of an unswept span, which
 *     sweeps that span first (its bits are not the truth until then);
 *   - to the end at the start of the next cycle, before the mark
 *     (finishsweep_m), and by gm_gc_collect before it returns (runtime.GC).
 *   - by the background thread (bgsweep), on its ticks and within its CPU
 *     budget (background.c), so that the garbage of a program that stops
 *     allocating collected blocks still goes back to the heap, and from
 *     there to the OS (the test sweep_rss).
 *
 * All of it under gm_gc.lock, so a span is swept or not: Go's "being
 * swept" state (sweepgen - 1) is not needed. Spans that sweep empty go
 * back to the heap at once (gm_gc.lock, then the heap's: the order the
 * allocation path takes them in; never inside the pause, where a stopped
 * thread may hold the heap lock). */
#include "gc.h"

#include "error.h"
#include "mheap.h"
#include "os.h"

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

/* Give s back to the heap (it holds no block). */
static void retire(gm_mspan_t *s) {
  gm_fixalloc_free(&gm_gc.markalloc, s->gcmark_bits);
  s->gcmark_bits = NULL;
  gm_gc.heap_bytes -= s->npages << GM_PAGE_SHIFT;
  gm_gc.nspans--;
  gm_store_release(&s->state, (uint8_t)GM_SPAN_DEAD); /* out of any later mark's sight */
  gm_mheap_free_span(s);
}

static void mark_swept(gm_mspan_t *s) {
  gm_store_relaxed(&s->sweepgen, gm_gc.sweepgen);
  gm_gc.unswept_spans--;
}

/* Sweep small span s, just taken off its unswept list, and file it: full,
 * partial, or (empty) back to the heap unless keep_empty. Returns the
 * objects it holds. */
static unsigned sweep_small(gm_mspan_t *s, bool keep_empty) {
  unsigned n = sweep_span(s, &gm_gc.freed_objects);
  unsigned k = gm_gc_kind(s), c = gm_spanclass_sizeclass(s->spanclass);
  mark_swept(s);
  if (n == 0 && !keep_empty)
    retire(s);
  else
    gm_gc_list_push(n < s->nelems ? &gm_gc.partial[k][c] : &gm_gc.full[k][c], s);
  return n;
}

/* A large span, off the unswept list: kept if marked (or uncollectable).
 * Returns the pages it gave back. */
static size_t sweep_large(gm_mspan_t *s) {
  GM_ASSERT(gm_load_relaxed(&s->state) == GM_SPAN_GC_LARGE && s->gcmark_bits);
  mark_swept(s);
  if (gm_gc_kind(s) == GM_GC_UNCOLL || (s->gcmark_bits[0] & 1)) {
    s->gcmark_bits[0] = 0;
    gm_gc_list_push(&gm_gc.large, s);
    return 0;
  }
  gm_gc.freed_objects++;
  size_t np = s->npages;
  retire(s);
  return np;
}

void gm_gc_sweep_start(void) {
  gm_gc.sweepgen += 2;
  gm_store_relaxed(&gm_gc.sweep_pending, true);
  for (unsigned k = 0; k < GM_GC_KINDS; k++)
    for (unsigned c = 1; c < GM_NUM_CLASSES; c++) {
      GM_ASSERT(!gm_gc.unswept[k][c][0] && !gm_gc.unswept[k][c][1]);
      gm_gc.unswept[k][c][0] = gm_gc.partial[k][c];
      gm_gc.unswept[k][c][1] = gm_gc.full[k][c];
      gm_gc.partial[k][c] = gm_gc.full[k][c] = NULL;
    }
  GM_ASSERT(!gm_gc.unswept_large);
  gm_gc.unswept_large = gm_gc.large;
  gm_gc.large = NULL;
  gm_gc.reclaim_next = 0;
  gm_gc.unswept_spans = gm_gc.nspans; /* less the cached ones, just below */
  for (gm_gc_thread_t *t = gm_gc.threads; t; t = t->next)
    for (unsigned k = 0; k < GM_GC_KINDS; k++)
      for (unsigned c = 1; c < GM_NUM_CLASSES; c++) {
        gm_mspan_t *s = t->alloc[k][c];
        if (s) {
          sweep_span(s, &gm_gc.freed_objects);
          mark_swept(s);
        }
      }
}

void gm_gc_sweep_class_locked(unsigned kind, unsigned cls) {
  if (gm_gc.partial[kind][cls])
    return;
  for (unsigned l = 0; l < 2; l++) {
    gm_mspan_t **head = &gm_gc.unswept[kind][cls][l], *s;
    while ((s = *head) != NULL) {
      gm_gc_list_remove(head, s);
      if (sweep_small(s, true) < s->nelems)
        return; /* on the partial list now */
    }
  }
}

/* Sweep unswept spans, large ones first (one mark bit each, and the most
 * pages), then class by class from the cursor (the classes before it are
 * done), until npages came back or nspans were swept. */
static void sweep_some(size_t npages, size_t nspans) {
  size_t got = 0;
  gm_mspan_t *s;
  if (!gm_gc.sweep_pending)
    return;
  while (got < npages && nspans && (s = gm_gc.unswept_large) != NULL) {
    gm_gc_list_remove(&gm_gc.unswept_large, s);
    got += sweep_large(s);
    nspans--;
  }
  for (unsigned n = GM_GC_KINDS * GM_NUM_CLASSES; gm_gc.reclaim_next < n; gm_gc.reclaim_next++) {
    unsigned i = gm_gc.reclaim_next;
    for (unsigned l = 0; l < 2; l++) {
      gm_mspan_t **head = &gm_gc.unswept[i / GM_NUM_CLASSES][i % GM_NUM_CLASSES][l];
      while ((s = *head) != NULL) {
        if (got >= npages || !nspans)
          return;
        gm_gc_list_remove(head, s);
        size_t np = s->npages;
        if (sweep_small(s, false) == 0)
          got += np;
        nspans--;
      }
    }
  }
  if (!gm_gc.unswept_large) /* every list walked to its end */
    gm_store_relaxed(&gm_gc.sweep_pending, false);
}

void gm_gc_reclaim_locked(size_t npages) { sweep_some(npages, SIZE_MAX); }

/* The background thread's share (Go's bgsweep): a few spans per hold of
 * the lock, so that allocating threads wait little for it, until nothing
 * is left or its CPU budget is spent. It needs no stopping: it touches
 * spans only under the lock, which the collector holds for its cycle. */
void gm_gc_sweep_background(uint64_t deadline) {
  while (gm_load_relaxed(&gm_gc.sweep_pending) && gm_sys_thread_cpu_ns() < deadline) {
    gm_lock(&gm_gc.lock);
    sweep_some(SIZE_MAX, 16);
    gm_unlock(&gm_gc.lock);
  }
}

void gm_gc_sweep_finish_locked(void) {
  sweep_some(SIZE_MAX, SIZE_MAX);
  GM_ASSERT(!gm_gc.sweep_pending && gm_gc.unswept_spans == 0);
}

void gm_gc_sweep_touch_locked(gm_mspan_t *s) {
  uint8_t st = gm_load_relaxed(&s->state);
  if ((st != GM_SPAN_GC && st != GM_SPAN_GC_LARGE) || !gm_gc_unswept(s))
    return;
  if (st == GM_SPAN_GC_LARGE) {
    gm_gc_list_remove(&gm_gc.unswept_large, s);
    sweep_large(s);
    return;
  }
  /* s is on one of its class's two unswept lists; only a head needs to
   * know which. */
  gm_mspan_t **l = gm_gc.unswept[gm_gc_kind(s)][gm_spanclass_sizeclass(s->spanclass)];
  gm_gc_list_remove(l[0] == s ? &l[0] : &l[1], s);
  sweep_small(s, false);
}

void gm_gc_sweep_touch(gm_mspan_t *s) {
  gm_gc_lock();
  gm_gc_sweep_touch_locked(s);
  gm_unlock(&gm_gc.lock);
}
