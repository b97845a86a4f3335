/* heapmap.h: a snapshot of the heap's layout and a visitor over it, the
 * library's half of the heap map (internal; the tools and tests use it).
 *
 * gm_heap_visit copies what the map draws (every in-use span's fields and,
 * when the heap is small enough to draw span by span, its slot bitmaps;
 * every chunk's page bitmaps) into memory mapped from the OS, with every
 * central lock and the heap lock held, and calls the visitor on that copy
 * once the locks are dropped. Nothing is allocated with malloc, so it works
 * at exit and under LD_PRELOAD; the callbacks themselves may do anything.
 *
 * Its one user in the library is the heap dump (heapdump.h), the file the
 * page is drawn from by tools/heapmap_render.c (`gomalloc heapmap`): the
 * library keeps no HTML. */
#ifndef GM_HEAPMAP_H
#define GM_HEAPMAP_H

#include <stddef.h>
#include <stdint.h>

/* Above this many spans (or GM_HEAPMAP_MAX_CHUNKS chunks), the snapshot
 * leaves out the slot bitmaps and the map draws per-chunk summaries.
 * GOMALLOC_HEAPMAP_MAX_SPANS overrides the span limit (read by
 * gm_heap_visit). */
#define GM_HEAPMAP_MAX_CHUNKS 1024 /* 4 GiB mapped */

/* The heap as a whole, given first. */
struct gm_heap_info {
  int detail;    /* 1: spans come with their bitmaps (one block per span) */
  size_t spans;  /* spans that follow */
  size_t chunks; /* chunks that follow */
};

/* One in-use span. state: 1 cached, 2 partial, 3 full, 4 large (span.h's
 * gm_span_state_t). The bitmaps have one bit per slot, lowest slot in bit
 * 0 of word 0: used = allocated as a sweep would count it, pending = freed
 * and not yet swept; live = popcount(used & ~pending). */
struct gm_heap_span {
  uintptr_t base;
  size_t npages, elemsize;
  size_t released; /* bytes of its free slots returned to the OS */
  unsigned spanclass, state, nelems, alloc_count, freeindex, live;
  unsigned nwords; /* words in used and in pending; 0: no bitmaps */
  const uint64_t *used, *pending;
};

/* One chunk of GM_CHUNK_PAGES pages the page heap has grown into: one bit a
 * page, in use (part of a span) and released to the OS (scavenged). */
struct gm_heap_chunk {
  uintptr_t base;
  const uint64_t *alloc, *scav; /* GM_CHUNK_PAGES / 64 words each */
};

/* A callback returning non-zero stops the walk; gm_heap_visit returns that
 * value. A NULL callback is skipped. */
struct gm_heap_visitor {
  int (*begin)(const struct gm_heap_info *h, void *arg);
  int (*span)(const struct gm_heap_span *s, void *arg);   /* in address order */
  int (*chunk)(const struct gm_heap_chunk *c, void *arg); /* in address order */
};

/* Take a snapshot and walk it: begin, every span, every chunk. Returns 0,
 * a callback's non-zero value, or -1 with errno = ENOMEM if the snapshot
 * cannot be mapped. Exact when no other thread is allocating or freeing. */
int gm_heap_visit(const struct gm_heap_visitor *v, void *arg);

#endif
