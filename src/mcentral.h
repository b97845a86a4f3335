/* mcentral.h: one central list of spans per span class (Go's mcentral).
 * See the state machine at the top of mcentral.c. */
#ifndef GM_MCENTRAL_H
#define GM_MCENTRAL_H

#include "internal.h"
#include "span.h"

struct gm_mcache;

typedef struct gm_spanlist {
  gm_mspan_t *head;
  size_t n;
} gm_spanlist_t;

typedef struct gm_mcentral {
  gm_lock_t lock;
  gm_spanclass_t spanclass;
  gm_spanlist_t partial; /* spans with free slots (or frees waiting for a sweep) */
  /* Partial spans some of whose free pages the scavenger gave back: reused
   * only when `partial` is empty, so that slots in pages that are still
   * resident are filled first and released pages stay released. */
  gm_spanlist_t partial_released;
  gm_spanlist_t full; /* spans with no free slot as of their last sweep */
} GM_ALIGNED(GM_CACHE_LINE) gm_mcentral_t;

extern gm_mcentral_t gm_central[GM_NUM_SPAN_CLASSES];

void gm_mcentral_init(void);

/* Hand a span with at least one free slot to mcache c (Go's cacheSpan):
 * a partial span, swept, or a fresh one from the heap. NULL + ENOMEM. */
gm_mspan_t *gm_mcentral_cache_span(gm_mcentral_t *mc, struct gm_mcache *c);

/* Take back a span from its owning mcache (Go's uncacheSpan): it is swept,
 * then goes to the partial or full list, or to the heap if empty. Called by
 * the owner thread. */
void gm_mcentral_uncache_span(gm_mspan_t *s);

/* A remote free hit a span on a central list that may need to move: full
 * -> partial, or (all objects freed) -> back to the heap. */
void gm_mcentral_span_freed(gm_mspan_t *s);

/* Sweep every span on the central lists; return empty ones to the heap.
 * Returns the number of spans freed. */
size_t gm_mcentral_reclaim(gm_mcentral_t *mc);

/* Give back the free OS pages inside mc's cold partial spans (all of its
 * partial spans if force), sweeping them as needed; epoch is the
 * scavenger's clock (gm_scav_epoch). Returns bytes released. */
size_t gm_mcentral_scavenge(gm_mcentral_t *mc, bool force, uint32_t epoch);
/* The same for every class, forced (gm_release). */
size_t gm_mcentral_scavenge_all(void);

/* Has mc any partial span? An unlocked read, a hint: passes over every
 * class skip the ones with nothing to look at. */
GM_INLINE bool gm_mcentral_has_partial(gm_mcentral_t *mc) {
  return gm_load_relaxed(&mc->partial.n) || gm_load_relaxed(&mc->partial_released.n);
}

/* Every class's lock, for a consistent census (stats.c, heapmap.c). */
void gm_mcentral_lock_all(void);
void gm_mcentral_unlock_all(void);

/* Fork hooks, one naming scheme for every layer: gm_<layer>_fork_prepare
 * takes the layer's locks before fork, _fork_parent releases them after,
 * _fork_child re-initialises them in the child (init.c calls them in
 * layer order: down the stack before fork, up it after). */
void gm_mcentral_fork_prepare(void);
void gm_mcentral_fork_parent(void);
void gm_mcentral_fork_child(void);

#endif
