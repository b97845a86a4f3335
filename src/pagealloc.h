/* pagealloc.h: the page allocator (Go's pageAlloc): hands out runs of
 * contiguous 8 KiB pages, address-ordered first fit, over a bitmap per 4 MiB
 * chunk and a radix tree of free-run summaries. See pagealloc.c for the
 * design. The caller (the mheap) holds the heap lock around every call; there
 * is no locking in here.
 *
 * Addresses are plain user addresses below 2^48. All sizes are in pages
 * (GM_PAGE_SIZE bytes) unless a name says bytes. */
#ifndef GM_PAGEALLOC_H
#define GM_PAGEALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* One summary, unpacked: free pages at the low end of a node (start), the
 * longest free run anywhere in it (max) and free pages at its high end (end).
 * The upper tree levels keep summaries in this wide form (their counts need
 * up to 36 bits); the lower ones pack them into one uint64_t like Go. */
typedef struct gm_pa_sum {
  uint64_t start, max, end;
} gm_pa_sum_t;

/* Geometry of the summary tree (see pagealloc.c): 9 levels, 8-way fan-out,
 * level 0 has 4 entries of 64 TiB, level 8 one entry per 4 MiB chunk. Levels
 * 0-2 are static in gm_pagealloc_t, the rest live in lazily allocated
 * "supers" (1 TiB each) and "blocks" (2 GiB each). */
#define GM_PA_LEVELS 9
#define GM_PA_L0_ENTRIES 4
#define GM_PA_L1_ENTRIES 32
#define GM_PA_L2_ENTRIES 256 /* = number of supers */
#define GM_PA_SUPERS GM_PA_L2_ENTRIES

struct gm_pa_super; /* private to pagealloc.c */

typedef struct gm_pagealloc {
  uintptr_t search_addr; /* every grown page below this is in use */
  uintptr_t end;         /* limit of the highest grown range */
  size_t total_pages;    /* pages added by grow */
  size_t free_pages;     /* pages not in use */
  size_t scav_pages;     /* pages free and released to the OS */
  size_t meta_bytes;     /* metadata mapped with gm_sys_alloc so far */
  /* The caller's coarse clock (the scavenger's ticks, set under the heap
   * lock): alloc and free stamp it on every chunk they touch, so that
   * gm_pagealloc_scavenge_cold can tell recently used chunks. */
  uint32_t clock;
  /* Scavenge index, top tier: bit s set if super s may hold free,
   * unscavenged pages (a superset; see pagealloc.c). */
  uint64_t scav_dirty[GM_PA_SUPERS / 64];
  gm_pa_sum_t l0[GM_PA_L0_ENTRIES];
  gm_pa_sum_t l1[GM_PA_L1_ENTRIES];
  gm_pa_sum_t l2[GM_PA_L2_ENTRIES];
  struct gm_pa_super *super[GM_PA_SUPERS];
} gm_pagealloc_t;

/* All-zero is a valid empty allocator; init just clears it (no memory). */
bool gm_pagealloc_init(gm_pagealloc_t *pa);

/* Add [base, base + npages*8192): base 4 MiB aligned and not 0, npages a
 * multiple of 512, the range below 2^48 and not grown before. The pages
 * start free and scavenged. False with errno = ENOMEM if metadata cannot be
 * mapped (the allocator is logically unchanged), EINVAL for a bad range. */
bool gm_pagealloc_grow(gm_pagealloc_t *pa, uintptr_t base, size_t npages);

/* Lowest-address run of npages free pages, or 0. *scav (may be NULL) gets how
 * many of them were scavenged; their scavenged bits are cleared. A run never
 * crosses a gap between grown ranges, but it can span two grown ranges that
 * happen to be adjacent. */
uintptr_t gm_pagealloc_alloc(gm_pagealloc_t *pa, size_t npages, size_t *scav);

/* Highest-address placement of npages free pages: the top of the highest
 * free run that holds them. Otherwise as gm_pagealloc_alloc. */
uintptr_t gm_pagealloc_alloc_high(gm_pagealloc_t *pa, size_t npages, size_t *scav);

/* Allocate exactly [base, base + npages*8192) if all of it is grown and
 * free; false (nothing changed) otherwise. */
bool gm_pagealloc_alloc_at(gm_pagealloc_t *pa, uintptr_t base, size_t npages, size_t *scav);

/* Free in-use pages (a run or part of one). Freeing a page that is not in
 * use is fatal. Freed pages are not scavenged. */
void gm_pagealloc_free(gm_pagealloc_t *pa, uintptr_t base, size_t npages);

/* Release up to `bytes` (rounded up to pages) of free, unscavenged pages,
 * highest addresses first, calling release(base, len) once per maximal
 * contiguous run released (runs come in descending address order) and
 * setting their scavenged bits first. Returns bytes released. */
size_t gm_pagealloc_scavenge(gm_pagealloc_t *pa, size_t bytes,
                             void (*release)(uintptr_t base, size_t len));

/* The same, but only in chunks where no page was allocated or freed for at
 * least min_age ticks of pa->clock, and only below *below (an address;
 * UINTPTR_MAX: the top). *below is left where the search stopped, so a
 * caller releasing in batches does not look at the hot chunks above again. */
size_t gm_pagealloc_scavenge_cold(gm_pagealloc_t *pa, size_t bytes, uint32_t min_age,
                                  uintptr_t *below, void (*release)(uintptr_t base, size_t len));

size_t gm_pagealloc_total_pages(const gm_pagealloc_t *pa);
/* Free pages; may be read without the heap lock (a relaxed atomic), as a
 * hint. */
size_t gm_pagealloc_free_pages(const gm_pagealloc_t *pa);
size_t gm_pagealloc_scavenged_pages(const gm_pagealloc_t *pa);

/* Page state of the page holding addr (false for addresses never grown). */
bool gm_pagealloc_is_free(const gm_pagealloc_t *pa, uintptr_t addr);
bool gm_pagealloc_is_scavenged(const gm_pagealloc_t *pa, uintptr_t addr);

/* Every grown chunk in address order: fn(base, alloc[8], scav[8], arg),
 * bit i of word w = page w*64+i; alloc 1 = in use, scav 1 = released. */
void gm_pagealloc_for_each_chunk(const gm_pagealloc_t *pa,
                                 void (*fn)(uintptr_t base, const uint64_t *alloc,
                                            const uint64_t *scav, void *arg),
                                 void *arg);

/* Full consistency check; NULL if fine, else a static message. Walks all
 * metadata: for tests and debug builds, not for hot paths. */
const char *gm_pagealloc_check(const gm_pagealloc_t *pa);

#endif /* GM_PAGEALLOC_H */
