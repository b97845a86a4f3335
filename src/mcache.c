/* mcache.c: per-thread span caches: the spans a cache keeps owning and the
 * slow paths of malloc that refill from them (or from mcentral). Taking
 * spans back out of caches, the owner's and other threads', is in
 * mcache_reclaim.c; the registry of caches, thread start and exit, and
 * fork in mcache_registry.c. See mcache.h. */
#include "mcache_internal.h"

#include "error.h"
#include "mcentral.h"
#include "mheap.h"
#include "scavenger.h"

#include <errno.h>

/* A span that is permanently exhausted: its alloc_cache is 0 and refilling
 * it finds nothing, so every empty mcache slot sends malloc to the slow
 * path. Its bitmaps are all "allocated". */
gm_mspan_t gm_empty_span = {.alloc_cache = 0, .nelems = 0, .freeindex = 0, .state = GM_SPAN_CACHED};

/* The hot stack of the empty and orphan caches: always empty (its top
 * entry names gm_empty_span, as every stack's bottom does). Nothing is
 * ever pushed on it (no span has either cache as an owner its thread
 * frees into); were it, the push would find it full (its top entry is the
 * last of a block) and count the free as a full stack's. */
gm_hot_slot_t gm_hot_none[GM_HOT_SLOTS] GM_ALIGNED(GM_HOT_BYTES) = {
    [GM_HOT_SLOTS - 1] = {.span = &gm_empty_span}};

gm_mcache_t gm_empty_mcache = {.alloc = {[0 ... GM_NUM_SPAN_CLASSES - 1] = &gm_empty_span},
                               .hot_top = {[0 ... GM_NUM_SPAN_CLASSES - 1] = GM_HOT_NONE}};

__thread gm_tls_t gm_tls __attribute__((tls_model("initial-exec"))) = {.mcache = &gm_empty_mcache};

/* Go keeps one span per class in each mcache, which is enough when the
 * garbage collector does all freeing. With explicit free, a class whose
 * live objects fill many spans would see most of its frees land in spans
 * the thread no longer caches, each an atomic remote free plus, for a full
 * span, a trip through the mcentral lock. So a cache keeps owning the spans
 * it has exhausted, as mimalloc's heaps keep their pages: they stay CACHED
 * with owner = this cache, and the owner's frees into them stay plain
 * writes. Per class there are two lists:
 *
 *   full   exhausted spans; the owner's free that brings the frees since
 *          the last sweep to half of nelems calls gm_mcache_notify,
 *          which moves the span to ready.
 *   ready  spans with enough frees waiting to be worth a sweep; refill
 *          takes the one with the most among the newest few. The owner's
 *          free that empties a ready span counts it (nempty), and before
 *          a refill would grow the heap, the cache hands back the empty
 *          spans of every class (release_empty).
 *
 * The owner's frees counted here are those that wait for a sweep: a free
 * on the class's hot stack (mcache_hot.c) is counted only if it leaves the
 * stack without being handed out again, and one that finds the stack full
 * is counted at once.
 *
 * Other threads' frees into owned spans set remote bits only; the first one
 * in a word bumps remote_hint, and a refill that finds no ready span looks
 * at the oldest full span, then through the class's full list, when the
 * hint moved. The current span is swept in place once the frees waiting,
 * the owner's and the others', reach the threshold. What the owner does
 * not come back for goes back to mcentral: the owner's slow path hands back,
 * twice a second, the spans listed for half a second or more; the
 * idle-cache reclaim (mcache_reclaim.c) takes everything from threads that
 * stopped allocating; thread exit, gm_thread_flush, gm_release and running
 * out of memory hand back all lists. */
#define TRIM_TICKS 5 /* scavenger ticks (100 ms) a listed span may wait */

/* A span is worth sweeping (in place, or from the ready list) once half
 * its slots are waiting: sweeping for fewer (an eighth was tried) doubles
 * the sweeps and slow paths of a steady churn, for a little less memory. */
static unsigned sweep_threshold(const gm_mspan_t *s) {
  return s->nelems >= 2 ? s->nelems / 2u : 1u;
}

static void clist_push(gm_mcache_t *c, gm_spanclass_t spc, gm_mspan_t *s, unsigned which) {
  gm_clist_link(c, spc, s, which);
  s->partial_epoch = gm_load_relaxed(&gm_scav_epoch); /* age, for the trim */
  /* Full: notify at the sweep threshold. Ready: notify when every slot is
   * free (a listed span is exhausted: all its slots were handed out). */
  gm_span_set_notify(s, which == GM_CLIST_FULL ? sweep_threshold(s) : s->nelems);
  if (which == GM_CLIST_READY && gm_span_local_nfreed(s) == s->nelems)
    c->nempty++; /* empty already */
}

void gm_clist_remove(gm_mcache_t *c, gm_spanclass_t spc, gm_mspan_t *s) {
  gm_clist_unlink(c, spc, s);
  gm_span_set_notify(s, 0);
}

/* Put an exhausted span on the list its waiting frees call for. A span
 * that other threads, and not this one, are freeing into (a producer's,
 * say), too few yet for a sweep in place (refill_current), goes back to
 * mcentral instead, as in Go: there their frees move it along without
 * this cache reading lines they keep writing. */
static void retire(gm_mcache_t *c, gm_spanclass_t spc, gm_mspan_t *s) {
  if (gm_span_local_nfreed(s) == 0 && gm_span_has_frees(s)) { /* remote frees only */
    gm_mcache_hot_drop_span(c, s);
    gm_mcentral_uncache_span(s);
    return;
  }
  clist_push(c, spc, s,
             gm_span_local_nfreed(s) >= sweep_threshold(s) ? GM_CLIST_READY : GM_CLIST_FULL);
}

/* Other threads' frees waiting in s: the remote bits. */
static unsigned remote_waiting(gm_mspan_t *s) {
  unsigned n = 0;
  const uint64_t *r = gm_span_rfree(s, 0);
  for (unsigned w = 0; w < s->nwords; w++) {
    uint64_t x = gm_load_relaxed(&r[3 * w]);
    if (x) /* most words hold no remote free; the popcount is not free */
      n += gm_popcount64(x);
  }
  return n;
}

/* Frees waiting in s: the owner's count plus the remote bits. */
static unsigned frees_waiting(gm_mspan_t *s) {
  return gm_span_local_nfreed(s) + remote_waiting(s);
}

/* Remote frees arrived since the last look: move the full spans that have
 * enough frees waiting to the ready list. */
static bool scan_full(gm_mcache_t *c, gm_spanclass_t spc) {
  uint32_t h = gm_load_relaxed(&c->remote_hint[spc]);
  if (h == c->remote_seen[spc])
    return false;
  c->remote_seen[spc] = h;
  bool moved = false;
  gm_mspan_t *s = c->full[spc];
  while (s) {
    gm_mspan_t *next = s->next;
    if (frees_waiting(s) >= sweep_threshold(s)) {
      gm_clist_remove(c, spc, s);
      clist_push(c, spc, s, GM_CLIST_READY);
      moved = true;
    }
    s = next;
  }
  return moved;
}

/* Sweep s, one of c's spans, and load its cache; false if it had nothing
 * free. Cached spans are exhausted when swept: the owner-only sweeps
 * apply when every slot is free or the owner's frees alone wait. */
GM_INLINE bool sweep_owned(gm_mcache_t *c, gm_mspan_t *s) {
  gm_class_counts_t *own = &c->counts[s->spanclass];
  /* Malloc pops the class's hot stack before it gets here, so it is
   * empty but for a signal handler's free since or when calloc (which
   * takes no hot slots) comes; the sweep makes the slots of s free in
   * alloc_bits, where its entries would hand them out a second time. */
  gm_mcache_hot_drop_span(c, s);
  if (!gm_span_sweep_emptied(s, own) && !gm_span_sweep_local(s, own) && !gm_span_sweep_counted(s, own))
    return false;
  return s->alloc_cache || gm_span_refill_cache(s);
}

/* The current span s ran out of its cache word: Go's nextFreeIndex (look
 * further along; freeindex = nelems means there is nothing further, and
 * spans of one word always end so), else a sweep in place if enough frees
 * are waiting, the owner's and other threads' alike. Work on s alone: no
 * lock, no list, and the cache's slot is not written (a reclaimer may
 * have emptied it). A span half freed by other threads (a producer's)
 * used to go to mcentral, which swept it under its lock and handed it to
 * the next refill, which swept it again. */
GM_INLINE bool refill_current(gm_mcache_t *c, gm_mspan_t *s) {
  if (s->freeindex < s->nelems && gm_span_refill_cache(s))
    return true;
  unsigned n = gm_span_local_nfreed(s), t = sweep_threshold(s);
  return (n >= t || n + remote_waiting(s) >= t) && sweep_owned(c, s);
}

/* Take listed span s off its list and make it current (sweeping it); if it
 * had nothing free after all, it goes on the full list and this is false.
 * Off the list before it becomes current: a fork may snapshot this thread
 * mid-way, and the child gives back what it finds once. The class's slot
 * holds the empty span meanwhile (mcache_next_free retired the old one). */
static bool take_listed(gm_mcache_t *c, gm_spanclass_t spc, gm_mspan_t *s) {
  gm_clist_remove(c, spc, s);
  if (sweep_owned(c, s)) {
    c->alloc[spc] = s;
    return true;
  }
  clist_push(c, spc, s, GM_CLIST_FULL);
  return false;
}

/* The ready span with the most owner frees waiting among the newest few:
 * a sweep is worth more the more slots it gives back, and a span that
 * just crossed the threshold keeps collecting frees while it waits. None
 * beats a head whose every slot is free, which the frees of other threads
 * make of spans of a few objects: then the walk, a load of two lines per
 * span that the sweep does not need (next shares one with the bitmaps,
 * which those threads keep writing), is skipped; it was half the samples
 * of the refill in wl_rings. */
static gm_mspan_t *best_ready(gm_mspan_t *s) {
  /* Such a head is the owner's (all its frees counted) or, with none of
   * them, one that a walk of the full list moved here for other threads'. */
  if (!s || gm_span_local_nfreed(s) == s->nelems ||
      (gm_span_local_nfreed(s) == 0 && remote_waiting(s) >= s->nelems))
    return s;
  gm_mspan_t *best = s;
  for (unsigned k = 0; s && k < 8; s = s->next, k++)
    if (gm_span_local_nfreed(s) > gm_span_local_nfreed(best))
      best = s;
  return best;
}

/* Make a ready span current (sweeping it); NULL if there is none. */
static gm_mspan_t *take_ready(gm_mcache_t *c, gm_spanclass_t spc) {
  for (int pass = 0; pass < 2; pass++) {
    gm_mspan_t *s;
    while ((s = best_ready(c->ready[spc])) != NULL)
      if (take_listed(c, spc, s))
        return s;
    /* Other threads freed into our spans since the last look (the owner's
     * frees move their spans themselves: gm_mcache_notify). */
    if (pass || gm_load_relaxed(&c->remote_hint[spc]) == c->remote_seen[spc])
      break;
    /* Before the walk: the oldest full span, if worth a sweep, is taken
     * straight from the tail. Where other threads free a thread's blocks
     * in about the order it allocated them (a ring, a pipeline), it is
     * the one their frees reached first, and the walk and the moves to
     * the ready list cost more than the sweep (wl_rings: the slow path
     * 19% fewer instructions, callgrind). */
    s = c->full_tail[spc];
    if (s && frees_waiting(s) >= sweep_threshold(s) && take_listed(c, spc, s))
      return s;
    if (!scan_full(c, spc))
      break;
  }
  return NULL;
}

/* Before growing from mcentral: the oldest full spans have had the longest
 * to collect frees, if fewer than a sweep is normally worth. Taking the
 * best of them keeps a thread that frees a little of everything it
 * allocates from growing its full lists (and the heap) without bound, and
 * hands a freed slot out again in bounded time. */
static gm_mspan_t *take_oldest(gm_mcache_t *c, gm_spanclass_t spc) {
  gm_mspan_t *best = NULL;
  unsigned most = 0, k = 0;
  for (gm_mspan_t *s = c->full_tail[spc]; s && k < 4; s = s->prev, k++) {
    unsigned n = frees_waiting(s);
    if (n > most) {
      most = n;
      best = s;
    }
  }
  /* Worth a sweep: an eighth of the span, or anything once the list is
   * long (a sweep for a few slots beats growing without bound). */
  if (!best || (most < best->nelems / 8u && c->nfull[spc] <= 16))
    return NULL;
  return take_listed(c, spc, best) ? best : NULL;
}

#if GM_DEBUG
/* Debug builds check the spans this cache holds on every refill (the first
 * few of each list, so that the check stays cheap for big caches). */
static void check_cache(gm_mcache_t *c, gm_spanclass_t spc) {
  gm_mspan_t *s = c->alloc[spc];
  for (unsigned which = GM_CLIST_FULL; which <= GM_CLIST_READY; which++) {
    unsigned k = 0;
    for (gm_mspan_t *o = *gm_clist_head(c, spc, which); o && k < 8; o = o->next, k++) {
      const char *err = o->owner == c && o->state == GM_SPAN_CACHED && o->cache_list == which
                            ? gm_span_check(o)
                            : "listed span not cached here";
      if (err)
        gm_fatal("span inconsistent", (void *)o->base, err);
    }
  }
  if (s != &gm_empty_span && (s->owner != c || s->cache_list != GM_CLIST_NONE || gm_span_check(s)))
    gm_fatal("span inconsistent", (void *)s->base, "current span of an mcache");
  gm_mcache_hot_check(c, spc);
}
#endif

/* Hand the cache's empty ready spans (every slot freed by the owner) back
 * to the heap, where any class can use their pages. Done when a refill
 * would grow the heap rather than when they empty: a program that frees a
 * batch and allocates it again reuses its own spans without a trip through
 * the heap, while one whose blocks move up through the classes (strings
 * grown by realloc) no longer grows the heap beside its old classes'
 * empty spans (peak RSS 35.7 -> 23.2 MiB on such a run, until the trim
 * half a second later took them). */
static void release_empty(gm_mcache_t *c) {
  c->nempty = 0;
  for (unsigned spc = 0; spc < GM_NUM_SPAN_CLASSES; spc++) {
    /* Each class keeps one: with spans of one or two large objects, every
     * refill of a class takes an empty span, and handing those back made
     * each refill a trip through the heap. */
    bool kept = false;
    gm_mspan_t *s = c->ready[spc];
    while (s) {
      gm_mspan_t *next = s->next;
      if (gm_span_local_nfreed(s) == s->nelems) {
        if (kept) {
          gm_clist_remove(c, (gm_spanclass_t)spc, s);
          gm_mcache_hot_drop_span(c, s);
          gm_mcentral_uncache_span(s);
        }
        kept = true;
      }
      s = next;
    }
  }
}

/* Might a refill of class spc from mcentral grow the heap? No partial span
 * there and too few free pages in the heap. Unlocked reads: a guess, which
 * is all release_empty needs. Handing empty spans back whenever a refill
 * went to mcentral made a workload of 8-32 KiB blocks (spans of one to six
 * objects) 20% slower: each class's spans went through the heap. */
static bool refill_may_grow(gm_spanclass_t spc) {
  gm_mcentral_t *mc = &gm_central[spc];
  if (gm_load_relaxed(&mc->partial.n) || gm_load_relaxed(&mc->partial_released.n))
    return false;
  return gm_pagealloc_free_pages(&gm_heap.pages) <
         gm_class_to_allocnpages[gm_spanclass_sizeclass(spc)];
}

/* Take a slot from mcache c's span of class spc, refilling as needed. */
static void *mcache_next_free(gm_mcache_t *c, gm_spanclass_t spc) {
  gm_mspan_t *s = c->alloc[spc];
#if GM_DEBUG
  check_cache(c, spc);
#endif
  gm_mcache_hot_setup(c, spc); /* before the class's first span (mcache_hot.c) */
  if (s != &gm_empty_span) {
    /* The orphan cache, and a spare a new thread has just taken, come here
     * with the current span's cache word not used up: take from it (a
     * refill would skip the rest of the word, its slots lost for good). */
    if (s->alloc_cache)
      return gm_span_next_free_fast(s);
    /* The miss path tried this already, but the orphan cache comes here
     * directly. Exhausted and not worth a sweep: keep it owned on a list. */
    if (refill_current(c, s))
      return gm_span_next_free_fast(s);
    c->alloc[spc] = &gm_empty_span;
    retire(c, spc, s);
  }
  s = take_ready(c, spc);
  if (!s)
    s = take_oldest(c, spc);
  if (s)
    return gm_span_next_free_fast(s);
  if (refill_may_grow(spc)) {
    gm_mcache_hot_drop_idle(c); /* spans only idle hot entries kept from emptying */
    if (c->nempty)
      release_empty(c);
  }
  s = gm_mcentral_cache_span(&gm_central[spc], c);
  if (GM_UNLIKELY(!s)) {
    gm_mcache_oom_release_from(c, true);
    s = gm_mcentral_cache_span(&gm_central[spc], c);
    if (!s) {
      errno = ENOMEM;
      return NULL;
    }
  }
  c->alloc[spc] = s;
  if (!s->alloc_cache && !gm_span_refill_cache(s))
    gm_fatal("span from mcentral has no free slot", (void *)s->base, "internal error");
  return gm_span_next_free_fast(s);
}

void gm_mcache_notify_locked(gm_mcache_t *c, gm_mspan_t *s) {
  /* A trim or reclaim may have taken s away since it was counted. */
  if (gm_load_relaxed(&s->owner) != c)
    return;
  gm_spanclass_t spc = s->spanclass;
  if (s->cache_list == GM_CLIST_FULL) {
    gm_clist_remove(c, spc, s);
    clist_push(c, spc, s, GM_CLIST_READY);
  } else if (s->cache_list == GM_CLIST_READY) {
    c->nempty++; /* every slot free: see release_empty */
  }
}

GM_NOINLINE void gm_mcache_notify(gm_mspan_t *s) {
  gm_busy_exit();
  gm_mcache_t *c = gm_tls_mcache;
  gm_cache_lock(c);
  gm_mcache_notify_locked(c, s);
  gm_cache_unlock(c);
}

/* Stats hook: a sample of request sizes, off the fast path (stats.c
 * estimates rounding waste from it). Owner only, under the cache lock. */
static void sample(gm_mcache_t *c, size_t size) {
  unsigned cls = gm_size_to_class(size);
  gm_store_relaxed(&c->sample_n[cls], c->sample_n[cls] + 1);
  gm_store_relaxed(&c->sample_bytes[cls], c->sample_bytes[cls] + size);
}

/* The current span's cache word ran out. refill_current is work on s
 * alone, which the busy section guards as it does the fast path (a
 * reclaimer that detaches s waits for it): no cache lock, no stats sample.
 * Spans of one to a few large objects run out every allocation or two;
 * the locked slow path cost them about 250 instructions each time. */
GM_NOINLINE void *gm_mcache_alloc_miss(gm_mspan_t *s, size_t size) {
  if (s != &gm_empty_span) {
    gm_mcache_t *c = gm_tls_mcache;
    if (refill_current(c, s)) {
#if GM_DEBUG
      const char *err = gm_span_check(s);
      if (err)
        gm_fatal("span inconsistent", (void *)s->base, err);
#endif
      /* Still a slow path to the idle-cache reclaimer. */
      gm_store_relaxed(&c->nslow, c->nslow + 1);
      void *p = gm_span_take(s, s->alloc_cache);
      gm_busy_exit();
      return p;
    }
  }
  gm_busy_exit();
  return gm_mcache_alloc_slow(size);
}

GM_NOINLINE void *gm_mcache_alloc_slow(size_t size) {
  gm_mcache_t *c = gm_tls_mcache;
  if (GM_UNLIKELY(c == &gm_empty_mcache)) {
    c = gm_mcache_thread_start();
    if (c == &gm_empty_mcache) {
      /* Exited thread (or out of memory for the mcache): use the orphan
       * cache under its lock. */
      gm_lock(&gm_mcache_orphan_lock);
      sample(&gm_mcache_orphan, size);
      void *p = mcache_next_free(&gm_mcache_orphan, gm_make_spanclass(gm_size_to_class(size), false));
      gm_unlock(&gm_mcache_orphan_lock);
      return p;
    }
  }
  gm_cache_lock(c);
  gm_store_relaxed(&c->nslow, c->nslow + 1); /* read by the reclaimer */
  gm_mcache_hot_restore(c); /* after a reclaim or trim took spans */
  sample(c, size);
  void *p = mcache_next_free(c, gm_make_spanclass(gm_size_to_class(size), false));
  /* Twice a second (scavenger ticks), hand back the listed spans this
   * thread has not come back for in that time. */
  gm_mspan_t *old = NULL;
  uint32_t ep = gm_load_relaxed(&gm_scav_epoch);
  if (ep - c->trim_epoch >= TRIM_TICKS) {
    c->trim_epoch = ep;
    gm_mcache_detach(c, false, TRIM_TICKS, &old);
  }
  gm_cache_unlock(c);
  gm_mcache_uncache_list(old);
  /* Here no lock is held and the cache is consistent, so the hook may
   * start the background thread (pthread_create allocates). */
  gm_mheap_after_alloc();
  return p;
}
