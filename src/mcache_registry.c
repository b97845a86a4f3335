/* mcache_registry.c: the caches as a set: the registry of live caches and
 * their struct allocator, a thread's start (its first slow path) and exit,
 * the spare caches exited threads leave to new ones, the orphan cache that
 * serves threads after their exit, the counters summed over all caches,
 * and fork (the registry and orphan locks come first in the lock order;
 * the child gives back the spans of threads that do not exist in it).
 *
 * Spares. Go's Ps outlive its Ms: a new M takes an idle P with its mcache
 * intact. Here a cache belongs to a thread, but an exiting thread's cache
 * need not be taken apart: it becomes a spare, its spans still owned by it,
 * its lists and their counts as they were, and the next new thread takes
 * it whole. A thread that hands its live blocks to a successor and exits
 * (a server's workers coming and going) used to send every span through
 * mcentral at exit (a locked sweep each), and the successor took them back
 * one refill at a time (another), its frees of the blocks it inherited
 * mostly remote; with the spare its frees are owner frees, into spans with
 * their lists intact (bench handoff: ~0.15 -> ~0.09 s, half the slow
 * paths). Up to GOMALLOC_SPARE_CACHES (default 1) wait; one more exiting
 * thread flushes its cache as before. Before a cache is parked, the ready
 * spans but the newest of each class go to mcentral, where any thread can
 * use their free slots (peak RSS of handoff stayed where the flush had it;
 * parking them too cost ~15%). A spare stays on the registry list, so the
 * statistics, the trim and the idle-cache reclaim see it as any cache (its
 * busy count is spare_busy, always 0: no thread runs a fast path on it);
 * one that no thread has taken for two reclaim rounds, and every spare on
 * malloc_trim or out of memory, is flushed and freed. */
#include "mcache_internal.h"

#include "error.h"
#include "fixalloc.h"
#include "mcentral.h"
#include "options.h"

#include <pthread.h>
#include <stddef.h>
#include <string.h>

/* Thread life cycle: 0 = no mcache yet, 1 = has one, 2 = exited (its
 * pthread key destructor ran). After exit, allocations from later
 * destructors of the same thread go through the shared orphan cache. */
static __thread uint8_t tls_state __attribute__((tls_model("initial-exec")));

extern pthread_key_t gm_thread_key; /* init.c */

/* Registry of live mcaches, and their struct allocator. */
gm_lock_t gm_mcache_registry_lock = GM_LOCK_INIT;
gm_mcache_t *gm_mcache_registry;
static size_t registry_count;
static gm_fixalloc_t mcache_alloc;
static bool mcache_alloc_ready;

/* The orphan cache serves threads that have no mcache of their own any more
 * (allocations from TLS destructors running after ours). One lock guards it;
 * such allocations are rare. */
gm_lock_t gm_mcache_orphan_lock = GM_LOCK_INIT;
gm_mcache_t gm_mcache_orphan = {.alloc = {[0 ... GM_NUM_SPAN_CLASSES - 1] = &gm_empty_span},
                                .hot_top = {[0 ... GM_NUM_SPAN_CLASSES - 1] = GM_HOT_NONE}};

/* Spares (registry lock): linked through spare_next, newest first. */
static gm_mcache_t *spare_head;
static size_t nspare;
static uint8_t spare_busy;    /* a spare's busy count: always 0 */
static uint8_t flushed_busy;  /* that of a spare being flushed: also 0 */
static uint32_t spare_clock; /* reclaim rounds (gm_mcache_flush_spares) */

static gm_mcache_t *mcache_create(void) {
  gm_lock(&gm_mcache_registry_lock);
  gm_mcache_t *spare = spare_head;
  if (spare) {
    /* The newest spare: its spans were touched last. */
    spare_head = spare->spare_next;
    spare->spare_next = NULL;
    gm_store_relaxed(&nspare, nspare - 1);
    spare->busy = &gm_tls_busy; /* runs on the owning thread */
    spare->seen_nslow = spare->nslow; /* the reclaimer's idle rounds start again */
    spare->idle_rounds = 0;
    gm_unlock(&gm_mcache_registry_lock);
    return spare;
  }
  if (!mcache_alloc_ready) {
    /* Whole prefetch blocks and one more as a gap (config.h): malloc reads
     * the start of its cache, and another thread's slow path writes the
     * end of its own right before it. */
    size_t size = sizeof(gm_mcache_t) + GM_HOT_ALL_BYTES; /* with its stacks */
    gm_fixalloc_init(&mcache_alloc, GM_ALIGN_UP(size, (size_t)GM_PREFETCH_BLOCK) + GM_PREFETCH_BLOCK,
                     offsetof(gm_mcache_t, next));
    mcache_alloc_ready = true;
  }
  gm_mcache_t *c = gm_fixalloc_alloc(&mcache_alloc);
  /* The hot stacks' full test needs their blocks aligned (mcache.h):
   * fixalloc carves whole blocks from page-aligned chunks. */
  if (c && ((uintptr_t)c->hot & (GM_HOT_BYTES - 1)))
    gm_fatal("mcache misaligned", c, "internal error");
  if (c) {
    for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
      c->alloc[i] = &gm_empty_span;
      c->full[i] = c->ready[i] = c->full_tail[i] = NULL;
      c->nfull[i] = 0;
      c->remote_hint[i] = c->remote_seen[i] = 0;
      /* The always empty and always full GM_HOT_NONE: the class's stack
       * is set up when the cache takes its first span of the class
       * (gm_mcache_hot_setup); with GOMALLOC_HOT=off none is, and each
       * free is counted for its span's sweep, as before the stacks. */
      c->hot_top[i] = GM_HOT_NONE;
      c->hot_pops[i] = 0;
    }
    c->hot_stale = 0;
    c->hot_on = gm_options.hot;
    c->trimming = c->gave_up = 0;
    c->trim_taken[0] = c->trim_taken[1] = c->trim_taken[2] = NULL;
    c->trim_epoch = 0;
    c->nempty = 0;
    memset(c->counts, 0, sizeof c->counts);
    memset(c->sample_n, 0, sizeof c->sample_n);
    memset(c->sample_bytes, 0, sizeof c->sample_bytes);
    c->busy = &gm_tls_busy; /* runs on the owning thread */
    c->lock = c->taker = 0;
    c->nslow = c->seen_nslow = c->idle_rounds = 0;
    c->spare_next = NULL;
    c->prev = NULL;
    c->next = gm_mcache_registry;
    if (gm_mcache_registry)
      gm_mcache_registry->prev = c;
    gm_mcache_registry = c;
    registry_count++;
  }
  gm_unlock(&gm_mcache_registry_lock);
  return c;
}

/* Counters of caches that are gone (registry lock). */
static uint64_t gone_sample_n[GM_NUM_CLASSES], gone_sample_bytes[GM_NUM_CLASSES];

static void mcache_destroy(gm_mcache_t *c) {
  gm_lock(&gm_mcache_registry_lock);
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
    /* A slot handed out from a hot stack is a malloc and a free (of its
     * previous block) that no sweep sees. */
    uint64_t pops = gm_mcache_hot_pops(c, i);
    gm_fetch_add_relaxed(&gm_class_counts[i].nmalloc, c->counts[i].nmalloc + pops);
    gm_fetch_add_relaxed(&gm_class_counts[i].nfree, c->counts[i].nfree + pops);
  }
  for (unsigned i = 0; i < GM_NUM_CLASSES; i++) {
    gone_sample_n[i] += c->sample_n[i];
    gone_sample_bytes[i] += c->sample_bytes[i];
  }
  if (c->prev)
    c->prev->next = c->next;
  else
    gm_mcache_registry = c->next;
  if (c->next)
    c->next->prev = c->prev;
  registry_count--;
  gm_fixalloc_free(&mcache_alloc, c);
  gm_unlock(&gm_mcache_registry_lock);
}

/* A thread's first slow path: initialise the allocator if that has not
 * happened yet, and give the thread a cache of its own. Returns the
 * thread's cache, or &gm_empty_mcache if the thread has exited or no cache
 * could be made (out of memory for metadata): the caller then uses the
 * orphan cache, and a later slow path tries again. */
gm_mcache_t *gm_mcache_thread_start(void) {
  gm_mcache_t *c = &gm_empty_mcache;
  if (gm_load_acquire(&gm_init_state) != GM_INIT_DONE)
    gm_init();
  if (tls_state == 0) {
    gm_mcache_t *n = mcache_create();
    if (n) {
      c = n;
      tls_state = 1;
      gm_tls_mcache = c;
      /* Registers the exit hook. The key was made at init, and keys below
       * 32 are stored inline by glibc, so this does not allocate. */
      pthread_setspecific(gm_thread_key, c);
    }
  }
  return c;
}

/* Park exiting thread's cache c as a spare, if fewer than the option's
 * count wait; false if not. */
static bool park(gm_mcache_t *c) {
  size_t max = gm_options.spare_caches;
  if (max == 0 || gm_load_relaxed(&nspare) >= max)
    return false;
  gm_mspan_t *list = NULL;
  gm_cache_lock(c);
  gm_mcache_detach_spare_ready(c, &list);
  gm_cache_unlock(c);
  gm_mcache_uncache_list(list);
  gm_lock(&gm_mcache_registry_lock);
  bool parked = nspare < max;
  if (parked) {
    c->busy = &spare_busy; /* our TLS goes away with the thread */
    c->spare_round = spare_clock;
    c->spare_next = spare_head;
    spare_head = c;
    gm_store_relaxed(&nspare, nspare + 1);
  }
  gm_unlock(&gm_mcache_registry_lock);
  return parked;
}

void gm_mcache_thread_exit(void *arg) {
  gm_mcache_t *c = arg;
  if (!c || c == &gm_empty_mcache)
    return;
  /* From here on this thread's mallocs use the orphan cache. */
  gm_tls_mcache = &gm_empty_mcache;
  tls_state = 2;
  if (park(c))
    return;
  gm_mcache_release_all(c);
  mcache_destroy(c);
}

/* Flush and free the spares parked two or more calls ago (all if all).
 * The idle-cache reclaim calls it once a round, the trim with all. */
void gm_mcache_flush_spares(bool all) {
  gm_mcache_t *out = NULL;
  gm_lock(&gm_mcache_registry_lock);
  if (!all)
    spare_clock++;
  for (gm_mcache_t **pp = &spare_head; *pp;) {
    gm_mcache_t *c = *pp;
    if (all || spare_clock - c->spare_round >= 2) {
      *pp = c->spare_next;
      gm_store_relaxed(&nspare, nspare - 1);
      /* Neither spare nor owned now, but still registered: a trimmer that
       * finds it takes its spans under its lock, as release_all does. */
      c->busy = &flushed_busy;
      c->spare_next = out;
      out = c;
    } else {
      pp = &c->spare_next;
    }
  }
  gm_unlock(&gm_mcache_registry_lock);
  while (out) {
    gm_mcache_t *c = out;
    out = c->spare_next;
    c->spare_next = NULL;
    gm_mcache_release_all(c);
    mcache_destroy(c);
  }
}

size_t gm_mcache_spare_count(void) { return gm_load_relaxed(&nspare); }

void gm_mcache_for_each(void (*fn)(gm_mcache_t *c, void *arg), void *arg) {
  gm_lock(&gm_mcache_registry_lock);
  for (gm_mcache_t *c = gm_mcache_registry; c; c = c->next)
    fn(c, arg);
  gm_lock(&gm_mcache_orphan_lock);
  fn(&gm_mcache_orphan, arg);
  gm_unlock(&gm_mcache_orphan_lock);
  gm_unlock(&gm_mcache_registry_lock);
}

static void add_counts(gm_mcache_t *c, uint64_t *nmalloc, uint64_t *nfree, uint64_t *sample_n,
                       uint64_t *sample_bytes) {
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
    uint64_t pops = gm_mcache_hot_pops(c, i); /* see mcache_destroy */
    nmalloc[i] += gm_load_relaxed(&c->counts[i].nmalloc) + pops;
    nfree[i] += gm_load_relaxed(&c->counts[i].nfree) + pops;
  }
  for (unsigned i = 0; i < GM_NUM_CLASSES; i++) {
    sample_n[i] += gm_load_relaxed(&c->sample_n[i]);
    sample_bytes[i] += gm_load_relaxed(&c->sample_bytes[i]);
  }
}

void gm_mcache_sum_counts(uint64_t *nmalloc, uint64_t *nfree, uint64_t *sample_n,
                          uint64_t *sample_bytes, void (*lock_below)(void)) {
  gm_lock(&gm_mcache_registry_lock);
  gm_lock(&gm_mcache_orphan_lock);
  if (lock_below)
    lock_below();
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
    nmalloc[i] += gm_load_relaxed(&gm_class_counts[i].nmalloc);
    nfree[i] += gm_load_relaxed(&gm_class_counts[i].nfree);
  }
  for (unsigned i = 0; i < GM_NUM_CLASSES; i++) {
    sample_n[i] += gone_sample_n[i];
    sample_bytes[i] += gone_sample_bytes[i];
  }
  for (gm_mcache_t *c = gm_mcache_registry; c; c = c->next)
    add_counts(c, nmalloc, nfree, sample_n, sample_bytes);
  add_counts(&gm_mcache_orphan, nmalloc, nfree, sample_n, sample_bytes);
  gm_unlock(&gm_mcache_orphan_lock);
  gm_unlock(&gm_mcache_registry_lock);
}

/* Threads with a cache: the registered caches but the spares. */
size_t gm_mcache_count(void) {
  gm_lock(&gm_mcache_registry_lock);
  size_t n = registry_count - nspare;
  gm_unlock(&gm_mcache_registry_lock);
  return n;
}

/* Fork: the registry and orphan locks come first in the lock order. A
 * trimmer holds the registry lock until it has let go of every cache it
 * took (mcache_reclaim.c), so in the window between our prepare and our
 * parent or child handler, where fork handlers of other libraries may
 * allocate (gm_lock_t), the forking thread's cache is free. */
void gm_mcache_fork_prepare(void) {
  gm_lock_for_fork(&gm_mcache_registry_lock);
  gm_lock_for_fork(&gm_mcache_orphan_lock);
}
void gm_mcache_fork_parent(void) {
  gm_unlock_after_fork(&gm_mcache_orphan_lock);
  gm_unlock_after_fork(&gm_mcache_registry_lock);
}

/* Give back one span of a vanished thread's cache, once. */
static void child_release(gm_mcache_t *c, gm_mspan_t *s) {
  if (s == &gm_empty_span || s->owner != c || s->state != GM_SPAN_CACHED)
    return;
  gm_mcentral_uncache_span(s); /* clears owner: a second sighting is skipped */
}

void gm_mcache_fork_child(void) {
  gm_lock_reinit(&gm_mcache_registry_lock);
  gm_lock_reinit(&gm_mcache_orphan_lock);
  /* Called with every lock below re-initialised. The other threads do not exist
   * in the child; give their cached spans back so nothing leaks. One of
   * them may have been inside its lock-free fast path or in the middle of
   * updating its cache at the fork, so its lists are walked by next only
   * (bounded), and a span is released only while it still names that
   * cache as owner. A slot that was being handed out never reaches anyone
   * in the child, so reusing it is harmless, and the sweep rebuilds the
   * bitmaps from what was published. A span caught between lists leaks. */
  gm_mcache_t *self = gm_tls_mcache;
  if (self != &gm_empty_mcache) {
    self->lock = 0; /* a fork from a signal handler inside our slow path */
    self->taker = 0; /* or while a trimmer, gone now, tried our lock */
    if (self->trimming) /* or while a trimmer, gone now, held our spans */
      gm_mcache_untake(self);
    self->trimming = 0;
  }
  gm_mcache_t *c = gm_mcache_registry;
  while (c) {
    gm_mcache_t *next = c->next;
    /* Spares stay: no thread was using them (the registry lock, which
     * parking and taking one hold, was ours), so they are whole. A spare
     * being flushed (flushed_busy) is given back here, as its flusher
     * does not exist in the child. */
    if (c != self && c->busy != &spare_busy) {
      if (c->trimming) /* its spans are released below, not leaked */
        gm_mcache_untake(c);
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
