/* mcache.c: per-thread span caches: refill, flush, thread set-up and exit.
 * See mcache.h. */
#include "mcache.h"

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

/* A span that is permanently exhausted: its alloc_cache is 0 and refilling
 * it finds nothing, so every empty mcache slot sends malloc to the slow
 * path. Its bitmaps are all "allocated". */
gm_mspan_t gm_empty_span = {.alloc_cache = 0, .nelems = 0, .freeindex = 0, .state = GM_SPAN_CACHED};

gm_mcache_t gm_empty_mcache = {.alloc = {[0 ... GM_NUM_SPAN_CLASSES - 1] = &gm_empty_span}};

__thread gm_mcache_t *gm_tls_mcache __attribute__((tls_model("initial-exec"))) = &gm_empty_mcache;
__thread uint8_t gm_tls_busy __attribute__((tls_model("initial-exec")));

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
    gm_fixalloc_init(&mcache_alloc, sizeof(gm_mcache_t), offsetof(gm_mcache_t, next));
    mcache_alloc_ready = true;
  }
  gm_mcache_t *c = gm_fixalloc_alloc(&mcache_alloc);
  if (c) {
    for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
      c->alloc[i] = &gm_empty_span;
      c->owned[i] = NULL;
      c->nowned[i] = 0;
    }
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

static void mcache_destroy(gm_mcache_t *c) {
  gm_lock(&registry_lock);
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
 * live objects fill more than one span would see most of its frees land in
 * spans the thread no longer caches, each an atomic remote free, and the
 * current span would be swept over and over for a handful of slots. So a
 * cache also keeps a few exhausted spans per class as owned (still CACHED,
 * owner = this cache): frees into them are plain writes, and refill picks
 * the owned span with the most frees waiting. The stash is bounded to
 * about four pages per class; past that the oldest span goes back to
 * mcentral (uncache), and thread exit or gm_thread_flush returns all. */
static unsigned max_owned(gm_spanclass_t spc) {
  unsigned np = gm_class_to_allocnpages[gm_spanclass_sizeclass(spc)];
  return np >= 4 ? 1 : 4 / np;
}

static void owned_push(gm_mcache_t *c, gm_spanclass_t spc, gm_mspan_t *s) {
  s->prev = NULL;
  s->next = c->owned[spc];
  if (s->next)
    s->next->prev = s;
  c->owned[spc] = s;
  c->nowned[spc]++;
}

static void owned_remove(gm_mcache_t *c, gm_spanclass_t spc, gm_mspan_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    c->owned[spc] = s->next;
  if (s->next)
    s->next->prev = s->prev;
  s->next = s->prev = NULL;
  c->nowned[spc]--;
}

/* Sweep s and make it the current span; false if it had nothing free. */
static bool take_swept(gm_mcache_t *c, gm_spanclass_t spc, gm_mspan_t *s) {
  if (!gm_span_sweep(s))
    return false;
  c->alloc[spc] = s;
  return s->alloc_cache || gm_span_refill_cache(s);
}

/* Take a slot from mcache c's span of class spc, refilling as needed. */
static void *mcache_next_free(gm_mcache_t *c, gm_spanclass_t spc) {
  gm_mspan_t *s = c->alloc[spc];
#if GM_DEBUG
  /* Debug builds check every span this cache holds, on every refill. */
  for (gm_mspan_t *o = c->owned[spc]; o; o = o->next) {
    const char *err = o->owner == c && o->state == GM_SPAN_CACHED ? gm_span_check(o)
                                                                   : "owned span not cached here";
    if (err)
      gm_fatal("span inconsistent", (void *)o->base, err);
  }
  if (s != &gm_empty_span && (s->owner != c || gm_span_check(s)))
    gm_fatal("span inconsistent", (void *)s->base, "current span of an mcache");
#endif
  if (s != &gm_empty_span) {
    /* Go's nextFreeIndex: the cache word ran out; look further along. */
    if (gm_span_refill_cache(s))
      return gm_span_next_free_fast(s);
    /* Exhausted. Sweep the owned span (this one included) with the most
     * owner frees waiting, if that is worth it: no lock, no list traffic. */
    gm_mspan_t *best = s;
    for (gm_mspan_t *o = c->owned[spc]; o; o = o->next)
      if (o->local_nfreed > best->local_nfreed)
        best = o;
    unsigned enough = s->nelems >= 8 ? s->nelems / 8u : 1u;
    if (best->local_nfreed >= enough) {
      if (best != s) {
        /* Keep every span reachable from the cache at most once at each
         * step: a fork may snapshot this thread mid-way, and the child
         * gives back what it finds (gm_mcache_after_fork_child). */
        c->alloc[spc] = &gm_empty_span;
        owned_remove(c, spc, best);
        owned_push(c, spc, s);
      }
      if (take_swept(c, spc, best))
        return gm_span_next_free_fast(best);
      s = best; /* cannot happen (it had frees), but stay consistent */
    }
    /* Keep the exhausted span owned; hand the oldest back if too many. */
    c->alloc[spc] = &gm_empty_span;
    owned_push(c, spc, s);
    if (c->nowned[spc] > max_owned(spc)) {
      gm_mspan_t *old = c->owned[spc];
      while (old->next)
        old = old->next;
      owned_remove(c, spc, old);
      gm_mcentral_uncache_span(old);
    }
  }
  s = gm_mcentral_cache_span(&gm_central[spc], c);
  if (GM_UNLIKELY(!s)) {
    errno = ENOMEM;
    return NULL;
  }
  c->alloc[spc] = s;
  if (!s->alloc_cache && !gm_span_refill_cache(s))
    gm_fatal("span from mcentral has no free slot", (void *)s->base, "internal error");
  return gm_span_next_free_fast(s);
}

GM_NOINLINE void *gm_mcache_alloc_slow(size_t size) {
  gm_stats_sample(size); /* stats hook: a sample of request sizes, off the fast path */
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
      void *p = mcache_next_free(&orphan_mcache, gm_make_spanclass(gm_size_to_class(size), false));
      gm_unlock(&orphan_lock);
      return p;
    }
  }
  cache_lock(c);
  gm_store_relaxed(&c->nslow, c->nslow + 1); /* read by the reclaimer */
  void *p = mcache_next_free(c, gm_make_spanclass(gm_size_to_class(size), false));
  cache_unlock(c);
  /* Here no lock is held and the cache is consistent, so starting the
   * scavenger (pthread_create allocates) is safe. */
  gm_scavenger_poke();
  return p;
}

/* Take every span out of c (current and owned), clearing their owner;
 * returns them linked through next. */
static gm_mspan_t *detach(gm_mcache_t *c) {
  gm_mspan_t *list = NULL;
  for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
    gm_mspan_t *s = c->alloc[i];
    if (s != &gm_empty_span) {
      gm_store_relaxed(&c->alloc[i], &gm_empty_span);
      gm_store_relaxed(&s->owner, (struct gm_mcache *)NULL);
      s->next = list;
      list = s;
    }
    while ((s = c->owned[i]) != NULL) {
      owned_remove(c, (gm_spanclass_t)i, s);
      gm_store_relaxed(&s->owner, (struct gm_mcache *)NULL);
      s->next = list;
      list = s;
    }
  }
  return list;
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
  cache_lock(c);
  gm_mspan_t *list = detach(c);
  cache_unlock(c);
  uncache_list(list);
}

/* Reclaim from idle threads. Go's mcaches are per P and are flushed while
 * the world is stopped; a C program's threads cannot be stopped, and a
 * thread blocked for an hour keeps its spans (up to about four pages per
 * class, a few MiB) pinned. So the scavenger takes them back from a cache
 * whose thread has not been in its slow path for two rounds:
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
 * sandboxes) nothing is reclaimed and caches stay bounded only. */
unsigned gm_mcache_reclaim_idle(bool force) {
  gm_mcache_t *self = gm_tls_mcache;
  unsigned n = 0;
  if (!gm_sys_membarrier()) /* also registers on the first call */
    return 0;
  gm_lock(&registry_lock);
  for (gm_mcache_t *c = registry; c; c = c->next) {
    if (c == self)
      continue;
    uint32_t ns = gm_load_relaxed(&c->nslow);
    if (ns != c->seen_nslow) {
      c->seen_nslow = ns;
      c->idle_rounds = 0;
      if (!force)
        continue;
    }
    if (!force && ++c->idle_rounds < 2)
      continue;
    if (!cache_trylock(c))
      continue;
    gm_mspan_t *list = detach(c);
    if (list && !gm_sys_membarrier())
      gm_fatal("membarrier failed", NULL, "it worked before: cannot fence an owner");
    while (list && gm_load_acquire(c->busy))
      sched_yield();
    cache_unlock(c);
    if (list)
      n++;
    uncache_list(list);
  }
  gm_unlock(&registry_lock);
  return n;
}

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
  if (self != &gm_empty_mcache)
    self->lock = 0; /* a fork from a signal handler inside our slow path */
  gm_mcache_t *c = registry;
  while (c) {
    gm_mcache_t *next = c->next;
    if (c != self) {
      for (unsigned i = 0; i < GM_NUM_SPAN_CLASSES; i++) {
        gm_mspan_t *s = c->owned[i];
        c->owned[i] = NULL;
        c->nowned[i] = 0;
        for (unsigned k = 0; s && k < 64; k++) {
          gm_mspan_t *n = s->next;
          s->next = s->prev = NULL;
          child_release(c, s);
          s = n;
        }
        s = c->alloc[i];
        c->alloc[i] = &gm_empty_span;
        child_release(c, s);
      }
      mcache_destroy(c);
    }
    c = next;
  }
}
