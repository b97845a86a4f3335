/* mcache.c: per-thread span caches: refill, flush, thread set-up and exit.
 * See mcache.h. */
#include "mcache.h"

#include "background.h"
#include "error.h"
#include "fixalloc.h"
#include "mcentral.h"
#include "mheap.h"
#include "os.h"
#include "stats.h" /* stats hook */
#include "scavenger.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>

/* A span that is permanently exhausted: its alloc_cache is 0 and refilling
 * it finds nothing, so every empty mcache slot sends malloc to the slow
 * path. Its bitmaps are all "allocated". */
gm_mspan_t gm_empty_span = {.alloc_cache = 0, .nelems = 0, .freeindex = 0, .state = GM_SPAN_CACHED};

gm_mcache_t gm_empty_mcache = {.alloc = {[0 ... GM_NUM_SPAN_CLASSES - 1] = &gm_empty_span}};

__thread gm_tls_t gm_tls __attribute__((tls_model("initial-exec"))) = {.mcache = &gm_empty_mcache};

/* Thread life cycle: 0 = no mcache yet, 1 = has one, 2 = exited (its
 * pthread key destructor ran). After exit, allocations from later
 * destructors of the same thread go through the shared orphan cache. */
static __thread uint8_t tls_state __attribute__((tls_model("initial-exec")));

extern pthread_key_t gm_thread_key; /* init.c */

/* Registry of live mcaches, and their struct allocator. */
static gm_lock_t registry_lock = GM_LOCK_INIT;
static gm_mcache_t *registry;
static size_t registry_count;
static gm_fixalloc_t mcache_alloc;
static bool mcache_alloc_ready;

/* The orphan cache serves threads that have no mcache of their own any more
 * (allocations from TLS destructors running after ours). One lock guards it;
 * such allocations are rare. */
static gm_lock_t orphan_lock = GM_LOCK_INIT;
static gm_mcache_t orphan_mcache = {.alloc = {[0 ... GM_NUM_SPAN_CLASSES - 1] = &gm_empty_span}};

static gm_mcache_t *mcache_create(void) {
  gm_lock(&registry_lock);
  if (!mcache_alloc_ready) {
    /* Whole prefetch blocks and one more as a gap (config.h): malloc reads
     * the start of its cache, and another thread's slow path writes the
     * end of its own right before it. */
    gm_fixalloc_init(&mcache_alloc,
                     GM_ALIGN_UP(sizeof(gm_mcache_t), (size_t)GM_PREFETCH_BLOCK) +
                         GM_PREFETCH_BLOCK,
                     offsetof(gm_mcache_t, next));
    mcache_alloc_ready = true;
  }
  gm_mcache_t *c = gm_fixalloc_alloc(&mcache_alloc);
  if (c) {
    for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
      c->alloc[i] = &gm_empty_span;
      c->full[i] = c->ready[i] = c->full_tail[i] = NULL;
      c->nfull[i] = 0;
      c->remote_hint[i] = c->remote_seen[i] = 0;
    }
    c->trimming = 0;
    c->trim_epoch = 0;
    c->nempty = 0;
    memset(c->counts, 0, sizeof c->counts);
    memset(c->sample_n, 0, sizeof c->sample_n);
    memset(c->sample_bytes, 0, sizeof c->sample_bytes);
    c->busy = &gm_tls_busy; /* runs on the owning thread */
    c->lock = 0;
    c->nslow = c->seen_nslow = c->idle_rounds = 0;
    c->prev = NULL;
    c->next = registry;
    if (registry)
      registry->prev = c;
    registry = c;
    registry_count++;
  }
  gm_unlock(&registry_lock);
  return c;
}

/* Counters of caches that are gone (registry lock). */
static uint64_t gone_sample_n[GM_NUM_CLASSES], gone_sample_bytes[GM_NUM_CLASSES];

static void mcache_destroy(gm_mcache_t *c) {
  gm_lock(&registry_lock);
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
    gm_fetch_add_relaxed(&gm_class_counts[i].nmalloc, c->counts[i].nmalloc);
    gm_fetch_add_relaxed(&gm_class_counts[i].nfree, c->counts[i].nfree);
  }
  for (unsigned i = 0; i < GM_NUM_CLASSES; i++) {
    gone_sample_n[i] += c->sample_n[i];
    gone_sample_bytes[i] += c->sample_bytes[i];
  }
  if (c->prev)
    c->prev->next = c->next;
  else
    registry = c->next;
  if (c->next)
    c->next->prev = c->prev;
  registry_count--;
  gm_fixalloc_free(&mcache_alloc, c);
  gm_unlock(&registry_lock);
}

/* The cache lock: taken by the owner around its slow paths, and by a
 * reclaimer (trylock only) while it empties an idle cache. */
static void cache_lock(gm_mcache_t *c) {
  while (gm_exchange_acqrel(&c->lock, 1))
    while (gm_load_relaxed(&c->lock))
      sched_yield();
}
static bool cache_trylock(gm_mcache_t *c) { return !gm_exchange_acqrel(&c->lock, 1); }
static void cache_unlock(gm_mcache_t *c) { gm_store_release(&c->lock, 0); }

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
 * Other threads' frees into owned spans set remote bits only; the first one
 * in a word bumps remote_hint, and a refill that finds no ready span looks
 * through the class's full list when the hint moved. What the owner does
 * not come back for goes back to mcentral: the owner's slow path hands back,
 * twice a second, the spans listed for half a second or more; the
 * idle-cache reclaim below takes everything from threads that stopped
 * allocating; thread exit, gm_thread_flush, gm_release and running out of
 * memory hand back all lists. */
#define TRIM_TICKS 5 /* scavenger ticks (100 ms) a listed span may wait */

/* A span is worth sweeping (in place, or from the ready list) once half
 * its slots are waiting: sweeping for fewer (an eighth was tried) doubles
 * the sweeps and slow paths of a steady churn, for a little less memory. */
static unsigned sweep_threshold(const gm_mspan_t *s) {
  return s->nelems >= 2 ? s->nelems / 2u : 1u;
}

static gm_mspan_t **clist_head(gm_mcache_t *c, gm_spanclass_t spc, unsigned which) {
  return which == GM_CLIST_FULL ? &c->full[spc] : &c->ready[spc];
}

static void clist_push(gm_mcache_t *c, gm_spanclass_t spc, gm_mspan_t *s, unsigned which) {
  gm_mspan_t **h = clist_head(c, spc, which);
  s->prev = NULL;
  s->next = *h;
  if (s->next)
    s->next->prev = s;
  else if (which == GM_CLIST_FULL)
    c->full_tail[spc] = s;
  *h = s;
  if (which == GM_CLIST_FULL)
    c->nfull[spc]++;
  gm_store_relaxed(&s->cache_list, (uint8_t)which); /* remote frees read it */
  s->partial_epoch = gm_load_relaxed(&gm_scav_epoch); /* age, for the trim */
  /* Full: notify at the sweep threshold. Ready: notify when every slot is
   * free (a listed span is exhausted: all its slots were handed out). */
  gm_span_set_notify(s, which == GM_CLIST_FULL ? sweep_threshold(s) : s->nelems);
  if (which == GM_CLIST_READY && gm_span_local_nfreed(s) == s->nelems)
    c->nempty++; /* empty already */
}

static void clist_remove(gm_mcache_t *c, gm_spanclass_t spc, gm_mspan_t *s) {
  gm_mspan_t **h = clist_head(c, spc, s->cache_list);
  if (s->prev)
    s->prev->next = s->next;
  else
    *h = s->next;
  if (s->next)
    s->next->prev = s->prev;
  else if (s->cache_list == GM_CLIST_FULL)
    c->full_tail[spc] = s->prev;
  if (s->cache_list == GM_CLIST_FULL)
    c->nfull[spc]--;
  s->next = s->prev = NULL;
  gm_store_relaxed(&s->cache_list, (uint8_t)GM_CLIST_NONE);
  gm_span_set_notify(s, 0);
}

/* Put an exhausted span on the list its waiting frees call for. A span
 * that other threads, and not this one, are freeing into (a producer's,
 * say) goes back to mcentral instead, as in Go: there their frees move it
 * along without this cache reading lines they keep writing. */
static void retire(gm_mcache_t *c, gm_spanclass_t spc, gm_mspan_t *s) {
  if (gm_span_local_nfreed(s) == 0 && gm_span_has_frees(s)) { /* remote frees only */
    gm_mcentral_uncache_span(s);
    return;
  }
  clist_push(c, spc, s,
             gm_span_local_nfreed(s) >= sweep_threshold(s) ? GM_CLIST_READY : GM_CLIST_FULL);
}

/* Frees waiting in s: the owner's count plus the remote bits. */
static unsigned frees_waiting(gm_mspan_t *s) {
  unsigned n = gm_span_local_nfreed(s);
  const uint64_t *r = gm_span_rfree(s, 0);
  for (unsigned w = 0; w < s->nwords; w++) {
    uint64_t x = gm_load_relaxed(&r[3 * w]);
    if (x) /* most words hold no remote free; the popcount is not free */
      n += gm_popcount64(x);
  }
  return n;
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
      clist_remove(c, spc, s);
      clist_push(c, spc, s, GM_CLIST_READY);
      moved = true;
    }
    s = next;
  }
  return moved;
}

/* Sweep s, one of c's spans, and load its cache; false if it had nothing
 * free. Cached spans are exhausted when swept: the owner-only sweep
 * applies unless other threads' frees wait. */
GM_INLINE bool sweep_owned(gm_mcache_t *c, gm_mspan_t *s) {
  gm_class_counts_t *own = &c->counts[s->spanclass];
  if (!gm_span_sweep_local(s, own) && !gm_span_sweep_counted(s, own))
    return false;
  return s->alloc_cache || gm_span_refill_cache(s);
}

/* The current span s ran out of its cache word: Go's nextFreeIndex (look
 * further along; freeindex = nelems means there is nothing further, and
 * spans of one word always end so), else a sweep in place if enough owner
 * frees are waiting. Work on s alone: no lock, no list, and the cache's
 * slot is not written (a reclaimer may have emptied it). */
GM_INLINE bool refill_current(gm_mcache_t *c, gm_mspan_t *s) {
  if (s->freeindex < s->nelems && gm_span_refill_cache(s))
    return true;
  return gm_span_local_nfreed(s) >= sweep_threshold(s) && sweep_owned(c, s);
}

/* Take listed span s off its list and make it current (sweeping it); if it
 * had nothing free after all, it goes on the full list and this is false.
 * Off the list before it becomes current: a fork may snapshot this thread
 * mid-way, and the child gives back what it finds once. The class's slot
 * holds the empty span meanwhile (mcache_next_free retired the old one). */
static bool take_listed(gm_mcache_t *c, gm_spanclass_t spc, gm_mspan_t *s) {
  clist_remove(c, spc, s);
  if (sweep_owned(c, s)) {
    c->alloc[spc] = s;
    return true;
  }
  clist_push(c, spc, s, GM_CLIST_FULL);
  return false;
}

/* The ready span with the most owner frees waiting among the newest few:
 * a sweep is worth more the more slots it gives back, and a span that
 * just crossed the threshold keeps collecting frees while it waits. */
static gm_mspan_t *best_ready(gm_mspan_t *s) {
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
    if (pass || !scan_full(c, spc))
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
    for (gm_mspan_t *o = *clist_head(c, spc, which); o && k < 8; o = o->next, k++) {
      const char *err = o->owner == c && o->state == GM_SPAN_CACHED && o->cache_list == which
                            ? gm_span_check(o)
                            : "listed span not cached here";
      if (err)
        gm_fatal("span inconsistent", (void *)o->base, err);
    }
  }
  if (s != &gm_empty_span && (s->owner != c || s->cache_list != GM_CLIST_NONE || gm_span_check(s)))
    gm_fatal("span inconsistent", (void *)s->base, "current span of an mcache");
}
#endif

static void oom_release(gm_mcache_t *c, bool locked);
static size_t detach(gm_mcache_t *c, bool current, uint32_t min_age, gm_mspan_t **list);
static void uncache_list(gm_mspan_t *list);

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
          clist_remove(c, (gm_spanclass_t)spc, s);
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
  if (s != &gm_empty_span) {
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
  if (c->nempty && refill_may_grow(spc))
    release_empty(c);
  s = gm_mcentral_cache_span(&gm_central[spc], c);
  if (GM_UNLIKELY(!s)) {
    oom_release(c, true);
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

GM_NOINLINE void gm_mcache_notify(gm_mspan_t *s) {
  gm_busy_exit();
  gm_mcache_t *c = gm_tls_mcache;
  cache_lock(c);
  /* A trim or reclaim may have taken s away since the free checked. */
  if (gm_load_relaxed(&s->owner) == c) {
    gm_spanclass_t spc = s->spanclass;
    if (s->cache_list == GM_CLIST_FULL) {
      clist_remove(c, spc, s);
      clist_push(c, spc, s, GM_CLIST_READY);
    } else if (s->cache_list == GM_CLIST_READY) {
      c->nempty++; /* every slot free: see release_empty */
    }
  }
  cache_unlock(c);
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
    if (gm_load_acquire(&gm_init_state) != 2)
      gm_init();
    if (tls_state == 0) {
      c = mcache_create();
      if (c) {
        tls_state = 1;
        gm_tls_mcache = c;
        /* Registers the exit hook. The key was made at init, and keys below
         * 32 are stored inline by glibc, so this does not allocate. */
        pthread_setspecific(gm_thread_key, c);
      }
    }
    if (c == &gm_empty_mcache) {
      /* Exited thread (or out of memory for the mcache): use the orphan
       * cache under its lock. */
      gm_lock(&orphan_lock);
      sample(&orphan_mcache, size);
      void *p = mcache_next_free(&orphan_mcache, gm_make_spanclass(gm_size_to_class(size), false));
      gm_unlock(&orphan_lock);
      return p;
    }
  }
  cache_lock(c);
  gm_store_relaxed(&c->nslow, c->nslow + 1); /* read by the reclaimer */
  sample(c, size);
  void *p = mcache_next_free(c, gm_make_spanclass(gm_size_to_class(size), false));
  /* Twice a second (scavenger ticks), hand back the listed spans this
   * thread has not come back for in that time. */
  gm_mspan_t *old = NULL;
  uint32_t ep = gm_load_relaxed(&gm_scav_epoch);
  if (ep - c->trim_epoch >= TRIM_TICKS) {
    c->trim_epoch = ep;
    detach(c, false, TRIM_TICKS, &old);
  }
  cache_unlock(c);
  uncache_list(old);
  /* Here no lock is held and the cache is consistent, so starting the
   * background thread (pthread_create allocates) is safe. */
  gm_background_poke();
  return p;
}

/* Take spans out of c, clearing their owner, and link them through next
 * onto *list: the current spans if current, and the listed spans that have
 * been on their list for min_age scavenger ticks or more (all if 0).
 * Returns how many. The caller holds c's lock. */
static size_t detach(gm_mcache_t *c, bool current, uint32_t min_age, gm_mspan_t **list) {
  uint32_t epoch = gm_load_relaxed(&gm_scav_epoch);
  size_t n = 0;
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
    gm_spanclass_t spc = (gm_spanclass_t)i;
    gm_mspan_t *s = c->alloc[i];
    if (current && s != &gm_empty_span) {
      gm_store_relaxed(&c->alloc[i], &gm_empty_span);
      gm_store_relaxed(&s->owner, (struct gm_mcache *)NULL);
      s->next = *list;
      *list = s;
      n++;
    }
    for (unsigned which = GM_CLIST_FULL; which <= GM_CLIST_READY; which++) {
      for (s = *clist_head(c, spc, which); s;) {
        gm_mspan_t *next = s->next;
        if (min_age == 0 || epoch - s->partial_epoch >= min_age) {
          clist_remove(c, spc, s);
          gm_store_relaxed(&s->owner, (struct gm_mcache *)NULL);
          s->next = *list;
          *list = s;
          n++;
        }
        s = next;
      }
    }
  }
  return n;
}

/* Hand detached spans back to their mcentrals. */
static void uncache_list(gm_mspan_t *list) {
  while (list) {
    gm_mspan_t *s = list;
    list = s->next;
    s->next = s->prev = NULL;
    gm_mcentral_uncache_span(s);
  }
}

void gm_mcache_release_all(gm_mcache_t *c) {
  gm_mspan_t *list = NULL;
  cache_lock(c);
  detach(c, true, 0, &list);
  cache_unlock(c);
  uncache_list(list);
}

/* Reclaim from idle threads. Go's mcaches are per P and are flushed while
 * the world is stopped; a C program's threads cannot be stopped, and a
 * thread blocked for an hour would keep every span it has listed pinned. So the scavenger takes them back from a cache
 * whose thread has not been in its slow path for two rounds (a thread that
 * still allocates trims its own lists, see above):
 *   1. trylock the cache (the owner's slow paths hold it);
 *   2. detach every span: current spans become the empty span, so the
 *      owner's next malloc goes to its slow path (and waits for the lock);
 *      every span's owner is cleared, so its next free of one of them is a
 *      remote free;
 *   3. membarrier(): every thread of the process executes a full barrier,
 *      so an owner fast path that starts later sees step 2, and one that
 *      started earlier has published gm_tls_busy = 1;
 *   4. wait until the owner's busy flag is clear: no fast path still holds
 *      a detached span;
 *   5. hand the spans to mcentral, as the owner's own flush would.
 * The owner pays two plain stores per malloc and free (gm_busy_enter/exit)
 * and a lock per slow path. Without membarrier (old kernels, some
 * sandboxes) nothing is reclaimed from idle threads. */
/* The common part of reclaim and trim: detach spans from each cache chosen
 * (see pick), under its lock, then fence once and wait for each owner to
 * leave its fast path, outside the registry lock: an owner may be in a
 * signal handler that forks, and the fork takes that lock. A cache held
 * locked cannot be destroyed meanwhile (its thread's exit takes the lock
 * first). Hands the spans to mcentral; returns how many caches gave some. */
typedef struct take_req {
  bool idle_only, force, current;
  uint32_t min_age;
  size_t nspans;
} take_req_t;

static bool pick(gm_mcache_t *c, take_req_t *rq) {
  if (!rq->idle_only)
    return true;
  uint32_t ns = gm_load_relaxed(&c->nslow);
  if (ns != c->seen_nslow) {
    c->seen_nslow = ns;
    c->idle_rounds = 0;
    if (!rq->force)
      return false;
  }
  return rq->force || ++c->idle_rounds >= 2;
}

static unsigned take_from_caches(take_req_t *rq) {
  if (!gm_sys_membarrier()) /* also registers on the first call */
    return 0;
  gm_mcache_t *self = gm_tls_mcache, *held = NULL;
  gm_mspan_t *list = NULL;
  unsigned ncaches = 0;
  rq->nspans = 0;
  gm_lock(&registry_lock);
  for (gm_mcache_t *c = registry; c; c = c->next) {
    if (c == self || !pick(c, rq) || !cache_trylock(c))
      continue;
    size_t k = detach(c, rq->current, rq->min_age, &list);
    if (!k) {
      cache_unlock(c);
      continue;
    }
    rq->nspans += k;
    ncaches++;
    c->trimming = 1;
    c->trim_next = held;
    held = c;
  }
  gm_unlock(&registry_lock);
  if (held && !gm_sys_membarrier())
    gm_fatal("membarrier failed", NULL, "it worked before: cannot fence an owner");
  while (held) {
    gm_mcache_t *c = held;
    held = c->trim_next;
    while (gm_load_acquire(c->busy))
      sched_yield();
    c->trimming = 0;
    cache_unlock(c);
  }
  uncache_list(list);
  return ncaches;
}

unsigned gm_mcache_reclaim_idle(bool force) {
  take_req_t rq = {.idle_only = true, .force = force, .current = true};
  return take_from_caches(&rq);
}

/* Trim: the listed spans of every other cache, busy or not, that have
 * waited min_age ticks (gm_release and out of memory). The owner never
 * touches its lists outside its lock, but a free of its own may be writing
 * a detached span's bits, hence the same fence as the reclaim. */
size_t gm_mcache_trim(uint32_t min_age) {
  take_req_t rq = {.min_age = min_age};
  take_from_caches(&rq);
  return rq.nspans;
}

/* Out of memory (the heap could not grow): before failing, give back
 * what caches keep, since their spans may be all that stands between the
 * program and its request: the caller's own lists (the caller holds c's
 * lock if locked), every other cache's lists, and the empty spans waiting
 * on central lists. The orphan cache's users hold its lock, which ranks
 * below the registry lock, so they give back their own lists only. */
static void oom_release(gm_mcache_t *c, bool locked) {
  int saved = errno;
  if (c != &gm_empty_mcache) {
    gm_mspan_t *list = NULL;
    if (!locked)
      cache_lock(c);
    detach(c, false, 0, &list);
    if (!locked)
      cache_unlock(c);
    uncache_list(list);
  }
  if (c != &orphan_mcache)
    gm_mcache_trim(0);
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++)
    gm_mcentral_reclaim(&gm_central[i]);
  errno = saved;
}

void gm_mcache_oom_release(void) { oom_release(gm_tls_mcache, false); }

void gm_mcache_thread_exit(void *arg) {
  gm_mcache_t *c = arg;
  if (!c || c == &gm_empty_mcache)
    return;
  /* From here on this thread's mallocs use the orphan cache. */
  gm_tls_mcache = &gm_empty_mcache;
  tls_state = 2;
  gm_mcache_release_all(c);
  mcache_destroy(c);
}

void gm_mcache_for_each(void (*fn)(gm_mcache_t *c, void *arg), void *arg) {
  gm_lock(&registry_lock);
  for (gm_mcache_t *c = registry; c; c = c->next)
    fn(c, arg);
  gm_lock(&orphan_lock);
  fn(&orphan_mcache, arg);
  gm_unlock(&orphan_lock);
  gm_unlock(&registry_lock);
}

static void add_counts(gm_mcache_t *c, uint64_t *nmalloc, uint64_t *nfree, uint64_t *sample_n,
                       uint64_t *sample_bytes) {
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
    nmalloc[i] += gm_load_relaxed(&c->counts[i].nmalloc);
    nfree[i] += gm_load_relaxed(&c->counts[i].nfree);
  }
  for (unsigned i = 0; i < GM_NUM_CLASSES; i++) {
    sample_n[i] += gm_load_relaxed(&c->sample_n[i]);
    sample_bytes[i] += gm_load_relaxed(&c->sample_bytes[i]);
  }
}

void gm_mcache_sum_counts(uint64_t *nmalloc, uint64_t *nfree, uint64_t *sample_n,
                          uint64_t *sample_bytes) {
  gm_lock(&registry_lock);
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
    nmalloc[i] += gm_load_relaxed(&gm_class_counts[i].nmalloc);
    nfree[i] += gm_load_relaxed(&gm_class_counts[i].nfree);
  }
  for (unsigned i = 0; i < GM_NUM_CLASSES; i++) {
    sample_n[i] += gone_sample_n[i];
    sample_bytes[i] += gone_sample_bytes[i];
  }
  for (gm_mcache_t *c = registry; c; c = c->next)
    add_counts(c, nmalloc, nfree, sample_n, sample_bytes);
  gm_lock(&orphan_lock);
  add_counts(&orphan_mcache, nmalloc, nfree, sample_n, sample_bytes);
  gm_unlock(&orphan_lock);
  gm_unlock(&registry_lock);
}

size_t gm_mcache_count(void) { return gm_load_relaxed(&registry_count); }

/* Fork: the registry and orphan locks come first in the lock order. */
void gm_mcache_lock_all(void) {
  gm_lock_for_fork(&registry_lock);
  gm_lock_for_fork(&orphan_lock);
}
void gm_mcache_unlock_all(void) {
  gm_unlock_after_fork(&orphan_lock);
  gm_unlock_after_fork(&registry_lock);
}
void gm_mcache_after_fork_child_locks(void) {
  gm_lock_reinit(&registry_lock);
  gm_lock_reinit(&orphan_lock);
}

/* Give back one span of a vanished thread's cache, once. */
static void child_release(gm_mcache_t *c, gm_mspan_t *s) {
  if (s == &gm_empty_span || s->owner != c || s->state != GM_SPAN_CACHED)
    return;
  gm_mcentral_uncache_span(s); /* clears owner: a second sighting is skipped */
}

void gm_mcache_after_fork_child(void) {
  /* Called with every lock re-initialised. The other threads do not exist
   * in the child; give their cached spans back so nothing leaks. One of
   * them may have been inside its lock-free fast path or in the middle of
   * updating its cache at the fork, so its lists are walked by next only
   * (bounded), and a span is released only while it still names that
   * cache as owner. A slot that was being handed out never reaches anyone
   * in the child, so reusing it is harmless, and the sweep rebuilds the
   * bitmaps from what was published. A span caught between lists leaks. */
  gm_mcache_t *self = gm_tls_mcache;
  if (self != &gm_empty_mcache) {
    self->lock = 0;     /* a fork from a signal handler inside our slow path */
    self->trimming = 0; /* or while the scavenger was trimming our lists */
  }
  gm_mcache_t *c = registry;
  while (c) {
    gm_mcache_t *next = c->next;
    if (c != self) {
      for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
        gm_mspan_t *lists[2] = {c->full[i], c->ready[i]};
        c->full[i] = c->ready[i] = c->full_tail[i] = NULL;
        c->nfull[i] = 0;
        for (int li = 0; li < 2; li++) {
          gm_mspan_t *s = lists[li];
          for (size_t k = 0; s && k < ((size_t)1 << 20); k++) {
            gm_mspan_t *n = s->next;
            s->next = s->prev = NULL;
            s->cache_list = GM_CLIST_NONE;
            child_release(c, s);
            s = n;
          }
        }
        gm_mspan_t *s = c->alloc[i];
        c->alloc[i] = &gm_empty_span;
        child_release(c, s);
      }
      mcache_destroy(c);
    }
    c = next;
  }
}
