/* mcache_internal.h: what mcache.c (the lists and refill), mcache_reclaim.c
 * (taking spans back) and mcache_registry.c (the caches, thread start and
 * exit, fork) share, and no other file includes. */
#ifndef GM_MCACHE_INTERNAL_H
#define GM_MCACHE_INTERNAL_H

#include "mcache.h"

#include <sched.h>

/* The cache lock. Two kinds of holder: the owner around its slow paths
 * (or the thread that flushes a cache no thread owns: a spare, an exited
 * thread's), and a taker (mcache_reclaim.c: the reclaim or the trim, one
 * at a time under the registry lock), which only ever tries. The owner
 * takes it on every slow path, a taker a few times a second, so the lock
 * is asymmetric, Dekker's with the fence on one side (as in userspace RCU):
 * the owner stores lock = 1 and then reads taker, no fence between; a
 * taker stores taker = 1, runs membarrier() (every running thread of the
 * process executes a full barrier), then reads lock. At least one sees the
 * other's flag: the owner that sees taker backs off and waits for it to
 * clear, the taker that sees lock gives up this cache. (Without membarrier
 * nothing is taken.) The owner's exchange it replaces waited for every
 * store the thread had pending: 18% of the samples of a ring of threads
 * that fill blocks and free each other's (wl_rings, perf). Under
 * ThreadSanitizer, which cannot see membarrier's barriers, both sides
 * take the lock byte with an exchange, as before. */
#if defined(__SANITIZE_THREAD__)
#define GM_CACHE_LOCK_XCHG 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GM_CACHE_LOCK_XCHG 1
#endif
#endif
#ifndef GM_CACHE_LOCK_XCHG
#define GM_CACHE_LOCK_XCHG 0
#endif

/* The owner's (or a flusher's) lock. */
GM_INLINE void gm_cache_lock(gm_mcache_t *c) {
#if GM_CACHE_LOCK_XCHG
  while (gm_exchange_acqrel(&c->lock, 1))
    while (gm_load_relaxed(&c->lock))
      sched_yield();
#else
  /* Only the owner writes lock: set already, this is a signal handler's
   * malloc inside our own slow path, which waits for ever, as it did for
   * the exchange (undefined; better than corrupting the lists). */
  while (gm_load_relaxed(&c->lock))
    sched_yield();
  for (;;) {
    gm_store_relaxed(&c->lock, (uint8_t)1);
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* the taker's membarrier does the rest */
    if (GM_LIKELY(!gm_load_acquire(&c->taker)))
      return;
    gm_store_release(&c->lock, (uint8_t)0);
    while (gm_load_acquire(&c->taker))
      sched_yield();
  }
#endif
}
GM_INLINE void gm_cache_unlock(gm_mcache_t *c) { gm_store_release(&c->lock, (uint8_t)0); }

/* A taker's try, in two steps around one membarrier() for all the caches
 * it tries (the caller holds the registry lock): announce, then, after
 * the fence, true if the lock is the taker's; false if the owner holds it
 * (the announcement is withdrawn). */
GM_INLINE void gm_cache_try_announce(gm_mcache_t *c) {
#if !GM_CACHE_LOCK_XCHG
  gm_store_relaxed(&c->taker, (uint8_t)1);
#else
  (void)c;
#endif
}
GM_INLINE bool gm_cache_try_fenced(gm_mcache_t *c) {
#if GM_CACHE_LOCK_XCHG
  return !gm_exchange_acqrel(&c->lock, 1);
#else
  if (GM_LIKELY(!gm_load_acquire(&c->lock)))
    return true;
  gm_store_release(&c->taker, (uint8_t)0);
  return false;
#endif
}
/* Withdraw an announcement without trying (no fence to be had). */
GM_INLINE void gm_cache_try_withdraw(gm_mcache_t *c) {
#if !GM_CACHE_LOCK_XCHG
  gm_store_release(&c->taker, (uint8_t)0);
#else
  (void)c;
#endif
}
/* The taker lets go (of a lock gm_cache_try_fenced gave it). */
GM_INLINE void gm_cache_untry(gm_mcache_t *c) {
#if GM_CACHE_LOCK_XCHG
  gm_store_release(&c->lock, (uint8_t)0);
#else
  gm_store_release(&c->taker, (uint8_t)0);
#endif
}

/* The owned span lists (mcache.c). */
GM_INLINE gm_mspan_t **gm_clist_head(gm_mcache_t *c, gm_spanclass_t spc, unsigned which) {
  return which == GM_CLIST_FULL ? &c->full[spc] : &c->ready[spc];
}
void gm_clist_remove(gm_mcache_t *c, gm_spanclass_t spc, gm_mspan_t *s);
/* The list links alone: no notify count, age or nempty (clist_push and
 * gm_clist_remove in mcache.c add those; a trimmer that takes spans and may
 * put them back uses these, mcache_reclaim.c). link pushes s on the head
 * of list which (GM_CLIST_FULL or GM_CLIST_READY). */
GM_INLINE void gm_clist_link(gm_mcache_t *c, gm_spanclass_t spc, gm_mspan_t *s, unsigned which) {
  gm_mspan_t **h = gm_clist_head(c, spc, which);
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
}

GM_INLINE void gm_clist_unlink(gm_mcache_t *c, gm_spanclass_t spc, gm_mspan_t *s) {
  gm_mspan_t **h = gm_clist_head(c, spc, s->cache_list);
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
}

/* The hot stacks (mcache_hot.c), owner only. drop_span forgets the
 * entries naming s, drop_unowned those of class spc naming a span c no
 * longer owns, discard all of them; restore empties them if a reclaimer
 * took spans (cache lock held); pops is the count of slots class spc
 * handed out from its stack. */
extern gm_hot_slot_t gm_hot_none[GM_HOT_SLOTS];
#define GM_HOT_NONE (&gm_hot_none[GM_HOT_SLOTS - 1])
/* gm_mcache_notify for one span, c's lock held (mcache.c). */
void gm_mcache_notify_locked(gm_mcache_t *c, gm_mspan_t *s);
void gm_mcache_hot_drop_span(gm_mcache_t *c, gm_mspan_t *s);
/* Set up class spc's stack if not yet (owner, before it takes a span). */
void gm_mcache_hot_setup(gm_mcache_t *c, gm_spanclass_t spc);
void gm_mcache_hot_drop_unowned(gm_mcache_t *c, gm_spanclass_t spc);
void gm_mcache_hot_discard(gm_mcache_t *c);
/* Before a refill that may grow the heap: the classes not popped since the
 * last such refill give up their entries (counted), cache lock held. */
void gm_mcache_hot_drop_idle(gm_mcache_t *c);
void gm_mcache_hot_restore(gm_mcache_t *c);
uint64_t gm_mcache_hot_pops(gm_mcache_t *c, unsigned spc);
#if GM_DEBUG
void gm_mcache_hot_check(gm_mcache_t *c, gm_spanclass_t spc);
#endif

/* Taking spans out of a cache (mcache_reclaim.c). */
size_t gm_mcache_detach(gm_mcache_t *c, bool current, uint32_t min_age, gm_mspan_t **list);
void gm_mcache_uncache_list(gm_mspan_t *list);
void gm_mcache_oom_release_from(gm_mcache_t *c, bool locked);
/* Before c is parked as a spare: detach its ready spans but the newest of
 * each class onto *list. The caller holds c's lock. */
size_t gm_mcache_detach_spare_ready(gm_mcache_t *c, gm_mspan_t **list);
/* Put back the spans a trimmer took from c (c->trim_taken): a trimmer that
 * gave up, or a fork child whose trimmer does not exist. */
void gm_mcache_untake(gm_mcache_t *c);

/* The registry of live caches, linked through next, the orphan cache with
 * its lock, and a thread's first slow path (mcache_registry.c). */
extern gm_lock_t gm_mcache_registry_lock;
extern gm_mcache_t *gm_mcache_registry;
extern gm_lock_t gm_mcache_orphan_lock;
extern gm_mcache_t gm_mcache_orphan;
gm_mcache_t *gm_mcache_thread_start(void);

#endif
