/* mheap.h: the page heap (Go's mheap): hands out runs of pages as spans,
 * for small-object spans (via mcentral) and for large objects directly,
 * takes them back, and grows the heap by reserving arenas. One lock, held
 * only on these slow paths. */
#ifndef GM_MHEAP_H
#define GM_MHEAP_H

#include "fixalloc.h"
#include "internal.h"
#include "pagealloc.h"
#include "span.h"

/* Span structs come in five sizes, by bitmap words (1, 2, 4, 8, 16). */
#define GM_SPAN_BUCKETS 5

/* Each span's metadata (struct and bitmaps) starts on a 256-byte boundary
 * and takes whole 256-byte blocks. Its owner writes it on every malloc and
 * free, and spans of different threads sit side by side here; this CPU's
 * L2 prefetchers pull in neighbouring lines in 128- and 256-byte groups,
 * so every write of one thread then has to take its line back from the
 * other core. Two threads churning their own blocks each took 35% longer
 * than one alone with 128-byte blocks, 12% with 256-byte and 10% with
 * 1024-byte ones (separate processes: 2%). The cost is memory: a span of
 * one bitmap word takes 256 bytes of metadata for 128 used (the struct is
 * kept to 104 bytes), 1.6% of a one-page span. */
#define GM_SPAN_META_ALIGN GM_PREFETCH_BLOCK

typedef struct gm_mheap {
  gm_lock_t lock;
  gm_pagealloc_t pages;
  /* Reserved address space not yet given to the page allocator: the heap
   * grows from here a chunk (4 MiB) at a time. */
  uintptr_t cur_base, cur_end;
  gm_fixalloc_t spanalloc[GM_SPAN_BUCKETS];
  /* Counters (heap lock). */
  size_t reserved_bytes;    /* arena address space */
  size_t mapped_bytes;      /* given to the page allocator (read/write) */
  size_t small_pages;       /* pages in small-object spans */
  size_t large_pages;       /* pages in large-object spans */
  size_t small_spans, large_spans;
  uint64_t large_allocs, large_frees;
  /* Peaks of large_spans and large_pages (malloc_stats' "max mmap
   * regions" and "max mmap bytes"). */
  size_t max_large_spans, max_large_pages;
  /* Bytes of free slots inside spans released to the OS (not counted by
   * the page allocator). Atomic: the scavenger adds under a central lock. */
  size_t span_released_bytes;
} gm_mheap_t;

extern gm_mheap_t gm_heap;

/* Set up the heap (from gm_init). */
void gm_mheap_init(void);

/* A new span of npages for span class spc, its base aligned to
 * align_pages pages (a power of two; 1 = any page), in state `state`,
 * owned by owner. Its needzero says whether the memory may be dirty.
 * NULL with errno = ENOMEM if the heap cannot grow. */
gm_mspan_t *gm_mheap_alloc_span(size_t npages, gm_spanclass_t spc, size_t align_pages,
                                uint8_t state, struct gm_mcache *owner);

/* Give a span's pages back (they stay backed until scavenged). */
void gm_mheap_free_span(gm_mspan_t *s);
/* Free every span of a list linked through next (dead spans collected
 * under another lock). */
void gm_mheap_free_spans(gm_mspan_t *list);

/* Span s's pages released inside it (released_mask) are about to be backed
 * again: it leaves a central list for a cache (mcentral lock held), or its
 * pages go back to the heap, where they count as free pages. Takes them out
 * of span_released_bytes. */
void gm_mheap_span_reused(gm_mspan_t *s);

/* Release free pages [base, base + len) to the OS, and the span-table
 * pages over them: the scavenger's and the heap's callback for
 * gm_pagealloc_scavenge. Heap lock held. */
void gm_mheap_release_range_locked(uintptr_t base, size_t len);

/* Backed bytes the heap holds: mapped, less what the page allocator knows
 * is released, less the free slots released inside spans. Heap lock. */
size_t gm_mheap_retained_locked(void);

/* The span the first page of a freed large block maps to until the page is
 * used again (state DEAD, base 0, small_bytes 0: every free of it takes
 * the slow path). The block's own span struct goes back to the heap's free
 * list and may describe another span by the time a late second free looks:
 * that free is still named a double free, not "not allocated". */
extern gm_mspan_t gm_span_freed_large;

/* Large-object realloc in place of block p (in s's first page): extend s
 * to new_npages if the pages after it are free, or shrink it, freeing its
 * tail. Both abort ("invalid realloc p") if, by the time they hold the
 * heap lock, s is no longer p's live large span: a free racing the realloc
 * won, and s's pages and struct may belong to another block by now. */
bool gm_mheap_grow_span(gm_mspan_t *s, const void *p, size_t new_npages);
void gm_mheap_shrink_span(gm_mspan_t *s, const void *p, size_t new_npages);

/* The heap may have grown. The slow paths of malloc (mcache.c, malloc.c)
 * call gm_mheap_after_alloc once they hold no lock, so the hook may
 * allocate. init.c points it at gm_background_poke, which starts the
 * background thread once the heap has mapped 16 MiB: a hook, so that no
 * layer below that thread calls up into it (tests/structure checks). */
extern void (*gm_mheap_grow_hook)(void);
GM_INLINE void gm_mheap_after_alloc(void) {
  void (*hook)(void) = gm_load_relaxed(&gm_mheap_grow_hook);
  if (hook)
    hook();
}

/* Fork hooks (scheme in mcentral.h). */
void gm_mheap_fork_prepare(void);
void gm_mheap_fork_parent(void);
void gm_mheap_fork_child(void);

#endif
