/* free.c: every way a block is freed, and every fault a free reports.
 *
 * The fast path is inline in free.h; this file holds the rest: the slow
 * path (large blocks and bad pointers), pointers outside the window, the
 * free by a thread that does not own the span, and the check that realloc
 * and malloc_usable_size make of their pointer.
 *
 * Where we leave Go, and why (the rest of the list is in malloc.c):
 *
 *   - Explicit free. Go has no free: the garbage collector marks live
 *     objects and the sweeper makes allocBits = gcmarkBits. Here free(p)
 *     records the slot in one of two free bitmaps of its span (plain writes
 *     by the owning thread, atomic OR by any other), and the next sweep of
 *     the span folds them into allocBits, exactly where Go's sweep would
 *     fold in the mark bits. Allocation stays Go's: it never writes
 *     allocBits. The state machine of a span is in mcentral.c.
 *   - Hot reuse. The owner's free also pushes the slot on its cache's hot
 *     stack for the class, and the next malloc of the class hands it out
 *     again at once, clearing its local_free bit (mcache_hot.c): a slot
 *     freed by its owner no longer waits for a sweep.
 *   - Large frees return pages at once (Go waits for the sweeper).
 *
 * Owner and remote. A small span is allocated from by one thread at a
 * time, the owner of the mcache holding it. Its frees are plain stores to
 * local_free, and count down notify_ctr: the free that brings it to 0 tells
 * the cache that one of its full spans is worth a sweep (mcache.c). Any
 * other thread's free ORs the bit into remote_free (gm_free_remote): if the
 * span is still cached, it may leave the owner a hint; if it sits on an
 * mcentral list, a full span becomes partial and an emptied one goes back
 * to the heap, under the central lock. A remote free makes the slot
 * allocatable only at a sweep (span.c); an owner's free, at once, through
 * its hot stack (mcache_hot.c), whose pop is the one place malloc writes a
 * free bitmap: the owner's own local_free word.
 *
 * Checks are always on. A release build catches what costs a load and a
 * branch (debugheap.h adds the rest in debug builds): a pointer in no span
 * or not at an object's start, and a slot that is not allocated. The
 * bitmaps are interleaved word by word, so the words free must test sit
 * next to the one it writes, and the whole test is one bit of their OR. A
 * bad free that got through would not hurt our metadata, which lives out
 * of line, but would free the wrong slot, or one that by then holds another
 * block: user data corrupted far from the bug. So a bad free aborts at
 * once, with one line naming the fault (error.h); the fast path only
 * detects, and bad_pointer below says which fault it was. The wording of a
 * double free is gm_fatal_double_free's (error.c), shared with the sweep,
 * which catches what no single free can see (two threads freeing one block
 * at once). A slot waiting on a hot stack is free in the bitmaps (its
 * local_free bit is set until malloc pops it), so freeing it again, here
 * or from another thread, is the double free it is. */
#include "free.h"

#include "error.h"
#include "mcentral.h"
#include "mheap.h"

static inline bool span_in_use_small(const gm_mspan_t *s) {
  uint8_t st = gm_load_relaxed(&s->state);
  return st >= GM_SPAN_CACHED && st <= GM_SPAN_FULL;
}

/* Is slot idx of small span s allocated right now (not free, not freed)? */
static bool slot_allocated(gm_mspan_t *s, size_t idx) {
  size_t w = idx / 64;
  uint64_t bit = 1ULL << (idx % 64);
  if ((gm_load_relaxed(gm_span_lfree(s, w)) | gm_load_relaxed(gm_span_rfree(s, w))) & bit)
    return false;
  return idx < gm_load_acquire(&s->freeindex) || (gm_load_relaxed(gm_span_abits(s, w)) & bit);
}

/* Diagnose a pointer that is not a live block and abort. op is the call
 * ("free", "realloc", "malloc_usable_size"). */
GM_NOINLINE GM_COLD static void bad_pointer(const char *op, const void *p, gm_mspan_t *s) {
  char fault[64];
  const char *detail;
  bool dbl = false;
  uintptr_t a = (uintptr_t)p;
  if (!s) {
    detail = gm_arena_of(a) ? "not allocated" : "not owned by gomalloc";
  } else if (s == &gm_span_freed_large) {
    /* The first page of a freed large block (mheap.h). */
#if GM_DEBUG
    dbl = true; /* the block sat somewhere in this page (debugheap.c) */
#else
    dbl = (a & GM_PAGE_MASK) == 0;
#endif
    detail = dbl ? "block already free" : "not allocated";
  } else {
    uint8_t st = gm_load_relaxed(&s->state);
    if (a < s->base || a >= s->base + (s->npages << GM_PAGE_SHIFT)) {
      detail = "not allocated";
    } else if (st == GM_SPAN_GC || st == GM_SPAN_GC_LARGE) {
      detail = "a garbage-collected block: gm_gc_free frees those"; /* gc.h */
    } else if (st == GM_SPAN_DEAD) {
      /* The pages were given back: a block here was freed already if p is
       * where a block would have started. */
      uintptr_t off = a - s->base;
      dbl = s->elemsize && off % s->elemsize == 0;
#if GM_DEBUG
      if (gm_spanclass_sizeclass(s->spanclass) == 0)
        dbl = off == s->dbg_off; /* large blocks sit off base (debugheap.c) */
#endif
      detail = dbl ? "block already free" : "not allocated";
    } else if (st == GM_SPAN_LARGE) {
      detail = "interior pointer";
#if GM_DEBUG
      /* Pages a malloc is still laying out (debugheap.c): p was a block
       * here before, freed (this free lost a race with that one). */
      if (gm_load_acquire(&s->dbg_off) == GM_DBG_OFF_UNSET) {
        dbl = true;
        detail = "block already free";
      }
#endif
    } else if (a >= gm_span_limit(s)) {
      detail = "not allocated";
    } else {
      uintptr_t off = a - s->base;
      size_t idx = gm_span_obj_index(s, off);
      if (idx * s->elemsize != off)
        detail = "interior pointer";
      else if (!slot_allocated(s, idx)) {
        dbl = true;
        detail = "block already free";
      } else
        detail = "not allocated";
    }
  }
  if (dbl && op[0] == 'f')
    gm_fatal_double_free(p, detail);
  size_t n = 0;
  for (const char *q = "invalid "; *q; q++)
    fault[n++] = *q;
  for (const char *q = op; *q && n < sizeof fault - 1; q++)
    fault[n++] = *q;
  fault[n] = 0;
  gm_fatal(fault, p, detail);
}

GM_NOINLINE void gm_free_slow(void *p, gm_mspan_t *s) {
  if (!p)
    return;
  if (s && (uintptr_t)p == s->base) {
    /* A large block: claim it (span.h) and give its pages back. The loser
     * of two racing frees finds the span dead, which is what it saw at the
     * claim: it reports from that, not from a second look at a span struct
     * the winner may have given back and the heap handed out again. */
    uint8_t seen;
    if (gm_span_claim_large(s, &seen)) {
      /* Between the base test above and the claim, a racing free of p may
       * have given the span back and the heap reused the struct for
       * another large block, which this claim then took: look again (the
       * claim's acquire sees the new block's base). That block is not
       * ours to free; p was freed by the other thread. */
      if (GM_UNLIKELY(gm_load_relaxed(&s->base) != (uintptr_t)p)) {
        gm_store_release(&s->state, (uint8_t)GM_SPAN_LARGE);
        gm_fatal_double_free(p, "block already free");
      }
      gm_mheap_free_span(s);
      return;
    }
    if (seen == GM_SPAN_DEAD)
      gm_fatal_double_free(p, "block already free");
  }
  bad_pointer("free", p, s);
}

GM_NOINLINE void gm_free_unmapped(void *p) {
  gm_mspan_t *s = gm_span_of((uintptr_t)p); /* arenas outside the window, or NULL */
  if (s)
    gm_free_in_span(p, s);
  else
    gm_free_slow(p, NULL);
}

GM_NOINLINE void gm_free_remote(gm_mspan_t *s, size_t idx, const void *p) {
  unsigned w = (unsigned)(idx / 64);
  uint64_t bit = 1ULL << (idx % 64);
  uint64_t *rf = gm_span_rfree(s, 0);
  /* The slot must be allocated: below freeindex or set in alloc_bits
   * (acquire pairs with the sweep's release of freeindex), and not already
   * freed by the owner. */
  size_t fi = gm_load_acquire(&s->freeindex);
  if (GM_UNLIKELY(!(idx < fi || (gm_load_relaxed(gm_span_abits(s, w)) & bit))))
    gm_fatal_double_free(p, "block already free");
  if (GM_UNLIKELY(gm_load_relaxed(gm_span_lfree(s, w)) & bit))
    gm_fatal_double_free(p, "block already free");
  uint64_t old = gm_fetch_or_seqcst(&rf[3 * w], bit);
  if (GM_UNLIKELY(old & bit))
    gm_fatal_double_free(p, "block already free");
  /* Sequentially consistent with the state store in uncache: either we see
   * the span is no longer cached, or the uncacher sees our bit. */
  uint8_t st = gm_load_seqcst(&s->state);
  if (GM_LIKELY(st == GM_SPAN_CACHED)) {
    /* The first remote free in a word of a full span since its sweep tells
     * the owner, which looks for such spans among its full ones at its next
     * refill of the class (mcache.c); the current span needs no word, its
     * owner looks at it when it runs out. The owner pointer may be stale
     * by now: mcache structs are only ever reused as mcaches, so the worst
     * case is a spurious look by some other cache. */
    if (old == 0 && gm_load_relaxed(&s->cache_list) == GM_CLIST_FULL) {
      struct gm_mcache *c = gm_load_relaxed(&s->owner);
      if (c)
        gm_mcache_remote_hint(c, s->spanclass);
    }
    return;
  }
  /* On an mcentral list: a full span becomes partial; a span whose last
   * object this was goes back to the heap. Both need the central lock;
   * the word check keeps the common case lock-free. */
  if (st == GM_SPAN_FULL ||
      ((old | bit) == (gm_load_relaxed(gm_span_abits(s, w)) & gm_span_slot_mask(s, w)) &&
       gm_span_all_freed_remote(s)))
    gm_mcentral_span_freed(s);
}

gm_mspan_t *gm_live_span(const void *p, const char *op) {
  uintptr_t a = (uintptr_t)p;
  gm_mspan_t *s = gm_span_of(a);
  if (!s)
    bad_pointer(op, p, s);
  uint8_t st = gm_load_relaxed(&s->state);
  if (st == GM_SPAN_LARGE) {
#if GM_DEBUG
    if (a != gm_dbg_large_ptr(s))
#else
    if (a != s->base)
#endif
      bad_pointer(op, p, s);
    return s;
  }
  if (!span_in_use_small(s) || a < s->base || a >= gm_span_limit(s))
    bad_pointer(op, p, s);
  uintptr_t off = a - s->base;
  size_t idx = gm_span_obj_index(s, off);
  if (idx * s->elemsize != off || !slot_allocated(s, idx))
    bad_pointer(op, p, s);
  return s;
}
