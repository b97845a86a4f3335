/* mcache_internal.h: what mcache.c (the lists and refill), mcache_reclaim.c
 * (taking spans back) and mcache_registry.c (the caches, thread start and
 * exit, fork) share, and no other file includes. */
#ifndef GM_MCACHE_INTERNAL_H
#define GM_MCACHE_INTERNAL_H

#include "mcache.h"

#include <sched.h>

/* The cache lock: taken by the owner around its slow paths, and by a
 * reclaimer (trylock only) while it empties an idle cache. */
GM_INLINE void gm_cache_lock(gm_mcache_t *c) {
  while (gm_exchange_acqrel(&c->lock, 1))
    while (gm_load_relaxed(&c->lock))
      sched_yield();
}
GM_INLINE bool gm_cache_trylock(gm_mcache_t *c) { return !gm_exchange_acqrel(&c->lock, 1); }
GM_INLINE void gm_cache_unlock(gm_mcache_t *c) { gm_store_release(&c->lock, 0); }

/* The owned span lists (mcache.c). */
GM_INLINE gm_mspan_t **gm_clist_head(gm_mcache_t *c, gm_spanclass_t spc, unsigned which) {
  return which == GM_CLIST_FULL ? &c->full[spc] : &c->ready[spc];
}
void gm_clist_remove(gm_mcache_t *c, gm_spanclass_t spc, gm_mspan_t *s);

/* Taking spans out of a cache (mcache_reclaim.c). */
size_t gm_mcache_detach(gm_mcache_t *c, bool current, uint32_t min_age, gm_mspan_t **list);
void gm_mcache_uncache_list(gm_mspan_t *list);
void gm_mcache_oom_release_from(gm_mcache_t *c, bool locked);

/* The registry of live caches, linked through next, the orphan cache with
 * its lock, and a thread's first slow path (mcache_registry.c). */
extern gm_lock_t gm_mcache_registry_lock;
extern gm_mcache_t *gm_mcache_registry;
extern gm_lock_t gm_mcache_orphan_lock;
extern gm_mcache_t gm_mcache_orphan;
gm_mcache_t *gm_mcache_thread_start(void);

#endif
