/* arena.h: 64 MiB heap arenas and the map from any address to its span
 * (Go's heapArena, arenas[] and spanOf).
 *
 * Each arena has out-of-line metadata (gm_heaparena_t, in its own mapping,
 * never inside the arena's pages) with one span pointer per 8 KiB page.
 * An arena is registered (metadata mapped) when the heap first maps pages
 * in it, not when its address space is reserved, so metadata follows the
 * memory in use, never the size asked for: a refused malloc(2^46) used to
 * register a million arenas first. Span-table pages that cover only
 * released pages are released with them (gm_arena_release_locked).
 * The arena map: Go uses one flat array over the whole address space (32
 * MiB of virtual memory), which a program under a tight `ulimit -v` cannot
 * afford at start. We split it. The heap is placed at a random base in
 * [1 TiB, 15 TiB) (arena.c), inside the low 16 TiB, which a flat table of
 * 2^18 entries covers (2 MiB of zero-fill BSS, touched only where arenas
 * are): one load, like Go. Arenas the kernel puts elsewhere (sanitizer
 * shadow, address taken) go into a two-level map over the rest of the
 * 48-bit space: a static first level of 2048 entries and second-level
 * blocks mapped on demand. Lookups take no lock: entries are published
 * with release stores and never removed.
 *
 * The window: free's lookup is two dependent loads through that map (arena,
 * then its span table) and three tests. For the first 16 GiB of the heap,
 * from gm_window_base, where it starts and grows (arena.c), the arenas'
 * span tables are slices of one static array, gm_window_spans, so free
 * finds a span there with one load indexed by (p - base) >> 13: 9
 * instructions instead of 15 (the base is a variable now, loaded by the
 * subtraction, where it was an immediate: the same count). The array is
 * 16 MiB of zero-fill BSS, touched only where spans are set (the same
 * pages the per-arena tables would touch). Arenas elsewhere keep a table
 * of their own, and the map above finds every arena either way. */
#ifndef GM_ARENA_H
#define GM_ARENA_H

#include "internal.h"
#include "options.h"
#include "span.h"

#define GM_ARENA_FLAT_BITS 44 /* the flat table covers addresses below 16 TiB */
#define GM_ARENA_FLAT_LEN ((size_t)1 << (GM_ARENA_FLAT_BITS - GM_ARENA_SHIFT))
#define GM_ARENA_L2_BITS 11
#define GM_ARENA_L1_BITS (GM_ADDR_BITS - GM_ARENA_SHIFT - GM_ARENA_L2_BITS)

/* Go's heap start: ours with GOMALLOC_HEAP_BASE=fixed. */
#define GM_HEAP_BASE_FIXED GM_OPT_ADDR_FIXED
#define GM_WINDOW_BITS 34 /* 16 GiB */
#define GM_WINDOW_PAGES ((size_t)1 << (GM_WINDOW_BITS - GM_PAGE_SHIFT))
extern gm_mspan_t *gm_window_spans[GM_WINDOW_PAGES];
/* The heap's base, the window's first byte: set once by gm_arena_init
 * (gm_init), before any block exists, and read with a plain load. Hidden:
 * under -fPIC an extern is reached through the GOT, two more instructions
 * in free. */
extern GM_HIDDEN uintptr_t gm_window_base;

typedef struct gm_heaparena {
  /* Span of every page (GM_PAGES_PER_ARENA entries: a slice of
   * gm_window_spans, or own_spans below). Pages of an in-use span all
   * point at it; entries of freed pages are stale (callers check the
   * span's state and bounds), and entries of never-used pages are NULL. */
  gm_mspan_t **spans;
  /* One bit per page: set on the first page of each in-use span (Go's
   * pageInUse); lets heap walkers find spans without trusting stale
   * entries. Changed under the heap lock. */
  uint64_t page_in_use[GM_PAGES_PER_ARENA / 64];
  uintptr_t base;
  gm_mspan_t *own_spans[]; /* arenas outside the window only */
} gm_heaparena_t;

/* p's page in the window: below GM_WINDOW_PAGES iff p lies in it. */
GM_INLINE size_t gm_window_page(uintptr_t p) {
  return (p - gm_window_base) >> GM_PAGE_SHIFT;
}

/* The span entry of p's page if p lies in the window, else NULL (as for a
 * page with no span): free's lookup. */
GM_INLINE gm_mspan_t *gm_window_span(uintptr_t p) {
  size_t page = gm_window_page(p);
  if (GM_UNLIKELY(page >= GM_WINDOW_PAGES))
    return NULL;
  return gm_load_acquire(&gm_window_spans[page]);
}

/* The entry of p's page taken modulo the window (free's lookup): p's own
 * if p lies in the window; for p outside it, some page's, NULL or a span
 * p is at least the window's size away from, which free's bounds check
 * (p - base < small_bytes) turns away to gm_free_unmapped. One masking
 * instruction where the range test was two. */
GM_INLINE gm_mspan_t *gm_window_span_wrapped(uintptr_t p) {
  return gm_load_acquire(&gm_window_spans[gm_window_page(p) & (GM_WINDOW_PAGES - 1)]);
}

extern gm_heaparena_t *gm_arena_flat[GM_ARENA_FLAT_LEN];
extern gm_heaparena_t **gm_arena_l1[1u << GM_ARENA_L1_BITS];

gm_heaparena_t *gm_arena_of_high(uintptr_t p);

GM_INLINE gm_heaparena_t *gm_arena_of(uintptr_t p) {
  if (GM_LIKELY((p >> GM_ARENA_SHIFT) < GM_ARENA_FLAT_LEN))
    return gm_load_acquire(&gm_arena_flat[p >> GM_ARENA_SHIFT]);
  return gm_arena_of_high(p);
}

/* The span entry of p's page in its arena ha (NULL: no span there yet). */
GM_INLINE gm_mspan_t *gm_arena_span(gm_heaparena_t *ha, uintptr_t p) {
  return gm_load_acquire(&ha->spans[(p >> GM_PAGE_SHIFT) & (GM_PAGES_PER_ARENA - 1)]);
}

GM_INLINE gm_heaparena_t *gm_arena_of_two_level(uintptr_t p) {
  if (GM_UNLIKELY(p >> GM_ADDR_BITS))
    return NULL;
  gm_heaparena_t **l2 = gm_load_acquire(&gm_arena_l1[p >> (GM_ARENA_SHIFT + GM_ARENA_L2_BITS)]);
  if (GM_UNLIKELY(l2 == NULL))
    return NULL;
  return gm_load_acquire(&l2[(p >> GM_ARENA_SHIFT) & ((1u << GM_ARENA_L2_BITS) - 1)]);
}

/* The span whose pages contain p, or NULL if p is not in gomalloc's heap.
 * The result may be stale (a freed or reused span): check state and bounds. */
GM_INLINE gm_mspan_t *gm_span_of(uintptr_t p) {
  /* In the window, its table is the arenas' tables: one load. */
  size_t page = gm_window_page(p);
  if (GM_LIKELY(page < GM_WINDOW_PAGES))
    return gm_load_acquire(&gm_window_spans[page]);
  gm_heaparena_t *ha = gm_arena_of(p);
  if (GM_UNLIKELY(ha == NULL))
    return NULL;
  return gm_arena_span(ha, p);
}

/* Choose the heap's base (GOMALLOC_HEAP_BASE: random by default). From
 * gm_init, after the options are read and before any allocation. */
void gm_arena_init(void);

/* Reserve n bytes (a multiple of GM_CHUNK_BYTES) of arena address space
 * aligned to align (a power of two, at least GM_ARENA_BYTES), next to the
 * previous reservation when possible (align above an arena: at the next
 * aligned address past the window, and later reservations do not follow
 * it; the rest of its last arena stays unreserved).
 * Nothing is registered or charged yet. Returns the base, or 0 with errno =
 * ENOMEM. Heap lock held. */
uintptr_t gm_arena_reserve_locked(size_t n, size_t align);

/* Register metadata for every arena [base, base + n) touches that has none
 * yet: the heap is about to map pages there. False with errno = ENOMEM if
 * metadata cannot be mapped. Heap lock held. */
bool gm_arena_map_locked(uintptr_t base, size_t n);

/* Pages [base, base + n) are free and being released: release the pages
 * of span table that hold only their entries (they read as NULL after,
 * which lookups treat as "no span", like a stale entry). Heap lock held. */
void gm_arena_release_locked(uintptr_t base, size_t n);

/* The lowest registered arena base at or above from that is a multiple of
 * align (at least GM_ARENA_BYTES), or 0: where an existing heap could hold
 * a block of huge alignment. Heap lock held. */
uintptr_t gm_arena_next_aligned(uintptr_t from, size_t align);

/* Point every page of [base, base + npages pages) at s. Heap lock held. */
void gm_arena_set_spans_locked(uintptr_t base, size_t npages, gm_mspan_t *s);

/* Set or clear the first-page bit of the span starting at base (Go's
 * pageInUse). Heap lock held. */
void gm_arena_mark_in_use_locked(uintptr_t base, bool in_use);

/* Arena count, and metadata bytes per arena (its header and span table,
 * wherever that lives), for statistics. */
size_t gm_arena_count(void);
#define GM_ARENA_META_BYTES (sizeof(gm_heaparena_t) + GM_PAGES_PER_ARENA * sizeof(gm_mspan_t *))

/* Call fn for every span that starts at a page marked in use (Go's
 * pageInUse), in address order. Returns how many in-use marks had no span
 * starting at their page (an inconsistency; the census reports it). Heap
 * lock held. */
size_t gm_arena_for_each_span(void (*fn)(gm_mspan_t *s, void *arg), void *arg);

#endif /* GM_ARENA_H */
