/* stats.h: heap census: walks every arena's spans and adds up what it
 * finds, for tests, debug checks and statistics (Go's mstats, computed on
 * demand instead of maintained on the fast paths). */
#ifndef GM_STATS_H
#define GM_STATS_H

#include "internal.h"

typedef struct gm_census {
  size_t arenas;
  size_t total_pages;   /* pages handed to the page allocator */
  size_t free_pages;    /* free in the page allocator */
  size_t scav_pages;    /* free and released to the OS */
  size_t span_pages;    /* pages in in-use spans (small + large) */
  size_t small_spans, large_spans;
  size_t cached_spans, partial_spans, full_spans;
  size_t live_objects;  /* allocated and not freed, small + large */
  size_t live_bytes;    /* by object size (class size / large pages) */
  size_t mcaches;
  size_t live_by_class[GM_NUM_CLASSES];
  const char *error;    /* first inconsistency found, or NULL */
} gm_census_t;

/* Exact when no other thread is allocating or freeing at the time; takes
 * every central lock and the heap lock. */
void gm_heap_census(gm_census_t *c);

#endif
