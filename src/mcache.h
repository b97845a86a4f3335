/* mcache.h: the per-thread cache (Go's mcache, per thread instead of per P)
 * and the small-object malloc/free fast paths.
 *
 * Each thread has one current span per span class. malloc takes the next
 * free slot from that span's allocCache: no lock, no atomic
 * read-modify-write. A thread's mcache pointer lives in initial-exec TLS and
 * starts at a static empty mcache whose spans are all "exhausted", so the
 * fast path needs no "is this thread set up" test: a thread's first malloc
 * falls into the slow path, which sets it up. */
#ifndef GM_MCACHE_H
#define GM_MCACHE_H

#include "arena.h"
#include "internal.h"
#include "sizeclass.h"
#include "span.h"

typedef struct gm_mcache {
  gm_mspan_t *alloc[GM_NUM_SPAN_CLASSES]; /* current span per span class */
  /* Exhausted spans this cache still owns, newest first (linked through
   * span next/prev), and how many per class. Frees into them stay plain
   * owner writes; when the current span runs out, the owned span with the
   * most frees waiting is swept and becomes current. See mcache.c. */
  gm_mspan_t *owned[GM_NUM_SPAN_CLASSES];
  uint8_t nowned[GM_NUM_SPAN_CLASSES];
  struct gm_mcache *next, *prev; /* all mcaches (registry lock) */
  /* Reclaim from idle threads (mcache.c): the owner's gm_tls_busy, a lock
   * its slow paths take (a spin flag, uncontended but for a reclaim), its
   * count of slow paths, and the reclaimer's view of that count. */
  uint8_t *busy;
  uint8_t lock;
  uint32_t nslow;
  uint32_t seen_nslow, idle_rounds;
} gm_mcache_t;

/* Set while this thread is inside a fast path that touches its mcache or
 * its spans without a lock. A reclaimer that has detached the cache waits
 * for it to clear; a process-wide membarrier on the reclaimer's side stands
 * in for the store-load fence the owner would otherwise need here, so
 * entering and leaving cost one plain store each. */
extern __thread uint8_t gm_tls_busy __attribute__((tls_model("initial-exec")));
GM_INLINE void gm_busy_enter(void) {
  gm_store_relaxed(&gm_tls_busy, 1);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
}
GM_INLINE void gm_busy_exit(void) { gm_store_release(&gm_tls_busy, 0); }

/* The calling thread's mcache (&gm_empty_mcache until its first malloc). */
extern __thread gm_mcache_t *gm_tls_mcache __attribute__((tls_model("initial-exec")));
extern gm_mcache_t gm_empty_mcache;
extern gm_mspan_t gm_empty_span;

/* Slow path of small malloc: refill the span of this class (sweep it in
 * place, or trade it with mcentral), setting up the thread on first use.
 * size is the request (the class is recomputed after set-up). */
void *gm_mcache_alloc_slow(size_t size);

/* The small-object malloc fast path (Go's mallocgc small path +
 * nextFreeFast). */
GM_INLINE void *gm_mcache_alloc_small(size_t size) {
  unsigned cls = gm_size_to_class(size);
  gm_mcache_t *c = gm_tls_mcache;
  gm_busy_enter();
  /* relaxed: a reclaimer may swap in the empty span (a plain mov). */
  gm_mspan_t *s = gm_load_relaxed(&c->alloc[gm_make_spanclass(cls, false)]);
  uint64_t cache = s->alloc_cache;
  if (GM_LIKELY(cache != 0)) {
    void *p = gm_span_take(s, cache);
    gm_busy_exit();
    return p;
  }
  gm_busy_exit();
  return gm_mcache_alloc_slow(size);
}

/* Return every cached span to mcentral (Go's releaseAll). Owner only. */
void gm_mcache_release_all(gm_mcache_t *c);

/* Take back the spans of caches whose threads have not allocated since the
 * last two calls (all caches but the caller's if force), without stopping
 * or signalling them. Returns the number of caches emptied. */
unsigned gm_mcache_reclaim_idle(bool force);

/* Thread exit (pthread key destructor, init.c). */
void gm_mcache_thread_exit(void *arg);

/* Walk all live mcaches (for stats); fn runs under the registry lock. */
void gm_mcache_for_each(void (*fn)(gm_mcache_t *c, void *arg), void *arg);
size_t gm_mcache_count(void);

void gm_mcache_lock_all(void);
void gm_mcache_unlock_all(void);
void gm_mcache_after_fork_child_locks(void);
void gm_mcache_after_fork_child(void);

#endif
