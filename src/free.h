/* free.h: the free fast path, inline so that both gm_free (malloc.c) and
 * the libc free (override.c) compile to the whole fast path with no extra
 * call, and the out-of-line ways a block is freed. Everything unusual goes
 * out of line, to free.c, which explains the design. */
#ifndef GM_FREE_H
#define GM_FREE_H

#include "arena.h"
#include "debugheap.h"
#include "mcache.h"
#include "span.h"
#include "vg.h"

/* Out of line (free.c). */

/* Anything the fast path's one test turned away: large blocks, NULL from
 * the unmapped path (ignored), and every bad pointer (which aborts). s is
 * p's span, or NULL if p is in none. */
void gm_free_slow(void *p, gm_mspan_t *s);

/* Free slot idx (block p) of small span s, which another thread owns: one
 * atomic OR into its remote_free bitmap. */
void gm_free_remote(gm_mspan_t *s, size_t idx, const void *p);

/* The span of live block p, or abort naming op ("free", "realloc", ...). */
gm_mspan_t *gm_live_span(const void *p, const char *op);

/* Pointers outside the window, or in no span: out of line, so the fast
 * path below makes no call and saves no registers. */
void gm_free_unmapped(void *p);

/* Free p of span s (the span its page maps to, not NULL), as below; or, if
 * wrapped, of the span gm_window_span_wrapped found, which need not hold p. */
GM_INLINE void gm_free_in_span_at(void *p, gm_mspan_t *s, bool wrapped) {
  /* small_bytes is 0 unless s is an in-use small span, so this also sends
   * large, dead and foreign-range pointers to the slow path; and p outside
   * the window, which a wrapped s lies far from, to the full lookup. */
  uintptr_t off = (uintptr_t)p - s->base;
  if (GM_UNLIKELY(!gm_below_relaxed(off, &s->small_bytes))) {
    if (wrapped)
      gm_free_unmapped(p);
    else
      gm_free_slow(p, s);
    return;
  }
  size_t idx;
  if (GM_UNLIKELY(!gm_span_obj_index_exact32(s, off, &idx))) {
    gm_free_slow(p, s);
    return;
  }
  gm_busy_enter(); /* see mcache.h: a reclaimer may be taking s away */
  /* Once: read again after the bitmap store, it cost a load. */
  gm_mcache_t *c = gm_tls_mcache;
  if (GM_LIKELY(gm_span_owned_by(s, c))) {
    uint64_t *wp = gm_span_abits(s, idx / 64); /* alloc, local, remote words */
    uint64_t l = wp[1];
    /* Already freed (by us or by another thread), or not allocated as far
     * as alloc_bits say: one test of one word. alloc_bits lag only in the
     * word the span hands out now (the cache's refill sets a word it
     * leaves, span.c), so a slot handed out from there since the last
     * sweep, below freeindex, gets its bit set here on its first free.
     * The test used to fold freeindex in on every free (three more
     * instructions), and a branch on it went wrong on a fifth of the
     * frees after a sweep in place. Anything else, the slow path names. */
    if (GM_UNLIKELY(gm_bit_test(gm_or_relaxed(l | ~wp[0], &wp[2]), idx))) {
      if (gm_bit_test(gm_or_relaxed(l, &wp[2]), idx) || idx >= s->freeindex) {
        gm_busy_exit();
        gm_free_slow(p, s);
        return;
      }
      gm_store_relaxed(&wp[0], gm_bit_set(gm_load_relaxed(&wp[0]), idx));
    }
    gm_store_relaxed(&wp[1], gm_bit_set(l, idx));
    /* The next malloc of the class takes it (mcache_hot.c); not counted
     * in notify_ctr while on the stack. The cache from the thread, not
     * from s->owner: a reclaimer may clear that. The entry carries p and
     * the bitmap word, so malloc's result does not wait on arithmetic. */
    if (GM_LIKELY(gm_mcache_hot_push(c, s, p, wp, idx))) {
      gm_busy_exit();
      return;
    }
    /* The stack is full: the slot waits for a sweep. The count while s is
     * surely ours; the branch before leaving the busy section lets the
     * decrement set the flags it is tested by. */
    if (GM_UNLIKELY(--s->notify_ctr == 0)) {
      gm_mcache_notify(s); /* a full span of ours became worth a sweep */
      return;
    }
    gm_busy_exit();
    return;
  }
  gm_busy_exit();
  gm_free_remote(s, idx, p);
}

GM_INLINE void gm_free_in_span(void *p, gm_mspan_t *s) { gm_free_in_span_at(p, s, false); }

/* Free: span lookup in the window (else the arena map), then the object
 * index by divMul, a check that p is the object's base and is allocated,
 * and one bit set in a free bitmap: plainly if this thread owns the span,
 * atomically if not. The owner's slot goes on its hot stack too, for its
 * next malloc of the class (mcache_hot.c); another thread's becomes
 * allocatable again at the span's next sweep. */
GM_INLINE void gm_free_impl(void *p) {
  /* Before the checks: memcheck reports a bad free with its stacks, then
   * gomalloc aborts naming the fault. */
  GM_VG_FREE(p);
#if GM_DEBUG
  if (p == NULL)
    return;
  p = gm_dbg_free_prepare(p); /* checks, then frees the raw block below */
  if (p == NULL)
    return; /* a large block, freed */
#endif
  /* free(NULL) needs no test of its own: page 0 is in no arena, so NULL
   * takes the unmapped path, which ignores it. */
  /* The window's one load (arena.h); everything else, out of line. */
  gm_mspan_t *s = gm_window_span_wrapped((uintptr_t)p);
  if (GM_UNLIKELY(s == NULL)) {
    gm_free_unmapped(p);
    return;
  }
  gm_free_in_span_at(p, s, true);
}

#endif
