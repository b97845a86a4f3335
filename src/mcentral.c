/* mcentral.c: central span lists, and the span state machine.
 *
 * A small-object span is in exactly one of these states (gm_mspan_t.state):
 *
 *   CACHED   owned by one mcache. Only the owner allocates from it and
 *            sweeps it. The owner's frees set local_free bits (plain
 *            writes); other threads' frees set remote_free bits (atomic OR)
 *            and do nothing else.
 *   PARTIAL  on mcentral.partial (or partial_released, once the scavenger
 *            gave back some of its free pages): has free slots, or frees
 *            waiting for the next sweep. Nobody allocates from it; frees
 *            are all remote.
 *   FULL     on mcentral.full: no free slot at its last sweep.
 *   DEAD     its pages are back in the page heap.
 *
 * Transitions (list membership and state change together, under the
 * mcentral lock, except DEAD -> CACHED for a fresh span):
 *
 *   fresh span from mheap ................................ -> CACHED
 *   CACHED  -> owner exhausts it, frees pending: sweep in place, stay CACHED
 *   CACHED  -> owner exhausts it, no frees (uncache) ..... -> FULL
 *   CACHED  -> owner lets go with free slots (uncache) ... -> PARTIAL
 *   CACHED  -> uncache finds every object freed .......... -> DEAD (to mheap)
 *   PARTIAL -> cacheSpan pops it, sweeps it .............. -> CACHED
 *   FULL    -> first remote free ......................... -> PARTIAL
 *   PARTIAL/FULL -> a remote free frees its last object .. -> DEAD (to mheap)
 *   PARTIAL/FULL -> reclaim sweeps it and finds it empty . -> DEAD (to mheap)
 *   PARTIAL -> the scavenger sweeps it and finds it empty  -> DEAD (to mheap)
 *   PARTIAL -> the scavenger releases some of its pages .. PARTIAL, moved to
 *              partial_released (taken after the resident partial spans)
 * (The scavenger's pass over a class is gm_mcentral_scavenge, below: the
 * background thread runs it for the cold spans, gm_release for all.)
 *
 * Sweeping (span.c) is Go's: fold freed slots into alloc_bits, reset
 * freeindex, recount. Who may sweep: the owner while CACHED, or a holder of
 * the mcentral lock while PARTIAL/FULL. Remote frees never sweep; they only
 * OR a bit, so they never block the owner.
 *
 * The race to watch is a remote free against uncache: the free ORs its bit,
 * then reads the state; uncache stores the new state, then re-reads the
 * remote bits. Both are sequentially consistent, so at least one side sees
 * the other and a full span that just got a free is never stranded on the
 * full list. Span structs are never unmapped and only reused as span
 * structs, so a racing reader of a stale span re-checks everything under
 * the lock before acting. */
#include "mcentral.h"

#include "error.h"
#include "mheap.h"
#include "scavenger.h"

#include <errno.h>

gm_mcentral_t gm_central[GM_NUM_SPAN_CLASSES];

void gm_mcentral_init(void) {
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
    gm_lock_reinit(&gm_central[i].lock);
    gm_central[i].spanclass = (gm_spanclass_t)i;
  }
}

/* List primitives, mcentral lock held. */
static void gm_spanlist_push(gm_spanlist_t *l, gm_mspan_t *s) {
  s->partial_epoch = gm_load_relaxed(&gm_scav_epoch); /* age, for the scavenger */
  s->released_mask &= ~GM_SPAN_SCANNED; /* new on this list: worth a look */
  s->prev = NULL;
  s->next = l->head;
  if (l->head)
    l->head->prev = s;
  l->head = s;
  gm_store_relaxed(&l->n, l->n + 1); /* read without the lock by the scavenger */
}

static void gm_spanlist_remove(gm_spanlist_t *l, gm_mspan_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    l->head = s->next;
  if (s->next)
    s->next->prev = s->prev;
  s->next = s->prev = NULL;
  gm_store_relaxed(&l->n, l->n - 1);
}

/* The partial list span s (PARTIAL, lock held) is on. */
static inline gm_spanlist_t *gm_mcentral_partial_list(gm_mcentral_t *mc, const gm_mspan_t *s) {
  return (s->released_mask & ~GM_SPAN_SCANNED) ? &mc->partial_released : &mc->partial;
}

static gm_mspan_t *list_pop(gm_spanlist_t *l) {
  gm_mspan_t *s = l->head;
  if (s)
    gm_spanlist_remove(l, s);
  return s;
}

static inline void debug_check_span(gm_mspan_t *s) {
#if GM_DEBUG
  const char *err = gm_span_check(s);
  if (err)
    gm_fatal("span inconsistent", (void *)s->base, err);
#else
  (void)s;
#endif
}

gm_mspan_t *gm_mcentral_cache_span(gm_mcentral_t *mc, struct gm_mcache *c) {
  for (;;) {
    gm_lock(&mc->lock);
    /* Resident free slots first (see mcentral.h). */
    gm_mspan_t *s = list_pop(&mc->partial);
    if (!s)
      s = list_pop(&mc->partial_released);
    if (!s) {
      gm_unlock(&mc->lock);
      break;
    }
    gm_store_relaxed(&s->owner, c);
    gm_mheap_span_reused(s);
    gm_store_seqcst(&s->state, (uint8_t)GM_SPAN_CACHED);
    unsigned nfree = gm_span_sweep(s);
    gm_unlock(&mc->lock);
    debug_check_span(s);
    if (nfree)
      return s;
    /* Moved to partial by a remote free whose slot was then... cannot be
     * reused before a sweep, so this only happens for a stale move; put it
     * back where it belongs and try the next one. */
    gm_mcentral_uncache_span(s);
  }
  unsigned cls = gm_spanclass_sizeclass(mc->spanclass);
  gm_mspan_t *ns =
      gm_mheap_alloc_span(gm_class_to_allocnpages[cls], mc->spanclass, 1, GM_SPAN_CACHED, c);
#if GM_DEBUG
  if (ns && ns->needzero)
    gm_span_dbg_fill(ns);
#endif
  return ns;
}

void gm_mcentral_uncache_span(gm_mspan_t *s) {
  gm_mcentral_t *mc = &gm_central[s->spanclass];
  gm_lock(&mc->lock);
  gm_span_sweep(s);
  gm_store_relaxed(&s->owner, (struct gm_mcache *)NULL);
  debug_check_span(s);
  if (s->alloc_count == 0) {
    /* Nothing allocated: no free can be in flight for it. */
    gm_store_seqcst(&s->state, (uint8_t)GM_SPAN_DEAD);
    gm_unlock(&mc->lock);
    gm_mheap_free_span(s);
    return;
  }
  if (s->alloc_count < s->nelems) {
    gm_store_seqcst(&s->state, (uint8_t)GM_SPAN_PARTIAL);
    gm_spanlist_push(&mc->partial, s);
  } else {
    gm_store_seqcst(&s->state, (uint8_t)GM_SPAN_FULL);
    gm_spanlist_push(&mc->full, s);
    /* A remote free that read CACHED before our store left its bit for us. */
    if (gm_span_has_frees(s)) {
      gm_spanlist_remove(&mc->full, s);
      gm_store_seqcst(&s->state, (uint8_t)GM_SPAN_PARTIAL);
      gm_spanlist_push(&mc->partial, s);
    }
  }
  bool empty = gm_span_all_freed_remote(s);
  if (empty) {
    gm_span_count_frees(s, s->alloc_count);
    gm_spanlist_remove(s->state == GM_SPAN_FULL ? &mc->full : gm_mcentral_partial_list(mc, s), s);
    gm_store_seqcst(&s->state, (uint8_t)GM_SPAN_DEAD);
  }
  gm_unlock(&mc->lock);
  if (empty)
    gm_mheap_free_span(s);
}

void gm_mcentral_span_freed(gm_mspan_t *s) {
  gm_spanclass_t spc = gm_load_relaxed(&s->spanclass);
  gm_mcentral_t *mc = &gm_central[spc];
  gm_lock(&mc->lock);
  uint8_t st = gm_load_acquire(&s->state);
  /* Re-check under the lock: the span may have been cached, freed or even
   * reused for another class since the caller looked. */
  if (gm_load_relaxed(&s->spanclass) != spc || (st != GM_SPAN_FULL && st != GM_SPAN_PARTIAL)) {
    gm_unlock(&mc->lock);
    return;
  }
  bool empty = gm_span_all_freed_remote(s);
  if (st == GM_SPAN_FULL) {
    gm_spanlist_remove(&mc->full, s);
    if (!empty) {
      gm_store_seqcst(&s->state, (uint8_t)GM_SPAN_PARTIAL);
      gm_spanlist_push(&mc->partial, s);
    }
  } else if (empty) {
    gm_spanlist_remove(gm_mcentral_partial_list(mc, s), s);
  }
  if (empty) {
    gm_span_count_frees(s, s->alloc_count);
    gm_store_seqcst(&s->state, (uint8_t)GM_SPAN_DEAD);
  }
  gm_unlock(&mc->lock);
  if (empty)
    gm_mheap_free_span(s);
}

size_t gm_mcentral_reclaim(gm_mcentral_t *mc) {
  gm_mspan_t *dead = NULL;
  size_t n = 0;
  gm_lock(&mc->lock);
  gm_spanlist_t *lists[3] = {&mc->full, &mc->partial, &mc->partial_released};
  for (int li = 0; li < 3; li++) {
    gm_mspan_t *s = lists[li]->head;
    while (s) {
      gm_mspan_t *next = s->next;
      if (gm_span_has_frees(s)) {
        gm_span_sweep(s);
        if (s->alloc_count == 0) {
          gm_spanlist_remove(lists[li], s);
          gm_store_seqcst(&s->state, (uint8_t)GM_SPAN_DEAD);
          s->next = dead;
          dead = s;
          n++;
        } else if (li == 0) {
          gm_spanlist_remove(&mc->full, s);
          gm_store_seqcst(&s->state, (uint8_t)GM_SPAN_PARTIAL);
          gm_spanlist_push(&mc->partial, s);
        }
      }
      s = next;
    }
  }
  gm_unlock(&mc->lock);
  gm_mheap_free_spans(dead);
  return n;
}

/* Release the free OS pages of the cold partial spans of one mcentral (all
 * partial spans if force). A span is cold when it has been on its list, with
 * no new frees, for GM_SCAV_COLD_TICKS: a span found with frees pending is
 * swept (we hold its mcentral lock, so we may), which folds them in so that
 * "frees pending" later means "changed since we looked", and its age starts
 * again. Its pages are released once the frees have stopped, and looked at
 * again only after more frees, so a phase of frees that lasts longer than
 * the cold age costs a sweep per span per pass, not a madvise for every
 * page or two freed. A span the sweep finds empty goes back to the heap
 * (nobody else would notice before gm_release); one with released pages
 * moves to partial_released, behind the spans whose free slots are still
 * resident (mcentral.h). */
size_t gm_mcentral_scavenge(gm_mcentral_t *mc, bool force, uint32_t epoch) {
  size_t total = 0;
  gm_mspan_t *dead = NULL;
  gm_lock(&mc->lock);
  gm_spanlist_t *lists[2] = {&mc->partial, &mc->partial_released};
  for (int li = 0; li < 2; li++) {
    gm_mspan_t *next;
    for (gm_mspan_t *s = lists[li]->head; s; s = next) {
      next = s->next;
      if (!force && epoch - s->partial_epoch < GM_SCAV_COLD_TICKS)
        continue;
      bool frees = gm_span_has_frees(s);
      if (!force && (s->released_mask & GM_SPAN_SCANNED) && !frees)
        continue; /* nothing new since we looked */
      if (frees && gm_span_sweep(s) == s->nelems) {
        gm_spanlist_remove(lists[li], s);
        gm_store_seqcst(&s->state, (uint8_t)GM_SPAN_DEAD);
        s->next = dead;
        dead = s;
        continue;
      }
      if (!force && frees) {
        /* Frees are still arriving: look again once they have stopped for
         * the cold age, rather than madvising a page or two every pass. */
        s->partial_epoch = epoch;
        s->released_mask &= ~GM_SPAN_SCANNED;
        continue;
      }
      size_t n = gm_scavenge_span_locked(s);
      if (n && li == 0) {
        uint32_t m = s->released_mask;
        gm_spanlist_remove(&mc->partial, s);
        gm_spanlist_push(&mc->partial_released, s);
        s->released_mask = m; /* push cleared the scanned flag */
      }
      total += n;
    }
  }
  gm_unlock(&mc->lock);
  gm_mheap_free_spans(dead);
  return total;
}

size_t gm_mcentral_scavenge_all(void) {
  size_t total = 0;
  uint32_t epoch = gm_load_relaxed(&gm_scav_epoch);
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
    gm_mcentral_t *mc = &gm_central[i];
    if (gm_mcentral_has_partial(mc))
      total += gm_mcentral_scavenge(mc, true, epoch);
  }
  return total;
}

/* For fork (init.c) and whole-heap walks (stats.c), in class order. */
void gm_mcentral_lock_all(void) {
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++)
    gm_lock(&gm_central[i].lock);
}
void gm_mcentral_unlock_all(void) {
  for (unsigned i = GM_NUM_SPAN_CLASSES; i-- > 0;)
    gm_unlock(&gm_central[i].lock);
}
void gm_mcentral_fork_prepare(void) {
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++)
    gm_lock_for_fork(&gm_central[i].lock);
}
void gm_mcentral_fork_parent(void) {
  for (unsigned i = GM_NUM_SPAN_CLASSES; i-- > 0;)
    gm_unlock_after_fork(&gm_central[i].lock);
}
void gm_mcentral_fork_child(void) {
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++)
    gm_lock_reinit(&gm_central[i].lock);
}
