/* mheap.c: the page heap. See mheap.h and the overview in malloc.c.
 *
 * Memory flow (Go's mem.go states): arenas are Reserved 64 MiB at a time;
 * the heap maps (Reserved -> Ready) 4 MiB chunks as it needs them and hands
 * them to the page allocator, which marks them free and scavenged (mapped
 * but never touched, so not yet resident). Spans are carved from free page
 * runs, lowest address first (huge blocks highest first, see HUGE_PAGES);
 * freed spans return their pages, which
 * coalesce with free neighbours in the page bitmap, and stay resident until
 * the scavenger releases them. The heap keeps the figure the scavenger is
 * paced by (retained: backed bytes) and enforces GOMALLOC_RETAIN_MAX itself
 * as it grows (enforce_retain_max_locked), so that it never calls up. */
#include "mheap.h"

#include "arena.h"
#include "error.h"
#include "os.h"
#include "options.h" /* GOMALLOC_RETAIN_MAX */
#include "vg.h"

#include <errno.h>
#include <stddef.h>

void (*gm_mheap_grow_hook)(void);

gm_mheap_t gm_heap = {.lock = GM_LOCK_INIT};

gm_mspan_t gm_span_freed_large; /* all zero: DEAD, see mheap.h */

#if !GM_DEBUG
_Static_assert(sizeof(gm_mspan_t) + 3 * sizeof(uint64_t) <= 128,
               "a one-word span's metadata no longer fits 128 bytes");
#endif

static unsigned bucket_for_words(unsigned nwords) {
  unsigned b = 0;
  while ((1u << b) < nwords)
    b++;
  return b;
}

void gm_mheap_init(void) {
  gm_arena_init(); /* the heap's base, before anything is reserved */
  for (unsigned b = 0; b < GM_SPAN_BUCKETS; b++)
    gm_fixalloc_init(&gm_heap.spanalloc[b],
                     GM_ALIGN_UP(sizeof(gm_mspan_t) + 3 * sizeof(uint64_t) * (1u << b),
                                 (size_t)GM_SPAN_META_ALIGN),
                     offsetof(gm_mspan_t, next));
  if (!gm_pagealloc_init(&gm_heap.pages))
    gm_fatal("cannot initialise the page allocator", NULL, "out of memory at start");
}

/* Free pages that end at the top of the mapped heap: growing right there
 * extends that run, so a request only needs the difference. Without this,
 * a program whose large blocks slowly grow (a 20 MiB buffer, then 25 MiB)
 * maps a whole new run each time and the heap doubles. Heap lock held. */
static size_t free_top_pages(size_t max) {
  gm_mheap_t *h = &gm_heap;
  size_t n = 0;
  while (n < max && gm_pagealloc_is_free(&h->pages, h->cur_base - ((n + 1) << GM_PAGE_SHIFT)))
    n++;
  return n;
}

void gm_mheap_release_range_locked(uintptr_t base, size_t len) {
  gm_sys_unused((void *)base, len);
  gm_arena_release_locked(base, len); /* and the span table over them */
}

static void note_large_peak_locked(void) {
  gm_mheap_t *h = &gm_heap;
  if (h->large_spans > h->max_large_spans)
    h->max_large_spans = h->large_spans;
  if (h->large_pages > h->max_large_pages)
    h->max_large_pages = h->large_pages;
}

size_t gm_mheap_retained_locked(void) {
  size_t scav = gm_pagealloc_scavenged_pages(&gm_heap.pages) << GM_PAGE_SHIFT;
  size_t spans = gm_load_relaxed(&gm_heap.span_released_bytes);
  size_t r = gm_heap.mapped_bytes;
  r = r > scav ? r - scav : 0;
  return r > spans ? r - spans : 0;
}

/* GOMALLOC_RETAIN_MAX (Go's memory limit): when the heap grows, release
 * free pages, highest first, until what it keeps backed is under the hard
 * limit. This is the heap's own page policy, not a call up into the
 * scavenger: the limit must hold the moment the heap grows, under the heap
 * lock, whether or not the background thread runs, and the heap only calls
 * down (pagealloc, os). Go's mheap.grow does the same. Heap lock held. */
static void enforce_retain_max_locked(void) {
  size_t lim = gm_options.retain_max;
  if (!lim)
    return;
  size_t r = gm_mheap_retained_locked();
  if (r > lim)
    gm_pagealloc_scavenge(&gm_heap.pages, r - lim, gm_mheap_release_range_locked);
}

/* Map [base, base + bytes) of a reservation (charged: the kernel may say
 * no), register its arenas and give it to the page allocator: metadata is
 * made only for memory the kernel agreed to back. On failure the range is
 * reserved and uncharged again. Heap lock held. */
static bool map_range_locked(uintptr_t base, size_t bytes) {
  gm_mheap_t *h = &gm_heap;
  if (!gm_sys_map((void *)base, bytes))
    return false;
  if (!gm_arena_map_locked(base, bytes) ||
      !gm_pagealloc_grow(&h->pages, base, bytes >> GM_PAGE_SHIFT)) {
    gm_sys_fault((void *)base, bytes);
    errno = ENOMEM;
    return false;
  }
  gm_store_relaxed(&h->mapped_bytes, h->mapped_bytes + bytes); /* read unlocked by the scavenger poke */
  enforce_retain_max_locked();
  return true;
}

/* Map bytes of the current reservation at its frontier. Heap lock held. */
static bool map_frontier_locked(size_t bytes) {
  gm_mheap_t *h = &gm_heap;
  if (!map_range_locked(h->cur_base, bytes))
    return false;
  h->cur_base += bytes;
  return true;
}

/* Add at least npages of fresh pages to the page allocator (fewer when
 * contiguous is set and free pages already end at the top of the heap, as
 * the new ones will join them). */
static bool grow_locked(size_t npages, bool contiguous) {
  gm_mheap_t *h = &gm_heap;
  if (npages > ((size_t)1 << (GM_ADDR_BITS - GM_PAGE_SHIFT))) {
    errno = ENOMEM;
    return false;
  }
  size_t top = contiguous && h->mapped_bytes ? free_top_pages(npages - 1) : 0;
  size_t bytes = GM_ALIGN_UP(npages - top, (size_t)GM_CHUNK_PAGES) << GM_PAGE_SHIFT;
  if (h->cur_end - h->cur_base < bytes) {
    /* Reserve room for the whole request: the new region may not continue
     * the free run at the top, and then all of it must fit there. */
    size_t full = GM_ALIGN_UP(npages, (size_t)GM_CHUNK_PAGES) << GM_PAGE_SHIFT;
    size_t n = GM_ALIGN_UP(full, GM_ARENA_BYTES);
    uintptr_t r = gm_arena_reserve_locked(n, GM_ARENA_BYTES);
    if (!r)
      return false;
    if (r != h->cur_end) {
      /* Not contiguous: map the request in the new region first, and give
       * the region back if the kernel will not back it (an impossible
       * request leaves nothing behind). */
      if (!map_range_locked(r, full)) {
        gm_sys_free((void *)r, n);
        return false;
      }
      h->reserved_bytes += n;
      /* Hand what is left of the old region to the page allocator (Go
       * does the same), then switch regions. */
      size_t left = h->cur_end - h->cur_base;
      if (left)
        (void)map_range_locked(h->cur_base, left);
      h->cur_base = r + full;
      h->cur_end = r + n;
      return true;
    }
    h->reserved_bytes += n;
    h->cur_end = r + n;
  }
  return map_frontier_locked(bytes);
}

/* A block aligned to more than an arena (posix_memalign(&p, 1 << 40, 1)):
 * over-allocating by the alignment, as below, would map (and charge) the
 * alignment and make page-allocator metadata for all of it. Instead: an
 * aligned arena of the heap with the pages free, else a fresh reservation
 * at an aligned address, of which only the block's chunks are mapped.
 * Memory then follows the block's size, whatever the alignment. Heap lock
 * held. */
static uintptr_t alloc_huge_aligned_locked(size_t npages, size_t align_pages, size_t *scav) {
  gm_mheap_t *h = &gm_heap;
  size_t align = align_pages << GM_PAGE_SHIFT;
  for (uintptr_t b = gm_arena_next_aligned(0, align); b; b = gm_arena_next_aligned(b + 1, align))
    if (gm_pagealloc_alloc_at(&h->pages, b, npages, scav))
      return b;
  size_t full = GM_ALIGN_UP(npages, (size_t)GM_CHUNK_PAGES) << GM_PAGE_SHIFT;
  uintptr_t r = gm_arena_reserve_locked(full, align);
  if (!r)
    return 0;
  if (!map_range_locked(r, full)) {
    gm_sys_free((void *)r, full);
    return 0;
  }
  h->reserved_bytes += full;
  return gm_pagealloc_alloc_at(&h->pages, r, npages, scav) ? r : 0;
}

/* Map more of the current reservation at its frontier (no new reservation)
 * so that the block ending at `end` can grow by `extra` pages in place: the
 * pages from end to the frontier must be free. For realloc of the block at
 * the top of the heap, which is where huge blocks live. Heap lock held. */
static bool extend_top_locked(uintptr_t end, size_t extra) {
  gm_mheap_t *h = &gm_heap;
  if (!h->mapped_bytes || end > h->cur_base)
    return false;
  size_t gap = (h->cur_base - end) >> GM_PAGE_SHIFT;
  if (gap >= extra || free_top_pages(gap) < gap)
    return false;
  size_t bytes = GM_ALIGN_UP(extra - gap, (size_t)GM_CHUNK_PAGES) << GM_PAGE_SHIFT;
  return h->cur_end - h->cur_base >= bytes && map_frontier_locked(bytes);
}

/* Blocks of at least this many pages (1 MiB) are placed at the top of the
 * highest free run that holds them, everything else at the bottom of the
 * lowest (first fit). Keeping huge blocks away from the small spans stops a
 * span made while a huge block is live from landing just past it and
 * splitting the run the next, bigger block wanted: a loop of 5-25 MiB
 * buffers mapped 44 MiB that way. The top is also where the scavenger
 * releases first, and a huge block there can grow in place by mapping
 * more (extend_top_locked). */
#define HUGE_PAGES 128

/* npages aligned to align_pages; *scav = pages that were scavenged (known
 * zero). For alignments above a page, take a longer run and give back the
 * ends (Go's trick for aligned stacks). */
static uintptr_t alloc_pages_locked(size_t npages, size_t align_pages, size_t *scav) {
  if (align_pages <= 1)
    return npages >= HUGE_PAGES ? gm_pagealloc_alloc_high(&gm_heap.pages, npages, scav)
                                : gm_pagealloc_alloc(&gm_heap.pages, npages, scav);
  size_t total = npages + align_pages - 1;
  uintptr_t base = gm_pagealloc_alloc(&gm_heap.pages, total, scav);
  if (!base)
    return 0;
  uintptr_t align = align_pages << GM_PAGE_SHIFT;
  uintptr_t aligned = GM_ALIGN_UP(base, align);
  size_t head = (aligned - base) >> GM_PAGE_SHIFT;
  size_t tail = total - head - npages;
  if (head)
    gm_pagealloc_free(&gm_heap.pages, base, head);
  if (tail)
    gm_pagealloc_free(&gm_heap.pages, aligned + (npages << GM_PAGE_SHIFT), tail);
  /* Which of the pages were scavenged is no longer known exactly: report
   * none, so the memory is treated as dirty. */
  *scav = 0;
  return aligned;
}

gm_mspan_t *gm_mheap_alloc_span(size_t npages, gm_spanclass_t spc, size_t align_pages,
                                uint8_t state, struct gm_mcache *owner) {
  gm_mheap_t *h = &gm_heap;
  unsigned cls = gm_spanclass_sizeclass(spc);
  unsigned b = bucket_for_words(gm_class_bitmap_words(cls));
  size_t scav = 0;
  if (npages + align_pages < npages) {
    errno = ENOMEM;
    return NULL;
  }
  gm_lock(&h->lock);
  uintptr_t base = align_pages > GM_PAGES_PER_ARENA
                       ? alloc_huge_aligned_locked(npages, align_pages, &scav)
                       : alloc_pages_locked(npages, align_pages, &scav);
  if (!base && align_pages <= GM_PAGES_PER_ARENA) {
    if (!grow_locked(npages + align_pages - 1, align_pages <= 1) ||
        !(base = alloc_pages_locked(npages, align_pages, &scav))) {
      gm_unlock(&h->lock);
      errno = ENOMEM;
      return NULL;
    }
  }
  if (!base) {
    gm_unlock(&h->lock);
    errno = ENOMEM;
    return NULL;
  }
  gm_mspan_t *s = gm_fixalloc_alloc(&h->spanalloc[b]);
  if (!s) {
    gm_pagealloc_free(&h->pages, base, npages);
    gm_unlock(&h->lock);
    errno = ENOMEM;
    return NULL;
  }
  gm_span_init(s, base, npages, spc);
  GM_VG_NOACCESS((void *)base, npages << GM_PAGE_SHIFT); /* until its blocks are handed out */
  s->bucket = (uint8_t)b;
  s->needzero = scav < npages;
  gm_store_relaxed(&s->owner, owner);
  gm_store_release(&s->state, state);
  gm_arena_set_spans_locked(base, npages, s);
  gm_arena_mark_in_use_locked(base, true);
  if (cls == 0) {
    h->large_pages += npages;
    h->large_spans++;
    h->large_allocs++;
    note_large_peak_locked();
  } else {
    h->small_pages += npages;
    h->small_spans++;
  }
#if GM_DEBUG
  const char *err = gm_pagealloc_check(&h->pages);
  if (err)
    gm_fatal("page allocator inconsistent", (void *)base, err);
#endif
  gm_unlock(&h->lock);
  return s;
}

void gm_mheap_free_spans(gm_mspan_t *list) {
  while (list) {
    gm_mspan_t *next = list->next;
    gm_mheap_free_span(list);
    list = next;
  }
}

void gm_mheap_span_reused(gm_mspan_t *s) {
  size_t released = gm_span_released_bytes(s, gm_sys_page_size());
  if (released)
    gm_fetch_sub_relaxed(&gm_heap.span_released_bytes, released);
  s->released_mask = 0;
}

void gm_mheap_free_span(gm_mspan_t *s) {
  gm_mheap_t *h = &gm_heap;
  gm_lock(&h->lock);
  gm_store_relaxed(&s->small_bytes, (size_t)0);
  gm_store_release(&s->state, (uint8_t)GM_SPAN_DEAD);
  gm_mheap_span_reused(s); /* its released slots are free pages now */
  gm_store_relaxed(&s->owner, (struct gm_mcache *)NULL);
  gm_arena_mark_in_use_locked(s->base, false);
  gm_pagealloc_free(&h->pages, s->base, s->npages);
  if (gm_spanclass_sizeclass(s->spanclass) == 0) {
    gm_arena_set_spans_locked(s->base, 1, &gm_span_freed_large);
    h->large_pages -= s->npages;
    h->large_spans--;
    h->large_frees++;
  } else {
    h->small_pages -= s->npages;
    h->small_spans--;
  }
  gm_fixalloc_free(&h->spanalloc[s->bucket], s);
  gm_unlock(&h->lock);
}

static void set_large_size(gm_mspan_t *s, size_t npages) {
  s->npages = npages;
  s->elemsize = npages << GM_PAGE_SHIFT;
}

/* The realloc of p is still p's: s is large, starts on p's page (see
 * gm_mheap_grow_span) and is claimed by the realloc (state DEAD until it
 * is done: malloc.c, debugheap.h), so no free can take it meanwhile. Heap
 * lock held. */
static void check_resize_locked(gm_mspan_t *s, const void *p) {
  if (gm_load_relaxed(&s->state) != GM_SPAN_DEAD ||
      s->base != ((uintptr_t)p & ~(uintptr_t)GM_PAGE_MASK))
    gm_fatal("invalid realloc", p, "block already free");
}

bool gm_mheap_grow_span(gm_mspan_t *s, const void *p, size_t new_npages) {
  gm_mheap_t *h = &gm_heap;
  size_t scav;
  gm_lock(&h->lock);
  check_resize_locked(s, p);
  uintptr_t end = s->base + (s->npages << GM_PAGE_SHIFT);
  size_t extra = new_npages - s->npages;
  bool ok = gm_pagealloc_alloc_at(&h->pages, end, extra, &scav) ||
            (extend_top_locked(end, extra) && gm_pagealloc_alloc_at(&h->pages, end, extra, &scav));
  if (ok) {
    GM_VG_NOACCESS((void *)end, extra << GM_PAGE_SHIFT); /* realloc announces the block's part */
    gm_arena_set_spans_locked(end, extra, s);
    h->large_pages += extra;
    note_large_peak_locked();
    set_large_size(s, new_npages);
  }
  gm_unlock(&h->lock);
  return ok;
}

void gm_mheap_shrink_span(gm_mspan_t *s, const void *p, size_t new_npages) {
  gm_mheap_t *h = &gm_heap;
  gm_lock(&h->lock);
  check_resize_locked(s, p);
  size_t extra = s->npages - new_npages;
  gm_pagealloc_free(&h->pages, s->base + (new_npages << GM_PAGE_SHIFT), extra);
  h->large_pages -= extra;
  set_large_size(s, new_npages);
  gm_unlock(&h->lock);
}

void gm_mheap_fork_prepare(void) { gm_lock_for_fork(&gm_heap.lock); }
void gm_mheap_fork_parent(void) { gm_unlock_after_fork(&gm_heap.lock); }
void gm_mheap_fork_child(void) { gm_lock_reinit(&gm_heap.lock); }
