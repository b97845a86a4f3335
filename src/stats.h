/* stats.h: heap census: walks every arena's spans and adds up what it
 * finds, for tests, debug checks and statistics (Go's mstats, computed on
 * demand instead of maintained on the fast paths). The public statistics
 * (gm_stats, the printers) are built on the same walk; see stats.c and
 * statsprint.c. */
#ifndef GM_STATS_H
#define GM_STATS_H

#include "internal.h"
#include "span.h"

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
  size_t dying;         /* internal: spans between their mcentral and the heap */
} gm_census_t;

/* Exact when no other thread is allocating or freeing at the time; takes
 * every central lock and the heap lock. A span an mcentral has just let
 * go of (state DEAD, pages not yet back in the heap) is waited for: the
 * background trimmer and scavenger hand spans back while the program is
 * quiescent. */
void gm_heap_census(gm_census_t *c);

/* Read GOMALLOC_STATS, GOMALLOC_STATS_FILE and GOMALLOC_HEAPMAP (from
 * gm_init; no allocation). The report is written by a destructor. */
void gm_stats_env_init(void);

/* Word w of a small span's slot bitmaps as seen now: *used = allocated as
 * a sweep would count it (alloc_bits plus every slot below freeindex),
 * *pending = freed but not yet swept. Bits past nelems are 0. Reads the
 * owner's fields relaxed: exact when the span's owner is quiescent. */
void gm_stats_span_word(gm_mspan_t *s, unsigned w, size_t freeindex, uint64_t *used,
                        uint64_t *pending);

/* gm_fdout_write is a gm_write_fn (gomalloc-stats.h) that collects text in
 * buf and writes it to fd with write(2) when full and on gm_fdout_flush;
 * the first write error is kept in err and stops further writes. No
 * malloc. In statsprint.c. */
typedef struct gm_fdout {
  int fd, err;
  size_t n;
  char buf[4096];
} gm_fdout_t;
void gm_fdout_write(void *arg, const char *s, size_t n);
void gm_fdout_flush(gm_fdout_t *o);

/* Worst-case share of a span of class cls lost to rounding and its tail,
 * in percent (Go's "max waste" column). */
double gm_stats_max_waste(unsigned cls);

#endif
